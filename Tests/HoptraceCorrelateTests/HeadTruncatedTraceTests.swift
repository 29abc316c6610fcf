import Foundation
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// A head longer than the parser keeps is still a request (issue: padding one header must not hide a request): its
/// trace keeps the method, target and status, and says the head was truncated. The facts are the hand-built bytes.
@Suite("truncated heads in traces")
struct HeadTruncatedTraceTests {
    static func capture(requestPad: Int, responsePad: Int) throws -> String {
        var capture = HandBuiltCapture(interfaces: ["eth0"])
        let client = "10.0.0.5:41000"
        let server = "10.0.0.9:80"
        let request = Array(
            "GET /padded?q=1 HTTP/1.1\r\nHost: svc\r\nX-Pad: \(String(repeating: "a", count: requestPad))\r\n\r\n".utf8
        )
        let response = Array(
            "HTTP/1.1 503 Busy\r\nContent-Length: 2\r\nX-Pad: \(String(repeating: "b", count: responsePad))\r\n\r\nno"
                .utf8
        )
        capture.tcp(at: ms(0), client, server, .syn, seq: 100)
        capture.tcp(at: ms(1), server, client, [.syn, .ack], seq: 900, ack: 101)
        capture.tcp(at: ms(2), client, server, .ack, seq: 101, ack: 901)
        var seq: UInt32 = 101
        var time = 3.0
        for start in stride(from: 0, to: request.count, by: 1_400) {
            let piece = Array(request[start..<min(start + 1_400, request.count)])
            capture.tcp(at: ms(time), client, server, [.ack, .psh], seq: seq, ack: 901, payload: piece)
            seq &+= UInt32(piece.count)
            time += 0.01
        }
        var serverSeq: UInt32 = 901
        time += 5
        for start in stride(from: 0, to: response.count, by: 1_400) {
            let piece = Array(response[start..<min(start + 1_400, response.count)])
            capture.tcp(at: ms(time), server, client, [.ack, .psh], seq: serverSeq, ack: seq, payload: piece)
            serverSeq &+= UInt32(piece.count)
            time += 0.01
        }
        capture.tcp(at: ms(time + 1), client, server, [.fin, .ack], seq: seq, ack: serverSeq)
        capture.tcp(at: ms(time + 2), server, client, [.fin, .ack], seq: serverSeq, ack: seq &+ 1)
        capture.tcp(at: ms(time + 3), client, server, .ack, seq: seq &+ 1, ack: serverSeq &+ 1)
        return try capture.write(name: "head-pad-\(requestPad)-\(responsePad).pcapng")
    }

    static func trace(requestPad: Int, responsePad: Int) throws -> RequestTrace {
        let path = try capture(requestPad: requestPad, responsePad: responsePad)
        var traces: [RequestTrace] = []
        _ = try Correlator.trace(files: [path]) { traces += $0 }
        #expect(traces.count == 1)
        return try #require(traces.first)
    }

    @Test("a 100 KB request header or response header: the request, its status, and the head-truncated finding")
    func padded() throws {
        for (requestPad, responsePad) in [(100_000, 10), (10, 100_000)] {
            let trace = try Self.trace(requestPad: requestPad, responsePad: responsePad)
            #expect(trace.kind == .http)
            #expect(trace.request?.method == "GET")
            #expect(trace.request?.path == "/padded?q=1")
            #expect(trace.request?.status == 503)
            #expect(trace.request?.headTruncated == true)
            #expect(trace.findings.contains { $0.kind == .headTruncated })
        }
    }

    @Test("ordinary heads are not flagged")
    func ordinary() throws {
        let trace = try Self.trace(requestPad: 10, responsePad: 10)
        #expect(trace.request?.status == 503)
        #expect(trace.request?.headTruncated == false)
        #expect(!trace.findings.contains { $0.kind == .headTruncated })
    }
}
