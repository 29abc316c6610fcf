import Foundation
import HoptraceDecode
import HoptraceFlows
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// Every lab scenario, as each of the four writers recorded it at the same time (`tcpdump -i any` with the node's
/// `ip -j link`, `hoptrace capture`, dumpcap without direction flags, one `tcpdump -i IF` file per interface without
/// name or direction), around busy healthy background traffic: the faulty request is diagnosed with the truth's mode,
/// verdict, location and phase, and the background raises no alarm. The truth is what the lab did and saw
/// (`tools/lab/lab.py`), never hoptrace's output.
@Suite("lab verdicts from every writer")
struct LabWriterVerdictTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var scenario: String
        var writer: Lab.Writer
        var testDescription: String { "\(scenario) \(writer)" }
    }

    static var cases: [Case] {
        Lab.scenarios.filter { Lab.nodes($0).isEmpty }.flatMap { scenario in
            Lab.Writer.allCases.map { Case(scenario: scenario, writer: $0) }
        }
    }

    /// The SLL2 interface names of a node, from its `ip -j link`.
    static func ifIndexNames(_ scenario: String, node: String? = nil) throws -> [Int32: String] {
        let data = try Data(contentsOf: Lab.linksFile(scenario, node: node))
        let links = try JSONSerialization.jsonObject(with: data) as? [[String: Any]] ?? []
        var names: [Int32: String] = [:]
        for link in links {
            if let index = link["ifindex"] as? Int, let name = link["ifname"] as? String { names[Int32(index)] = name }
        }
        return names
    }

    /// The files of one writer of one node.
    static func files(_ scenario: String, _ writer: Lab.Writer, node: String? = nil) -> [String] {
        switch writer {
        case .perInterface: return Lab.interfaceFiles(scenario, node: node).values.map(\.path).sorted()
        default: return [Lab.file(scenario, writer, node: node).path]
        }
    }

    static func trace(_ files: [String], names: [Int32: String]) throws -> [RequestTrace] {
        var traces: [RequestTrace] = []
        let run = try Correlator.trace(files: files, ifIndexNames: names) { traces += $0 }
        #expect(run.flows.error == nil, "\(String(describing: run.flows.error))")
        return traces
    }

    /// The trace of the scenario's faulty request: by its X-Request-ID, else by its client (and ports, and time).
    static func faulty(_ traces: [RequestTrace], truth: LabTruth) -> RequestTrace? {
        guard let request = truth.faultyRequest else {
            // A lookup scenario: the client's lookup.
            return traces.first { $0.kind == .dns }
        }
        if let id = request.xRequestID, let byID = traces.first(where: { $0.request?.requestID == id }) {
            return byID
        }
        let start = Int64(request.start * 1e9) - 1_000_000_000
        let end = Int64(request.end * 1e9) + 1_000_000_000
        let candidates = traces.filter { trace in
            guard trace.client?.address.description == request.clientIP else { return false }
            if !request.clientPorts.isEmpty, let port = trace.client?.port, trace.kind != .dns {
                return request.clientPorts.contains(Int(port))
            }
            return trace.start >= start && trace.start <= end
        }
        return candidates.first { $0.verdict.kind.isFailure } ?? candidates.first
    }

    @Test("the faulty request's verdict, mode, location and phase are the truth's", arguments: cases)
    func verdict(_ labCase: Case) throws {
        let truth = try Lab.truth(labCase.scenario)
        let files = Self.files(labCase.scenario, labCase.writer)
        let names = labCase.writer == .tcpdumpAny ? try Self.ifIndexNames(labCase.scenario) : [:]
        let traces = try Self.trace(files, names: names)
        let described = traces.filter { $0.client?.address.description == truth.faultyRequest?.clientIP }.map {
            "#\($0.index) \($0.kind.rawValue) \($0.mode.rawValue) \($0.verdict.kind.rawValue)@"
                + "\($0.verdict.location?.description ?? "-"): \($0.verdict.sentence)"
        }
        let trace = try #require(Self.faulty(traces, truth: truth), "no trace of the faulty request: \(described)")
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
        if let part = truth.location.part, trace.verdict.kind == .slow {
            let named = trace.verdict.slowPart.map { $0 == .segment ? "segment" : $0.rawValue }
            #expect(named == part || (named == "segment" && part != "server"), "part: \(label)")
            if let segment = truth.location.segment, segment.contains("→"), !segment.hasPrefix("client") {
                let ours =
                    "\(trace.verdict.segmentFrom?.description ?? "?") → \(trace.verdict.location?.description ?? "?")"
                #expect(ours == segment, "segment: \(label)")
            }
        }
        // The healthy background: every one of its requests traced, none of them a failure.
        if let background = truth.background {
            // Captured inside one pod (its lo and eth0): only the background requests to that pod pass there.
            var visible = background.requests
            if truth.captureSets.first.map({ !$0.interfaces.values.contains("cni0") }) == true {
                let own = try Self.capturedPodAddress(labCase.scenario)
                visible = visible.filter { $0.target.hasPrefix("\(own):") }
            }
            let ids = Set(visible.map(\.xRequestID))
            let traced = traces.filter { $0.request?.requestID.map(ids.contains) == true }
            let alarms = traced.filter { $0.verdict.kind.isFailure }
            #expect(
                alarms.isEmpty,
                "\(labCase): background alarms: \(alarms.map { "\($0.request?.requestID ?? "") \($0.verdict.sentence)" })"
            )
            #expect(Set(traced.compactMap(\.request?.requestID)).count >= ids.count * 9 / 10, "\(labCase) background")
        }
    }

    /// The address of the pod a scenario captured inside (its client's pod, by name, in the lab's topology).
    static func capturedPodAddress(_ scenario: String) throws -> String {
        let data = try Data(contentsOf: Lab.truthFile(scenario))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let name = try #require((json["client"] as? [String: Any])?["name"] as? String)
        let pods = ((json["topology"] as? [String: Any])?["pods"] as? [[String: Any]]) ?? []
        return try #require(pods.first { $0["name"] as? String == name }?["ip"] as? String)
    }

    /// The lab's wiring, from its truth file: each pod's address and the host side of its veth.
    static func podVeths(_ scenario: String) throws -> [String: String] {
        let data = try Data(contentsOf: Lab.truthFile(scenario))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let topology = try #require(json["topology"] as? [String: Any])
        var veths: [String: String] = [:]
        for pod in (topology["pods"] as? [[String: Any]]) ?? [] {
            if let ip = pod["ip"] as? String, let veth = pod["veth"] as? String { veths[ip] = veth }
        }
        return veths
    }

    /// Path order from the wiring, never from timestamps: a packet from one pod to another on the node's bridge
    /// leaves the client's veth, crosses cni0 and enters the server's veth, in that order, for every request traced
    /// (the faulty one and the busy background), from every writer, with direction flags or without.
    @Test("every pod-to-pod path runs client veth, cni0, server veth, as the lab wired it", arguments: cases)
    func pathOrder(_ labCase: Case) throws {
        let veths = try Self.podVeths(labCase.scenario)
        let files = Self.files(labCase.scenario, labCase.writer)
        let names = labCase.writer == .tcpdumpAny ? try Self.ifIndexNames(labCase.scenario) : [:]
        let traces = try Self.trace(files, names: names)
        var checked = 0
        for trace in traces where trace.kind != .dns {
            guard let client = trace.client?.address.description, let server = trace.server?.address.description,
                let clientVeth = veths[client], let serverVeth = veths[server], clientVeth != serverVeth
            else { continue }
            let points = trace.hops.map(\.point.name)
            let expected = [clientVeth, "cni0", serverVeth].filter(points.contains)
            // One point seen twice in a row (cni0 before and after the Service's DNAT) is one place on the path.
            let seen = points.filter(expected.contains).reduce(into: [String]()) { if $0.last != $1 { $0.append($1) } }
            guard expected.count >= 2 else { continue }
            checked += 1
            let hops = trace.hops.map { "\($0.point)(\($0.evidence.rawValue))" }.joined(separator: " ")
            #expect(seen == expected, "\(labCase) #\(trace.index) \(trace.request?.path ?? ""): \(hops)")
        }
        #expect(checked > 0 || labCase.scenario.hasPrefix("dns") || labCase.scenario == "loopback", "\(labCase)")
    }
}
