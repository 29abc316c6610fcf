import Foundation
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// Past the cap on open connections (a SYN flood), the oldest are traced early with what is known and counted; no
/// connection is lost or traced twice.
@Suite("open-connection cap")
struct EvictionTests {
    /// 200 unanswered SYNs from distinct ports, 10 us apart: none times out inside the capture.
    static func flood() throws -> String {
        var capture = HandBuiltCapture(interfaces: ["eth0"])
        for n in 0..<200 {
            capture.tcp(
                at: ms(Double(n) * 0.01),
                "10.0.0.5:\(20_000 + n)",
                "10.0.0.9:80",
                .syn,
                seq: UInt32(1_000 + n * 7919),
                ipID: UInt16(n + 1)
            )
        }
        return try capture.write(name: "syn-flood-200.pcapng")
    }

    @Test("a cap of 32: evictions counted and marked, each of the 200 connections traced exactly once")
    func capped() throws {
        let path = try Self.flood()
        for cap in [32, 1_000] {
            var options = CorrelateOptions()
            options.maxOpenConnections = cap
            var traces: [RequestTrace] = []
            let run = try Correlator.trace(files: [path], options: options) { traces += $0 }
            let ports = traces.compactMap { $0.client?.port }
            #expect(ports.count == 200, "cap \(cap)")
            #expect(Set(ports) == Set((0..<200).map { UInt16(20_000 + $0) }), "cap \(cap)")
            let marked = traces.filter { $0.findings.contains { $0.kind == .evicted } }
            // Each connection given up says so, once; the running count never goes back and ends at the total.
            #expect(marked.count == run.statistics.evictedConnections, "cap \(cap)")
            #expect(zip(traces, traces.dropFirst()).allSatisfy { $0.evictedSoFar <= $1.evictedSoFar }, "cap \(cap)")
            #expect(traces.last?.evictedSoFar == run.statistics.evicted, "cap \(cap)")
            if cap == 32 {
                #expect(run.statistics.evictedConnections >= 200 - 32)
                #expect(run.statistics.peakOpenConnections <= 33)
            } else {
                #expect(run.statistics.evictedConnections == 0)
            }
        }
    }

    @Test("a flood of traces between two clock ticks is written early past the cap, counted, none lost")
    func pendingOverflow() throws {
        let path = try Self.flood()
        var options = CorrelateOptions()
        options.maxOpenConnections = 16
        options.maxPendingTraces = 24
        var batches: [[RequestTrace]] = []
        let run = try Correlator.trace(files: [path], options: options) { batches.append($0) }
        let traces = batches.flatMap { $0 }
        #expect(Set(traces.compactMap { $0.client?.port }) == Set((0..<200).map { UInt16(20_000 + $0) }))
        #expect(traces.count == 200)
        #expect(traces.map(\.index) == Array(0..<200))
        #expect(run.statistics.evictedPending > 0)
        // Released while the capture was read, not all at its end: nothing held more than the cap and an eighth.
        #expect(batches.count > 200 / 24)
        #expect(batches.allSatisfy { $0.count <= 24 + 24 / 8 + 16 })
    }
}
