// The stages to the left, for the report and the CLI: traces, endpoints, findings.
@_exported import HoptraceCorrelate
