import Foundation
import HoptraceCapture
import HoptraceDecode
import HoptraceFlows
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// The lab's two-node scenarios (client pod on node-a, server pod on node-b, VXLAN between them), read as users
/// bring them: both nodes' files of one writer together, each file's node found as `hoptrace trace` finds it (the
/// pcapng host, the directory of `any` captures whose names collide, `--node` for per-interface files), and again
/// with node-b's clock moved by `editcap -t`. The faulty request's verdict, location and phase are the truth's; the
/// path runs across the nodes as the lab wired it; the clock offset found is the one applied. Truth is what the lab
/// did (`tools/lab/lab.py`), never hoptrace's output.
@Suite("lab: two nodes, every writer")
struct LabTwoNodeTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var scenario: String
        var writer: Lab.Writer
        /// Seconds added to node-b's timestamps (editcap -t), 0 for none.
        var skew: Double = 0
        var testDescription: String { "\(scenario) \(writer)" + (skew == 0 ? "" : " skew \(skew)s") }
    }

    static var scenarios: [String] { Lab.scenarios.filter { !Lab.nodes($0).isEmpty } }

    static var cases: [Case] {
        scenarios.flatMap { scenario in Lab.Writer.allCases.map { Case(scenario: scenario, writer: $0) } }
    }

    /// Skewed copies of the healthy and the far-drop scenarios: node-b's clock 40 ms ahead, and 25 ms behind.
    static var skewed: [Case] {
        ["xnode-ok", "xnode-drop-far"].filter(scenarios.contains).flatMap { scenario in
            [0.040, -0.025].flatMap { skew in
                [Lab.Writer.tcpdumpAny, .dumpcap].map { Case(scenario: scenario, writer: $0, skew: skew) }
            }
        }
    }

    static var editcap: String? {
        ["/usr/bin/editcap", "/usr/local/bin/editcap"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// node-b's file moved by `skew` seconds with editcap, in the temporary directory under node-b's name.
    static func shifted(_ file: URL, node: String, skew: Double) throws -> URL {
        let editcap = try #require(Self.editcap, "editcap is needed to shift a capture's clock")
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("hoptrace-skew-\(getpid())-\(UUID().uuidString)/\(node)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let out = dir.appendingPathComponent(file.lastPathComponent)
        let result = try Command.run(editcap, ["-t", String(format: "%.6f", skew), file.path, out.path])
        try #require(result.status == 0, "editcap: \(result.stderr)")
        return out
    }

    /// The inputs of one writer on both nodes, as a user would give them.
    static func inputs(_ labCase: Case) throws -> (specs: [CaptureFileSpec], names: [String: [Int32: String]]) {
        var specs: [CaptureFileSpec] = []
        var names: [String: [Int32: String]] = [:]
        for node in Lab.nodes(labCase.scenario) {
            let skew = node == "node-b" ? labCase.skew : 0
            switch labCase.writer {
            case .perInterface:
                // One file per interface says nothing of its node: `--node node-a=captures/x/node-a/if`.
                for file in Lab.interfaceFiles(labCase.scenario, node: node).values.sorted(by: { $0.path < $1.path }) {
                    let path = skew == 0 ? file : try shifted(file, node: node, skew: skew)
                    specs.append(CaptureFileSpec(path: path.path, node: node))
                }
            default:
                let file = Lab.file(labCase.scenario, labCase.writer, node: node)
                let path = skew == 0 ? file : try shifted(file, node: node, skew: skew)
                specs.append(CaptureFileSpec(path: path.path))
                if labCase.writer == .tcpdumpAny {
                    names[node] = try LabWriterVerdictTests.ifIndexNames(labCase.scenario, node: node)
                }
            }
        }
        return (specs, names)
    }

    static func trace(_ labCase: Case) throws -> [RequestTrace] {
        let (specs, names) = try inputs(labCase)
        defer {
            // The shifted copies live in hoptrace-skew-*/NODE/FILE: remove each copy's whole folder.
            for spec in specs where spec.path.contains("/hoptrace-skew-") {
                let folder = URL(fileURLWithPath: spec.path).deletingLastPathComponent().deletingLastPathComponent()
                try? FileManager.default.removeItem(at: folder)
            }
        }
        var traces: [RequestTrace] = []
        let run = try Correlator.trace(inputs: specs, nodeIfIndexNames: names) { traces += $0 }
        #expect(run.flows.error == nil, "\(String(describing: run.flows.error))")
        return traces
    }

    /// Pods by address: node and veth, from the truth's topology.
    static func pods(_ scenario: String) throws -> [String: (node: String, veth: String)] {
        let data = try Data(contentsOf: Lab.truthFile(scenario))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var pods: [String: (node: String, veth: String)] = [:]
        for pod in ((json["topology"] as? [String: Any])?["pods"] as? [[String: Any]]) ?? [] {
            if let ip = pod["ip"] as? String, let node = pod["node"] as? String, let veth = pod["veth"] as? String {
                pods[ip] = (node, veth)
            }
        }
        return pods
    }

    @Test("the faulty request's verdict, location and phase are the truth's, on both nodes", arguments: cases + skewed)
    func verdict(_ labCase: Case) throws {
        if labCase.skew != 0 { try #require(Self.editcap != nil, "no editcap") }
        let truth = try Lab.truth(labCase.scenario)
        let traces = try Self.trace(labCase)
        let trace = try #require(LabWriterVerdictTests.faulty(traces, truth: truth), "no trace of the faulty request")
        let label =
            "\(labCase): \(trace.verdict.kind.rawValue)@\(trace.verdict.location?.description ?? "-") "
            + "[\(trace.mode.rawValue)] \(trace.verdict.sentence) | hops "
            + trace.hops.map { "\($0.point)(\($0.evidence.rawValue))" }.joined(separator: " ")
        #expect(trace.verdict.kind.rawValue == truth.verdict, "\(label)")
        #expect(trace.mode.rawValue == truth.mode, "\(label)")
        if !truth.location.hops.isEmpty {
            #expect(truth.location.hops.contains(trace.verdict.location?.description ?? "-"), "location: \(label)")
        }
        if let next = truth.location.nextHop {
            #expect(trace.verdict.next?.description == next, "next: \(label)")
        }
        if let phase = truth.phase, trace.verdict.kind.isFailure {
            #expect(trace.verdict.phase?.rawValue == phase, "phase: \(label)")
        }
        if let segment = truth.location.segment, segment.contains("→"), trace.verdict.kind == .slow {
            let ours =
                "\(trace.verdict.segmentFrom?.description ?? "?") → \(trace.verdict.location?.description ?? "?")"
            #expect(ours == segment, "segment: \(label)")
        }
        // The clock offset found for node-b is the skew applied (node-b's clock ahead: a positive offset), within
        // half a millisecond.
        if labCase.skew != 0 {
            let offset = try #require(trace.clockOffsets.first { $0.node == "node-b" }, "no offset: \(label)")
            let expected = Int64((labCase.skew * 1e9).rounded())
            #expect(abs(offset.offset - expected) <= 500_000, "offset \(offset.offset) ns, skew \(expected) ns")
        }
        if let background = truth.background {
            let ids = Set(background.requests.map(\.xRequestID))
            let traced = traces.filter { $0.request?.requestID.map(ids.contains) == true }
            let alarms = traced.filter { $0.verdict.kind.isFailure }
            #expect(alarms.isEmpty, "\(labCase): background alarms: \(alarms.map(\.verdict.sentence))")
            #expect(Set(traced.compactMap(\.request?.requestID)).count >= ids.count * 9 / 10, "\(labCase) background")
        }
    }

    /// The path of a request from a pod on one node to a pod on the other, in the lab's wiring: the client's veth,
    /// its node's bridge, overlay and uplink, then the server node's uplink, overlay, bridge and the server's veth.
    @Test("a pod-to-pod path across the nodes runs as the lab wired it", arguments: cases + skewed)
    func pathOrder(_ labCase: Case) throws {
        if labCase.skew != 0 { try #require(Self.editcap != nil, "no editcap") }
        let pods = try Self.pods(labCase.scenario)
        let traces = try Self.trace(labCase)
        var checked = 0
        for trace in traces where trace.kind != .dns {
            guard let client = trace.client.flatMap({ pods[$0.address.description] }),
                let server = trace.server.flatMap({ pods[$0.address.description] }),
                client.node != server.node
            else { continue }
            let wiring = [
                "\(client.node)/\(client.veth)", "\(client.node)/cni0", "\(client.node)/flannel.1",
                "\(client.node)/eth0", "\(server.node)/eth0", "\(server.node)/flannel.1", "\(server.node)/cni0",
                "\(server.node)/\(server.veth)",
            ]
            let points = trace.hops.map(\.point.description)
            let expected = wiring.filter(points.contains)
            let seen = points.filter(expected.contains).reduce(into: [String]()) { if $0.last != $1 { $0.append($1) } }
            guard expected.count >= 2 else { continue }
            checked += 1
            let hops = trace.hops.map { "\($0.point)(\($0.evidence.rawValue))" }.joined(separator: " ")
            #expect(seen == expected, "\(labCase) #\(trace.index) \(trace.request?.path ?? ""): \(hops)")
        }
        #expect(checked > 0, "\(labCase): no cross-node request traced")
    }
}
