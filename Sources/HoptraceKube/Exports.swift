@_exported import HoptraceCorrelate
