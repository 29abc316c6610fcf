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
        let c = UInt32(start * 1_000) &* 7_919
        capture.httpConnection(
            at: ms(start),
            client,
            server,
            clientISN: c,
            serverISN: 90_000 &+ c,
            request: Array("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8),
            response: Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8),
            gap: 100_000,
            serverTime: Int64(serverTime * 1_000_000),
            ipID: 1
        )
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
