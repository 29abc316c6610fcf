import Foundation
import HoptraceCorrelate
import HoptraceTestSupport

/// A hand-built path: the capture points one connection crosses, each with the addresses, TTL and direction its
/// packets have there and how long a packet takes to reach it from the point before. Packets sent through it are
/// written at every point in turn, client to server or back, as a capture of those interfaces would hold them.
///
/// The facts a test asserts are the ones built here (which point rewrote what, where a packet stopped, how long each
/// leg took), never hoptrace's output.
struct Relay {
    /// One capture point on the path.
    struct Point {
        var name: String
        /// The client's and server's addresses as seen here (`"10.244.0.10:40000"`).
        var client: String
        var server: String
        /// Directions recorded here for each way (none: a capture without direction flags).
        var toServer: HandBuiltCapture.Direction = .none
        var toClient: HandBuiltCapture.Direction = .none
        /// TTL of the client's packets here, and of the server's.
        var ttlToServer: UInt8 = 64
        var ttlToClient: UInt8 = 64
        /// Time from the previous point to this one (client to server), and back.
        var delay: Int64 = 10_000
        var delayBack: Int64 = 10_000
        /// Where the server's packets are tapped late (a bridge in promiscuous mode gets a copy of a frame it forwarded
        /// after the frame left): extra time added to this point's timestamps both ways.
        var late: Int64 = 0
    }

    var points: [Point]
    var capture = HandBuiltCapture(interfaces: [])
    /// Packets stop after this point (client to server): a drop.
    var dropAfter: Int?

    init(_ points: [Point]) {
        self.points = points
        for point in points where !capture.interfaces.contains(point.name) { capture.interfaces.append(point.name) }
    }

    /// A client-to-server segment leaving the client at `time`.
    mutating func toServer(
        at time: Int64,
        _ flags: HandBuiltCapture.Flags,
        seq: UInt32,
        ack: UInt32 = 0,
        payload: [UInt8] = [],
        ipID: UInt16 = 1
    ) {
        var t = time
        for (index, point) in points.enumerated() {
            t += point.delay
            capture.at(point.name, point.toServer)
            capture.tcp(
                at: t + point.late,
                point.client,
                point.server,
                flags,
                seq: seq,
                ack: ack,
                payload: payload,
                ttl: point.ttlToServer,
                ipID: ipID
            )
            if let dropAfter, index >= dropAfter { break }
        }
    }

    /// A server-to-client segment leaving the server at `time` (it meets the points in reverse).
    mutating func toClient(
        at time: Int64,
        _ flags: HandBuiltCapture.Flags,
        seq: UInt32,
        ack: UInt32 = 0,
        payload: [UInt8] = [],
        ipID: UInt16 = 1
    ) {
        var t = time
        for point in points.reversed() {
            t += point.delayBack
            capture.at(point.name, point.toClient)
            capture.tcp(
                at: t + point.late,
                point.server,
                point.client,
                flags,
                seq: seq,
                ack: ack,
                payload: payload,
                ttl: point.ttlToClient,
                ipID: ipID
            )
        }
    }

    /// A whole HTTP exchange on a new connection: handshake at `start`, the request, the server's answer after
    /// `serverTime`, the close. Client ISN `isn`, server ISN `serverISN`.
    mutating func exchange(
        start: Int64,
        isn: UInt32 = 1000,
        serverISN: UInt32 = 5000,
        path: String = "/hello",
        requestID: String? = nil,
        serverTime: Int64 = 2_000_000,
        status: Int = 200,
        ipID: UInt16 = 100
    ) {
        let request = Array(
            "GET \(path) HTTP/1.1\r\nHost: web\r\n\(requestID.map { "X-Request-ID: \($0)\r\n" } ?? "")\r\n".utf8
        )
        let body = Array("hello".utf8)
        let response = Array("HTTP/1.1 \(status) OK\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
        let rtt = legs()
        toServer(at: start, .syn, seq: isn, ipID: ipID)
        toClient(at: start + rtt.there, [.syn, .ack], seq: serverISN, ack: isn + 1, ipID: 1)
        let acked = start + rtt.there + rtt.back
        toServer(at: acked, .ack, seq: isn + 1, ack: serverISN + 1, ipID: ipID + 1)
        toServer(at: acked + 1_000, [.ack, .psh], seq: isn + 1, ack: serverISN + 1, payload: request, ipID: ipID + 2)
        let answered = acked + 1_000 + rtt.there + serverTime
        toClient(
            at: answered,
            [.ack, .psh],
            seq: serverISN + 1,
            ack: isn + 1 + UInt32(request.count),
            payload: response,
            ipID: 2
        )
        let done = answered + rtt.back
        toServer(
            at: done + 1_000,
            [.ack, .fin],
            seq: isn + 1 + UInt32(request.count),
            ack: serverISN + 1 + UInt32(response.count),
            ipID: ipID + 3
        )
        toClient(
            at: done + 1_000 + rtt.there,
            [.ack, .fin],
            seq: serverISN + 1 + UInt32(response.count),
            ack: isn + 2 + UInt32(request.count),
            ipID: 3
        )
        toServer(
            at: done + 2_000 + rtt.there + rtt.back,
            .ack,
            seq: isn + 2 + UInt32(request.count),
            ack: serverISN + 2 + UInt32(response.count),
            ipID: ipID + 4
        )
    }

    /// The one-way times across the whole path.
    func legs() -> (there: Int64, back: Int64) {
        (points.map(\.delay).reduce(0, +), points.map(\.delayBack).reduce(0, +))
    }

    /// Traces the capture as `hoptrace trace --all` does.
    func trace(name: String, options: CorrelateOptions = .init()) throws -> [RequestTrace] {
        let path = try capture.write(name: name)
        var traces: [RequestTrace] = []
        _ = try Correlator.trace(files: [path], options: options) { traces += $0 }
        return traces
    }
}

let t0: Int64 = 1_700_000_000_000_000_000

/// `t0` plus milliseconds.
func ms(_ value: Double) -> Int64 { t0 + Int64(value * 1_000_000) }
