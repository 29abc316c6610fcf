import Testing

@testable import HoptraceFlows

/// FlowTime's digit-by-digit writers against the text Swift's own number printing gives.
struct FlowTimeTests {
    /// Durations around each unit's edges, negatives, extremes, and a spread of pseudo-random ones.
    static let durations: [Int64] = {
        var values: [Int64] = [
            0, 1, 499, 500, 999, 1_000, 1_499, 1_500, 999_499, 999_500, 999_999, 1_000_000, 1_049_999, 1_050_000,
            12_345_678, 99_950_000, 999_949_999, 999_950_000, 999_999_999, 1_000_000_000, 1_004_999_999,
            1_005_000_000, 1_250_000_000, 1_500_000_000, 10_000_000_000, 123_456_789_012, 86_400_000_000_000,
            Int64.max, Int64.min, Int64.min + 1,
        ]
        values += values.filter { $0 != Int64.min }.map { -$0 }
        var random: UInt64 = 12_345
        for _ in 0..<20_000 {
            random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let magnitude = Int64(random >> 1) >> Int64(random % 62)
            values.append(random & 1 == 0 ? magnitude : -magnitude)
        }
        return values
    }()

    /// The format as it was first written, with Swift's Double printing.
    static func referenceHuman(_ nanoseconds: Int64) -> String {
        let value = Double(nanoseconds)
        if abs(value) < 1_000_000 { return "\(Int64((value / 1_000).rounded()))us" }
        if abs(value) < 1_000_000_000 { return "\((value / 100_000).rounded() / 10)ms" }
        return "\((value / 10_000_000).rounded() / 100)s"
    }

    @Test func humanMatchesDoublePrinting() {
        for value in Self.durations {
            #expect(FlowTime.human(value) == Self.referenceHuman(value), "\(value)")
        }
        #expect(FlowTime.human(850_000) == "850us")
        #expect(FlowTime.human(12_340_000) == "12.3ms")
        #expect(FlowTime.human(1_500_000_000) == "1.5s")
        #expect(FlowTime.human(1_250_000_000) == "1.25s")
    }

    @Test func secondsAndDecimals() {
        for value in Self.durations {
            let micros = (value.magnitude + 500) / 1_000
            let fraction = String(micros % 1_000_000)
            let expected =
                (value < 0 ? "-" : "") + String(micros / 1_000_000) + "."
                + String(repeating: "0", count: 6 - fraction.count) + fraction
            #expect(FlowTime.seconds(value) == expected, "\(value)")
            var bytes: [UInt8] = [UInt8(ascii: "x")]
            FlowTime.appendDecimal(value.magnitude, to: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) == "x" + String(value.magnitude))
        }
        #expect(FlowTime.timestamp(1_362_692_526_939_527_000) == "1362692526.939527")
    }
}
