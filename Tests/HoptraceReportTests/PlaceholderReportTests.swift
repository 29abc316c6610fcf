import Testing

@testable import HoptraceReport
