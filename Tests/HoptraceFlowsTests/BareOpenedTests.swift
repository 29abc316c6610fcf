import HoptraceDecode
import Testing

@testable import HoptraceFlows

/// ``FlowConfiguration/emitBareOpened`` off (correlation of files): no provisional record while a connection holds
/// only its originator's packets without payload or reset; the first one when the other side answers, the client
/// sends data or resets; final records unchanged. Hand-built packets, the expected records counted from them.
@Suite("provisional records of bare connections")
struct BareOpenedTests {
    static let client = FlowEndpoint.v4("10.0.0.1", 40_000)
    static let server = FlowEndpoint.v4("10.0.0.2", 80)

    static func opened(_ harness: FlowHarness) -> [ConnectionRecord] {
        harness.emitted.compactMap { if case .opened(let record) = $0 { return record } else { return nil } }
    }

    static func configuration(bare: Bool, serverOnly: Bool = true) -> FlowConfiguration {
        var configuration = FlowConfiguration()
        configuration.emitOpened = true
        configuration.emitBareOpened = bare
        configuration.emitServerOnlyOpened = serverOnly
        return configuration
    }

    @Test("an unanswered SYN and its retransmissions: provisional records only when asked for")
    func unansweredSYN() {
        for bare in [true, false] {
            let harness = FlowHarness(configuration: Self.configuration(bare: bare))
            for attempt in 0..<3 {
                harness.tcp(Self.client, Self.server, .syn, seq: 100, at: Int64(attempt) * 1_000_000_000)
            }
            harness.analyzer.finish()
            // With them: the first packet and each retransmission of the unanswered SYN (three records).
            #expect(Self.opened(harness).count == (bare ? 3 : 0))
            #expect(harness.connections.count == 1)
            #expect(harness.connections.first?.synRetransmissions == 2)
        }
    }

    @Test("bare ACKs, then data: the first provisional record carries the data")
    func bareThenData() {
        let harness = FlowHarness(configuration: Self.configuration(bare: false))
        harness.tcp(Self.client, Self.server, .ack, seq: 1000, ack: 5000, at: 0)
        harness.tcp(Self.client, Self.server, .ack, seq: 1000, ack: 5000, at: 1_000_000)
        #expect(Self.opened(harness).isEmpty)
        let request = Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        harness.tcp(Self.client, Self.server, [.ack, .psh], seq: 1000, ack: 5000, payload: request, at: 2_000_000)
        let records = Self.opened(harness)
        #expect(records.count == 1)
        #expect(records.first?.originatorSummary.firstData?.time == 2_000_000)
    }

    @Test("a SYN answered: the SYN-ACK's provisional record, and the handshake's")
    func answered() {
        let harness = FlowHarness(configuration: Self.configuration(bare: false))
        harness.tcp(Self.client, Self.server, .syn, seq: 100, at: 0)
        harness.tcp(Self.server, Self.client, [.syn, .ack], seq: 900, ack: 101, at: 1_000)
        harness.tcp(Self.client, Self.server, .ack, seq: 101, ack: 901, at: 2_000)
        let records = Self.opened(harness)
        // The SYN alone is bare; the answer and the completed handshake each give one.
        #expect(records.count == 2)
        #expect(records.allSatisfy { $0.synAckTime == 1_000 })
    }

    @Test("a client's reset with nothing else: a provisional record (a reset is not bare)")
    func reset() {
        let harness = FlowHarness(configuration: Self.configuration(bare: false))
        harness.tcp(Self.client, Self.server, .ack, seq: 1000, ack: 5000, at: 0)
        harness.tcp(Self.client, Self.server, .rst, seq: 1000, at: 1_000)
        let records = Self.opened(harness)
        #expect(records.count == 1)
        #expect(records.first?.originatorSummary.rstTime == 1_000)
    }

    @Test("a response caught alone (no SYN, nothing from the client): provisional records only when asked for")
    func serverOnly() {
        let response = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)
        for serverOnly in [true, false] {
            let harness = FlowHarness(configuration: Self.configuration(bare: false, serverOnly: serverOnly))
            harness.tcp(Self.server, Self.client, [.ack, .psh], seq: 5000, ack: 1000, payload: response, at: 0)
            // Asked for: the first packet and the first data each way (the server's, here: one packet, one record).
            #expect(Self.opened(harness).count == (serverOnly ? 1 : 0))
            harness.analyzer.finish()
            // The final record either way, with nothing from its client (what makes it a server-only piece).
            #expect(harness.connections.count == 1)
            #expect(harness.connections.first?.originatorSummary.packets == 0)
            #expect(harness.connections.first?.responderSummary.firstData?.time == 0)
            #expect(harness.connections.first?.isServerOnly == true)
        }
    }

    @Test("a server-only piece that resets, and one the client then speaks in: provisional records again")
    func serverOnlyThenMore() {
        let reset = FlowHarness(configuration: Self.configuration(bare: false, serverOnly: false))
        reset.tcp(Self.server, Self.client, [.syn, .ack], seq: 900, ack: 101, at: 0)
        #expect(Self.opened(reset).isEmpty)
        reset.tcp(Self.server, Self.client, .rst, seq: 901, at: 1_000)
        #expect(Self.opened(reset).count == 1)
        #expect(Self.opened(reset).first?.responderSummary.rstTime == 1_000)
        #expect(Self.opened(reset).first?.isServerOnly == false)

        let spoken = FlowHarness(configuration: Self.configuration(bare: false, serverOnly: false))
        spoken.tcp(Self.server, Self.client, [.syn, .ack], seq: 900, ack: 101, at: 0)
        let request = Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        spoken.tcp(Self.client, Self.server, [.ack, .psh], seq: 101, ack: 901, payload: request, at: 2_000)
        let records = Self.opened(spoken)
        #expect(records.count == 1)
        #expect(records.first?.synAckTime == 0)
        #expect(records.first?.originatorSummary.firstData?.time == 2_000)
        #expect(records.first?.isServerOnly == false)
    }

    @Test("a quiet connection (handshake, keep-alive ACKs): provisional records only when asked for, then at its data")
    func quiet() {
        let request = Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        for quiet in [true, false] {
            var configuration = Self.configuration(bare: false, serverOnly: false)
            configuration.emitQuietOpened = quiet
            let harness = FlowHarness(configuration: configuration)
            harness.tcp(Self.client, Self.server, .syn, seq: 100, at: 0)
            harness.tcp(Self.server, Self.client, [.syn, .ack], seq: 900, ack: 101, at: 1_000)
            harness.tcp(Self.client, Self.server, .ack, seq: 101, ack: 901, at: 2_000)
            // Asked for: the answer and the completed handshake, each a quiet record; else none.
            let handshake = Self.opened(harness)
            #expect(handshake.count == (quiet ? 2 : 0))
            #expect(handshake.allSatisfy { $0.isQuiet })
            // The client's request: its record either way, carrying the whole handshake, not quiet.
            harness.tcp(Self.client, Self.server, [.ack, .psh], seq: 101, ack: 901, payload: request, at: 3_000)
            let records = Self.opened(harness)
            #expect(records.count == handshake.count + 1)
            let first = records.last
            #expect(first?.isQuiet == false)
            #expect(first?.synTime == 0)
            #expect(first?.synAckTime == 1_000)
            #expect(first?.handshakeAckTime == 2_000)
            #expect(first?.originatorSummary.firstData?.time == 3_000)
        }
        // A FIN and a reset each end a quiet spell: their records are emitted.
        for flags in [TCPFlags([.fin, .ack]), TCPFlags.rst] {
            var configuration = Self.configuration(bare: false, serverOnly: false)
            configuration.emitQuietOpened = false
            let harness = FlowHarness(configuration: configuration)
            harness.tcp(Self.client, Self.server, .syn, seq: 100, at: 0)
            harness.tcp(Self.server, Self.client, [.syn, .ack], seq: 900, ack: 101, at: 1_000)
            harness.tcp(Self.server, Self.client, flags, seq: 901, ack: 101, at: 2_000)
            let records = Self.opened(harness)
            #expect(records.count == 1, "\(flags)")
            #expect(records.first?.isQuiet == false)
        }
    }
}
