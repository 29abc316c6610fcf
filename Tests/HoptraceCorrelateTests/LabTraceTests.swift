import Foundation
import HoptraceKube
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// Every bundled lab capture, in both formats, is traced end to end and compared with the truth file the lab wrote
/// from what it did (the fault it injected and where), never from hoptrace's output.
enum LabCaptures {
    static var directory: URL { Lab.root }

    struct Case: CustomTestStringConvertible, Sendable {
        var scenario: String
        var format: String
        var testDescription: String { "\(scenario).\(format)" }
    }

    /// The first lab's scenarios, in its two formats (the four writers of every scenario: `LabWriterVerdictTests`).
    static var cases: [Case] {
        Lab.legacyScenarios.flatMap { scenario in
            ["pcapng", "sll2.pcap"].filter {
                FileManager.default.fileExists(atPath: path("\(scenario).\($0)"))
            }.map { Case(scenario: scenario, format: $0) }
        }
    }

    /// A file by its first-lab flat name (`<scenario>.pcapng`, `<scenario>.k8s.json`, ...).
    static func file(_ name: String) -> URL { Lab.legacyFile(name) }

    /// ``file(_:)``'s path.
    static func path(_ name: String) -> String { file(name).path }

    static func truth(_ scenario: String) throws -> [String: Any] {
        let data = try Data(contentsOf: Lab.truthFile(scenario))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// The SLL2 interface names the truth file records (from the node's `ip -j link`).
    static func interfaceNames(_ truth: [String: Any]) -> [Int32: String] {
        var names: [Int32: String] = [:]
        if let interfaces = truth["interfaces"] as? [String: String] {
            for (index, name) in interfaces { if let i = Int32(index) { names[i] = name } }
        }
        return names
    }

    /// Traces a capture as `hoptrace trace --all [--k8s ...]` does.
    static func trace(_ labCase: Case, truth: [String: Any], k8s: Bool = false) throws -> [RequestTrace] {
        let names = labCase.format == "sll2.pcap" ? interfaceNames(truth) : [:]
        let state = k8s ? try ClusterState.load(paths: [path("\(labCase.scenario).k8s.json")]) : nil
        var traces: [RequestTrace] = []
        let run = try Correlator.trace(
            files: [path("\(labCase.scenario).\(labCase.format)")],
            ifIndexNames: names,
            directory: ClusterDirectory(state: state)
        ) { traces += $0 }
        #expect(run.flows.error == nil, "reading \(labCase): \(String(describing: run.flows.error))")
        return traces
    }
}

@Test(
    "each lab scenario is diagnosed as its truth says",
    .enabled(if: !LabCaptures.cases.isEmpty, "no lab captures under captures/"),
    arguments: LabCaptures.cases
)
func labScenarioMatchesTruth(_ labCase: LabCaptures.Case) throws {
    let truth = try LabCaptures.truth(labCase.scenario)
    let traces = try LabCaptures.trace(labCase, truth: truth)

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
        "#\($0.index) \($0.mode.rawValue) \($0.verdict.kind.rawValue) @\($0.verdict.location?.name ?? "-")"
    }
    #expect(!relevant.isEmpty, "no trace of the lab's request in \(labCase)")

    let matching = relevant.filter { trace in
        trace.mode.rawValue == mode && trace.verdict.kind.rawValue == kind
            && (hops.isEmpty || trace.verdict.location.map { hops.contains($0.name) } == true)
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
        let sum = t.phases.map(\.value).reduce(0, +)
        #expect(sum == t.total, "phases of #\(trace.index) do not add up: \(t)")
        #expect(trace.hops.allSatisfy { ($0.synDelay ?? 0) >= 0 && ($0.requestDelay ?? 0) >= 0 })
    }
}

@Test(
    "in every lab capture, each trace starts at its client pod's own veth and ends at its server pod's",
    .enabled(if: !LabCaptures.cases.isEmpty, "no lab captures under captures/"),
    arguments: LabCaptures.cases
)
func labPathEnds(_ labCase: LabCaptures.Case) throws {
    // Which veth is whose, from what the lab built (truth.json's topology), never from hoptrace: a pod's own link is
    // where its packets enter and leave the node, so a path that holds it has it at its end. Every trace is checked,
    // the background traffic's too (a bridge's late copies once put cni0 before the client's veth on 147 of them).
    let truth = try LabCaptures.truth(labCase.scenario)
    let pods = ((truth["topology"] as? [String: Any])?["pods"] as? [[String: Any]]) ?? []
    var veths: [String: String] = [:]
    for pod in pods {
        if let ip = pod["ip"] as? String, let veth = pod["veth"] as? String { veths[ip] = veth }
    }
    try #require(!veths.isEmpty, "truth.json of \(labCase.scenario) lists no pods")
    // As `trace --all` and as `trace --all --k8s` (the cluster's state changes what the correlator knows of links),
    // and for `tcpdump -i any` files also as a bare `trace --all FILE` does, with no interface names (`if4`: read
    // back through the truth's ifindex table), where no name convention tells a bridge from a veth.
    let withState = FileManager.default.fileExists(atPath: LabCaptures.path("\(labCase.scenario).k8s.json"))
    var traces =
        try LabCaptures.trace(labCase, truth: truth)
        + (withState ? try LabCaptures.trace(labCase, truth: truth, k8s: true) : [])
    if labCase.format == "sll2.pcap" {
        let state = withState ? try ClusterState.load(paths: [LabCaptures.path("\(labCase.scenario).k8s.json")]) : nil
        _ = try Correlator.trace(
            files: [LabCaptures.path("\(labCase.scenario).\(labCase.format)")],
            directory: ClusterDirectory(state: state)
        ) { traces += $0 }
    }
    let byIndex = LabCaptures.interfaceNames(truth)
    var checked = 0
    for trace in traces where trace.hops.count > 1 {
        let names = trace.hops.map { hop in
            guard hop.point.name.hasPrefix("if"), let index = Int32(hop.point.name.dropFirst(2)) else {
                return hop.point.name
            }
            return byIndex[index] ?? hop.point.name
        }
        if let client = trace.client, let veth = veths[client.address.description], names.contains(veth) {
            #expect(names.first == veth, "#\(trace.index) from \(client): \(names)")
            checked += 1
        }
        if let server = trace.server, let veth = veths[server.address.description], names.contains(veth) {
            #expect(names.last == veth, "#\(trace.index) to \(server): \(names)")
            checked += 1
        }
    }
    #expect(checked > 0 || traces.allSatisfy { $0.hops.count < 2 }, "no path end checked in \(labCase)")
}
