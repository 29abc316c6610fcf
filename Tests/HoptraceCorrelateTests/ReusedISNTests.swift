import Foundation
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// Connections that share their ISNs (a scanner's fixed ISN, a load generator's) are distinct connections, not views
/// of one connection through NAT; two views of one SYN at one capture point (SNAT where interfaces are not told
/// apart) are one connection when they are the same packet by IP identification. The facts are the hand-built
/// captures' own: which connections they hold.
@Suite("ISNs reused by distinct connections")
struct ReusedISNTests {
    static let server = "10.96.0.10:80"

    /// A connection from `client` with fixed ISNs, 1 ms per packet from `start`: handshake, a GET, its response, close.
    static func connection(
        _ capture: inout HandBuiltCapture,
        client: String,
        start: Double,
        ipID: UInt16 = 0,
        path: String = "/"
    ) {
        capture.httpConnection(
            at: ms(start),
            client,
            server,
            clientISN: 12_345,
            serverISN: 777,
            request: Array("GET \(path) HTTP/1.1\r\nHost: svc\r\n\r\n".utf8),
            response: Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8),
            gap: 1_000_000,
            serverTime: 1_000_000,
            ipID: ipID
        )
    }

    @Test("50 clients with the same client and server ISNs, IP ID 0, interleaved: 50 connections, no NAT invented")
    func scannerISN() throws {
        var capture = HandBuiltCapture(interfaces: ["eth0"])
        for n in 0..<50 {
            Self.connection(&capture, client: "10.1.\(n / 200).\(n % 200 + 1):\(40_000 + n)", start: Double(n) * 0.1)
        }
        var traces: [RequestTrace] = []
        _ = try Correlator.trace(files: [try capture.write(name: "reused-isn-50.pcapng")]) { traces += $0 }
        #expect(traces.count == 50)
        #expect(Set(traces.compactMap { $0.client?.address.description }).count == 50)
        #expect(traces.allSatisfy { $0.verdict.kind == .ok })
        #expect(traces.allSatisfy { trace in trace.hops.allSatisfy { $0.translation == .none } })
    }

    @Test("one SYN seen twice at one point, before and after SNAT (the same IP identification): one connection")
    func samePacketTwice() throws {
        var capture = HandBuiltCapture(interfaces: ["any"])
        // The pod's view and the masqueraded one of the same packets, 5 us apart.
        Self.connection(&capture, client: "10.244.1.5:40000", start: 0, ipID: 4_242)
        Self.connection(&capture, client: "192.168.1.10:40000", start: 0.005, ipID: 4_242)
        var traces: [RequestTrace] = []
        _ = try Correlator.trace(files: [try capture.write(name: "snat-twice.pcapng")]) { traces += $0 }
        #expect(traces.count == 1)
        // The same pair with different IP identifications: two connections.
        var other = HandBuiltCapture(interfaces: ["any"])
        Self.connection(&other, client: "10.244.1.5:40000", start: 0, ipID: 4_242)
        Self.connection(&other, client: "192.168.1.10:40000", start: 0.005, ipID: 4_243)
        traces = []
        _ = try Correlator.trace(files: [try other.write(name: "snat-twice-other.pcapng")]) { traces += $0 }
        #expect(traces.count == 2)
    }

    @Test("12 clients with the same ISNs, each at a capture point of its own: no trace joins more than 4 of them")
    func acrossPoints() throws {
        let interfaces = (0..<12).map { "veth\($0)" }
        var capture = HandBuiltCapture(interfaces: interfaces)
        for n in 0..<12 {
            capture.at(interfaces[n])
            Self.connection(&capture, client: "10.2.0.\(n + 1):40000", start: Double(n) * 0.01)
        }
        var traces: [RequestTrace] = []
        _ = try Correlator.trace(files: [try capture.write(name: "reused-isn-points.pcapng")]) { traces += $0 }
        // Without IP identification, the same ISNs at other points look like NAT's views; NAT gives a connection two
        // or three client addresses, so a trace is never stretched over more than 4.
        let clients = traces.map { Set($0.hops.map(\.source.address)) }
        #expect(clients.allSatisfy { $0.count <= 4 })
        #expect(Set(clients.flatMap { $0 }).count == 12)
    }
}
