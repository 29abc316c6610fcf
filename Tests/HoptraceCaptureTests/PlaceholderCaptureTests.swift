import Testing

@testable import HoptraceCapture
