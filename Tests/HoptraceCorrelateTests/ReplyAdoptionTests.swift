import Foundation
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// Replies caught half translated: a point that sees only the server's packets (asymmetric routing, a capture of one
/// direction) before the connection's server ISN is known elsewhere. They are adopted into the connection when its
/// server ISN is learned, once; with other connections sharing the server's ISN (a fixed ISN), only they are.
@Suite("replies adopted into their connection")
struct ReplyAdoptionTests {
    static let client = "10.1.0.5:40000"
    static let server = "10.96.0.10:80"
    static let request = Array("GET /r HTTP/1.1\r\nHost: s\r\n\r\n".utf8)
    static let response = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)

    /// At `eth0` the whole connection; at `cni0` only the server's SYN-ACK and response, the SYN-ACK first seen there
    /// (the client's unanswered SYN is taken at `eth0` only when answered). `others`: earlier connections from other
    /// clients at `eth0` with the same server ISN, closed before this one.
    static func capture(others: Int, name: String) throws -> String {
        var capture = HandBuiltCapture(interfaces: ["eth0", "cni0"])
        let q = UInt32(request.count)
        let r = UInt32(response.count)
        for n in 0..<others {
            let other = "10.2.0.\(n + 1):\(30_000 + n)"
            let t = Double(n) * 0.01
            capture.at("eth0")
            capture.tcp(at: ms(t), other, server, .syn, seq: UInt32(5_000 + n * 977), ipID: UInt16(n + 1))
            capture.tcp(at: ms(t + 0.001), server, other, [.syn, .ack], seq: 9_000, ack: UInt32(5_001 + n * 977))
            capture.tcp(at: ms(t + 0.002), other, server, .rst, seq: UInt32(5_001 + n * 977))
        }
        let start = Double(others) * 0.01 + 1
        capture.at("eth0")
        capture.tcp(at: ms(start), client, server, .syn, seq: 1_000, ipID: 7)
        capture.at("cni0")
        capture.tcp(at: ms(start + 0.1), server, client, [.syn, .ack], seq: 9_000, ack: 1_001)
        capture.at("eth0")
        capture.tcp(at: ms(start + 0.2), server, client, [.syn, .ack], seq: 9_000, ack: 1_001)
        capture.tcp(at: ms(start + 0.3), client, server, .ack, seq: 1_001, ack: 9_001)
        capture.tcp(at: ms(start + 1), client, server, [.psh, .ack], seq: 1_001, ack: 9_001, payload: request)
        capture.at("cni0")
        capture.tcp(at: ms(start + 2), server, client, [.psh, .ack], seq: 9_001, ack: 1_001 + q, payload: response)
        capture.at("eth0")
        capture.tcp(at: ms(start + 2.1), server, client, [.psh, .ack], seq: 9_001, ack: 1_001 + q, payload: response)
        capture.tcp(at: ms(start + 3), client, server, [.fin, .ack], seq: 1_001 + q, ack: 9_001 + r)
        capture.tcp(at: ms(start + 3.1), server, client, [.fin, .ack], seq: 9_001 + r, ack: 1_002 + q)
        capture.tcp(at: ms(start + 3.2), client, server, .ack, seq: 1_002 + q, ack: 9_002 + r)
        return try capture.write(name: name)
    }

    @Test(
        "the replies seen at cni0 are part of the one trace of GET /r, with or without a fixed server ISN around it",
        arguments: [0, 100]
    )
    func adopted(others: Int) throws {
        var traces: [RequestTrace] = []
        _ = try Correlator.trace(files: [try Self.capture(others: others, name: "replies-\(others).pcapng")]) {
            traces += $0
        }
        let mine = traces.filter { $0.request?.path == "/r" }
        #expect(mine.count == 1)
        let trace = try #require(mine.first)
        #expect(trace.verdict.kind == .ok)
        // A point that saw only replies is no hop of its own (it saw nothing the client sent).
        #expect(trace.hops.map(\.point.name) == ["eth0"])
        // Nothing else is traced from the replies: only the other connections, one each.
        #expect(traces.count == 1 + others)
        #expect(traces.filter { $0.client?.port == 40_000 }.count == 1)
    }
}
