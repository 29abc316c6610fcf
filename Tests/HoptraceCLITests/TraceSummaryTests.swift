import Foundation
import HoptraceTestSupport
import Testing

/// What `hoptrace trace` prints without a selector: the slowest are requests that finished (an `incomplete` one's
/// time is only what was seen of it); when none finished, the first incomplete ones, and that is what it traces.
/// The facts are the hand-built packets: which connection was answered and which was cut by the capture's end.
@Suite("trace's summary")
struct TraceSummaryTests {
    static let t0: Int64 = 1_700_000_000_000_000_000
    static func at(_ ms: Double) -> Int64 { t0 + Int64(ms * 1_000_000) }

    /// A connection answered and closed (its trace `ok`), when `answered`; then a SYN 0.5 ms before the capture's
    /// last packet (`incomplete`: too late to tell whether it was lost).
    static func capture(answered: Bool) throws -> String {
        var c = HandBuiltCapture(interfaces: ["eth0"])
        if answered {
            c.tcp(at: at(0), "10.0.0.1:40000", "10.0.0.2:80", .syn, seq: 1_000)
            c.tcp(at: at(3), "10.0.0.2:80", "10.0.0.1:40000", [.syn, .ack], seq: 5_000, ack: 1_001)
            c.tcp(at: at(4), "10.0.0.1:40000", "10.0.0.2:80", .ack, seq: 1_001, ack: 5_001)
            c.tcp(at: at(5), "10.0.0.1:40000", "10.0.0.2:80", [.fin, .ack], seq: 1_001, ack: 5_001)
            c.tcp(at: at(6), "10.0.0.2:80", "10.0.0.1:40000", [.fin, .ack], seq: 5_001, ack: 1_002)
            c.tcp(at: at(7), "10.0.0.1:40000", "10.0.0.2:80", .ack, seq: 1_002, ack: 5_002)
        }
        c.tcp(at: at(100), "10.0.0.1:40001", "10.0.0.2:80", .syn, seq: 9_000)
        c.udp(at: at(100.5), "10.0.0.3:5000", "10.0.0.4:5000", payload: [1, 2, 3])
        return try c.write(name: "summary-\(answered).pcapng")
    }

    @Test("an answered connection and a SYN cut by the end: the slowest is the answered one, and it is traced")
    func finishedFirst() throws {
        let run = try Command.hoptrace(["trace", try Self.capture(answered: true)])
        #expect(run.status == 0)
        #expect(run.stdout.contains("2 requests found: 1 ok, 1 incomplete"))
        let lines = run.stdout.components(separatedBy: "\n")
        let slowest = try #require(lines.firstIndex(of: "slowest:"))
        #expect(lines[slowest + 1].contains(" ok "))
        #expect(!lines[slowest + 2].hasPrefix("  #"))
        #expect(run.stdout.contains("(the slowest;"))
    }

    @Test("only a SYN cut by the end: it is listed as incomplete and traced as the first incomplete")
    func onlyIncomplete() throws {
        let run = try Command.hoptrace(["trace", try Self.capture(answered: false)])
        #expect(run.status == 0)
        #expect(!run.stdout.contains("slowest:"))
        #expect(run.stdout.contains("incomplete (1 of 1):"))
        #expect(run.stdout.contains("(the first incomplete;"))
    }
}
