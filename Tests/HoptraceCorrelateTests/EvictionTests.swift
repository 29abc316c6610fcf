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

    @Test("a cap of 32: evictions counted, each of the 200 connections traced exactly once")
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
            if cap == 32 {
                #expect(run.statistics.evictedConnections >= 200 - 32)
                #expect(run.statistics.peakOpenConnections <= 33)
            } else {
                #expect(run.statistics.evictedConnections == 0)
            }
        }
    }
}
