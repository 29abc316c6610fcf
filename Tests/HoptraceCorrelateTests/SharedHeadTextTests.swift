import Foundation
import HoptraceCapture
import HoptraceDecode
import HoptraceFlows
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// A request seen at several capture points is parsed once per point, and each parse makes its own copy of the head's
/// strings. While its connection waits to be traced (7.5 s for its lookup to settle, longer when it may have been
/// forwarded), the correlator keeps one copy per request, not one per point: on a busy node's capture (three points
/// per connection) the heads held were most of what `trace` held beyond `requests`.
@Suite("heads seen at several points: one copy of their text")
struct SharedHeadTextTests {
    /// A keep-alive connection seen on a pod's veth and on the node's eth0 (the same segments, one after the other),
    /// `requests` requests on it, each answered, the connection left open; a second client's identical request (the
    /// same head, on another connection) at the same two points.
    static func capture(requests: Int) throws -> String {
        var capture = HandBuiltCapture(interfaces: ["veth1", "eth0"])
        func both(
            _ time: Int64,
            _ src: String,
            _ dst: String,
            _ flags: HandBuiltCapture.Flags,
            seq: UInt32,
            ack: UInt32 = 0,
            payload: [UInt8] = []
        ) {
            capture.at("veth1")
            capture.tcp(at: time, src, dst, flags, seq: seq, ack: ack, payload: payload, ttl: 64)
            capture.at("eth0")
            capture.tcp(at: time + 50_000, src, dst, flags, seq: seq, ack: ack, payload: payload, ttl: 63)
        }
        let ok = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)
        for (n, client) in ["10.0.0.1:40000", "10.0.0.3:40000"].enumerated() {
            let server = "10.0.9.2:80"
            let start = Double(n) * 500
            var c: UInt32 = 1_001
            var s: UInt32 = 5_001
            both(ms(start), client, server, .syn, seq: 1_000)
            both(ms(start + 1), server, client, [.syn, .ack], seq: 5_000, ack: c)
            both(ms(start + 2), client, server, .ack, seq: c, ack: s)
            for i in 0..<requests {
                let at = start + Double(10 + 10 * i)
                let request = Array(
                    "GET /item/\(i) HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: probe/1.0\r\n\r\n".utf8
                )
                both(ms(at), client, server, [.psh, .ack], seq: c, ack: s, payload: request)
                c &+= UInt32(request.count)
                both(ms(at + 1), server, client, [.psh, .ack], seq: s, ack: c, payload: ok)
                s &+= UInt32(ok.count)
                both(ms(at + 2), client, server, .ack, seq: c, ack: s)
            }
        }
        return try capture.write(name: "shared-head-text-\(requests).pcapng")
    }

    @Test("4 requests on each of 2 connections at 2 points: 16 views held, 8 copies of text, traces unchanged")
    func oneCopyPerRequest() throws {
        let path = try Self.capture(requests: 4)
        let table = CapturePointTable()
        var events: [FlowEvent] = []
        _ = try FlowPipeline(configuration: Correlator.flowConfiguration(Correlator.correlatedFlows)).run(
            paths: [path],
            capturePoints: table,
            sink: { events.append($0) }
        )
        let exchanges = events.filter { if case .http = $0 { return true } else { return false } }
        // The flow stage parsed each request once per point: 16 heads, each its own copy of the text.
        try #require(exchanges.count == 16)
        let points = table.points
        let engine = TraceEngine(options: CorrelateOptions(), directory: ClusterDirectory()) { points[$0] }
        for event in events { engine.take(event) }
        let held = engine.heldRequestHeads
        #expect(held.views == 16)
        #expect(held.texts == 8)

        // What is traced is each request once, with its text whole, through both points.
        let traces = engine.finish()
        #expect(traces.count == 8)
        let paths: [String] = traces.compactMap { $0.request?.path }
        let expected: [String] = (0..<4).flatMap { n in ["/item/\(n)", "/item/\(n)"] }
        #expect(paths.sorted() == expected.sorted())
        #expect(traces.allSatisfy { $0.request?.host == "shop.example" && $0.verdict.kind == .ok })
        #expect(traces.allSatisfy { $0.hops.count == 2 })
    }

    @Test("shareText takes the other's text only when all of it is the same")
    func onlyWhenSame() {
        func head(_ change: (inout HTTPHead) -> Void = { _ in }) -> HTTPHead {
            var head = HTTPHead(isRequest: true)
            (head.method, head.target, head.host, head.requestID) = ("GET", "/a", "h", "r")
            (head.traceparent, head.forwardedFor, head.userAgent) = ("t", "f", "u")
            change(&head)
            return head
        }
        let original = head()
        var same = head()
        #expect(same.textIdentity != original.textIdentity)
        same.shareText(of: original)
        #expect(same.textIdentity == original.textIdentity)
        #expect(same == original)
        let changes: [(inout HTTPHead) -> Void] = [
            { $0.method = "PUT" }, { $0.target = "/b" }, { $0.reason = "x" }, { $0.host = nil }, { $0.requestID = "s" },
            { $0.traceparent = nil }, { $0.forwardedFor = "g" }, { $0.userAgent = "v" },
        ]
        for (n, change) in changes.enumerated() {
            var other = head(change)
            let before = other
            other.shareText(of: original)
            #expect(other.textIdentity != original.textIdentity, "field \(n)")
            #expect(other == before, "field \(n)")
        }
    }
}
