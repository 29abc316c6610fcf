@_exported import HoptraceCapture
