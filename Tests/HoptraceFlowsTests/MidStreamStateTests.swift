import HoptraceDecode
import Testing

@testable import HoptraceFlows

/// Connections the capture joined in the middle, or whose handshake it missed, summarised as Zeek summarises them.
/// The expected conn_state and history follow from Zeek's documented TCP endpoint state machine (INACTIVE, SYN_SENT,
/// SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET; its TCP session adapter's UpdateStateMachine) and its
/// conn_state table (base/protocols/conn/main.zeek), worked by hand for each hand-built packet sequence.
@Suite("mid-stream connections, Zeek's states")
struct MidStreamStateTests {
    static let client = FlowEndpoint.v4("10.0.0.1", 40_000)
    static let server = FlowEndpoint.v4("10.0.0.2", 80)

    typealias Step = (fromClient: Bool, flags: TCPFlags, seq: UInt32, ack: UInt32, payload: Int)

    static let cases: [(name: String, steps: [Step], state: String, history: String)] = [
        // Client ACK (orig PARTIAL), server data (resp PARTIAL), server RST: RSTRH.
        (
            "ack-data-rst",
            [(true, .ack, 1000, 5000, 0), (false, [.ack, .psh], 5000, 1000, 100), (false, .rst, 5100, 0, 0)], "RSTRH",
            "Adr"
        ),
        // Data both ways, then the client resets: the originator RESET, the responder PARTIAL, no SYN: OTH.
        (
            "data-client-rst",
            [
                (true, [.ack, .psh], 1000, 5000, 20), (false, [.ack, .psh], 5000, 1020, 30),
                (true, [.rst, .ack], 1020, 5030, 0),
            ], "OTH", "DdR"
        ),
        // A lone RST from the server (the roles flipped by the port): the responder RESET, the originator INACTIVE.
        ("rst-only", [(false, [.rst, .ack], 5000, 1000, 0)], "RSTRH", "^r"),
        // FINs both ways without a handshake: both CLOSED: SF.
        ("fin-only", [(true, [.fin, .ack], 1000, 5000, 0), (false, [.fin, .ack], 5000, 1001, 0)], "SF", "Ff"),
        // An unsolicited SYN-ACK puts the responder in ESTABLISHED; the client's ACK then establishes it too: S1.
        (
            "synack-first",
            [
                (false, [.syn, .ack], 4999, 1000, 0), (true, .ack, 1000, 5000, 0),
                (true, [.ack, .psh], 1000, 5000, 19),
            ], "S1", "^hAD"
        ),
        // A SYN-ACK, then the responder's RST, no SYN seen: RSTRH.
        ("synack-rst", [(false, [.syn, .ack], 4999, 1000, 0), (false, .rst, 5000, 0, 0)], "RSTRH", "^hr"),
        // A SYN-ACK, then the responder's FIN, no SYN seen: SHR.
        ("synack-fin", [(false, [.syn, .ack], 4999, 1000, 0), (false, [.fin, .ack], 5000, 1000, 0)], "SHR", "^hf"),
        // A SYN, then the originator's FIN, no SYN-ACK: SH.
        ("syn-fin", [(true, .syn, 999, 0, 0), (true, .fin, 1000, 0, 0)], "SH", "SF"),
        // Data from the client only: the originator PARTIAL, the responder INACTIVE: OTH.
        (
            "client-data-only", [(true, [.ack, .psh], 1000, 5000, 10), (true, [.ack, .psh], 1010, 5000, 10)], "OTH", "D"
        ),
        // The server's data only (flipped), then its FIN: the responder CLOSED, the originator INACTIVE: SHR.
        (
            "server-data-fin", [(false, [.ack, .psh], 5000, 1000, 10), (false, [.fin, .ack], 5010, 1000, 0)], "SHR",
            "^df"
        ),
        // Mid-stream FIN from the client, then the server's RST: RSTR (the originator closed, not inactive).
        ("client-fin-server-rst", [(true, [.fin, .ack], 1000, 5000, 0), (false, .rst, 5000, 0, 0)], "RSTR", "Fr"),
    ]

    @Test("conn_state and history as Zeek's state machine gives them", arguments: cases.indices)
    func zeekStates(index: Int) throws {
        let item = Self.cases[index]
        let harness = FlowHarness()
        for (step, packet) in item.steps.enumerated() {
            let (src, dst) = packet.fromClient ? (Self.client, Self.server) : (Self.server, Self.client)
            harness.tcp(
                src,
                dst,
                packet.flags,
                seq: packet.seq,
                ack: packet.ack,
                payload: [UInt8](repeating: 0x61, count: packet.payload),
                at: Int64(step) * 1_000_000
            )
        }
        harness.analyzer.finish()
        let records = harness.connections
        try #require(records.count == 1, "\(item.name)")
        #expect(records[0].state.rawValue == item.state, "\(item.name)")
        #expect(records[0].history == item.history, "\(item.name)")
        #expect(records[0].originator == Self.client, "\(item.name)")
    }
}
