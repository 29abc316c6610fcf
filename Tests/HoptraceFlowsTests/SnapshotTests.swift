import Foundation
import HoptraceCapture
import HoptraceDecode
import HoptraceTestSupport
import Testing

@testable import HoptraceFlows

/// ``FlowAnalyzer/snapshot()``: what is open, without disturbing what the sink will get.
@Suite("FlowAnalyzer snapshot")
struct SnapshotTests {
    /// Every record, exchange and transaction the sink gets from one file, snapshotting after every packet or not.
    private func run(
        _ path: String,
        snapshotEvery: Bool,
        until: Int64? = nil
    ) throws -> (
        events: [FlowEvent], snapshot: [FlowEvent]
    ) {
        let source = try openCaptureFile(path: path)
        let decoder = PacketDecoder()
        let points = CapturePointTable()
        var events: [FlowEvent] = []
        let analyzer = FlowAnalyzer { events.append($0) }
        var snapshot: [FlowEvent] = []
        while let packet = try source.next() {
            if let until, packet.timestamp > until {
                snapshot = analyzer.snapshot()
                return (events, snapshot)
            }
            guard let decoded = decoder.decode(packet) else { continue }
            analyzer.process(decoded, capturePoint: points.id(for: decoded, interfaces: source.interfaces))
            if snapshotEvery { snapshot = analyzer.snapshot() }
        }
        analyzer.finish()
        return (events, snapshot)
    }

    /// clusterip-no-response's tcpdump -i any capture, without the lab's healthy background (the test counts the
    /// exchanges pending at one instant: the scenario's own request's).
    static let noResponse =
        ((try? Lab.withoutBackground(Lab.file("clusterip-no-response", .tcpdumpAny), scenario: "clusterip-no-response"))
        ?? Lab.file("clusterip-no-response", .tcpdumpAny)).path

    @Test(
        "a request waiting for its response is in the snapshot, with its connection still open",
        .enabled(if: FileManager.default.fileExists(atPath: noResponse), "no lab capture")
    )
    func pendingRequest() throws {
        // The lab's truth: the request it sent, and when curl started and gave up (3 s later).
        let truthURL = Lab.truthFile("clusterip-no-response")
        let truth = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: truthURL)) as? [String: Any]
        )
        let path = try #require(((truth["requests"] as? [[String: Any]])?.first)?["path"] as? String)
        let requestStart = try #require((truth["time"] as? [String: Any])?["requestStartEpoch"] as? Double)
        // One second into the request: sent, delivered, unanswered, the client still waiting.
        let (events, snapshot) = try run(Self.noResponse, snapshotEvery: false, until: Int64((requestStart + 1) * 1e9))
        #expect(!events.contains { if case .http = $0 { true } else { false } }, "an exchange was emitted early")
        let pending = snapshot.compactMap { event -> HTTPExchange? in
            if case .http(let exchange) = event { exchange } else { nil }
        }
        // One sighting per capture point the request crossed (vethclient0, cni0, vethweb1), none answered.
        #expect(pending.count == 3, "\(pending.count) pending exchanges")
        #expect(pending.allSatisfy { $0.request?.target == path && $0.response == nil && $0.clientISN != nil })
        let open = snapshot.compactMap { event -> ConnectionRecord? in
            if case .connection(let record) = event, record.application == "http" { record } else { nil }
        }
        #expect(Set(open.map(\.id)) == Set(pending.map(\.connectionID)))
        #expect(open.allSatisfy { $0.endReason == .endOfInput && $0.originatorSummary.fin == nil })
    }

    @Test(
        "snapshots after every packet change nothing the sink receives",
        .enabled(if: FileManager.default.fileExists(atPath: noResponse), "no lab capture")
    )
    func snapshotsDoNotDisturb() throws {
        for scenario in ["clusterip-no-response", "keepalive-many", "dns-nxdomain"] {
            let path = Lab.file(scenario, .tcpdumpAny).path
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let plain = try run(path, snapshotEvery: false).events
            let watched = try run(path, snapshotEvery: true).events
            #expect(plain.count == watched.count, "\(scenario)")
            #expect(String(describing: plain) == String(describing: watched), "\(scenario)")
        }
    }
}
