import Foundation
import HoptraceTestSupport
import Testing

@testable import HoptraceCapture

/// The one time and duration formatter against independent facts: Glibc's gmtime for the calendar, Foundation's
/// Decimal for exact milliseconds and rounding, and the durations `hoptrace trace` printed in the README.
@Suite("TimeFormat")
struct TimeFormatTests {
    /// Instants and durations at the edges (Int64's ends, the epoch, leap days, unit boundaries) and a spread of
    /// pseudo-random ones.
    static let values: [Int64] = {
        var values: [Int64] = [
            0, 1, 499, 500, 999, 1_000, 999_499, 999_500, 999_999, 1_000_000, 9_994_999, 9_995_000, 9_999_999,
            10_000_000, 999_949_999, 999_950_000, 1_000_000_000, 1_004_999_999, 1_005_000_000, 3_060_000_000,
            951_782_400_500_000_000, 1_763_817_723_000_000_001, 4_102_444_800_000_000_000, Int64.max, Int64.min,
            Int64.min + 1,
        ]
        values += values.filter { $0 != Int64.min }.map { -$0 }
        var random: UInt64 = 2_026
        for _ in 0..<5_000 {
            random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let magnitude = Int64(random >> 1) >> Int64(random % 62)
            values.append(random & 1 == 0 ? magnitude : -magnitude)
        }
        return values
    }()

    @Test("RFC 3339 with nanoseconds: the calendar as gmtime computes it, the fraction as the nanoseconds")
    func rfc3339() {
        for value in Self.values {
            let (parts, fraction) = Gmtime.parts(value)
            let expected = Gmtime.rfc3339(value)
            #expect(TimeFormat.rfc3339(value) == expected, "\(value)")
            let timeOfDay = String(
                format: "%02d:%02d:%02d.%06lld",
                parts.tm_hour,
                parts.tm_min,
                parts.tm_sec,
                fraction / 1000
            )
            #expect(TimeFormat.timeOfDay(value) == timeOfDay, "\(value)")
        }
        #expect(TimeFormat.rfc3339(0) == "1970-01-01T00:00:00.000000000Z")
        #expect(TimeFormat.rfc3339(951_782_400_500_000_000) == "2000-02-29T00:00:00.500000000Z")
    }

    @Test("Milliseconds and seconds are exact: Foundation's Decimal reads back the nanoseconds")
    func exactNumbers() throws {
        for value in Self.values {
            let milliseconds = TimeFormat.milliseconds(value)
            let parsed = try #require(Decimal(string: milliseconds), "\(milliseconds)")
            #expect(parsed * 1_000_000 == Decimal(value), "\(value): \(milliseconds)")
            #expect(!milliseconds.hasSuffix("0") || !milliseconds.contains("."), "trailing zero: \(milliseconds)")
            let seconds = TimeFormat.seconds(value)
            #expect(try #require(Decimal(string: seconds)) * 1_000_000_000 == Decimal(value), "\(value): \(seconds)")
            #expect(seconds.split(separator: ".").last?.count == 9)
        }
        // Parsed back by Foundation's JSON parser as the number written.
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data("[\(TimeFormat.milliseconds(790_123))]".utf8)) as? [Double]
        )
        #expect(json == [0.790123])
    }

    /// The duration rule spelled with Decimal: the first unit whose rounded value stays under its bound.
    static func referenceDuration(_ nanoseconds: Int64) -> String {
        let magnitude = Decimal(string: String(nanoseconds.magnitude))!
        func rounded(_ value: Decimal, _ scale: Int) -> Decimal {
            var value = value
            var result = Decimal()
            NSDecimalRound(&result, &value, scale, .plain)
            return result
        }
        func text(_ value: Decimal, _ decimals: Int) -> String {
            let number = NSDecimalNumber(decimal: value)
            let formatter = NumberFormatter()
            formatter.minimumFractionDigits = decimals
            formatter.maximumFractionDigits = decimals
            formatter.minimumIntegerDigits = 1
            formatter.usesGroupingSeparator = false
            formatter.locale = Locale(identifier: "en_US_POSIX")
            return formatter.string(from: number)!
        }
        let units: [(Decimal, Int, Decimal?, String)] = [
            (1_000, 0, 1_000, "µs"), (1_000_000, 2, 10, "ms"), (1_000_000, 1, 1_000, "ms"),
            (1_000_000_000, 2, nil, "s"),
        ]
        for (scale, decimals, bound, name) in units {
            let value = rounded(magnitude / scale, decimals)
            if let bound, value >= bound { continue }
            let sign = nanoseconds < 0 && value != 0 ? "-" : ""
            return sign + text(value, decimals) + " " + name
        }
        return ""
    }

    @Test("Durations for people: one style, rounded half away from zero, the unit chosen after rounding")
    func durations() {
        for value in Self.values {
            #expect(TimeFormat.duration(value) == Self.referenceDuration(value), "\(value)")
        }
        // As `hoptrace trace` prints them (README).
        #expect(TimeFormat.duration(790_000) == "790 µs")
        #expect(TimeFormat.duration(3_060_000_000) == "3.06 s")
        #expect(TimeFormat.duration(4_810_000) == "4.81 ms")
        #expect(TimeFormat.duration(1_500_000_000) == "1.50 s")
        #expect(TimeFormat.duration(15_500_000) == "15.5 ms")
        #expect(TimeFormat.duration(999_600) == "1.00 ms")
    }
}

/// Durations from untrusted times saturate instead of trapping.
@Test func differencesSaturate() {
    #expect(TimeFormat.difference(5, 3) == 2)
    #expect(TimeFormat.difference(Int64.max, Int64.min) == Int64.max)
    #expect(TimeFormat.difference(Int64.min, 1) == Int64.min)
    #expect(TimeFormat.duration(TimeFormat.difference(Int64.max, -1)).hasSuffix(" s"))
}

/// Numbers written a pair of digits at a time, against Swift's own decimal text and `%0*llu` zero padding.
@Test func decimalDigits() {
    var values: [UInt64] = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, UInt64.max, UInt64.max - 1, 1 << 63]
    var power: UInt64 = 1
    for _ in 0..<19 {
        power *= 10
        values += [power - 1, power, power + 1]
    }
    var random = SystemRandomNumberGenerator()
    for _ in 0..<2000 { values.append(random.next() >> UInt64.random(in: 0..<64, using: &random)) }
    var bytes = [UInt8](repeating: 0, count: 40)
    for value in values {
        let count = bytes.withUnsafeMutableBufferPointer { TimeFormat.writeDecimal(value, to: $0.baseAddress!) }
        #expect(String(decoding: bytes[..<count], as: UTF8.self) == String(value), "\(value)")
        for width in [1, 2, 6, 9, 19, 22] {
            let written = bytes.withUnsafeMutableBufferPointer {
                TimeFormat.writePadded(value, width: width, to: $0.baseAddress!)
            }
            #expect(String(decoding: bytes[..<written], as: UTF8.self) == String(format: "%0*llu", width, value))
        }
    }
}

/// The digit count from the bit length against Swift's own decimal text, at every power of ten and either side of it,
/// at every power of two and either side of it, and at random values of every bit length.
@Test func decimalDigitsAreTheTextsLength() {
    var values: [UInt64] = [0, 1, 9, UInt64.max, UInt64.max - 1]
    var power: UInt64 = 1
    for _ in 0..<20 {
        values += [power - 1, power, power + 1]
        if power > UInt64.max / 10 { break }
        power *= 10
    }
    for shift in 0..<64 {
        let two = UInt64(1) << UInt64(shift)
        values += [two - 1, two, two + 1]
    }
    var generator = SystemRandomNumberGenerator()
    for bits in 1...64 {
        for _ in 0..<50 {
            let mask = bits == 64 ? UInt64.max : (UInt64(1) << UInt64(bits)) - 1
            values.append(generator.next() & mask | (UInt64(1) << UInt64(bits - 1)))
        }
    }
    for value in values {
        #expect(TimeFormat.decimalDigits(value) == String(value).count, "\(value)")
        var bytes = [UInt8](repeating: 0, count: 20)
        let written = bytes.withUnsafeMutableBufferPointer { TimeFormat.writeDecimal(value, to: $0.baseAddress!) }
        #expect(String(decoding: bytes[..<written], as: UTF8.self) == String(value), "\(value)")
    }
}
