import Foundation
import HoptraceDecode
import HoptraceFlows
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// An unanswered DNS query is a timeout only when the capture shows the time a resolver waits: hand-built captures
/// whose lengths are known, and transactions the flow stage gave up at its cap.
@Suite("unanswered lookups")
struct UnansweredLookupTests {
    /// One unanswered A query at 0, then another client's answered lookup whose response is the capture's last
    /// packet, at `lastPacket` ms.
    static func capture(lastPacket: Double) throws -> String {
        var capture = HandBuiltCapture(interfaces: ["eth0"])
        capture.udp(
            at: ms(0),
            "10.0.0.5:40000",
            "10.96.0.10:53",
            payload: DNSBytes.query(id: 7, "api.default.svc.cluster.local", type: 1)
        )
        capture.udp(
            at: ms(lastPacket - 1),
            "10.0.0.6:40001",
            "10.96.0.10:53",
            payload: DNSBytes.query(id: 8, "web.default.svc.cluster.local", type: 1)
        )
        capture.udp(
            at: ms(lastPacket),
            "10.96.0.10:53",
            "10.0.0.6:40001",
            payload: DNSBytes.response(id: 8, "web.default.svc.cluster.local", type: 1, answers: [.a("10.96.0.20")])
        )
        return try capture.write(name: "unanswered-\(Int(lastPacket)).pcapng")
    }

    /// The trace of the unanswered lookup.
    static func only(_ path: String) throws -> RequestTrace {
        var traces: [RequestTrace] = []
        _ = try Correlator.trace(files: [path]) { traces += $0 }
        let lookups = traces.filter { $0.dns?.name == "api.default.svc.cluster.local" }
        try #require(lookups.count == 1)
        return lookups[0]
    }

    @Test("a capture that ends 40 ms after the query: incomplete, 40 ms, no timeout claimed")
    func cutByTheEnd() throws {
        let trace = try Self.only(Self.capture(lastPacket: 40))
        #expect(trace.kind == .dns)
        #expect(trace.verdict.kind == .incomplete)
        #expect(trace.timings.dns == 40_000_000)
        #expect(trace.end - trace.start == 40_000_000)
        #expect(trace.verdict.sentence.contains("40.0 ms"))
        #expect(!trace.verdict.sentence.contains("DNS timeout"))
    }

    @Test("a capture that goes on for 8 s after it: the resolver's timeout passed, a DNS failure of 5 s")
    func timedOut() throws {
        let trace = try Self.only(Self.capture(lastPacket: 8_000))
        #expect(trace.verdict.kind == .dnsFailure)
        #expect(trace.timings.dns == 5_000_000_000)
        #expect(trace.verdict.sentence.contains("DNS timeout"))
    }

    @Test("a query the flow stage gave up unanswered at its cap: counted, not traced, never a timeout")
    func givenUpByTheFlowStage() {
        var transaction = DNSTransaction(
            capturePoint: 0,
            transport: .udp,
            client: FlowEndpoint(address: IPAddress(ipv4: 0x0A00_0005), port: 40_000),
            server: FlowEndpoint(address: IPAddress(ipv4: 0x0A60_000A), port: 53),
            id: 7
        )
        transaction.question = DNSQuestion(name: "api.default.svc.cluster.local", type: .a)
        transaction.queryTime = 1_000_000_000
        transaction.isEvicted = true
        let engine = TraceEngine { _ in CapturePoint(name: "eth0") }
        engine.take(.dns(transaction))
        // Its outcome is not known and cannot be: no lookup is made of it (a flood of them costs what counting does).
        #expect(engine.finish().isEmpty)
        #expect(engine.statistics.untracedQueries == 1)
        // Answered before it was given up, it is a lookup as any other.
        transaction.responseTime = 1_000_200_000
        transaction.rcode = .nameError
        let answered = TraceEngine { _ in CapturePoint(name: "eth0") }
        answered.take(.dns(transaction))
        let traces = answered.finish()
        #expect(traces.count == 1)
        #expect(traces.first?.dns?.outcome == .nxdomain)
        #expect(answered.statistics.untracedQueries == 0)
    }
}
