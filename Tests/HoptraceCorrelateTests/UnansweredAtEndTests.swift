import Foundation
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// Requests still unanswered when the capture ended: how long they waited is counted to the capture's last packet
/// (not to the correlator's last clock tick, up to a second earlier), and a connection with many of them costs the
/// same per request as one with a few. The facts are the hand-built captures' own times and counts.
@Suite("requests unanswered at the end of the capture")
struct UnansweredAtEndTests {
    static let client = "10.0.0.5:40000"
    static let server = "10.96.0.10:80"

    /// A handshake at 0-2 ms, then `count` pipelined GET requests 1 ms apart from 10 ms, never answered; then one
    /// unrelated DNS query `tail` ms after the last request, the capture's last packet.
    static func capture(count: Int, tail: Double) throws -> String {
        var capture = HandBuiltCapture(interfaces: ["eth0"])
        capture.tcp(at: ms(0), client, server, .syn, seq: 1_000)
        capture.tcp(at: ms(1), server, client, [.syn, .ack], seq: 5_000, ack: 1_001)
        capture.tcp(at: ms(2), client, server, .ack, seq: 1_001, ack: 5_001)
        var seq: UInt32 = 1_001
        for n in 0..<count {
            let request = Array("GET /p/\(n) HTTP/1.1\r\nHost: svc\r\n\r\n".utf8)
            capture.tcp(at: ms(10 + Double(n)), client, server, [.psh, .ack], seq: seq, ack: 5_001, payload: request)
            seq &+= UInt32(request.count)
        }
        capture.udp(
            at: ms(10 + Double(count - 1) + tail),
            "10.0.0.6:50000",
            "10.96.0.53:53",
            payload: DNSBytes.query(id: 7, "other.default.svc.cluster.local", type: 1)
        )
        return try capture.write(name: "unanswered-\(count)-\(Int(tail)).pcapng")
    }

    @Test("one request unanswered, the capture ending 600 ms later: it waited 600 ms, and the sentence says so")
    func waitToTheLastPacket() throws {
        let path = try Self.capture(count: 1, tail: 600)
        var traces: [RequestTrace] = []
        _ = try Correlator.trace(files: [path]) { traces += $0 }
        let trace = try #require(traces.first { $0.request != nil })
        #expect(trace.verdict.kind == .noResponse)
        // From the request (10 ms) to the capture's last packet (610 ms).
        #expect(trace.end == ms(610))
        #expect((trace.timings.network ?? 0) + (trace.timings.server ?? 0) == 600_000_000)
        #expect(trace.verdict.sentence.hasSuffix("by the end of the capture, 600.0 ms later"))
        #expect(trace.timings.phases.map(\.value).reduce(0, +) == trace.timings.total)
    }

    @Test("3,000 pipelined requests unanswered on one connection: each traced once, each waiting to the end")
    func pipelined() throws {
        let count = 3_000
        let path = try Self.capture(count: count, tail: 100)
        var traces: [RequestTrace] = []
        _ = try Correlator.trace(files: [path]) { traces += $0 }
        let requests = traces.filter { $0.request != nil }
        #expect(requests.count == count)
        #expect(Set(requests.compactMap { $0.request?.path }) == Set((0..<count).map { "/p/\($0)" }))
        #expect(requests.allSatisfy { $0.verdict.kind == .noResponse })
        // Request n at 10 + n ms; the capture's last packet 100 ms after the last request.
        let end = ms(10 + Double(count - 1) + 100)
        #expect(requests.allSatisfy { $0.end == end })
    }

    @Test("past the cap on requests held on one connection: the oldest traced at once as incomplete, counted")
    func pipelinedPastTheCap() throws {
        let count = 3_000
        let path = try Self.capture(count: count, tail: 100)
        var options = CorrelateOptions()
        options.maxExchangesPerConnection = 64
        var traces: [RequestTrace] = []
        let run = try Correlator.trace(files: [path], options: options) { traces += $0 }
        let requests = traces.filter { $0.request != nil }
        #expect(requests.count == count)
        #expect(Set(requests.compactMap { $0.request?.path }) == Set((0..<count).map { "/p/\($0)" }))
        let early = requests.filter { $0.verdict.kind == .incomplete }
        #expect(early.count == run.statistics.evictedExchanges)
        #expect(early.allSatisfy { trace in trace.findings.contains { $0.kind == .evicted } })
        // Never more than the cap held: all but the last 64 at most went early, and those left waited to the end.
        #expect(early.count >= count - 64)
        let late = requests.filter { $0.verdict.kind == .noResponse }
        #expect(late.count == count - early.count)
        #expect(late.allSatisfy { $0.end == ms(10 + Double(count - 1) + 100) })
        #expect(traces.last?.evictedSoFar == run.statistics.evicted)
    }
}
