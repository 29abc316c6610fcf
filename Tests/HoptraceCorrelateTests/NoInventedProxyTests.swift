import Foundation
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// Busy healthy traffic repeats itself: many clients send the same request (a health check, a metrics scrape) at
/// once. A request sent while another is in progress is that one's onward request only when a proxy sent it: from
/// the proxy's address, or marked as forwarded (X-Forwarded-For, X-Request-ID, traceparent); the facts are the
/// hand-built capture's: who sent what to whom.
@Suite("no proxy invented from repeated requests")
struct NoInventedProxyTests {
    static func exchange(
        _ capture: inout HandBuiltCapture,
        client: String,
        server: String,
        start: Double,
        serverTime: Double
    ) {
        let request = Array("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8)
        let response = Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8)
        let c: UInt32 = UInt32(start * 1_000) &* 7_919
        let s: UInt32 = 90_000 &+ c
        let q = UInt32(request.count)
        let r = UInt32(response.count)
        capture.tcp(at: ms(start), client, server, .syn, seq: c, ipID: 1)
        capture.tcp(at: ms(start + 0.1), server, client, [.syn, .ack], seq: s, ack: c + 1)
        capture.tcp(at: ms(start + 0.2), client, server, .ack, seq: c + 1, ack: s + 1)
        capture.tcp(at: ms(start + 0.3), client, server, [.psh, .ack], seq: c + 1, ack: s + 1, payload: request)
        let end = start + 0.3 + serverTime
        capture.tcp(at: ms(end), server, client, [.psh, .ack], seq: s + 1, ack: c + 1 + q, payload: response)
        capture.tcp(at: ms(end + 0.1), client, server, [.fin, .ack], seq: c + 1 + q, ack: s + 1 + r)
        capture.tcp(at: ms(end + 0.2), server, client, [.fin, .ack], seq: s + 1 + r, ack: c + 2 + q)
        capture.tcp(at: ms(end + 0.3), client, server, .ack, seq: c + 2 + q, ack: s + 2 + r)
    }

    @Test("two clients' identical health checks to two servers, one inside the other: two direct requests")
    func twoHealthChecks() throws {
        var capture = HandBuiltCapture(interfaces: ["eth0"])
        // A's check waits 5 ms for its server; B's is sent 1 ms into it, to another server, with the same Host.
        Self.exchange(&capture, client: "10.1.0.5:40000", server: "10.96.0.10:8080", start: 0, serverTime: 5)
        Self.exchange(&capture, client: "10.1.0.6:40001", server: "10.96.0.20:8080", start: 1, serverTime: 1)
        var traces: [RequestTrace] = []
        _ = try Correlator.trace(files: [try capture.write(name: "health-checks.pcapng")]) { traces += $0 }
        #expect(traces.count == 2)
        #expect(Set(traces.compactMap { $0.client?.description }) == ["10.1.0.5:40000", "10.1.0.6:40001"])
        #expect(traces.allSatisfy { $0.mode == .direct })
        #expect(traces.allSatisfy { trace in trace.hops.allSatisfy { $0.translation != .l7Proxy } })
    }
}
