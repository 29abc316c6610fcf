import Testing

@testable import HoptraceFlows
