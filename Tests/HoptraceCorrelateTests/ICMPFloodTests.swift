import Foundation
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// ICMP errors are found by what they quote, and a flood of them is bounded by a cap: the error quoting a
/// connection still rejects it, whatever came around it. The facts are the hand-built capture's own.
@Suite("ICMP errors past the cap")
struct ICMPFloodTests {
    @Test("300 errors quoting other connections, then one quoting a SYN: rejected, with any cap; the rest counted")
    func flood() throws {
        var capture = HandBuiltCapture(interfaces: ["eth0"])
        for n in 0..<300 {
            capture.icmpUnreachable(
                at: ms(Double(n) * 0.01),
                from: "10.0.0.1",
                "10.9.\(n / 200).\(n % 200 + 1):\(30_000 + n)",
                "10.96.0.99:80",
                seq: UInt32(n * 7_919)
            )
        }
        capture.tcp(at: ms(5), "10.0.0.5:40000", "10.96.0.10:80", .syn, seq: 4_000)
        capture.icmpUnreachable(at: ms(5.1), from: "10.0.0.1", "10.0.0.5:40000", "10.96.0.10:80", seq: 4_000)
        let path = try capture.write(name: "icmp-flood-300.pcapng")
        for cap in [64, 100_000] {
            var options = CorrelateOptions()
            options.maxICMPErrors = cap
            var traces: [RequestTrace] = []
            let run = try Correlator.trace(files: [path], options: options) { traces += $0 }
            #expect(traces.count == 1, "cap \(cap)")
            #expect(traces.first?.verdict.kind == .rejected, "cap \(cap)")
            if cap == 64 {
                // Kept: at most the cap; the earliest halves forgotten as it filled.
                #expect(run.statistics.shedICMPErrors >= 301 - 64)
                #expect(traces.first?.evictedSoFar == run.statistics.evicted)
            } else {
                #expect(run.statistics.shedICMPErrors == 0)
            }
        }
    }
}
