import Foundation
import HoptraceTestSupport
import Testing

@testable import HoptraceFlows

/// The flow stage's caps: a head over the parser's cap is still a request (truncated, flagged), and every budget
/// across connections evicts the oldest holder and counts it. The facts are the hand-built packets.
@Suite("caps, budgets and truncated heads")
struct CapsAndTruncationTests {
    static let client = FlowEndpoint.v4("10.244.0.5", 41_234)
    static let server = FlowEndpoint.v4("10.96.0.10", 80)
    static let ms: Int64 = 1_000_000

    /// A handshake, then `request` from the client in segments of `mss`, then `response` likewise.
    static func exchange(
        _ harness: FlowHarness,
        request: [UInt8],
        response: [UInt8],
        client: FlowEndpoint = client,
        mss: Int = 1400,
        at t0: Int64 = 0
    ) {
        let server = Self.server
        harness.tcp(client, server, [.syn], seq: 100, at: t0)
        harness.tcp(server, client, [.syn, .ack], seq: 900, ack: 101, at: t0 + ms)
        harness.tcp(client, server, [.ack], seq: 101, ack: 901, at: t0 + 2 * ms)
        var seq: UInt32 = 101
        var time = t0 + 3 * ms
        for start in stride(from: 0, to: request.count, by: mss) {
            let piece = Array(request[start..<min(start + mss, request.count)])
            harness.tcp(client, server, [.ack, .psh], seq: seq, ack: 901, payload: piece, at: time)
            seq &+= UInt32(piece.count)
            time += 1000
        }
        var serverSeq: UInt32 = 901
        time += 5 * ms
        for start in stride(from: 0, to: response.count, by: mss) {
            let piece = Array(response[start..<min(start + mss, response.count)])
            harness.tcp(server, client, [.ack, .psh], seq: serverSeq, ack: seq, payload: piece, at: time)
            serverSeq &+= UInt32(piece.count)
            time += 1000
        }
    }

    static let bigLine = String(repeating: "x", count: 100_000)

    @Test("a request head with a 100 KB header line is still a request: method, target, times, flagged")
    func hugeRequestHeader() throws {
        let harness = FlowHarness()
        let request = [UInt8](text: "GET /big?q=1 HTTP/1.1\r\nHost: svc\r\nX-Pad: \(Self.bigLine)\r\n\r\n")
        let response = [UInt8](text: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        Self.exchange(harness, request: request, response: response)
        harness.analyzer.finish()
        let exchange = try #require(harness.exchanges.first)
        #expect(exchange.request?.method == "GET")
        #expect(exchange.request?.target == "/big?q=1")
        #expect(exchange.request?.host == "svc")
        #expect(exchange.request?.isTruncated == true)
        #expect(exchange.request?.headLength == request.count)
        #expect(exchange.headTruncated)
        #expect(exchange.response?.status == 200)
        #expect(exchange.isResponseComplete)
        #expect(exchange.requestLastByte?.offset == UInt64(request.count))
        #expect(harness.analyzer.statistics.truncatedHeads == 1)
    }

    @Test("a response head with a 100 KB header line keeps its status, framing from what was stored")
    func hugeResponseHeader() throws {
        let harness = FlowHarness()
        let request = [UInt8](text: "GET /a HTTP/1.1\r\nHost: svc\r\n\r\n")
        let response = [UInt8](text: "HTTP/1.1 503 Busy\r\nContent-Length: 2\r\nX-Pad: \(Self.bigLine)\r\n\r\nno")
        Self.exchange(harness, request: request, response: response)
        harness.analyzer.finish()
        let exchange = try #require(harness.exchanges.first)
        #expect(exchange.request?.target == "/a")
        #expect(exchange.response?.status == 503)
        #expect(exchange.response?.reason == "Busy")
        #expect(exchange.response?.isTruncated == true)
        #expect(exchange.headTruncated)
        #expect(exchange.isResponseComplete)
    }

    @Test("a 100 KB request target: method and the target's first 256 bytes")
    func hugeRequestLine() throws {
        let harness = FlowHarness()
        let request = [UInt8](text: "GET /\(Self.bigLine) HTTP/1.1\r\nHost: svc\r\n\r\n")
        let response = [UInt8](text: "HTTP/1.1 414 URI Too Long\r\nContent-Length: 0\r\n\r\n")
        Self.exchange(harness, request: request, response: response)
        harness.analyzer.finish()
        let exchange = try #require(harness.exchanges.first)
        #expect(exchange.request?.method == "GET")
        #expect(exchange.request?.target == "/" + String(Self.bigLine.prefix(HTTPHead.maxFieldLength - 1)))
        #expect(exchange.request?.isTruncated == true)
        #expect(exchange.response?.status == 414)
    }

    @Test("a million tiny headers: one request, truncated, the next request on the connection seen too")
    func millionHeaders() throws {
        let harness = FlowHarness()
        var request = [UInt8](text: "GET /many HTTP/1.1\r\n")
        let header = [UInt8](text: "a:b\r\n")
        request.reserveCapacity(request.count + header.count * 1_000_000 + 64)
        for _ in 0..<1_000_000 { request += header }
        request += [UInt8](text: "\r\nGET /next HTTP/1.1\r\n\r\n")
        Self.exchange(harness, request: request, response: [], mss: 65_000)
        harness.analyzer.finish()
        #expect(harness.exchanges.map { $0.request?.target } == ["/many", "/next"])
        #expect(harness.exchanges.first?.request?.isTruncated == true)
        #expect(harness.exchanges.first?.request?.headLength == request.count - 22)
    }

    @Test("over the head budget, the oldest head in progress is truncated, and both requests are reported")
    func headBudget() throws {
        var configuration = FlowConfiguration()
        configuration.maxBufferedHeadBytes = 1000
        let harness = FlowHarness(configuration: configuration)
        let first = FlowEndpoint.v4("10.244.0.5", 1111)
        let second = FlowEndpoint.v4("10.244.0.6", 2222)
        let start = [UInt8](text: "GET /one HTTP/1.1\r\nX-A: " + String(repeating: "a", count: 700))
        // Two heads in progress: 724 bytes each, 1448 together, over 1000.
        for (index, client) in [first, second].enumerated() {
            let t = Int64(index) * 10 * Self.ms
            harness.tcp(client, Self.server, [.syn], seq: 100, at: t)
            harness.tcp(Self.server, client, [.syn, .ack], seq: 900, ack: 101, at: t + 1)
            harness.tcp(client, Self.server, [.ack], seq: 101, ack: 901, at: t + 2)
            harness.tcp(client, Self.server, [.ack, .psh], seq: 101, ack: 901, payload: start, at: t + 3)
        }
        #expect(harness.analyzer.statistics.evictedHeads == 1)
        #expect(harness.analyzer.statistics.evictedHeadBytes == start.count)
        #expect(harness.analyzer.statistics.evicted == 1)
        // Both heads end.
        let end = [UInt8](text: "\r\n\r\n")
        for client in [first, second] {
            harness.tcp(
                client,
                Self.server,
                [.ack, .psh],
                seq: 101 + UInt32(start.count),
                ack: 901,
                payload: end,
                at: 50 * Self.ms
            )
        }
        harness.analyzer.finish()
        let exchanges = harness.exchanges.sorted { $0.client.port < $1.client.port }
        #expect(exchanges.map { $0.request?.target } == ["/one", "/one"])
        #expect(exchanges.map { $0.request?.isTruncated } == [true, false])
    }

    @Test("over the DNS cap, the oldest pending transactions are emitted first, marked and counted")
    func dnsCap() throws {
        var configuration = FlowConfiguration()
        configuration.maxDNSTransactions = 10
        let harness = FlowHarness(configuration: configuration)
        let resolver = FlowEndpoint.v4("10.96.0.10", 53)
        for id in UInt16(0)..<100 {
            let query: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xff), 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]
            harness.udp(Self.client, resolver, payload: query, at: Int64(id) * 1000)
        }
        let statistics = harness.analyzer.statistics
        #expect(statistics.evictedDNSTransactions == 90)
        #expect(harness.dns.count == 90)
        #expect(harness.dns.map(\.id) == Array(0..<90))
        #expect(harness.dns.allSatisfy { $0.isEvicted })
        harness.analyzer.finish()
        #expect(harness.dns.count == 100)
        #expect(harness.dns.filter(\.isEvicted).count == 90)
    }

    @Test("over the reassembly budget, the oldest connection holding bytes has its hole declared a gap")
    func heldBudget() throws {
        var configuration = FlowConfiguration()
        configuration.maxHeldBytes = 1000
        let harness = FlowHarness(configuration: configuration)
        let first = FlowEndpoint.v4("10.244.0.5", 1111)
        let second = FlowEndpoint.v4("10.244.0.6", 2222)
        let ahead = [UInt8](repeating: 0x41, count: 700)
        for (index, client) in [first, second].enumerated() {
            let t = Int64(index) * 10 * Self.ms
            harness.tcp(client, Self.server, [.syn], seq: 100, at: t)
            harness.tcp(Self.server, client, [.syn, .ack], seq: 900, ack: 101, at: t + 1)
            // 100 bytes missing at 101, then 700 held.
            harness.tcp(client, Self.server, [.ack], seq: 201, ack: 901, payload: ahead, at: t + 2)
        }
        let statistics = harness.analyzer.statistics
        #expect(statistics.evictedReassemblies == 1)
        #expect(statistics.evictedHeldBytes == 700)
        harness.analyzer.finish()
        let records = harness.connections.sorted { $0.originator.port < $1.originator.port }
        #expect(records.map(\.originatorSummary.gaps) == [1, 1])
        #expect(records.map(\.originatorSummary.gapBytes) == [100, 100])
    }
}

/// The same through a hand-built capture file and the whole flow pipeline (reader, decoder, flows).
@Suite("truncated heads through a capture file")
struct TruncatedHeadCaptureTests {
    @Test("a 100 KB header line in 1400-byte segments: the request and its response are both seen")
    func hugeHeaderInAFile() throws {
        var capture = HandBuiltCapture()
        let (client, server) = ("10.0.0.1:40000", "10.0.0.2:80")
        let t0: Int64 = 1_700_000_000_000_000_000
        let request = Array(
            "GET /padded HTTP/1.1\r\nHost: svc\r\nX-Pad: \(String(repeating: "p", count: 100_000))\r\n\r\n".utf8
        )
        let response = Array("HTTP/1.1 204 No Content\r\n\r\n".utf8)
        capture.tcp(at: t0, client, server, .syn, seq: 999)
        capture.tcp(at: t0 + 1_000, server, client, [.syn, .ack], seq: 4999, ack: 1000)
        capture.tcp(at: t0 + 2_000, client, server, .ack, seq: 1000, ack: 5000)
        var seq: UInt32 = 1000
        var time = t0 + 3_000
        for start in stride(from: 0, to: request.count, by: 1400) {
            let piece = Array(request[start..<min(start + 1400, request.count)])
            capture.tcp(at: time, client, server, [.ack, .psh], seq: seq, ack: 5000, payload: piece)
            seq += UInt32(piece.count)
            time += 10_000
        }
        let requestEnd = time - 10_000
        capture.tcp(at: time + 5_000_000, server, client, [.ack, .psh], seq: 5000, ack: seq, payload: response)
        let path = try capture.write(name: "huge-header.pcap")
        var exchanges: [HTTPExchange] = []
        let result = try FlowPipeline().run(paths: [path]) { event in
            if case .http(let exchange) = event { exchanges.append(exchange) }
        }
        #expect(result.error == nil)
        let exchange = try #require(exchanges.first)
        #expect(exchange.request?.method == "GET")
        #expect(exchange.request?.target == "/padded")
        #expect(exchange.headTruncated)
        #expect(exchange.response?.status == 204)
        // tshark's http.time: response time minus the request's last segment's.
        #expect(exchange.latency == time + 5_000_000 - requestEnd)
        #expect(result.flowStatistics.truncatedHeads == 1)
    }
}
