import HoptraceDecode
import HoptraceFlows
import Testing

@testable import HoptraceCorrelate

/// The kept ICMP errors, found by what they quote: after errors are forgotten (the earliest, at the cap; the old ones,
/// by time, whether or not they are first), what is found is exactly what a scan of the errors still kept finds.
@Suite("ICMP errors kept")
struct ICMPErrorsTests {
    static let router = IPAddress(10, 0, 0, 1)
    static let server = FlowEndpoint(address: IPAddress(10, 96, 0, 10), port: 80)

    /// Error `n` at time `time`: it quotes client `n % 7` (so tuples repeat) and sequence number `n % 5`.
    static func error(_ n: Int, at time: Int64) -> ICMPRecord {
        let client = FlowEndpoint(address: IPAddress(10, 1, 0, UInt8(n % 7 + 1)), port: 40_000)
        let event = ICMPErrorEvent(
            capturePoint: 0,
            time: time,
            sender: router,
            destination: client.address,
            type: 3,
            code: 3,
            isV6: false,
            quotedSource: client,
            quotedDestination: server,
            quotedProtocol: .tcp,
            quotedTCPSequence: UInt32(1_000 + n % 5)
        )
        return ICMPRecord(event: event, point: CapturePoint(name: "eth0"))
    }

    /// Every question asked of `errors` is answered as a scan of `kept` answers it.
    static func agree(_ errors: ICMPErrors, _ kept: [ICMPRecord], _ label: String) {
        #expect(errors.records.map(\.event.time) == kept.map(\.event.time), "\(label)")
        for c in 0..<8 {
            for isn in [nil] + (0..<6).map({ UInt32(1_000 + $0) }) {
                let client = FlowEndpoint(address: IPAddress(10, 1, 0, UInt8(c + 1)), port: 40_000)
                let tuples = [TupleKey(client: client, server: server)]
                let scan = kept.filter { TraceEngine.quotes($0.event, isn: isn, tuples: tuples) }
                let found = errors.quoting(isn: isn, tuples: tuples)
                #expect(found.map(\.event.time) == scan.map(\.event.time), "\(label): client \(c), isn \(isn ?? 0)")
                #expect(errors.quotes(isn: isn, tuples: tuples) == !scan.isEmpty, "\(label)")
            }
        }
    }

    @Test("shedding the earliest, then expiring by time: found as a scan finds")
    func shedAndExpire() {
        var errors = ICMPErrors()
        var kept: [ICMPRecord] = []
        for n in 0..<300 {
            let record = Self.error(n, at: Int64(n) * 1_000)
            errors.append(record)
            kept.append(record)
            if errors.count > 64 {
                #expect(errors.shed(to: 32) == kept.count - 32)
                kept.removeFirst(kept.count - 32)
            }
            if n % 50 == 49 { Self.agree(errors, kept, "after \(n)") }
        }
        errors.expire(before: 290_000)
        kept.removeAll { $0.event.time < 290_000 }
        Self.agree(errors, kept, "expired")
        // Appending after forgetting keeps finding the new ones too.
        for n in 300..<320 {
            let record = Self.error(n, at: Int64(n) * 1_000)
            errors.append(record)
            kept.append(record)
        }
        Self.agree(errors, kept, "appended")
    }

    @Test("one tuple and one sequence number quoted by every error (a refused SYN retried): found as a scan finds")
    func oneKey() {
        var errors = ICMPErrors()
        var kept: [ICMPRecord] = []
        for n in 0..<500 {
            // Every error quotes client 1 and sequence number 1000 (n a multiple of 35).
            let record = Self.error(n * 35, at: Int64(n) * 1_000)
            errors.append(record)
            kept.append(record)
            if errors.count > 200 {
                _ = errors.shed(to: 100)
                kept.removeFirst(kept.count - 100)
                Self.agree(errors, kept, "after \(n)")
            }
        }
        errors.expire(before: 450_000)
        kept.removeAll { $0.event.time < 450_000 }
        Self.agree(errors, kept, "expired")
    }

    @Test("keys quoted once among keys quoted often, shed many times: found as a scan finds")
    func onceAndOften() {
        var errors = ICMPErrors()
        var kept: [ICMPRecord] = []
        var all: [ICMPRecord] = []
        for n in 0..<1_000 {
            var record = Self.error(n, at: Int64(n) * 1_000)
            if n % 3 == 0 {
                // A tuple and a sequence number of its own (a flood's errors each quote another connection).
                let client = FlowEndpoint(address: IPAddress(10, 2, UInt8(n / 256), UInt8(n % 256)), port: 50_000)
                record.event.quotedSource = client
                record.event.quotedTCPSequence = UInt32(100_000 + n)
            }
            errors.append(record)
            kept.append(record)
            all.append(record)
            if errors.count > 90 {
                #expect(errors.shed(to: 45) == kept.count - 45)
                kept.removeFirst(kept.count - 45)
            }
            if n % 97 == 96 {
                Self.agree(errors, kept, "after \(n)")
                // Each error ever appended, asked by its own keys: found only while kept.
                for asked in all {
                    let isn = asked.event.quotedTCPSequence
                    let tuples = [TupleKey(client: asked.event.quotedSource, server: asked.event.quotedDestination)]
                    let scan = kept.filter { TraceEngine.quotes($0.event, isn: isn, tuples: tuples) }
                    #expect(errors.quoting(isn: isn, tuples: tuples).map(\.event.time) == scan.map(\.event.time))
                }
            }
        }
    }

    @Test("a clock that stepped back: the old errors are not all first, and they all go")
    func clockBack() {
        var errors = ICMPErrors()
        var kept: [ICMPRecord] = []
        // The clock an hour on, then back (files appended out of order): old errors first and last.
        for n in 0..<90 {
            let base: Int64 = n / 30 == 1 ? 3_600_000_000_000 : 0
            let record = Self.error(n, at: base + Int64(n) * 1_000)
            errors.append(record)
            kept.append(record)
        }
        errors.expire(before: 3_600_000_000_000)
        kept.removeAll { $0.event.time < 3_600_000_000_000 }
        #expect(kept.count == 30)
        Self.agree(errors, kept, "stepped back")
        _ = errors.shed(to: 10)
        kept.removeFirst(20)
        Self.agree(errors, kept, "shed after")
    }
}
