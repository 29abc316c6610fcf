import Testing

@testable import HoptraceFlows

/// Packet times anywhere in the 64-bit range, in any order: the flow stage's durations, deadlines and sweeps
/// saturate instead of trapping, and a packet stamped at the end of time does not make every later packet sweep.
@Suite("absurd and out-of-order packet times")
struct AbsurdTimeTests {
    static let client = FlowEndpoint.v4("10.244.0.5", 41_234)
    static let server = FlowEndpoint.v4("10.96.0.10", 80)
    static let dnsServer = FlowEndpoint.v4("10.96.0.10", 53)

    static let request = [UInt8](text: "GET /x HTTP/1.1\r\nHost: svc\r\n\r\n")
    static let response = [UInt8](text: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")

    /// One exchange whose packets carry the given times, in order.
    static func exchange(_ harness: FlowHarness, times t: [Int64]) {
        let (cl, sv) = (client, server)
        let q = UInt32(request.count)
        harness.tcp(cl, sv, [.syn], seq: 100, at: t[0])
        harness.tcp(sv, cl, [.syn, .ack], seq: 900, ack: 101, at: t[1])
        harness.tcp(cl, sv, [.ack], seq: 101, ack: 901, at: t[2])
        harness.tcp(cl, sv, [.ack, .psh], seq: 101, ack: 901, payload: request, at: t[3])
        harness.tcp(sv, cl, [.ack, .psh], seq: 901, ack: 101 + q, payload: response, at: t[4])
        harness.tcp(cl, sv, [.rst], seq: 101 + q, at: t[5])
    }

    @Test(
        "durations between the ends of time saturate",
        arguments: [
            [Int64.min, .max, .min, .max, .min, .max],
            [.max, .min, .max, .min, .max, .min],
            [0, .max, .max, .max, .max, .max],
            [.min + 1, .min + 1, .min, .min, .max, .max],
        ]
    )
    func extremes(times: [Int64]) throws {
        let harness = FlowHarness()
        Self.exchange(harness, times: times)
        // A DNS query at one end of time answered at the other.
        let query: [UInt8] = [0x12, 0x34, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]
        var reply = query
        reply[2] = 0x81
        harness.udp(Self.client, Self.dnsServer, payload: query, at: times[0])
        harness.udp(Self.dnsServer, Self.client, payload: reply, at: times[1])
        harness.analyzer.finish()
        let record = try #require(harness.connections.first)
        _ = (record.duration, record.synToSynAck, record.synAckToAck, record.handshakeRTT)
        #expect(record.duration >= 0)
        let exchange = try #require(harness.exchanges.first)
        _ = (exchange.latency, exchange.timeToFirstByte)
        let transaction = try #require(harness.dns.first)
        #expect(transaction.latency == times[1].saturatingSubtracting(times[0]))
    }

    @Test("a packet at the end of time sweeps once; later packets do not sweep the table again")
    func endOfTimeSweepsOnce() throws {
        var configuration = FlowConfiguration()
        configuration.idleTimeout = 10
        let harness = FlowHarness(configuration: configuration)
        harness.tcp(Self.client, Self.server, [.syn], seq: 1, at: 0)
        harness.tcp(Self.client, Self.server, [.syn], seq: 1, at: .max)
        // Connections opened at the end of time stay open: time cannot pass any more.
        for port in UInt16(1)...200 {
            harness.tcp(FlowEndpoint.v4("10.0.0.1", port), Self.server, [.syn], seq: 1, at: .max)
        }
        #expect(harness.analyzer.statistics.activeConnections == 201)
        harness.analyzer.finish()
        // The first SYN's connection went idle at the end of time; its retransmission opened another.
        #expect(harness.connections.count == 202)
        #expect(harness.connections.filter { $0.endReason == .idle }.count == 1)
    }
}
