@_exported import HoptraceFlows
