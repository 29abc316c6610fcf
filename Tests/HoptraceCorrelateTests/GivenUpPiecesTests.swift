import Foundation
import HoptraceCapture
import HoptraceFlows
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// What the flow stage gives up at its caps (a flood of connections or of lookups) is counted, not traced, when
/// nothing of a request is in it; a request given up before its response is `incomplete`, never `no-response`. The
/// facts asserted are the hand-built captures' own: how many connections and queries they hold, that every request
/// in them was answered.
@Suite("pieces given up at the flow stage's caps")
struct GivenUpPiecesTests {
    static func run(_ path: String, flows: FlowConfiguration) throws -> ([RequestTrace], Correlator.Run) {
        var traces: [RequestTrace] = []
        let run = try Correlator.trace(inputs: [CaptureFileSpec(path: path)], flows: flows) { traces += $0 }
        return (traces, run)
    }

    @Test("200 unanswered SYNs past a flow cap of 32: the 168 given up counted, the 32 held at the end traced")
    func synFlood() throws {
        // EvictionTests' flood: 200 SYNs from distinct ports, 10 us apart.
        let path = try EvictionTests.flood()
        var flows = FlowConfiguration()
        flows.maxConnections = 32
        let (traces, run) = try Self.run(path, flows: flows)
        #expect(run.flows.flowStatistics.evictedForCap == 168)
        #expect(run.statistics.untracedPieces == 168)
        // The last 32 SYNs, each once; the capture lasts 2 ms, so whether they were answered is not known.
        #expect(traces.compactMap { $0.client?.port }.sorted() == (168..<200).map { UInt16(20_000 + $0) })
        #expect(traces.allSatisfy { $0.verdict.kind == .incomplete })
        #expect(!traces.contains { $0.findings.contains { $0.kind == .evicted } })
    }

    @Test("keep-alive connections past a flow cap: each request traced once, given up before its response: incomplete")
    func keepAliveFlood() throws {
        // 50 connections: all handshakes, then all requests, then all responses, then the client's ACKs (as the
        // flood file of tools/bench/floods.py): with room for 16, every request's piece is given up before its
        // response arrives.
        let count = 50
        var capture = HandBuiltCapture(interfaces: ["eth0"])
        capture.keepAliveConnections(count, to: "10.96.0.20:80", interleaved: true, gap: 10_000)
        let path = try capture.write(name: "keepalive-flood-given-up.pcapng")
        var flows = FlowConfiguration()
        flows.maxConnections = 16
        let (traces, run) = try Self.run(path, flows: flows)
        #expect(run.flows.flowStatistics.evictedForCap > 0)
        // Every request once, and nothing else: the handshakes', responses' and ACKs' pieces are counted.
        #expect(traces.compactMap { $0.request?.path }.sorted() == (0..<count).map { "/ka/\($0)" }.sorted())
        #expect(traces.count == count)
        #expect(run.statistics.untracedPieces > 0)
        // Only the pieces with a request made a connection: the handshakes', responses' and ACKs' pieces were counted
        // at their final records (or, a SYN-ACK alone at the end of the capture, joined none), never held as
        // connections of their own.
        #expect(run.statistics.connections <= count + flows.maxConnections)
        // Every request here was answered: a given-up piece never claims otherwise.
        #expect(!traces.contains { $0.verdict.kind == .noResponse })
        let givenUp = traces.filter { $0.findings.contains { $0.kind == .evicted } }
        #expect(!givenUp.isEmpty)
        #expect(givenUp.allSatisfy { $0.verdict.kind == .incomplete && $0.verdict.sentence.contains("not known") })
        // Every handshake here was captured: a piece taken up again mid-stream says its beginning was given up, not
        // that the capture began after it.
        #expect(!traces.contains { $0.findings.contains { $0.kind == .handshakeNotCaptured } })
        #expect(traces.allSatisfy { $0.findings.contains { $0.detail.contains("took it up again mid-stream") } })
    }

    @Test("200 unanswered lookups past a flow cap of 32: the 168 queries given up counted, the other 32 traced")
    func lookupFlood() throws {
        var capture = HandBuiltCapture(interfaces: ["eth0"])
        for n in 0..<200 {
            capture.udp(
                at: ms(Double(n) * 0.01),
                "10.1.0.\(n + 1):\(40_000 + n)",
                "10.96.0.10:53",
                payload: DNSBytes.query(id: UInt16(n), "q\(n).default.svc.cluster.local", type: 1)
            )
        }
        let path = try capture.write(name: "lookup-flood-given-up.pcapng")
        var flows = FlowConfiguration()
        flows.maxDNSTransactions = 32
        let (traces, run) = try Self.run(path, flows: flows)
        #expect(run.flows.flowStatistics.evictedDNSTransactions == 168)
        #expect(run.statistics.untracedQueries == 168)
        // And said in JSON: the running count of requests given up (`evicted`) includes them.
        #expect(traces.last?.evictedSoFar == 168)
        #expect(
            traces.compactMap { $0.dns?.name }.sorted()
                == (168..<200).map { "q\($0).default.svc.cluster.local" }.sorted()
        )
        #expect(traces.allSatisfy { $0.verdict.kind == .incomplete })
    }
}

/// A connection begun before the capture whose server speaks first (NetBIOS keep-alives: 4 bytes, the client's ACK
/// 31 us later), idle past the flow stage's 5-minute timeout between rounds: each round is a piece of its own, and
/// each is traced once with the client's ACK in it (the piece's final record), not from its first packet alone when
/// the piece stays quiet past ``CorrelateOptions/openGroupTimeout`` before the flow stage closes it.
@Suite("pieces with the server's packets first")
struct ServerFirstPiecesTests {
    @Test("two keep-alive rounds 6 minutes apart: two traces, each with the client's answer 31 us after the server")
    func keepAliveRounds() throws {
        var capture = HandBuiltCapture(interfaces: ["eth1"])
        let client = "192.168.152.101:38832"
        let server = "192.168.152.1:139"
        var serverSeq: UInt32 = 1_614_688_470
        let clientSeq: UInt32 = 1_446_768_692
        for round in 0..<2 {
            let start = Double(round) * 360_000
            capture.tcp(
                at: ms(start),
                server,
                client,
                [.ack, .psh],
                seq: serverSeq,
                ack: clientSeq,
                payload: [0x85, 0, 0, 0]
            )
            serverSeq &+= 4
            capture.tcp(at: ms(start + 0.031), client, server, .ack, seq: clientSeq, ack: serverSeq)
        }
        // Other traffic every 10 s (datagrams between two other hosts): capture time moves on between the rounds, as
        // it does on any busy interface.
        for tick in 1..<72 {
            capture.udp(at: ms(Double(tick) * 10_000), "192.168.152.7:5000", "192.168.152.8:5000", payload: [1])
        }
        let path = try capture.write(name: "server-first-keepalive.pcapng")
        var traces: [RequestTrace] = []
        _ = try Correlator.trace(inputs: [CaptureFileSpec(path: path)]) { traces += $0 }
        #expect(traces.count == 2)
        // From the server's 4 bytes to the client's ACK: 31 us, in each round.
        #expect(traces.map(\.timings.total) == [31_000, 31_000])
        #expect(traces.allSatisfy { $0.client?.port == 38832 && $0.server?.port == 139 })
    }
}
