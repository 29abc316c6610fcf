import Foundation
import HoptraceCapture
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

/// A proxy's onward request belongs to the inbound request's trace, also when it goes over an upstream connection the
/// proxy opened before (ingress-nginx and Envoy keep upstream connections alive), and it is not traced again on its
/// own, even when that connection later holds more requests than the cap and the oldest go early. Hand-built: who
/// sent what to whom, no cluster state.
@Suite("an onward request over a reused upstream connection")
struct ReusedUpstreamTests {
    static let proxy = "10.244.0.50"
    static let client = "10.1.0.5:40000"
    static let onward = "10.244.0.50:50000"
    static let server = "10.244.1.9:8080"
    static let inbound = "GET /a HTTP/1.1\r\nHost: web\r\n\r\n"
    static let forwarded = "GET /a HTTP/1.1\r\nHost: web\r\nX-Forwarded-For: 10.1.0.5\r\n\r\n"
    static let ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

    enum Ending: String, CaseIterable {
        /// The capture ends with the upstream connection still open.
        case atOnce
        /// The upstream connection closes 7 ms after the client's.
        case upstreamCloses
        /// Ten seconds later the proxy sends another request on it.
        case laterRequest
        /// Ten seconds later the proxy pipelines 100 requests on it, past a cap of 16 held.
        case pastTheCap
    }

    /// The capture; `viaService`: the client sends to the proxy's Service address, seen at `eth0` before the DNAT
    /// and at the proxy's `veth1` after it (the proxy's own packets are seen there).
    static func capture(_ ending: Ending, viaService: Bool = false) -> HandBuiltCapture {
        var capture = HandBuiltCapture(interfaces: ["eth0", "veth1"])
        func send(
            _ t: Double,
            _ src: String,
            _ dst: String,
            _ seq: UInt32,
            _ ack: UInt32,
            _ flags: HandBuiltCapture.Flags = .ack,
            _ body: String = ""
        ) {
            let service = "10.96.0.80:80"
            let isInbound = src == "\(proxy):80" || dst == "\(proxy):80"
            if viaService, isInbound {
                // Before the DNAT, the Service address in place of the proxy's; 10 us later, after it.
                capture.at("eth0")
                capture.tcp(
                    at: ms(t),
                    src == "\(proxy):80" ? service : src,
                    dst == "\(proxy):80" ? service : dst,
                    flags,
                    seq: seq,
                    ack: ack,
                    payload: Array(body.utf8)
                )
                capture.at("veth1")
                capture.tcp(at: ms(t) + 10_000, src, dst, flags, seq: seq, ack: ack, payload: Array(body.utf8))
            } else {
                capture.at(viaService ? "veth1" : "eth0")
                capture.tcp(at: ms(t), src, dst, flags, seq: seq, ack: ack, payload: Array(body.utf8))
            }
        }
        let front = "\(proxy):80"
        let q = UInt32(inbound.utf8.count)
        let f = UInt32(forwarded.utf8.count)
        let r = UInt32(ok.utf8.count)
        // The proxy's connection to the server opens ten milliseconds before the client's request.
        send(0, onward, server, 1_000, 0, .syn)
        send(0.1, server, onward, 9_000, 1_001, [.syn, .ack])
        send(0.2, onward, server, 1_001, 9_001)
        // The client's request, forwarded on that connection and answered; the client's connection closes.
        send(10, client, front, 5_000, 0, .syn)
        send(10.1, front, client, 7_000, 5_001, [.syn, .ack])
        send(10.2, client, front, 5_001, 7_001)
        send(10.3, client, front, 5_001, 7_001, [.psh, .ack], inbound)
        send(11, onward, server, 1_001, 9_001, [.psh, .ack], forwarded)
        send(12, server, onward, 9_001, 1_001 + f, [.psh, .ack], ok)
        send(13, front, client, 7_001, 5_001 + q, [.psh, .ack], ok)
        send(13.1, client, front, 5_001 + q, 7_001 + r, [.fin, .ack])
        send(13.2, front, client, 7_001 + r, 5_002 + q, [.fin, .ack])
        send(13.3, client, front, 5_002 + q, 7_002 + r)
        var seq = 1_001 + f
        switch ending {
        case .atOnce:
            break
        case .upstreamCloses:
            send(20, onward, server, seq, 9_001 + r, [.fin, .ack])
            send(20.1, server, onward, 9_001 + r, seq + 1, [.fin, .ack])
            send(20.2, onward, server, seq + 1, 9_002 + r)
        case .laterRequest, .pastTheCap:
            for n in 0..<(ending == .pastTheCap ? 100 : 1) {
                let request = "GET /p/\(n) HTTP/1.1\r\nHost: web\r\n\r\n"
                send(10_000 + Double(n) * 0.01, onward, server, seq, 9_001 + r, [.psh, .ack], request)
                seq &+= UInt32(request.utf8.count)
            }
        }
        return capture
    }

    @Test(
        "the inbound request claims its onward request: one trace of GET /a, the client's, through the proxy",
        arguments: Ending.allCases
    )
    func claimed(ending: Ending) throws {
        let capture = Self.capture(ending)
        var options = CorrelateOptions()
        options.maxExchangesPerConnection = 16
        var traces: [RequestTrace] = []
        let run = try Correlator.trace(
            files: [try capture.write(name: "reused-upstream-\(ending).pcapng")],
            options: options
        ) {
            traces += $0
        }
        let a = traces.filter { $0.request?.path == "/a" }
        #expect(a.count == 1)
        #expect(a.first?.client?.description == Self.client)
        #expect(a.first?.mode == .ingress)
        #expect(a.first?.hops.contains { $0.translation == .l7Proxy } == true)
        #expect(a.first?.hops.contains { $0.destination.description == Self.server } == true)
        // The proxy's later requests: each once, on their own.
        let later = traces.filter { $0.request?.path.hasPrefix("/p/") == true }
        #expect(later.count == [.laterRequest: 1, .pastTheCap: 100][ending, default: 0])
        #expect(later.allSatisfy { $0.client?.description == Self.onward })
        if ending == .pastTheCap { #expect(run.statistics.evictedExchanges > 0) }
    }

    @Test(
        "through the proxy's Service address (DNAT before the proxy): the same one trace",
        arguments: [Ending.atOnce, .upstreamCloses, .laterRequest]
    )
    func claimedThroughService(ending: Ending) throws {
        let capture = Self.capture(ending, viaService: true)
        var traces: [RequestTrace] = []
        _ = try Correlator.trace(files: [try capture.write(name: "reused-upstream-service-\(ending).pcapng")]) {
            traces += $0
        }
        let a = traces.filter { $0.request?.path == "/a" }
        #expect(a.count == 1)
        #expect(a.first?.client?.description == Self.client)
        #expect(a.first?.service?.description == "10.96.0.80:80")
        #expect(a.first?.mode == .ingress)
        #expect(a.first?.hops.contains { $0.translation == .l7Proxy } == true)
    }

    @Test("live (trace --live), polled every 100 ms: the same one trace", arguments: [Ending.atOnce, .laterRequest])
    func claimedLive(ending: Ending) throws {
        let path = try Self.capture(ending).write(name: "reused-upstream-live-\(ending).pcapng")
        let traces = try LiveTracer.replay(path, tail: 20_000_000_000)
        let a = traces.filter { $0.request?.path == "/a" }
        #expect(a.count == 1)
        #expect(a.first?.client?.description == Self.client)
        #expect(a.first?.mode == .ingress)
    }
}
