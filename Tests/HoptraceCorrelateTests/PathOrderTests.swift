import Foundation
import HoptraceDecode
import HoptraceFlows
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// Hand-built paths for each pattern of the design notes, captured with and without direction flags: the order of
/// the capture points, the translations and the locations come from what was built, never from timestamps alone.
@Suite("path order and stitching")
struct PathOrderTests {
    static let client = "10.244.0.10:41000"
    static let vip = "10.96.0.100:80"
    static let pod = "10.244.0.11:8080"

    /// A ClusterIP connection on one node: the client's veth, the bridge before and after kube-proxy's DNAT (routed:
    /// the TTL falls), the server's veth. With `directions`, as `tcpdump -i any` records them.
    static func clusterIP(directions: Bool, noise: Int64 = 0) -> Relay {
        let i: HandBuiltCapture.Direction = directions ? .inbound : .none
        let o: HandBuiltCapture.Direction = directions ? .outbound : .none
        return Relay([
            .init(
                name: "vethclient0",
                client: client,
                server: vip,
                toServer: i,
                toClient: o,
                ttlToClient: 63,
                delay: 5_000
            ),
            .init(name: "cni0", client: client, server: vip, toServer: i, toClient: o, ttlToClient: 63, delay: 6_000),
            .init(
                name: "cni0",
                client: client,
                server: pod,
                toServer: o,
                toClient: i,
                ttlToServer: 63,
                delay: 4_000 + noise,
                delayBack: 6_000
            ),
            .init(
                name: "vethweb1",
                client: client,
                server: pod,
                toServer: o,
                toClient: i,
                ttlToServer: 63,
                delay: 5_000,
                delayBack: 0
            ),
        ])
    }

    @Test(
        "a ClusterIP connection is one request in causal order, with or without direction flags",
        arguments: [true, false]
    )
    func clusterIPOrder(directions: Bool) throws {
        var relay = Self.clusterIP(directions: directions, noise: -9_000)
        relay.exchange(start: ms(0), serverTime: 2_000_000)
        let traces = try relay.trace(name: "clusterip-\(directions).pcapng")
        #expect(traces.count == 1)
        let trace = try #require(traces.first)
        #expect(trace.hops.map(\.point.name) == ["vethclient0", "cni0", "vethweb1"])
        #expect(trace.hops.map(\.translation) == [.none, .dnat, .none])
        #expect(trace.verdict.kind == .ok)
        #expect(trace.mode == .clusterip)
        #expect(trace.service?.description == Self.vip)
        #expect(trace.server?.description == Self.pod)
        // The server's own time, measured at its veth: exactly what was built.
        #expect(trace.timings.server == 2_000_000)
        let t = trace.timings
        #expect(t.phases.map(\.value).reduce(0, +) == t.total)
        #expect(trace.hops.allSatisfy { ($0.synDelay ?? 0) >= 0 && ($0.requestDelay ?? 0) >= 0 })
        #expect(trace.verdict.location?.name == "vethweb1")
    }

    @Test("a bridge's late copies do not move it after the pod's veth (no direction flags)")
    func lateBridgeCopies() throws {
        // Pod to pod on one bridge, no routing: the bridge in promiscuous mode is handed each frame 30 µs after the
        // destination's veth sent it on.
        var relay = Relay([
            .init(name: "vethclient0", client: Self.client, server: Self.pod, delay: 3_000, delayBack: 3_000),
            .init(name: "cni0", client: Self.client, server: Self.pod, delay: 4_000, delayBack: 4_000, late: 30_000),
            .init(name: "vethweb1", client: Self.client, server: Self.pod, delay: 4_000, delayBack: 0),
        ])
        relay.exchange(start: ms(0), serverTime: 900_000_000)
        let trace = try #require(try relay.trace(name: "late-copies.pcapng").first)
        #expect(trace.hops.map(\.point.name) == ["vethclient0", "cni0", "vethweb1"])
        // The bridge goes between its ports (the ports' own order is by two-way delay); its late copy times nothing.
        #expect(trace.hops[1].evidence == .bridge)
        #expect(trace.hops[1].synDelay == nil && trace.hops[1].requestDelay == nil)
        #expect(trace.hops[2].synDelay == 8_000)
        #expect(trace.verdict.kind == .slow)
        #expect(trace.verdict.slowPart == .server)
        #expect(trace.verdict.location?.name == "vethweb1")
        #expect(trace.mode == .direct)
    }

    @Test(
        "a SYN dropped after the DNAT is a breakpoint at the bridge, with or without direction flags",
        arguments: [true, false]
    )
    func droppedSYN(directions: Bool) throws {
        var relay = Self.clusterIP(directions: directions)
        relay.dropAfter = 2
        for (n, at) in [0.0, 1000, 3000].enumerated() {
            relay.toServer(at: ms(at), .syn, seq: 4242, ipID: UInt16(10 + n))
        }
        let traces = try relay.trace(name: "drop-\(directions).pcapng")
        let trace = try #require(traces.first)
        #expect(traces.count == 1)
        #expect(trace.verdict.kind == .breakpoint)
        #expect(trace.verdict.location?.name == "cni0")
        #expect(trace.verdict.phase == .connect)
        #expect(trace.hops.map(\.translation) == [.none, .dnat])
        #expect(trace.verdict.sentence.contains("sent 3 times"))
        #expect(trace.findings.contains { $0.kind == .synRetransmitted })
        #expect(trace.mode == .clusterip)
    }

    @Test("one ISN sent to several destinations (a scanner) is several connections, no NAT invented")
    func isnReuse() throws {
        var capture = HandBuiltCapture(interfaces: ["eth0"])
        for (n, port) in [22, 80, 443].enumerated() {
            let target = "10.0.0.9:\(port)"
            capture.tcp(at: ms(Double(n) * 0.05), "10.0.0.5:40000", target, .syn, seq: 777, ipID: UInt16(900 + n * 17))
            if port == 80 {
                capture.tcp(at: ms(Double(n) * 0.05 + 0.2), target, "10.0.0.5:40000", [.syn, .ack], seq: 31, ack: 778)
                capture.tcp(at: ms(Double(n) * 0.05 + 0.3), "10.0.0.5:40000", target, .rst, seq: 778)
            } else {
                capture.tcp(at: ms(Double(n) * 0.05 + 0.2), target, "10.0.0.5:40000", [.rst, .ack], seq: 0, ack: 778)
            }
        }
        let path = try capture.write(name: "isn-reuse.pcapng")
        var traces: [RequestTrace] = []
        _ = try Correlator.trace(files: [path]) { traces += $0 }
        #expect(traces.count == 3)
        #expect(Set(traces.compactMap { $0.service?.port }) == [22, 80, 443])
        for trace in traces {
            #expect(trace.hops.count == 1)
            #expect(trace.hops.allSatisfy { $0.translation == .none })
            #expect(trace.mode == .direct)
        }
    }

    @Test("a NAT box captured on its two interfaces is one connection with its translation named")
    func natBox() throws {
        var relay = Relay([
            .init(name: "ext", client: "203.0.113.5:5000", server: "198.51.100.1:80", ttlToClient: 63, delay: 20_000),
            .init(
                name: "int",
                client: "192.168.0.1:6000",
                server: "10.0.0.7:8080",
                ttlToServer: 63,
                delay: 15_000,
                delayBack: 0
            ),
        ])
        relay.exchange(start: ms(0), serverTime: 3_000_000)
        let traces = try relay.trace(name: "nat-box.pcapng")
        #expect(traces.count == 1)
        let trace = try #require(traces.first)
        #expect(trace.hops.map(\.point.name) == ["ext", "int"])
        #expect(trace.hops.map(\.translation) == [.none, .dnatSnat])
        #expect(trace.verdict.kind == .ok)
        #expect(trace.timings.server == 3_000_000)
    }

    @Test("two connections that reuse an ISN at one interface minutes apart stay two")
    func isnReuseOverTime() throws {
        var capture = HandBuiltCapture(interfaces: ["eth0"])
        for (n, start) in [0.0, 120_000].enumerated() {
            capture.tcp(at: ms(start), "10.0.0.5:40000", "10.0.0.9:80", .syn, seq: 555, ipID: UInt16(n + 1))
            capture.tcp(at: ms(start + 0.1), "10.0.0.9:80", "10.0.0.5:40000", [.syn, .ack], seq: 9, ack: 556)
            capture.tcp(at: ms(start + 0.2), "10.0.0.5:40000", "10.0.0.9:80", .ack, seq: 556, ack: 10)
            capture.tcp(at: ms(start + 0.3), "10.0.0.5:40000", "10.0.0.9:80", [.rst, .ack], seq: 556, ack: 10)
        }
        let path = try capture.write(name: "isn-reuse-time.pcapng")
        var traces: [RequestTrace] = []
        _ = try Correlator.trace(files: [path]) { traces += $0 }
        #expect(traces.count == 2)
    }
}

/// Two nodes whose clocks disagree: the capture points' order and the offset come from packets seen on both.
@Suite("clocks of two nodes")
struct TwoNodeClockTests {
    /// A client pod on node-a, its server on node-b, the overlay between them; node-b's clock is `skew` ahead.
    static func relay(skew: Int64) -> Relay {
        let client = "10.244.0.10:41000"
        let vip = "10.96.0.100:80"
        let pod = "10.244.1.11:8080"
        return Relay([
            .init(
                name: "node-a/vethclient0",
                client: client,
                server: vip,
                ttlToClient: 62,
                delay: 5_000,
                delayBack: 5_000
            ),
            .init(name: "node-a/cni0", client: client, server: pod, ttlToServer: 63, ttlToClient: 62, delay: 8_000),
            .init(name: "node-a/eth0", client: client, server: pod, ttlToServer: 63, ttlToClient: 63, delay: 9_000),
            .init(
                name: "node-b/eth0",
                client: client,
                server: pod,
                ttlToServer: 63,
                ttlToClient: 63,
                delay: 120_000,
                delayBack: 120_000,
                late: skew
            ),
            .init(
                name: "node-b/vethweb1",
                client: client,
                server: pod,
                ttlToServer: 62,
                delay: 9_000,
                delayBack: 0,
                late: skew
            ),
        ])
    }

    /// The flow stage's records of the capture, its capture points given their nodes (`node/interface` names).
    static func traces(_ relay: Relay, name: String) throws -> (traces: [RequestTrace], offsets: [ClockOffset]) {
        let path = try relay.capture.write(name: name)
        var events: [FlowEvent] = []
        let table = CapturePointTable()
        _ = try FlowPipeline(configuration: Correlator.flowConfiguration()).run(
            paths: [path],
            capturePoints: table,
            sink: { events.append($0) }
        )
        let points = table.points.map { point -> CapturePoint in
            let parts = point.name.split(separator: "/", maxSplits: 1).map(String.init)
            return parts.count == 2 ? CapturePoint(name: parts[1], node: parts[0]) : point
        }
        let engine = TraceEngine { points[$0] }
        for event in events { engine.take(event) }
        let traces = engine.finish()
        return (traces, engine.clockOffsets)
    }

    @Test(
        "the path is in causal order and the offset is recovered within 0.5 ms",
        arguments: [40_000_000, -25_000_000, 0]
    )
    func skewed(skew: Int64) throws {
        var relay = Self.relay(skew: skew)
        for n in 0..<5 {
            relay.exchange(
                start: ms(Double(n) * 50),
                isn: UInt32(1000 + n * 7919),
                serverTime: 30_000_000,
                ipID: UInt16(100 + n * 10)
            )
        }
        let (traces, offsets) = try Self.traces(relay, name: "two-node-\(skew).pcapng")
        #expect(traces.count == 5)
        for trace in traces {
            #expect(
                trace.hops.map(\.point.description) == [
                    "node-a/vethclient0", "node-a/cni0", "node-a/eth0", "node-b/eth0", "node-b/vethweb1",
                ]
            )
            #expect(trace.verdict.kind == .ok)
            // The server's time at its own veth: on one clock, whatever the offset.
            #expect(trace.timings.server == 30_000_000)
            #expect(trace.hops.allSatisfy { ($0.synDelay ?? 0) >= 0 })
        }
        let offset = try #require(offsets.first { $0.node == "node-b" })
        #expect(offset.reference == "node-a")
        #expect(abs(offset.offset - skew) <= 500_000, "estimated \(offset.offset), built \(skew)")
        #expect(offset.uncertainty <= 500_000)
        // The underlay leg's one-way delay on corrected clocks: the built 120 µs, within the uncertainty.
        let underlay = try #require(traces[0].hops[3].synDelay)
        #expect(abs(underlay - 120_000) <= offset.uncertainty + 1_000, "underlay \(underlay)")
    }
}
