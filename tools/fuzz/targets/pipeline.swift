// fuzz-modules: HoptraceCapture HoptraceDecode Yams HoptraceKube HoptraceFlows HoptraceCorrelate HoptraceReport
// fuzz-entry: fuzzPipeline
// fuzz-seeds: *.pcap *.pcapng
// fuzz-mutator: capture
//
// A whole file through `trace`: reader -> decode -> flows -> correlation -> text, JSON and HTML reports. The input
// is a capture file (pcap or pcapng); the structure-aware mutator (CaptureMutator.swift) changes its records and
// fields. The stages are called through `traceWholeFile`, the one place to re-point when the correlator's API
// changes.
import Foundation
import HoptraceCorrelate
import HoptraceReport

/// What `trace` prints for one file, in every format: the number of bytes, to keep the work from being optimised
/// away. Mirrors `hoptrace trace FILE [--json] [--html F]` (TraceCommand.run), without the CLI.
func traceWholeFile(path: String) -> Int {
    var traces: [RequestTrace] = []
    guard (try? Correlator.trace(files: [path]) { traces += $0 }) != nil else { return 0 }
    var size = 0
    // Wide and, as on a narrow terminal, with each hop's addresses on a line of their own.
    let report = TextReport(color: true)
    let narrow = TextReport(color: true, barWidth: 7, width: 40)
    for trace in traces {
        size &+= report.render(trace).utf8.count
        size &+= narrow.render(trace).utf8.count
        size &+= TraceJSON.render(trace).utf8.count
    }
    size &+= HTMLReport.render(traces, title: "fuzz").utf8.count
    return size
}

/// A file per process, rewritten for each input (the pipeline reads paths).
private let pipelineFuzzPath = "/dev/shm/hoptrace-fuzz-pipeline-\(getpid()).cap"

func fuzzPipeline(_ data: [UInt8]) {
    guard FileManager.default.createFile(atPath: pipelineFuzzPath, contents: Data(data)) else { return }
    _ = traceWholeFile(path: pipelineFuzzPath)
}
