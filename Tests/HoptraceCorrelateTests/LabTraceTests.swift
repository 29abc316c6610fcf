import Foundation
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// Every bundled lab capture, in both formats, is traced end to end and compared with the truth file the lab wrote
/// from what it did (the fault it injected and where), never from hoptrace's output.
enum LabCaptures {
    static var directory: URL { Lab.root }

    /// A capture or truth file by its first-lab flat name (`<scenario>.sll2.pcap`, `<scenario>.pcapng`, ...).
    static func file(_ flatName: String) -> URL { Lab.legacyFile(flatName) }

    struct Case: CustomTestStringConvertible, Sendable {
        var scenario: String
        var format: String
        var testDescription: String { "\(scenario).\(format)" }
    }

    static var cases: [Case] {
        Lab.legacyScenarios.flatMap { scenario in
            ["pcapng", "sll2.pcap"].filter {
                FileManager.default.fileExists(atPath: file("\(scenario).\($0)").path)
            }.map { Case(scenario: scenario, format: $0) }
        }
    }

    static func truth(_ scenario: String) throws -> [String: Any] {
        let data = try Data(contentsOf: Lab.truthFile(scenario))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Traces a capture as `hoptrace trace --all` does.
    static func trace(_ path: String, ifIndexNames: [Int32: String]) throws -> [RequestTrace] {
        let collector = ObservationCollector()
        let result = try FlowPipeline(ifIndexNames: ifIndexNames).run(
            paths: [path],
            tap: { packet, point in collector.tap(packet, capturePoint: point) },
            sink: collector.collect
        )
        #expect(result.error == nil, "reading \(path): \(String(describing: result.error))")
        return Correlator().trace(
            collector.observations(capturePoints: result.capturePoints, captureEnd: result.lastTime)
        )
    }
}

@Test(
    "each lab scenario is diagnosed as its truth says",
    .enabled(if: !LabCaptures.cases.isEmpty, "no lab captures under captures/"),
    arguments: LabCaptures.cases
)
func labScenarioMatchesTruth(_ labCase: LabCaptures.Case) throws {
    let truth = try LabCaptures.truth(labCase.scenario)
    var names: [Int32: String] = [:]
    if labCase.format == "sll2.pcap", let interfaces = truth["interfaces"] as? [String: String] {
        for (index, name) in interfaces { if let i = Int32(index) { names[i] = name } }
    }
    let path = LabCaptures.file("\(labCase.scenario).\(labCase.format)").path
    let traces = try LabCaptures.trace(path, ifIndexNames: names)

    let mode = try #require(truth["mode"] as? String)
    let expected = try #require((truth["expected"] as? [String: Any])?["verdict"] as? [String: Any])
    let kind = try #require(expected["kind"] as? String)
    let hops: [String] = (expected["hop"] as? [String]) ?? [(expected["hop"] as? String)].compactMap { $0 }
    let requests = (truth["requests"] as? [[String: Any]]) ?? []
    let paths = Set(requests.compactMap { $0["path"] as? String })

    // The traces of the lab's own requests (by path); DNS-only and connection-only traces when there is no HTTP.
    let relevant = traces.filter { trace in
        guard let request = trace.request else { return true }
        return paths.isEmpty || paths.contains(request.path)
    }
    let described = relevant.map {
        "#\($0.index) \($0.mode.rawValue) \($0.verdict.kind.rawValue) @\($0.verdict.hop ?? "-")"
    }
    #expect(!relevant.isEmpty, "no trace of the lab's request in \(labCase)")

    let matching = relevant.filter { trace in
        trace.mode.rawValue == mode && trace.verdict.kind.rawValue == kind
            && (hops.isEmpty || trace.verdict.hop.map(hops.contains) == true)
    }
    #expect(!matching.isEmpty, "expected \(mode) \(kind) at \(hops); got \(described)")

    // No false alarm: the lab's other requests in this scenario completed.
    if kind == "ok" {
        #expect(relevant.allSatisfy { $0.verdict.kind == .ok }, "false alarm: \(described)")
    } else {
        let others = relevant.filter { $0.request != nil && $0.verdict.kind.rawValue != kind }
        #expect(others.allSatisfy { !$0.verdict.kind.isFailure }, "unexpected failures: \(described)")
    }
    for trace in relevant {
        let t = trace.timings
        let sum = [t.dns, t.connect, t.request, t.server, t.network, t.response, t.client].compactMap { $0 }.reduce(
            0,
            +
        )
        #expect(sum == t.total || t.client == 0, "phases of #\(trace.index) do not add up: \(t)")
        #expect(trace.hops.allSatisfy { ($0.synDelay ?? 0) >= 0 && ($0.dataDelay ?? 0) >= 0 })
    }
}
