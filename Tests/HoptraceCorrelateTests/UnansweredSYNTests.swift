import Foundation
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// An unanswered SYN is a lost SYN (`breakpoint`) only with evidence: a retransmission, or more than TCP's first
/// retransmission timeout (1 s) seen after it. Hand-built captures of known lengths; and Zeek's documented RSTOS0
/// ("originator sent a SYN followed by a RST, we never saw a SYN-ACK from the responder"): the client's own reset.
@Suite("unanswered SYNs")
struct UnansweredSYNTests {
    /// A SYN from 10.0.0.5:41000 at 0, then another client's SYN at `next` ms (the capture's last packet).
    static func capture(next: Double, clientReset: Double? = nil) throws -> String {
        var capture = HandBuiltCapture(interfaces: ["eth0"])
        capture.tcp(at: ms(0), "10.0.0.5:41000", "10.0.0.9:80", .syn, seq: 1_000, ipID: 1)
        if let clientReset {
            capture.tcp(at: ms(clientReset), "10.0.0.5:41000", "10.0.0.9:80", .rst, seq: 1_001, ipID: 2)
        }
        capture.tcp(at: ms(next), "10.0.0.6:42000", "10.0.0.9:80", .syn, seq: 5_000, ipID: 3)
        return try capture.write(name: "unanswered-syn-\(Int(next))-\(clientReset.map { "\($0)" } ?? "none").pcapng")
    }

    static func first(_ path: String) throws -> RequestTrace {
        var traces: [RequestTrace] = []
        _ = try Correlator.trace(files: [path]) { traces += $0 }
        let mine = traces.filter { $0.client?.port == 41_000 }
        try #require(mine.count == 1)
        return mine[0]
    }

    @Test("10 ms seen after a single SYN: incomplete, waiting 10 ms, not a lost SYN")
    func tooShortToTell() throws {
        let trace = try Self.first(Self.capture(next: 10))
        #expect(trace.verdict.kind == .incomplete)
        #expect(trace.timings.connect == 10_000_000)
        #expect(trace.verdict.sentence.contains("10.0 ms"))
        #expect(!trace.verdict.sentence.contains("never reached"))
    }

    @Test("3 s seen after it without an answer or a retransmission: the SYN was lost (breakpoint)")
    func lost() throws {
        let trace = try Self.first(Self.capture(next: 3_000))
        #expect(trace.verdict.kind == .breakpoint)
        #expect(trace.verdict.phase == .connect)
    }

    @Test("the client's RST 0.3 ms after its SYN (Zeek's RSTOS0): the client reset it, located at the client")
    func clientGaveUp() throws {
        let trace = try Self.first(Self.capture(next: 3_000, clientReset: 0.3))
        #expect(trace.verdict.kind == .reset)
        #expect(trace.timings.connect == 300_000)
        #expect(trace.verdict.location?.name == "eth0")
        #expect(trace.verdict.sentence.contains("client reset its own connection"))
    }

    @Test("live: the wait after retransmitted SYNs saturates on absurd times (a store's rows), never traps")
    func backoffSaturates() {
        let live = CorrelateOptions.Liveness()
        // Twice the last interval and half a second: 2 x 2 s + 0.5 s.
        #expect(live.quiet(synTimes: [0, 1_000_000_000, 3_000_000_000]) == 4_500_000_000)
        // Intervals whose double does not fit 64 bits: the cap, not a trap (found by the correlate fuzz target).
        #expect(live.quiet(synTimes: [.min, .max]) == live.maxQuietPeriod)
        #expect(live.quiet(synTimes: [0, .max / 2 + 1]) == live.maxQuietPeriod)
        #expect(live.quiet(synTimes: [.min, 0]) == live.maxQuietPeriod)
    }
}
