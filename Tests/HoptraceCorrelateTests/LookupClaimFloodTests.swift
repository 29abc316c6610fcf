import Foundation
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// A connection claims the latest lookup not claimed yet that gave its client the address it connected to, within
/// the claim window (50 ms before its SYN to 1 ms after); with 25 such lookups inside it, each claims its own. The
/// facts are the hand-built capture's: which name was looked up right before which connection.
@Suite("lookup claims among many")
struct LookupClaimFloodTests {
    @Test("500 lookups of distinct names answering one address, each followed by a connection: each claims its own")
    func eachItsOwn() throws {
        var capture = HandBuiltCapture(interfaces: ["eth0"])
        let client = "10.1.0.9"
        for n in 0..<500 {
            let at = Double(n) * 2
            let name = "w\(n).default.svc.cluster.local"
            let socket = "\(client):\(30_000 + n)"
            capture.udp(at: ms(at), socket, "10.96.0.53:53", payload: DNSBytes.query(id: UInt16(n), name, type: 1))
            capture.udp(
                at: ms(at + 0.01),
                "10.96.0.53:53",
                socket,
                payload: DNSBytes.response(id: UInt16(n), name, type: 1, answers: [.a("10.96.0.10")])
            )
            let port = "\(client):\(20_000 + n)"
            let isn = UInt32(1_000 + n * 7_919)
            capture.tcp(at: ms(at + 0.02), port, "10.96.0.10:80", .syn, seq: isn)
            capture.tcp(at: ms(at + 0.03), "10.96.0.10:80", port, [.syn, .ack], seq: UInt32(n * 31), ack: isn + 1)
            capture.tcp(at: ms(at + 0.04), port, "10.96.0.10:80", .rst, seq: isn + 1)
        }
        var traces: [RequestTrace] = []
        _ = try Correlator.trace(files: [try capture.write(name: "lookup-claims-500.pcapng")]) { traces += $0 }
        let connections = traces.filter { $0.client?.address.description == client && $0.client?.port ?? 0 >= 20_000 }
        #expect(connections.count == 500)
        for trace in connections {
            let n = Int(trace.client!.port) - 20_000
            #expect(trace.dns?.name == "w\(n).default.svc.cluster.local", "connection \(n)")
        }
    }
}
