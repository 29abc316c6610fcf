import Foundation
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// A response cut short: the server's FIN before its Content-Length (or last chunk) was reached is the server's
/// doing (`truncated`), a reset is `reset`, the end of the capture is `incomplete`, and a body that ends at the close
/// because it has no length is whole. Hand-built: the bytes sent, and when, are the capture's own.
@Suite("a response cut short")
struct TruncatedResponseTests {
    static let client = "10.1.0.5:40000"
    static let server = "10.96.0.10:80"
    static let request = "GET /x HTTP/1.1\r\nHost: s\r\n\r\n"

    enum End { case fin, reset, captureEnds, clientClosesFirst }

    /// Handshake at 0-0.2 ms, the request at 1 ms, `response` at 2 ms, then the server's FIN (and the client's),
    /// its reset, or nothing, at 5 ms. `gap`: the response's second half is not captured (another 1,000 bytes).
    static func trace(_ response: String, end: End, gap: Bool = false, name: String) throws -> RequestTrace? {
        var capture = HandBuiltCapture(interfaces: ["eth0"])
        let q = UInt32(request.utf8.count)
        let r = UInt32(response.utf8.count)
        capture.tcp(at: ms(0), client, server, .syn, seq: 1_000)
        capture.tcp(at: ms(0.1), server, client, [.syn, .ack], seq: 9_000, ack: 1_001)
        capture.tcp(at: ms(0.2), client, server, .ack, seq: 1_001, ack: 9_001)
        capture.tcp(at: ms(1), client, server, [.psh, .ack], seq: 1_001, ack: 9_001, payload: Array(request.utf8))
        capture.tcp(at: ms(2), server, client, [.psh, .ack], seq: 9_001, ack: 1_001 + q, payload: Array(response.utf8))
        let next = 9_001 + r + (gap ? 1_000 : 0)
        if gap {
            capture.tcp(
                at: ms(3),
                server,
                client,
                [.psh, .ack],
                seq: next,
                ack: 1_001 + q,
                payload: Array(repeating: UInt8(ascii: "z"), count: 10)
            )
        }
        let after = next + (gap ? 10 : 0)
        switch end {
        case .fin:
            capture.tcp(at: ms(5), server, client, [.fin, .ack], seq: after, ack: 1_001 + q)
            capture.tcp(at: ms(5.1), client, server, [.fin, .ack], seq: 1_001 + q, ack: after + 1)
            capture.tcp(at: ms(5.2), server, client, .ack, seq: after + 1, ack: 1_002 + q)
        case .reset:
            capture.tcp(at: ms(5), server, client, .rst, seq: after)
        case .captureEnds:
            break
        case .clientClosesFirst:
            capture.tcp(at: ms(4), client, server, [.fin, .ack], seq: 1_001 + q, ack: after)
            capture.tcp(at: ms(5), server, client, [.fin, .ack], seq: after, ack: 1_002 + q)
            capture.tcp(at: ms(5.1), client, server, .ack, seq: 1_002 + q, ack: after + 1)
        }
        var traces: [RequestTrace] = []
        _ = try Correlator.trace(files: [try capture.write(name: "truncated-\(name).pcapng")]) { traces += $0 }
        return traces.first { $0.request?.path == "/x" }
    }

    static let short = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + String(repeating: "y", count: 10)

    @Test("Content-Length 1000, 10 bytes of body, then the server's FIN: truncated, 3 ms and 51 bytes into it")
    func contentLengthCut() throws {
        let trace = try #require(try Self.trace(Self.short, end: .fin, name: "content-length"))
        #expect(trace.verdict.kind == .truncated)
        #expect(trace.verdict.kind.isFailure)
        #expect(trace.verdict.phase == .response)
        // From the response's first byte (2 ms) to the FIN (5 ms); 41 bytes of head and 10 of body.
        #expect(trace.timings.response == 3_000_000)
        #expect(trace.verdict.sentence.contains("after 3.00 ms of response and 51 bytes of it"))
        #expect(trace.verdict.sentence.contains("closed the connection mid-response"))
    }

    @Test("a chunked body whose last chunk never came, then the FIN: truncated")
    func chunkedCut() throws {
        let response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
        let trace = try #require(try Self.trace(response, end: .fin, name: "chunked"))
        #expect(trace.verdict.kind == .truncated)
        #expect(trace.verdict.sentence.contains("57 bytes of it"))
    }

    @Test("the same bytes, then a reset: reset; then the end of the capture: incomplete")
    func resetOrCaptureEnd() throws {
        #expect(try Self.trace(Self.short, end: .reset, name: "reset")?.verdict.kind == .reset)
        #expect(try Self.trace(Self.short, end: .captureEnds, name: "capture-ends")?.verdict.kind == .incomplete)
    }

    @Test("a body without a length ends at the close: ok")
    func closeDelimited() throws {
        let response = "HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n" + String(repeating: "y", count: 10)
        #expect(try Self.trace(response, end: .fin, name: "close-delimited")?.verdict.kind == .ok)
    }

    @Test("bytes of the response missing from the capture, then the FIN: not the server's doing, not truncated")
    func gapIsNotTruncation() throws {
        let trace = try #require(try Self.trace(Self.short, end: .fin, gap: true, name: "gap"))
        #expect(trace.verdict.kind == .incomplete)
        // The server closed first (5 ms, the client's FIN at 5.1 ms only answers it): not the client's giving up.
        #expect(!trace.verdict.sentence.contains("the client closed"))
    }

    @Test("the client closes mid-response and the server's FIN follows: the client gave up (incomplete), not truncated")
    func clientClosedFirst() throws {
        let trace = try #require(try Self.trace(Self.short, end: .clientClosesFirst, name: "client-first"))
        // Answered (200 at 2 ms); the client's FIN at 4 ms, 2 ms into the response.
        #expect(trace.verdict.kind == .incomplete)
        #expect(trace.verdict.sentence.contains("the client closed the connection 2.00 ms into the response"))
        #expect(trace.timings.response == 2_000_000)
    }
}

/// A request with no final response: who closed first says whose doing it was, and an interim response (100
/// Continue) sent before is named, not passed over as "had not answered". Hand-built, as above.
@Suite("no final response")
struct NoFinalResponseTests {
    static let interim = "HTTP/1.1 100 Continue\r\n\r\n"

    @Test("100 Continue, then the server's FIN: the server closed without an answer, 4 ms after the request")
    func interimThenServerFin() throws {
        let trace = try #require(try TruncatedResponseTests.trace(Self.interim, end: .fin, name: "interim-fin"))
        #expect(trace.verdict.kind == .noResponse)
        #expect(trace.verdict.phase == .response)
        // The request's last byte at 1 ms, the server's FIN at 5 ms.
        #expect(trace.verdict.sentence.contains("closed the connection (FIN at eth0) 4.00 ms later"))
        #expect(trace.verdict.sentence.contains("having sent only an interim 100 and no answer"))
        #expect(!trace.verdict.sentence.contains("the client closed"))
        #expect(trace.timings.server == 4_000_000)
    }

    @Test("nothing at all, then the server's FIN: the server closed without answering, not the client")
    func silentServerFin() throws {
        let trace = try #require(try TruncatedResponseTests.trace("", end: .fin, name: "silent-fin"))
        #expect(trace.verdict.kind == .noResponse)
        #expect(
            trace.verdict.sentence.hasSuffix("closed the connection (FIN at eth0) 4.00 ms later, without answering")
        )
    }

    @Test("100 Continue, then the client closes first: the client's close, and the interim named")
    func interimThenClientCloses() throws {
        let trace = try #require(
            try TruncatedResponseTests.trace(Self.interim, end: .clientClosesFirst, name: "interim-client")
        )
        #expect(trace.verdict.kind == .noResponse)
        #expect(
            trace.verdict.sentence.contains(
                "had sent only an interim 100 and no answer when the client closed 3.00 ms later"
            )
        )
    }

    @Test("100 Continue, then the capture ends: the interim named")
    func interimThenCaptureEnds() throws {
        let trace = try #require(
            try TruncatedResponseTests.trace(Self.interim, end: .captureEnds, name: "interim-end")
        )
        #expect(trace.verdict.kind == .noResponse)
        #expect(trace.verdict.sentence.contains("had sent only an interim 100 and no answer by the end of the capture"))
    }

    @Test("a response missing from the capture, a later request answered, then the server's FIN: not blamed on the FIN")
    func laterAnswered() throws {
        let client = TruncatedResponseTests.client
        let server = TruncatedResponseTests.server
        let first = Array("GET /x HTTP/1.1\r\nHost: s\r\n\r\n".utf8)
        let second = Array("GET /y HTTP/1.1\r\nHost: s\r\n\r\n".utf8)
        let answer = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)
        let q = UInt32(first.count)
        let q2 = UInt32(second.count)
        let a = UInt32(answer.count)
        var capture = HandBuiltCapture(interfaces: ["eth0"])
        capture.tcp(at: ms(0), client, server, .syn, seq: 1_000)
        capture.tcp(at: ms(0.1), server, client, [.syn, .ack], seq: 9_000, ack: 1_001)
        capture.tcp(at: ms(0.2), client, server, .ack, seq: 1_001, ack: 9_001)
        capture.tcp(at: ms(1), client, server, [.psh, .ack], seq: 1_001, ack: 9_001, payload: first)
        // The answer to /x (a bytes) is not in the capture; the client's ACK of it is.
        capture.tcp(at: ms(2.1), client, server, .ack, seq: 1_001 + q, ack: 9_001 + a)
        capture.tcp(at: ms(3), client, server, [.psh, .ack], seq: 1_001 + q, ack: 9_001 + a, payload: second)
        capture.tcp(at: ms(3.5), server, client, [.psh, .ack], seq: 9_001 + a, ack: 1_001 + q + q2, payload: answer)
        capture.tcp(at: ms(5), server, client, [.fin, .ack], seq: 9_001 + 2 * a, ack: 1_001 + q + q2)
        capture.tcp(at: ms(5.1), client, server, [.fin, .ack], seq: 1_001 + q + q2, ack: 9_002 + 2 * a)
        var traces: [RequestTrace] = []
        _ = try Correlator.trace(files: [try capture.write(name: "later-answered.pcapng")]) { traces += $0 }
        let x = try #require(traces.first { $0.request?.path == "/x" })
        let y = try #require(traces.first { $0.request?.path == "/y" })
        #expect(y.verdict.kind == .ok)
        #expect(!x.verdict.sentence.contains("FIN"), "\(x.verdict.sentence)")
        #expect(!x.verdict.sentence.contains("without answering"), "\(x.verdict.sentence)")
    }
}
