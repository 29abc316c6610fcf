import Testing

@testable import HoptraceCorrelate
