import Foundation
import HoptraceCapture
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// A connection quiet longer than ``CorrelateOptions/openGroupTimeout`` (2 minutes) while still open is traced for
/// what it holds, and kept: a request that comes after the quiet is traced too, and nothing twice. Keep-alive
/// connections sit idle for minutes between requests (proxies' upstream pools, clients' idle pools of 90 s and more).
/// The facts asserted are the captures' own: which requests they hold and whether each was answered (tshark lists the
/// same frames for the Zeek sample).
@Suite("connections quiet past the open-connection timeout")
struct QuietKeepAliveTests {
    /// A handshake, GET /one answered, `gap` seconds of quiet with other traffic every 10 s, GET /two answered, FIN.
    static func capture(gap: Double) throws -> String {
        var capture = HandBuiltCapture(interfaces: ["eth0"])
        let client = "10.0.0.1:40000"
        let server = "10.0.0.2:80"
        let one = Array("GET /one HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        let two = Array("GET /two HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        let ok = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)
        var c: UInt32 = 1_001
        var s: UInt32 = 5_001
        capture.tcp(at: ms(0), client, server, .syn, seq: 1_000)
        capture.tcp(at: ms(1), server, client, [.syn, .ack], seq: 5_000, ack: c)
        capture.tcp(at: ms(2), client, server, .ack, seq: c, ack: s)
        capture.tcp(at: ms(3), client, server, [.psh, .ack], seq: c, ack: s, payload: one)
        c &+= UInt32(one.count)
        capture.tcp(at: ms(4), server, client, [.psh, .ack], seq: s, ack: c, payload: ok)
        s &+= UInt32(ok.count)
        capture.tcp(at: ms(5), client, server, .ack, seq: c, ack: s)
        var tick = 10.0
        while tick < gap {
            capture.udp(at: ms(tick * 1_000), "10.0.0.7:5000", "10.0.0.8:5000", payload: [1])
            tick += 10
        }
        let later = gap * 1_000
        capture.tcp(at: ms(later), client, server, [.psh, .ack], seq: c, ack: s, payload: two)
        c &+= UInt32(two.count)
        capture.tcp(at: ms(later + 1), server, client, [.psh, .ack], seq: s, ack: c, payload: ok)
        s &+= UInt32(ok.count)
        capture.tcp(at: ms(later + 2), client, server, [.fin, .ack], seq: c, ack: s)
        capture.tcp(at: ms(later + 3), server, client, [.fin, .ack], seq: s, ack: c &+ 1)
        capture.tcp(at: ms(later + 4), client, server, .ack, seq: c &+ 1, ack: s &+ 1)
        return try capture.write(name: "quiet-keepalive-\(Int(gap)).pcapng")
    }

    /// The traces of a hand-built capture, written under `name`.
    static func traces(_ capture: HandBuiltCapture, name: String) throws -> [RequestTrace] {
        var traces: [RequestTrace] = []
        _ = try Correlator.trace(inputs: [CaptureFileSpec(path: try capture.write(name: name))]) { traces += $0 }
        return traces
    }

    @Test("a second request after 60, 130 or 250 s of quiet on the same connection: both traced, answered, once each")
    func requestAfterQuiet() throws {
        for gap in [60.0, 130, 250] {
            var traces: [RequestTrace] = []
            _ = try Correlator.trace(inputs: [CaptureFileSpec(path: try Self.capture(gap: gap))]) { traces += $0 }
            #expect(traces.compactMap { $0.request?.path } == ["/one", "/two"], "gap \(gap) s")
            #expect(traces.count == 2, "gap \(gap) s")
            #expect(traces.allSatisfy { $0.verdict.kind == .ok }, "gap \(gap) s")
        }
    }

    @Test("a long poll answered 150 s after its request: one trace, the request, answered, 150 s")
    func longPoll() throws {
        var capture = HandBuiltCapture(interfaces: ["eth0"])
        let client = "10.0.0.1:40001"
        let server = "10.0.0.2:80"
        let poll = Array("GET /poll HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        let ok = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)
        let c: UInt32 = 1_001 + UInt32(poll.count)
        capture.tcp(at: ms(0), client, server, .syn, seq: 1_000)
        capture.tcp(at: ms(1), server, client, [.syn, .ack], seq: 5_000, ack: 1_001)
        capture.tcp(at: ms(2), client, server, .ack, seq: 1_001, ack: 5_001)
        capture.tcp(at: ms(3), client, server, [.psh, .ack], seq: 1_001, ack: 5_001, payload: poll)
        capture.tcp(at: ms(4), server, client, .ack, seq: 5_001, ack: c)
        for tick in 1..<15 {
            capture.udp(at: ms(Double(tick) * 10_000), "10.0.0.7:5000", "10.0.0.8:5000", payload: [1])
        }
        capture.tcp(at: ms(150_003), server, client, [.psh, .ack], seq: 5_001, ack: c, payload: ok)
        capture.tcp(at: ms(150_004), client, server, [.fin, .ack], seq: c, ack: 5_001 + UInt32(ok.count))
        capture.tcp(at: ms(150_005), server, client, [.fin, .ack], seq: 5_001 + UInt32(ok.count), ack: c + 1)
        capture.tcp(at: ms(150_006), client, server, .ack, seq: c + 1, ack: 5_002 + UInt32(ok.count))
        let traces = try Self.traces(capture, name: "long-poll.pcapng")
        #expect(traces.count == 1)
        #expect(traces.first?.request?.path == "/poll")
        #expect(traces.first?.request?.status == 200)
        // The connection's first request: from its SYN (0 ms) to the response's last byte (150.003 s).
        #expect(traces.first?.timings.total == 150_003_000_000)
    }

    @Test("a download streamed for 400 s (a packet a second): one trace, the request, answered, 400 s")
    func longDownload() throws {
        var capture = HandBuiltCapture(interfaces: ["eth0"])
        let client = "10.0.0.1:40002"
        let server = "10.0.0.2:80"
        let get = Array("GET /big HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        let chunk = [UInt8](repeating: 0x61, count: 1_000)
        let head = Array("HTTP/1.1 200 OK\r\nContent-Length: \(400 * chunk.count)\r\n\r\n".utf8)
        let c: UInt32 = 1_001 + UInt32(get.count)
        var s: UInt32 = 5_001
        capture.tcp(at: ms(0), client, server, .syn, seq: 1_000)
        capture.tcp(at: ms(1), server, client, [.syn, .ack], seq: 5_000, ack: 1_001)
        capture.tcp(at: ms(2), client, server, .ack, seq: 1_001, ack: 5_001)
        capture.tcp(at: ms(3), client, server, [.psh, .ack], seq: 1_001, ack: 5_001, payload: get)
        capture.tcp(at: ms(4), server, client, [.psh, .ack], seq: s, ack: c, payload: head)
        s &+= UInt32(head.count)
        for n in 0..<400 {
            capture.tcp(at: ms(Double(n + 1) * 1_000 + 3), server, client, .ack, seq: s, ack: c, payload: chunk)
            s &+= UInt32(chunk.count)
            capture.tcp(at: ms(Double(n + 1) * 1_000 + 4), client, server, .ack, seq: c, ack: s)
        }
        capture.tcp(at: ms(400_010), client, server, [.fin, .ack], seq: c, ack: s)
        capture.tcp(at: ms(400_011), server, client, [.fin, .ack], seq: s, ack: c + 1)
        capture.tcp(at: ms(400_012), client, server, .ack, seq: c + 1, ack: s &+ 1)
        let traces = try Self.traces(capture, name: "long-download.pcapng")
        #expect(traces.count == 1)
        #expect(traces.first?.request?.path == "/big")
        #expect(traces.first?.request?.status == 200)
        // From the SYN (0 ms) to the last byte of the response (400.003 s).
        #expect(traces.first?.timings.total == 400_003_000_000)
    }

    @Test("Zeek's retransmit-timeout sample: GET / acknowledged, retransmitted 300 s later, never answered")
    func zeekRetransmitTimeout() throws {
        // tshark: frame 1 GET / at 0 s, frame 2 the server's ACK, frame 3 the same 18 bytes again at 300 s; nothing
        // else. The one request is traced, unanswered; the connection is not also called ok on its own.
        var traces: [RequestTrace] = []
        let path = Repository.corpusFile("zeek/tcp/retransmit-timeout.pcapng")
        _ = try Correlator.trace(inputs: [CaptureFileSpec(path: path)]) { traces += $0 }
        #expect(traces.count == 1)
        #expect(traces.first?.request?.method == "GET")
        #expect(traces.first?.verdict.kind == .noResponse)
    }
}
