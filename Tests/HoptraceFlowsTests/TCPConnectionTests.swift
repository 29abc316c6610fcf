import HoptraceCapture
import Testing

@testable import HoptraceDecode
@testable import HoptraceFlows

/// Hand-built TCP conversations through the whole flow stage.
struct TCPConnectionTests {
    static let client = FlowEndpoint.v4("10.244.0.5", 41_234)
    static let server = FlowEndpoint.v4("10.96.0.10", 80)
    static let ms: Int64 = 1_000_000

    static let request = [UInt8](text: "GET /x HTTP/1.1\r\nHost: svc\r\n\r\n")
    static let response = [UInt8](text: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")

    /// A complete connection with one exchange, ISNs given.
    static func conversation(_ harness: FlowHarness, clientISN c: UInt32, serverISN s: UInt32, at t: Int64 = 0) {
        let (cl, sv) = (client, server)
        let q = UInt32(request.count)
        let r = UInt32(response.count)
        harness.tcp(cl, sv, [.syn], seq: c, at: t)
        harness.tcp(sv, cl, [.syn, .ack], seq: s, ack: c &+ 1, at: t + 2 * ms)
        harness.tcp(cl, sv, [.ack], seq: c &+ 1, ack: s &+ 1, at: t + 3 * ms)
        harness.tcp(cl, sv, [.ack, .psh], seq: c &+ 1, ack: s &+ 1, payload: request, at: t + 4 * ms)
        harness.tcp(sv, cl, [.ack], seq: s &+ 1, ack: c &+ 1 &+ q, at: t + 5 * ms)
        harness.tcp(sv, cl, [.ack, .psh], seq: s &+ 1, ack: c &+ 1 &+ q, payload: response, at: t + 9 * ms)
        harness.tcp(cl, sv, [.ack], seq: c &+ 1 &+ q, ack: s &+ 1 &+ r, at: t + 10 * ms)
        harness.tcp(cl, sv, [.fin, .ack], seq: c &+ 1 &+ q, ack: s &+ 1 &+ r, at: t + 11 * ms)
        harness.tcp(sv, cl, [.fin, .ack], seq: s &+ 1 &+ r, ack: c &+ 2 &+ q, at: t + 12 * ms)
        harness.tcp(cl, sv, [.ack], seq: c &+ 2 &+ q, ack: s &+ 2 &+ r, at: t + 13 * ms)
    }

    @Test(arguments: [(UInt32(1000), UInt32(5000)), (UInt32.max - 10, UInt32.max - 40)])
    func completeConnection(isns: (UInt32, UInt32)) throws {
        let harness = FlowHarness()
        Self.conversation(harness, clientISN: isns.0, serverISN: isns.1)
        harness.analyzer.finish()
        let record = try #require(harness.connections.first)
        #expect(harness.connections.count == 1)
        #expect(record.state == .sf)
        #expect(record.history == "ShADadFf")
        #expect(record.originator == Self.client)
        #expect(record.responder == Self.server)
        #expect(record.originatorISN == isns.0)
        #expect(record.responderISN == isns.1)
        #expect(record.synToSynAck == 2 * Self.ms)
        #expect(record.synAckToAck == 1 * Self.ms)
        #expect(record.originatorSummary.bytes == UInt64(Self.request.count))
        #expect(record.responderSummary.bytes == UInt64(Self.response.count))
        #expect(record.originatorSummary.packets == 6)
        #expect(record.responderSummary.packets == 4)
        #expect(record.originatorSummary.retransmissions == 0)
        #expect(record.closedBy == .originator)
        #expect(record.resetBy == nil)
        #expect(record.application == "http")
        let exchange = try #require(harness.exchanges.first)
        #expect(exchange.connectionID == record.id)
        #expect(exchange.clientISN == isns.0)
        #expect(exchange.requestFirstByte == StreamMark(offset: 1, time: 4 * Self.ms))
        #expect(exchange.requestLastByte?.offset == UInt64(Self.request.count))
        #expect(exchange.responseFirstByte == StreamMark(offset: 1, time: 9 * Self.ms))
        #expect(exchange.responseLastByte?.offset == UInt64(Self.response.count))
        #expect(exchange.latency == 5 * Self.ms)
        // The exchange is emitted before its connection.
        #expect(harness.emitted.firstIndex { if case .http = $0 { true } else { false } } == 0)
    }

    @Test func outOfOrderAndRetransmittedSegmentsReassemble() throws {
        let harness = FlowHarness()
        let (cl, sv) = (Self.client, Self.server)
        let c: UInt32 = 0xffff_fff0  // the request crosses the wrap of the sequence space
        let s: UInt32 = 77
        harness.tcp(cl, sv, [.syn], seq: c, at: 0)
        harness.tcp(sv, cl, [.syn, .ack], seq: s, ack: c &+ 1, at: 1)
        harness.tcp(cl, sv, [.ack], seq: c &+ 1, ack: s &+ 1, at: 2)
        let request = Self.request
        let parts = [Array(request[0..<10]), Array(request[10..<20]), Array(request[20...])]
        // Second part first, then first, then the first again (retransmission), then the last.
        harness.tcp(cl, sv, [.ack], seq: c &+ 11, ack: s &+ 1, payload: parts[1], at: 3)
        harness.tcp(cl, sv, [.ack], seq: c &+ 1, ack: s &+ 1, payload: parts[0], at: 4)
        // A retransmission comes a round trip later at the earliest (here 200 ms, Linux's minimum RTO).
        harness.tcp(cl, sv, [.ack], seq: c &+ 1, ack: s &+ 1, payload: parts[0], at: 200_000_004)
        harness.tcp(cl, sv, [.ack, .psh], seq: c &+ 21, ack: s &+ 1, payload: parts[2], at: 200_000_006)
        harness.tcp(
            sv,
            cl,
            [.ack, .psh],
            seq: s &+ 1,
            ack: c &+ 1 &+ UInt32(request.count),
            payload: Self.response,
            at: 200_000_007
        )
        harness.analyzer.finish()
        let record = try #require(harness.connections.first)
        #expect(record.originatorSummary.retransmissions == 1)
        #expect(record.originatorSummary.outOfOrder == 1)
        #expect(record.history.contains("T"))
        #expect(record.originatorSummary.bytes == UInt64(request.count))
        #expect(record.state == .s1)
        let exchange = try #require(harness.exchanges.first)
        #expect(exchange.request?.target == "/x")
        #expect(exchange.requestLastByte == StreamMark(offset: UInt64(request.count), time: 200_000_006))
        #expect(exchange.response?.status == 200)
    }

    @Test func closeDelimitedResponseEndsAtServerFIN() throws {
        let harness = FlowHarness()
        let (cl, sv) = (Self.client, Self.server)
        let request = [UInt8](text: "GET / HTTP/1.0\r\n\r\n")
        let response = [UInt8](text: "HTTP/1.0 200 OK\r\n\r\nbody until close")
        let q = UInt32(request.count)
        let r = UInt32(response.count)
        harness.tcp(cl, sv, [.syn], seq: 10, at: 0)
        harness.tcp(sv, cl, [.syn, .ack], seq: 20, ack: 11, at: 1)
        harness.tcp(cl, sv, [.ack], seq: 11, ack: 21, at: 2)
        harness.tcp(cl, sv, [.ack, .psh], seq: 11, ack: 21, payload: request, at: 3)
        harness.tcp(sv, cl, [.ack, .psh], seq: 21, ack: 11 + q, payload: response, at: 5)
        harness.tcp(sv, cl, [.ack, .fin], seq: 21 + r, ack: 11 + q, at: 6)
        // Emitted at the server's FIN, before the connection record.
        let exchange = try #require(harness.exchanges.first)
        #expect(harness.connections.isEmpty)
        #expect(exchange.responseLastByte == StreamMark(offset: UInt64(r), time: 5))
        #expect(exchange.responseBodyLength == 16)
        #expect(exchange.latency == 2)
    }

    @Test func rejectedBySYNRST() throws {
        let harness = FlowHarness()
        harness.tcp(Self.client, Self.server, [.syn], seq: 4242, at: 0)
        harness.tcp(Self.server, Self.client, [.rst, .ack], seq: 0, ack: 4243, at: 1)
        harness.analyzer.finish()
        let record = try #require(harness.connections.first)
        #expect(record.state == .rej)
        #expect(record.history == "Sr")
        #expect(record.resetBy == .responder)
        #expect(record.responderSummary.rstAck == 4243)
        #expect(record.responderSummary.rstTime == 1)
    }

    @Test func unansweredSYNs() throws {
        let harness = FlowHarness()
        harness.tcp(Self.client, Self.server, [.syn], seq: 9, at: 0)
        harness.tcp(Self.client, Self.server, [.syn], seq: 9, at: 1_000 * Self.ms)
        harness.tcp(Self.client, Self.server, [.syn], seq: 9, at: 3_000 * Self.ms)
        harness.analyzer.finish()
        let record = try #require(harness.connections.first)
        #expect(record.state == .s0)
        #expect(record.history == "S")
        #expect(record.synRetransmissions == 2)
        #expect(record.synRetransmissionTimes == [1_000 * Self.ms, 3_000 * Self.ms])
        #expect(record.synTime == 0)
    }

    @Test func originatorAbortAfterData() throws {
        let harness = FlowHarness()
        let (cl, sv) = (Self.client, Self.server)
        harness.tcp(cl, sv, [.syn], seq: 100, at: 0)
        harness.tcp(sv, cl, [.syn, .ack], seq: 900, ack: 101, at: 1)
        harness.tcp(cl, sv, [.ack], seq: 101, ack: 901, at: 2)
        harness.tcp(cl, sv, [.ack], seq: 101, ack: 901, payload: Self.request, at: 3)
        harness.tcp(cl, sv, [.rst], seq: 101 + UInt32(Self.request.count), at: 4)
        harness.analyzer.finish()
        let record = try #require(harness.connections.first)
        #expect(record.state == .rsto)
        #expect(record.resetBy == .originator)
        #expect(record.originatorSummary.rstAck == nil)
    }

    @Test func lostSegmentBecomesGapWhenAcked() throws {
        let harness = FlowHarness()
        let (cl, sv) = (Self.client, Self.server)
        harness.tcp(cl, sv, [.syn], seq: 0, at: 0)
        harness.tcp(sv, cl, [.syn, .ack], seq: 0, ack: 1, at: 1)
        harness.tcp(cl, sv, [.ack], seq: 1, ack: 1, at: 2)
        harness.tcp(cl, sv, [.ack], seq: 1, ack: 1, payload: Self.request, at: 3)
        let body = [UInt8](text: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        harness.tcp(sv, cl, [.ack], seq: 1, ack: 1 + UInt32(Self.request.count), payload: body, at: 4)
        // 50 body bytes never captured; the next 50 arrive; the client acknowledges everything.
        let tail = [UInt8](repeating: 0x41, count: 50)
        harness.tcp(
            sv,
            cl,
            [.ack],
            seq: 1 + UInt32(body.count) + 50,
            ack: 1 + UInt32(Self.request.count),
            payload: tail,
            at: 5
        )
        harness.tcp(cl, sv, [.ack], seq: 1 + UInt32(Self.request.count), ack: 1 + UInt32(body.count) + 100, at: 6)
        harness.analyzer.finish()
        let record = try #require(harness.connections.first)
        #expect(record.responderSummary.gaps == 1)
        #expect(record.responderSummary.gapBytes == 50)
        #expect(record.history.contains("g"))
        let exchange = try #require(harness.exchanges.first)
        #expect(exchange.responseHasGap)
        #expect(exchange.responseLastByte?.time == 5)
        #expect(exchange.responseBodyLength == 100)
    }

    @Test func portReuseStartsANewConnection() throws {
        let harness = FlowHarness()
        Self.conversation(harness, clientISN: 1, serverISN: 2, at: 0)
        Self.conversation(harness, clientISN: 50_000, serverISN: 60_000, at: 20 * Self.ms)
        harness.analyzer.finish()
        #expect(harness.connections.count == 2)
        #expect(harness.connections.map(\.originatorISN) == [1, 50_000])
        #expect(harness.connections.map(\.endReason) == [.reused, .endOfInput])
        #expect(harness.exchanges.count == 2)
    }

    @Test func closedConnectionsLeaveAfterLingerAndCapEvicts() throws {
        var configuration = FlowConfiguration()
        configuration.maxConnections = 16
        configuration.closeLinger = 100 * Self.ms
        let harness = FlowHarness(configuration: configuration)
        // 100 connections, each on its own client port, 1 s apart: each closes and leaves after its linger.
        for index in 0..<100 {
            let client = FlowEndpoint.v4("10.0.0.1", UInt16(20_000 + index))
            harness.tcp(client, Self.server, [.syn], seq: 1, at: Int64(index) * 1_000 * Self.ms)
            harness.tcp(Self.server, client, [.rst, .ack], seq: 0, ack: 2, at: Int64(index) * 1_000 * Self.ms + 1)
        }
        #expect(harness.connections.count == 99)
        #expect(harness.analyzer.statistics.activeConnections == 1)
        // Then 40 half-open connections within one second: the cap evicts.
        for index in 0..<40 {
            let client = FlowEndpoint.v4("10.0.0.2", UInt16(30_000 + index))
            harness.tcp(client, Self.server, [.syn], seq: 1, at: 200_000 * Self.ms + Int64(index))
        }
        harness.analyzer.finish()
        let statistics = harness.analyzer.statistics
        #expect(statistics.evictedForCap > 0)
        #expect(statistics.peakConnections <= 16)
        #expect(harness.connections.count == 140)
        #expect(harness.connections.filter { $0.endReason == .evicted }.count == statistics.evictedForCap)
    }

    /// A connection closed by FINs both ways, lingering for late retransmissions when the cap needs room, ended: it
    /// leaves as `.closed`, not as given up (the correlator would flag a complete request "evicted"). Open
    /// connections the cap pushes out are still `.evicted`.
    @Test func capEndsClosedConnectionsAsClosed() throws {
        var configuration = FlowConfiguration()
        configuration.maxConnections = 4
        let harness = FlowHarness(configuration: configuration)
        // Two connections closed by a FIN each way (the last ACK not captured), two left open, all within the linger.
        for index in 0..<4 {
            let client = FlowEndpoint.v4("10.0.0.1", UInt16(20_000 + index))
            let at = Int64(index) * 10 * Self.ms
            harness.tcp(client, Self.server, [.syn], seq: 1, at: at)
            harness.tcp(Self.server, client, [.syn, .ack], seq: 100, ack: 2, at: at + 1)
            harness.tcp(client, Self.server, [.ack], seq: 2, ack: 101, at: at + 2)
            if index < 2 {
                harness.tcp(client, Self.server, [.fin, .ack], seq: 2, ack: 101, at: at + 3)
                harness.tcp(Self.server, client, [.fin, .ack], seq: 101, ack: 3, at: at + 4)
            }
        }
        #expect(harness.connections.isEmpty)
        // Four new connections push all four out.
        for index in 0..<4 {
            let client = FlowEndpoint.v4("10.0.0.2", UInt16(30_000 + index))
            harness.tcp(client, Self.server, [.syn], seq: 1, at: 100 * Self.ms + Int64(index))
        }
        let pushed = harness.connections.sorted { $0.originator.port < $1.originator.port }
        #expect(pushed.map(\.originator.port) == [20_000, 20_001, 20_002, 20_003])
        #expect(pushed.map(\.endReason) == [.closed, .closed, .evicted, .evicted])
        #expect(harness.analyzer.statistics.closedConnections == 2)
        #expect(harness.analyzer.statistics.evictedForCap == 2)
    }

    @Test func midstreamConnectionIsOTHWithFlip() throws {
        let harness = FlowHarness()
        // First packet seen is from the server port: the client is made originator.
        harness.tcp(Self.server, Self.client, [.ack], seq: 500, ack: 800, payload: [UInt8](text: "abc"), at: 0)
        harness.tcp(Self.client, Self.server, [.ack], seq: 800, ack: 503, at: 1)
        harness.analyzer.finish()
        let record = try #require(harness.connections.first)
        #expect(record.originator == Self.client)
        #expect(record.history == "^dA")
        #expect(record.state == .oth)
        #expect(record.originatorISN == nil)
    }

    /// A bridge's promiscuous copy of a frame it forwards reaches the capture 2–13 µs after the original, byte for
    /// byte the same (the lab measured this on every writer). A copy is one packet, never a retransmission; a
    /// retransmission a round trip later and duplicate ACKs that differ in their SACK blocks or IP IDs stay what they
    /// are, however close together.
    @Test func capturedCopiesAreNotRetransmissions() throws {
        let harness = FlowHarness()
        let (cl, sv) = (Self.client, Self.server)
        let body = [UInt8](repeating: 7, count: 100)
        harness.tcp(cl, sv, [.syn], seq: 0, ipID: 10, at: 0)
        harness.tcp(cl, sv, [.syn], seq: 0, ipID: 10, at: 6_000)  // the copy, 6 µs later
        harness.tcp(sv, cl, [.syn, .ack], seq: 0, ack: 1, ipID: 0, at: 100_000)
        harness.tcp(sv, cl, [.syn, .ack], seq: 0, ack: 1, ipID: 0, at: 102_000)  // copy of an ID-0 SYN-ACK, 2 µs
        harness.tcp(cl, sv, [.ack], seq: 1, ack: 1, ipID: 11, at: 200_000)
        harness.tcp(sv, cl, [.ack], seq: 1, ack: 1, payload: body, ipID: 1, at: 300_000)
        harness.tcp(sv, cl, [.ack], seq: 1, ack: 1, payload: body, ipID: 1, at: 313_000)  // copy, 13 µs
        harness.tcp(sv, cl, [.ack], seq: 1, ack: 1, payload: body, ipID: 2, at: 250_300_000)  // RTO retransmission
        // Duplicate ACKs 2 µs apart without an IP ID (IPv6-like), told apart by their SACK blocks.
        var sack = TCPOptions()
        sack.sackBlocks.append(SACKBlock(left: 201, right: 301))
        harness.tcp(cl, sv, [.ack], seq: 1, ack: 101, options: sack, at: 250_400_000)
        sack.sackBlocks = SACKBlocks()
        sack.sackBlocks.append(SACKBlock(left: 201, right: 401))
        harness.tcp(cl, sv, [.ack], seq: 1, ack: 101, options: sack, at: 250_402_000)
        harness.analyzer.finish()
        let record = try #require(harness.connections.first)
        #expect(record.originatorSummary.copies == 1)
        #expect(record.responderSummary.copies == 2)
        #expect(record.responderSummary.retransmissions == 1)
        #expect(record.originatorSummary.retransmissions == 0)
        #expect(record.responderSummary.packets == 3)
        #expect(record.originatorSummary.packets == 4)
    }

    @Test func keepAliveAndZeroWindowAndDuplicateAcks() throws {
        let harness = FlowHarness()
        let (cl, sv) = (Self.client, Self.server)
        harness.tcp(cl, sv, [.syn], seq: 0, at: 0)
        harness.tcp(sv, cl, [.syn, .ack], seq: 0, ack: 1, window: 0, at: 1_000_000)
        harness.tcp(cl, sv, [.ack], seq: 1, ack: 1, at: 2_000_000)
        harness.tcp(sv, cl, [.ack], seq: 1, ack: 1, payload: [UInt8](repeating: 1, count: 10), at: 3_000_000)
        harness.tcp(sv, cl, [.ack], seq: 21, ack: 1, payload: [UInt8](repeating: 1, count: 10), at: 4_000_000)
        harness.tcp(cl, sv, [.ack], seq: 1, ack: 11, at: 5_000_000)
        harness.tcp(cl, sv, [.ack], seq: 1, ack: 11, at: 6_000_000)
        harness.tcp(cl, sv, [.ack], seq: 1, ack: 11, at: 7_000_000)
        harness.tcp(cl, sv, [.ack], seq: 0, ack: 11, at: 8_000_000)  // keep-alive: one below the next byte
        harness.analyzer.finish()
        let record = try #require(harness.connections.first)
        #expect(record.responderSummary.zeroWindows == 1)
        #expect(record.history.contains("w"))
        #expect(record.originatorSummary.duplicateAcks == 2)
        #expect(record.originatorSummary.keepAlives == 1)
    }

    @Test func dnsOverTCPSplitAcrossSegments() throws {
        let harness = FlowHarness()
        let cl = FlowEndpoint.v4("10.0.0.9", 50_000)
        let sv = FlowEndpoint.v4("10.96.0.10", 53)
        func message(id: UInt16, response: Bool) -> [UInt8] {
            DNSMessageTests.header(id: id, flags: response ? 0x8180 : 0x0100, qd: 1, an: response ? 1 : 0)
                + DNSMessageTests.name(["svc", "local"]) + [0, 1, 0, 1]
                + (response ? [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 96, 0, 7] : [])
        }
        func framed(_ bytes: [UInt8]) -> [UInt8] { [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xff)] + bytes }
        let queries = framed(message(id: 1, response: false)) + framed(message(id: 2, response: false))
        let responses = framed(message(id: 1, response: true)) + framed(message(id: 2, response: true))
        harness.tcp(cl, sv, [.syn], seq: 0, at: 0)
        harness.tcp(sv, cl, [.syn, .ack], seq: 0, ack: 1, at: 1)
        harness.tcp(cl, sv, [.ack], seq: 1, ack: 1, at: 2)
        // Queries in segments of 5 bytes; responses in two uneven segments.
        var offset = 0
        while offset < queries.count {
            let end = min(queries.count, offset + 5)
            harness.tcp(cl, sv, [.ack], seq: 1 + UInt32(offset), ack: 1, payload: Array(queries[offset..<end]), at: 3)
            offset = end
        }
        harness.tcp(sv, cl, [.ack], seq: 1, ack: 1 + UInt32(queries.count), payload: Array(responses[0..<7]), at: 10)
        harness.tcp(sv, cl, [.ack], seq: 8, ack: 1 + UInt32(queries.count), payload: Array(responses[7...]), at: 11)
        harness.analyzer.finish()
        #expect(harness.dns.count == 2)
        #expect(Set(harness.dns.map(\.id)) == [1, 2])
        #expect(harness.dns.allSatisfy { $0.transport == .tcp && $0.latency == 8 && $0.rcode == .noError })
        #expect(harness.dns.first?.answers.first?.data == .address(IPAddress(10, 96, 0, 7)))
        #expect(harness.connections.first?.application == "dns")
    }

    @Test func dnsOverUDPRetransmissionAndTimeout() throws {
        let harness = FlowHarness()
        let cl = FlowEndpoint.v4("10.0.0.9", 40_000)
        let sv = FlowEndpoint.v4("10.96.0.10", 53)
        let query =
            DNSMessageTests.header(id: 77, flags: 0x0100, qd: 1, an: 0) + DNSMessageTests.name(["a"]) + [0, 28, 0, 1]
        let answer =
            DNSMessageTests.header(id: 77, flags: 0x8183, qd: 1, an: 0) + DNSMessageTests.name(["a"]) + [0, 28, 0, 1]
        harness.udp(cl, sv, payload: query, at: 0)
        harness.udp(cl, sv, payload: query, at: 5 * Self.ms)
        harness.udp(sv, cl, payload: answer, at: 7 * Self.ms)
        harness.udp(sv, cl, payload: answer, at: 8 * Self.ms)
        // Another query, never answered; time moves on past the timeout.
        let other =
            DNSMessageTests.header(id: 78, flags: 0x0100, qd: 1, an: 0) + DNSMessageTests.name(["b"]) + [0, 1, 0, 1]
        harness.udp(cl, sv, payload: other, at: 10 * Self.ms)
        harness.udp(FlowEndpoint.v4("10.0.0.1", 1), FlowEndpoint.v4("10.0.0.2", 2), payload: [], at: 60_000 * Self.ms)
        #expect(harness.dns.count == 2)
        let answered = try #require(harness.dns.first { $0.id == 77 })
        #expect(answered.queryRetransmissions == 1)
        #expect(answered.extraResponses == 1)
        #expect(answered.latency == 7 * Self.ms)
        #expect(answered.rcode == .nameError)
        #expect(answered.question == DNSQuestion(name: "a", type: .aaaa))
        let unanswered = try #require(harness.dns.first { $0.id == 78 })
        #expect(unanswered.responseTime == nil)
        #expect(unanswered.rcode == nil)
    }

    @Test func icmpErrorQuotesTheSYN() throws {
        let harness = FlowHarness()
        harness.tcp(Self.client, Self.server, [.syn], seq: 31_337, at: 0)
        let quoted = QuotedPacket(
            version: 4,
            src: Self.client.address,
            dst: Self.server.address,
            protocol: .tcp,
            ipID: 1,
            totalLength: 60,
            srcPort: Self.client.port,
            dstPort: Self.server.port,
            tcpSeq: 31_337
        )
        let node = IPAddress(192, 168, 1, 1)
        let message = ICMPMessage(type: 3, code: 3, isV6: false, restOfHeader: 0, quoted: quoted)
        harness.icmp(from: node, to: Self.client.address, message: message, at: 1)
        harness.analyzer.finish()
        let event = try #require(harness.icmp.first)
        #expect(event.sender == node)
        #expect(event.kind == "port-unreachable")
        #expect(event.quotedTCPSequence == 31_337)
        #expect(event.connectionID == harness.connections.first?.id)
    }
}

/// Segment observations: the same segments seen at two capture points across a DNAT have the same relative
/// sequence numbers and payload hashes, whatever the addresses.
struct SegmentObservationTests {
    @Test func sameSegmentsAcrossDNAT() throws {
        var configuration = FlowConfiguration()
        configuration.emitSegments = true
        let harness = FlowHarness(configuration: configuration)
        let client = FlowEndpoint.v4("10.244.0.5", 40_000)
        let service = FlowEndpoint.v4("10.96.0.10", 80)
        let pod = FlowEndpoint.v4("10.244.1.7", 8080)
        let request = [UInt8](text: "GET / HTTP/1.1\r\n\r\n")
        for (point, server) in [(0, service), (1, pod)] {
            let base = Int64(point) * 10
            harness.tcp(client, server, [.syn], seq: 0xffff_ff00, at: base, capturePoint: point)
            harness.tcp(server, client, [.syn, .ack], seq: 7, ack: 0xffff_ff01, at: base + 1, capturePoint: point)
            harness.tcp(client, server, [.ack], seq: 0xffff_ff01, ack: 8, at: base + 2, capturePoint: point)
            harness.tcp(
                client,
                server,
                [.ack, .psh],
                seq: 0xffff_ff01,
                ack: 8,
                payload: request,
                at: base + 3,
                capturePoint: point
            )
        }
        let segments = harness.emitted.compactMap { event -> SegmentObservation? in
            if case .segment(let segment) = event { return segment } else { return nil }
        }
        #expect(segments.count == 8)
        let atService = segments.filter { $0.capturePoint == 0 }
        let atPod = segments.filter { $0.capturePoint == 1 }
        #expect(atService.map(\.relativeSeq) == [0, 0, 1, 1])
        #expect(atService.map(\.relativeSeq) == atPod.map(\.relativeSeq))
        #expect(atService.map(\.relativeAck) == [nil, 1, 1, 1])
        #expect(atService.map(\.payloadHash) == atPod.map(\.payloadHash))
        #expect(atService[3].payloadHash != 0)
        #expect(atService[0].connectionID != atPod[0].connectionID)
        #expect(atPod[3].destination == pod)
    }
}

/// Garbage in, no trap out: random segments, random DNS and HTTP bytes (deterministic seed).
struct RobustnessTests {
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            self.state &+= 0x9e37_79b9_7f4a_7c15
            var z = self.state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
    }

    @Test func randomSegmentsOnFewConnections() {
        var random = SplitMix(state: 42)
        var configuration = FlowConfiguration()
        configuration.maxConnections = 8
        configuration.emitSegments = true
        let harness = FlowHarness(configuration: configuration)
        let endpoints = [
            FlowEndpoint.v4("10.0.0.1", 80), FlowEndpoint.v4("10.0.0.2", 5555), FlowEndpoint.v4("10.0.0.3", 53),
            FlowEndpoint.v4("10.0.0.4", 6666),
        ]
        let fragments: [[UInt8]] = [
            [UInt8](text: "GET / HTTP/1.1\r\n"), [UInt8](text: "\r\n"), [UInt8](text: "HTTP/1.1 200 OK\r\n"),
            [UInt8](text: "Transfer-Encoding: chunked\r\n\r\n"), [UInt8](text: "5\r\nabc"), [UInt8](text: "0\r\n\r\n"),
            [UInt8](text: "Content-Length: 99999999999999999999\r\n"), [0, 12, 1, 2, 0x81, 0x80, 0, 1, 0, 1, 0, 0],
        ]
        var time: Int64 = 0
        for _ in 0..<20_000 {
            let a = endpoints[Int(random.next() % 4)]
            var b = endpoints[Int(random.next() % 4)]
            if a == b { b = endpoints[(endpoints.firstIndex(of: a)! + 1) % 4] }
            var payload: [UInt8] = []
            switch random.next() % 4 {
            case 0: payload = fragments[Int(random.next() % UInt64(fragments.count))]
            case 1: payload = (0..<Int(random.next() % 64)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            default: break
            }
            let flags = TCPFlags(rawValue: UInt8(truncatingIfNeeded: random.next()) & 0x1f)
            let seq = random.next() % 3 == 0 ? UInt32(truncatingIfNeeded: random.next()) : UInt32(random.next() % 200)
            let wire = random.next() % 8 == 0 ? payload.count + Int(random.next() % 100_000) : payload.count
            time += Int64(random.next() % 2_000_000_000)
            harness.tcp(
                a,
                b,
                flags,
                seq: seq,
                ack: UInt32(random.next() % 300),
                window: UInt16(random.next() % 3),
                payload: payload,
                wireLength: wire,
                at: time
            )
        }
        harness.analyzer.finish()
        #expect(harness.analyzer.statistics.tcpPackets == 20_000)
        #expect(harness.analyzer.statistics.activeConnections == 0)
        #expect(!harness.connections.isEmpty)
    }

    @Test func randomBytesIntoParsers() {
        var random = SplitMix(state: 7)
        for _ in 0..<5_000 {
            let count = Int(random.next() % 300)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            // Bias towards compression pointers and small labels.
            for index in bytes.indices where random.next() % 5 == 0 { bytes[index] = random.next() % 2 == 0 ? 0xc0 : 3 }
            _ = bytes.withUnsafeBytes { DNSMessage(parsing: $0) }
            var driver = SessionDriver()
            driver.client(String(decoding: bytes, as: UTF8.self), at: 1, chunk: 7)
            driver.server("HTTP/1.1 200 OK\r\n" + String(decoding: bytes, as: UTF8.self), at: 2, chunk: 5)
            driver.gap(fromClient: false, length: UInt64(random.next() % 1000 + 1), at: 3)
            driver.finish()
        }
    }
}

/// The direction a capture point recorded for the SYN (here the Linux cooked packet type) is kept on the record.
struct SYNDirectionTests {
    @Test func synDirectionFromLinuxCooked() throws {
        let file = "tcpdump/tcp-handshake-nano.pcap"
        let tshark = try Corpus.tshark(
            file,
            filter: "tcp.flags.syn == 1 && tcp.flags.ack == 0",
            fields: ["sll.pkttype"]
        )
        let connections = Corpus.analyze(file).connections.filter { $0.synTime != nil }
        try #require(!tshark.isEmpty)
        // SLL packet type 4 is "outgoing"; 0, 1, 2, 3 are received.
        let expected = tshark.map { $0[0] == "4" ? PacketDirection.outbound : .inbound }
        #expect(
            connections.compactMap(\.synDirection).sorted { $0.rawValue < $1.rawValue }
                == expected.sorted { $0.rawValue < $1.rawValue }
        )
    }
}
