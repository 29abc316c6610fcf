import Foundation
import Testing

@testable import HoptraceCapture

/// Timestamps from the wire: any `if_tsresol`, any `if_tsoffset`, any 64-bit count, pcap fractions out of range.
/// A time that fits 64-bit nanoseconds is placed exactly; one that does not is counted and its packet skipped, the
/// packets around it read as usual. The facts are the hand-built blocks and the arithmetic of the format.
@Suite("packet times from the wire")
struct TimestampTests {
    typealias P = PcapngBuilder

    /// Reads `bytes` with the in-memory reader and returns the times read and the reader's counts.
    static func read(_ bytes: [UInt8]) throws -> (times: [Int64], anomalies: TimestampAnomalies, error: CaptureError?) {
        let source = try openCapture(bytes: bytes)
        var times: [Int64] = []
        var failure: CaptureError?
        do {
            while let packet = try source.next() { times.append(packet.timestamp) }
        } catch {
            failure = error
        }
        return (times, source.timestampAnomalies, failure)
    }

    /// One interface with `tsresol` and `tsoffset`, and a packet at each of `units`, then a µs packet at 1 s.
    static func file(tsresol: UInt8?, tsoffset: Int64? = nil, units: [UInt64], bigEndian: Bool = false) -> [UInt8] {
        var bytes = P.sectionHeader(bigEndian: bigEndian)
        bytes += P.interface(bigEndian: bigEndian, name: "odd", tsresol: tsresol, tsoffset: tsoffset)
        bytes += P.interface(bigEndian: bigEndian, name: "plain")
        for value in units {
            bytes += P.enhancedPacket(bigEndian: bigEndian, interface: 0, timestamp: value, data: [1, 2, 3, 4])
        }
        bytes += P.enhancedPacket(bigEndian: bigEndian, interface: 1, timestamp: 1_000_000, data: [5, 6, 7, 8])
        return bytes
    }

    @Test("power-of-10 resolutions of every exponent: exact when the time fits, else counted and skipped")
    func powersOfTen() throws {
        for exponent in UInt8(0)...127 {
            let result = try Self.read(Self.file(tsresol: exponent, units: [3, UInt64.max]))
            #expect(result.error == nil, "10^-\(exponent)")
            // 3 units of 10^-e s = 3 * 10^(9-e) ns, truncated below a nanosecond.
            var expected: [Int64] = []
            if exponent <= 9 {
                var ns: Int64 = 3
                for _ in 0..<(9 - Int(exponent)) { ns *= 10 }
                expected.append(ns)
            } else {
                expected.append(0)
            }
            // 2^64 - 1 units: (2^64 - 1) * 10^(9-e) ns fits Int64 (9.2e18) only from e = 10 on: (2^64 - 1) / 10^(e-9).
            if exponent >= 10 {
                var quotient = UInt64.max
                for _ in 0..<(Int(exponent) - 9) { quotient /= 10 }
                expected.append(Int64(quotient))
            }
            expected.append(1_000_000_000)
            #expect(result.times == expected, "10^-\(exponent)")
            #expect(result.anomalies.unplaceablePackets == (exponent >= 10 ? 0 : 1), "10^-\(exponent)")
        }
    }

    @Test("2^64 - 1 units at 10^-10 s and 10^-19 s: truncated exactly")
    func hugeCountsExact() throws {
        // 18446744073709551615 / 10 = 1844674407370955161 ns; / 10^10 = 1844674407 ns.
        #expect(
            try Self.read(Self.file(tsresol: 10, units: [.max])).times == [1_844_674_407_370_955_161, 1_000_000_000]
        )
        #expect(try Self.read(Self.file(tsresol: 19, units: [.max])).times == [1_844_674_407, 1_000_000_000])
        #expect(try Self.read(Self.file(tsresol: 40, units: [.max])).times == [0, 1_000_000_000])
    }

    @Test("power-of-2 resolutions of every exponent, both byte orders", arguments: [false, true])
    func powersOfTwo(bigEndian: Bool) throws {
        for exponent in UInt8(0)...127 {
            // 2^exponent units of 2^-exponent s are one second, when the count fits 64 bits.
            let units: UInt64 = exponent < 64 ? 1 << UInt64(exponent) : 1
            let result = try Self.read(Self.file(tsresol: 0x80 | exponent, units: [units], bigEndian: bigEndian))
            #expect(result.error == nil)
            #expect(result.anomalies.unplaceablePackets == 0)
            if exponent < 64 {
                #expect(result.times == [1_000_000_000, 1_000_000_000], "2^-\(exponent)")
            } else {
                // One unit of 2^-64 s or finer is under a nanosecond.
                #expect(result.times == [0, 1_000_000_000], "2^-\(exponent)")
            }
        }
        // Whole seconds (2^0): 2^63 s do not fit; 9223372036 s do (2262-04-11).
        let result = try Self.read(Self.file(tsresol: 0x80, units: [1 << 63, 9_223_372_036], bigEndian: bigEndian))
        #expect(result.times == [9_223_372_036_000_000_000, 1_000_000_000])
        #expect(result.anomalies.unplaceablePackets == 1)
    }

    @Test("if_tsoffset of any value: the sum placed when it fits, else counted and skipped")
    func offsets() throws {
        let cases: [(offset: Int64, units: UInt64, expected: Int64?)] = [
            (1_000, 1_234, 1_000_001_234_000),
            (-5, 7_000_000, 2_000_000_000),
            (9_223_372_036, 854_775, 9_223_372_036_854_775_000),  // the last µs of 2262
            (9_223_372_036, 854_776, nil),
            (.max, 0, nil),
            (.min, 0, nil),
            (-9_223_372_037, 0, nil),
            // A negative offset can bring a count too large alone back into range: 10^19 ns - 10^10 s = 0.
            (-10_000_000_000, 10_000_000_000_000_000_000, 0),
            (.min, .max, nil),
        ]
        for item in cases {
            let resolution: UInt8 = item.units == 10_000_000_000_000_000_000 ? 9 : 6
            let result = try Self.read(Self.file(tsresol: resolution, tsoffset: item.offset, units: [item.units]))
            #expect(result.error == nil)
            if let expected = item.expected {
                #expect(result.times == [expected, 1_000_000_000], "offset \(item.offset)")
                #expect(result.anomalies.unplaceablePackets == 0)
            } else {
                #expect(result.times == [1_000_000_000], "offset \(item.offset)")
                #expect(result.anomalies.unplaceablePackets == 1)
            }
        }
    }

    @Test("a packet after 2262 in µs: skipped and counted, the packets around it read")
    func after2262() throws {
        // 9223372036854775 µs is the last placeable microsecond; one more is 2262-04-11T23:47:16.854776Z.
        let result = try Self.read(
            Self.file(tsresol: nil, units: [1_700_000_000_000_000, 9_223_372_036_854_776, 9_223_372_036_854_775])
        )
        #expect(result.times == [1_700_000_000_000_000_000, 9_223_372_036_854_775_000, 1_000_000_000])
        #expect(result.anomalies.unplaceablePackets == 1)
    }

    @Test("the interface's units per second saturate instead of trapping")
    func unitsPerSecond() throws {
        #expect(TimestampResolution(optionByte: 19).unitsPerSecond == 10_000_000_000_000_000_000)
        #expect(TimestampResolution(optionByte: 20).unitsPerSecond == .max)
        #expect(TimestampResolution(optionByte: 0x80 | 63).unitsPerSecond == 1 << 63)
        #expect(TimestampResolution(optionByte: 0x80 | 64).unitsPerSecond == .max)
        #expect(TimestampResolution(optionByte: 0xFF).unitsPerSecond == .max)
    }

    @Test("pcap records with µs or ns fields of a second or more: carried and counted", arguments: [false, true])
    func pcapFractionOutOfRange(nanosecond: Bool) throws {
        var b = PcapBuilder.header(magic: nanosecond ? 0xa1b2_3c4d : 0xa1b2_c3d4)
        PcapBuilder.record(&b, seconds: 10, fraction: 5, data: [1, 2, 3, 4])
        PcapBuilder.record(&b, seconds: 10, fraction: nanosecond ? 1_500_000_000 : 1_500_000, data: [1, 2, 3, 4])
        PcapBuilder.record(&b, seconds: .max, fraction: .max, data: [1, 2, 3, 4])
        let result = try Self.read(b.bytes)
        #expect(result.error == nil)
        let unit: Int64 = nanosecond ? 1 : 1000
        #expect(
            result.times == [
                10_000_000_000 + 5 * unit, 11_500_000_000,
                Int64(UInt32.max) * 1_000_000_000 + Int64(UInt32.max) * unit,
            ]
        )
        #expect(result.anomalies.fractionOutOfRange == 2)
        #expect(result.anomalies.unplaceablePackets == 0)
    }

    @Test("merged sources sum their counts")
    func mergedCounts() throws {
        let a = try openCapture(bytes: Self.file(tsresol: 0x80, units: [1 << 63]))
        let b = try openCapture(bytes: Self.file(tsresol: 0x80, units: [1 << 63, 1 << 62, 1]))
        let merged = MergedPacketSource([a, b])
        var count = 0
        while try merged.next() != nil { count += 1 }
        #expect(count == 3)
        #expect(merged.timestampAnomalies.unplaceablePackets == 3)
    }

    @Test("saturating time arithmetic")
    func saturating() {
        #expect(Int64.max.saturatingSubtracting(.min) == .max)
        #expect(Int64.min.saturatingSubtracting(.max) == .min)
        #expect(Int64(5).saturatingSubtracting(7) == -2)
        #expect(Int64.max.saturatingAdding(1) == .max)
        #expect(Int64.min.saturatingAdding(-1) == .min)
        #expect(Int64(-3).saturatingAdding(10) == 7)
    }
}
