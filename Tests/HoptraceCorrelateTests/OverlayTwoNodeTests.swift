import Foundation
import HoptraceCapture
import HoptraceCorrelate
import HoptraceTestSupport
import Testing

/// Two nodes joined by an overlay this machine's kernel cannot build (Geneve, Calico's IP-in-IP), and flannel's VXLAN
/// on its own port 8472, from hand-built bytes: the client pod's veth and the uplink on node-a, the uplink and the
/// server pod's veth on node-b, no direction flags (as dumpcap writes), node-b's clock 40 ms ahead. The facts are the
/// ones the bytes were built with: the path, the tunnel and its outer addresses, the clock offset, where a SYN stopped.
@Suite("overlays across two nodes (hand-built Geneve, IP-in-IP, VXLAN 8472)")
struct OverlayTwoNodeTests {
    static let client = "10.244.0.10"
    static let server = "10.244.1.11"
    static let nodeA = "192.168.60.11"
    static let nodeB = "192.168.60.12"
    /// node-b's clock is ahead by this (ns).
    static let skew: Int64 = 40_000_000
    /// One-way delays (ns): pod veth to uplink on one node, and uplink to uplink across the underlay.
    static let local: Int64 = 10_000
    static let underlay: Int64 = 200_000

    enum Overlay: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case geneve, ipip, vxlan8472
        var testDescription: String { rawValue }
        func tunnel(fromA: Bool) -> HandBuiltCapture.Tunnel {
            let (src, dst) = fromA ? (nodeA, nodeB) : (nodeB, nodeA)
            switch self {
            case .geneve: return .geneve(vni: 7, outerSource: src, outerDestination: dst)
            case .ipip: return .ipip(outerSource: src, outerDestination: dst)
            case .vxlan8472: return .vxlan(vni: 1, port: 8472, outerSource: src, outerDestination: dst)
            }
        }
        /// How the trace names it.
        var kind: String {
            switch self {
            case .geneve: return "Geneve vni 7"
            case .ipip: return "IPIP"
            case .vxlan8472: return "VXLAN vni 1"
            }
        }
    }

    /// The two nodes' captures being built.
    struct Nodes {
        var a = HandBuiltCapture(interfaces: ["vethclient0", "eth0"])
        var b = HandBuiltCapture(interfaces: ["eth0", "vethweb1"])
        var ipID: UInt16 = 100
        let overlay: Overlay

        /// One segment sent at `time` (true time) by the client (`fromClient`) or the server, seen at every point
        /// up to `reach` (1...4, counted from the sender); node-b's points stamp it `skew` late.
        mutating func send(
            _ time: Int64,
            fromClient: Bool,
            clientPort: UInt16,
            _ flags: HandBuiltCapture.Flags,
            seq: UInt32,
            ack: UInt32 = 0,
            payload: String = "",
            reach: Int = 4
        ) {
            ipID &+= 1
            let clientEnd = "\(client):\(clientPort)"
            let serverEnd = "\(server):8080"
            let (src, dst) = fromClient ? (clientEnd, serverEnd) : (serverEnd, clientEnd)
            let bytes = Array(payload.utf8)
            // Points from the client's side: a/vethclient0, a/eth0, b/eth0, b/vethweb1.
            let offsets: [Int64] = [0, local, local + underlay, 2 * local + underlay]
            for step in 0..<reach {
                let point = fromClient ? step : 3 - step
                let seen = time + (fromClient ? offsets[step] : offsets[3] - offsets[point])
                // TTL: routed into the tunnel on the sender's node, routed out of it on the other.
                let ttl: UInt8 = point == 0 || point == 3 ? (step == 0 ? 64 : 62) : 63
                // node-b stamps late by its skew; the uplinks carry the segment in the tunnel.
                let onB = point >= 2
                let tunnel = point == 1 || point == 2 ? overlay.tunnel(fromA: fromClient) : nil
                var capture = onB ? b : a
                capture.at(["vethclient0", "eth0", "eth0", "vethweb1"][point])
                capture.tcp(
                    at: seen + (onB ? skew : 0),
                    src,
                    dst,
                    flags,
                    seq: seq,
                    ack: ack,
                    payload: bytes,
                    ttl: ttl,
                    ipID: ipID,
                    tunnel: tunnel
                )
                if onB { b = capture } else { a = capture }
            }
        }

        /// A whole HTTP exchange on a new connection from `port`, starting at `t0`.
        mutating func exchange(_ t0: Int64, port: UInt16, path: String) {
            let request = "GET \(path) HTTP/1.1\r\nHost: web\r\n\r\n"
            let response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            let c: UInt32 = 1_000 + UInt32(port)
            let s: UInt32 = 900_000 + UInt32(port)
            send(t0, fromClient: true, clientPort: port, .syn, seq: c)
            send(t0 + 1_000_000, fromClient: false, clientPort: port, [.syn, .ack], seq: s, ack: c + 1)
            send(t0 + 1_500_000, fromClient: true, clientPort: port, .ack, seq: c + 1, ack: s + 1)
            send(
                t0 + 1_600_000,
                fromClient: true,
                clientPort: port,
                [.psh, .ack],
                seq: c + 1,
                ack: s + 1,
                payload: request
            )
            let afterRequest = c + 1 + UInt32(request.utf8.count)
            send(
                t0 + 3_000_000,
                fromClient: false,
                clientPort: port,
                [.psh, .ack],
                seq: s + 1,
                ack: afterRequest,
                payload: response
            )
            let afterResponse = s + 1 + UInt32(response.utf8.count)
            send(t0 + 3_400_000, fromClient: true, clientPort: port, .ack, seq: afterRequest, ack: afterResponse)
            send(
                t0 + 4_000_000,
                fromClient: true,
                clientPort: port,
                [.fin, .ack],
                seq: afterRequest,
                ack: afterResponse
            )
            send(
                t0 + 4_500_000,
                fromClient: false,
                clientPort: port,
                [.fin, .ack],
                seq: afterResponse,
                ack: afterRequest + 1
            )
            send(
                t0 + 5_000_000,
                fromClient: true,
                clientPort: port,
                .ack,
                seq: afterRequest + 1,
                ack: afterResponse + 1
            )
        }

        /// Both files written (frames in time order), with their nodes.
        func files(_ name: String) throws -> [CaptureFileSpec] {
            var a = self.a
            var b = self.b
            a.frames.sort { $0.time < $1.time }
            b.frames.sort { $0.time < $1.time }
            return [
                CaptureFileSpec(path: try a.write(name: "\(name)-node-a.pcapng"), node: "node-a"),
                CaptureFileSpec(path: try b.write(name: "\(name)-node-b.pcapng"), node: "node-b"),
            ]
        }
    }

    static func trace(_ specs: [CaptureFileSpec]) throws -> [RequestTrace] {
        var traces: [RequestTrace] = []
        let run = try Correlator.trace(inputs: specs) { traces += $0 }
        #expect(run.flows.error == nil)
        return traces
    }

    static let t0: Int64 = 1_790_000_000_000_000_000

    @Test(
        "a request across the overlay: the path over both nodes, the tunnel, node-b's clock",
        arguments: Overlay.allCases
    )
    func acrossTheOverlay(_ overlay: Overlay) throws {
        var nodes = Nodes(overlay: overlay)
        for index in 0..<5 {
            nodes.exchange(Self.t0 + Int64(index) * 50_000_000, port: UInt16(41_000 + index), path: "/r\(index)")
        }
        let traces = try Self.trace(nodes.files("overlay-\(overlay.rawValue)"))
        #expect(traces.count == 5)
        let trace = try #require(traces.first { $0.request?.path == "/r2" })
        #expect(trace.verdict.kind == .ok, "\(trace.verdict.sentence)")
        let points = trace.hops.map { "\($0.point)" }
        #expect(points == ["node-a/vethclient0", "node-a/eth0", "node-b/eth0", "node-b/vethweb1"])
        for hop in trace.hops {
            let tunneled = hop.point.name == "eth0"
            #expect((hop.encapsulation != nil) == tunneled, "\(hop.point)")
            if let encapsulation = hop.encapsulation {
                #expect(encapsulation.kind == overlay.kind)
                #expect(encapsulation.outerSource.description == Self.nodeA)
                #expect(encapsulation.outerDestination.description == Self.nodeB)
            }
        }
        let offset = try #require(trace.clockOffsets.first { $0.node == "node-b" })
        #expect(abs(offset.offset - Self.skew) <= 500_000, "offset \(offset.offset)")
        // The underlay's one-way delay, measured across the two clocks once corrected.
        let underlayHop = try #require(trace.hops.first { "\($0.point)" == "node-b/eth0" })
        let delay = try #require(underlayHop.synDelay)
        #expect(abs(delay - Self.underlay) <= 20_000, "underlay delay \(delay)")
    }

    @Test(
        "a SYN that left node-a in the tunnel and never reached node-b: breakpoint at node-a/eth0, next node-b/eth0",
        arguments: Overlay.allCases
    )
    func underlayDrop(_ overlay: Overlay) throws {
        var nodes = Nodes(overlay: overlay)
        for index in 0..<4 {
            nodes.exchange(Self.t0 + Int64(index) * 50_000_000, port: UInt16(42_000 + index), path: "/bg\(index)")
        }
        // The faulty connection: its SYN, retransmitted at 1 s and 3 s, reaches node-a's uplink only.
        let start = Self.t0 + 300_000_000
        for retry: Int64 in [0, 1_000_000_000, 3_000_000_000] {
            nodes.send(start + retry, fromClient: true, clientPort: 43_000, .syn, seq: 77_000, reach: 2)
        }
        let traces = try Self.trace(nodes.files("underlay-drop-\(overlay.rawValue)"))
        let trace = try #require(traces.first { $0.client?.port == 43_000 })
        #expect(trace.verdict.kind == .breakpoint, "\(trace.verdict.sentence)")
        #expect(trace.verdict.location.map { "\($0)" } == "node-a/eth0", "\(trace.verdict.sentence)")
        #expect(trace.verdict.next.map { "\($0)" } == "node-b/eth0", "\(trace.verdict.sentence)")
        #expect(trace.hops.first?.synCount == 3)
        // The others crossed: nothing else is an alarm.
        #expect(traces.filter { $0.verdict.kind != .ok }.count == 1)
    }
}
