/// The one formatter of capture times and durations: every output of hoptrace (records, traces, verdict sentences)
/// writes its instants and durations through it.
///
/// Forms:
/// - RFC 3339 UTC with nanoseconds, `2026-11-22T14:02:03.123456789Z` (JSON instants, text records);
/// - time of day with microseconds, `14:02:03.123456` (as tcpdump prints it);
/// - seconds with nine decimals, `1795361169.514824000` (Zeek's `time` and `interval` in TSV);
/// - milliseconds as a JSON number with up to six decimals, `0.790123` (JSON durations: nanosecond precision);
/// - a duration for people: `790 µs`, `15.5 ms`, `1.50 s`.
///
/// Each has a String form and a byte form that writes into the caller's memory (``maxWrittenBytes`` at most): the
/// byte forms build no String and use no floating point, for writers of many lines. Any `Int64` is accepted:
/// nothing traps, whatever a capture's timestamps or their differences hold (an `Int64` of nanoseconds spans the
/// years 1677 to 2262, always four digits).
package enum TimeFormat {
    /// The most bytes any `write…` function writes.
    package static let maxWrittenBytes = 40

    // MARK: - Strings

    /// RFC 3339 UTC with nanoseconds: `2026-11-22T14:02:03.123456789Z`.
    package static func rfc3339(_ nanoseconds: Int64) -> String {
        self.string { self.writeRFC3339(nanoseconds, to: $0) }
    }

    /// Time of day (UTC) with microseconds, as tcpdump prints it: `14:02:03.123456`.
    package static func timeOfDay(_ nanoseconds: Int64) -> String {
        self.string { self.writeTimeOfDay(nanoseconds, to: $0) }
    }

    /// A duration for people: `850 µs`, `1.25 ms`, `12.3 ms`, `1.50 s`; negative values keep their sign.
    ///
    /// Below 1 ms in whole microseconds, below 10 ms in milliseconds with two decimals, below 1 s with one, then
    /// seconds with two; each rounded half away from zero, the unit chosen after rounding (999.6 µs is `1.00 ms`).
    package static func duration(_ nanoseconds: Int64) -> String {
        self.string { self.writeDuration(nanoseconds, to: $0) }
    }

    /// Milliseconds as a JSON number, exact to the nanosecond: `0.790123`, `1500`, `-0.000001`.
    package static func milliseconds(_ nanoseconds: Int64) -> String {
        self.string { self.writeMilliseconds(nanoseconds, to: $0) }
    }

    /// Seconds with nine decimals: `1795361169.514824000`, `0.000063000`, `-1.500000000`.
    package static func seconds(_ nanoseconds: Int64) -> String {
        self.string { self.writeSeconds(nanoseconds, to: $0) }
    }

    /// A decimal with a fixed number of digits after the point, rounded half away from zero (for SVG coordinates
    /// and percentages, not for times).
    package static func fixed(_ value: Double, _ decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<max(0, min(decimals, 18)) { scale *= 10 }
        let scaledDouble = (abs(value) * scale).rounded()
        // Saturate: a value beyond Int64 (or not finite) prints as the largest one, never traps.
        let scaled =
            scaledDouble.isNaN ? 0 : scaledDouble.isFinite && scaledDouble < 9.2e18 ? Int64(scaledDouble) : Int64.max
        let whole = scaled / Int64(scale)
        let fraction = scaled % Int64(scale)
        let sign = value < 0 && scaled != 0 ? "-" : ""
        guard decimals > 0 else { return "\(sign)\(whole)" }
        let digits = String(fraction)
        return "\(sign)\(whole)." + String(repeating: "0", count: max(0, decimals - digits.utf8.count)) + digits
    }

    // MARK: - Bytes

    /// Two digits per entry, `00` to `99`: numbers are written a pair of digits at a time.
    @usableFromInline static let digitPairs: StaticString = """
        0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546474849\
        5051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899
        """

    /// Writes the last `count` decimal digits of `value` at `out` (zero-filled on the left), two at a time.
    @inlinable
    static func writeDigits(_ value: UInt64, count: Int, to out: UnsafeMutablePointer<UInt8>) {
        let pairs = self.digitPairs.utf8Start
        var rest = value
        var at = count
        while at >= 2 {
            let pair = Int(truncatingIfNeeded: rest % 100) &* 2
            rest /= 100
            at &-= 2
            out[at] = pairs[pair]
            out[at &+ 1] = pairs[pair &+ 1]
        }
        if at == 1 { out[0] = UInt8(truncatingIfNeeded: 0x30 &+ rest % 10) }
    }

    /// Writes `value` in decimal at `out` (room for 20 bytes); returns the bytes written.
    @inlinable
    package static func writeDecimal(_ value: UInt64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        let digits = self.decimalDigits(value)
        self.writeDigits(value, count: digits, to: out)
        return digits
    }

    /// How many decimal digits `value` has (1 for 0).
    @inlinable
    static func decimalDigits(_ value: UInt64) -> Int {
        // From the bit length: 1233 / 4096 is just above log10(2), so `guess` is the digit count or one less, and
        // one comparison with 10^guess tells which (a loop over the powers of ten took ~4 instructions a digit, and a
        // trace writes a dozen 19-digit nanosecond counts).
        let bits = 64 &- value.leadingZeroBitCount
        let guess = (bits &* 1233) >> 12
        let digits = guess &+ (value >= Self.powerOfTen(guess) ? 1 : 0)
        return max(1, digits)
    }

    /// 10^`exponent` for `exponent` in 0...19.
    @inlinable
    static func powerOfTen(_ exponent: Int) -> UInt64 {
        Self.powersOfTen.withUnsafeBufferPointer { $0[exponent] }
    }

    /// 10^0 ... 10^19 (the largest power of ten a `UInt64` holds).
    @usableFromInline static let powersOfTen: [UInt64] = (0..<20).map { exponent in
        (0..<exponent).reduce(UInt64(1)) { power, _ in power * 10 }
    }

    /// Writes `value` in decimal with at least `width` digits (zero-padded) at `out`; returns the bytes written.
    @inlinable
    package static func writePadded(_ value: UInt64, width: Int, to out: UnsafeMutablePointer<UInt8>) -> Int {
        // The common case, a value that fits the width: the digits from the right, no counting.
        var limit: UInt64 = 1
        var digits = 0
        while digits < width && digits < 19 {
            limit &*= 10
            digits += 1
        }
        guard width > 0, width <= 19, value < limit else {
            // Wider than the value: zeros, then its digits (a width past 19 digits counted past UInt64 before).
            let digits = self.decimalDigits(value)
            let zeros = max(0, width - digits)
            out.update(repeating: UInt8(ascii: "0"), count: zeros)
            self.writeDigits(value, count: digits, to: out + zeros)
            return zeros + digits
        }
        self.writeDigits(value, count: width, to: out)
        return width
    }

    /// Writes the first 20 bytes of ``rfc3339(_:)`` for whole `seconds` since the epoch (`2026-11-22T14:02:03.`);
    /// returns 20. With ``writeRFC3339Fraction(_:to:)``, for writers that keep the date of the last second.
    package static func writeRFC3339Second(_ seconds: Int64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        let civil = self.civilFields(seconds)
        // Int64 nanoseconds reach the years 1677...2262: four digits, never negative.
        var at = self.writePadded(UInt64(clamping: civil.year), width: 4, to: out)
        out[at] = UInt8(ascii: "-")
        at += 1
        at += self.writePadded(UInt64(clamping: civil.month), width: 2, to: out + at)
        out[at] = UInt8(ascii: "-")
        at += 1
        at += self.writePadded(UInt64(clamping: civil.day), width: 2, to: out + at)
        out[at] = UInt8(ascii: "T")
        at += 1
        at += self.writeClock(civil.secondOfDay, to: out + at)
        out[at] = UInt8(ascii: ".")
        return at + 1
    }

    /// Writes the last 10 bytes of ``rfc3339(_:)``: nine digits of `fraction` (0 ..< 1e9) and `Z`; returns 10.
    package static func writeRFC3339Fraction(_ fraction: Int64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        let at = self.writePadded(UInt64(clamping: fraction), width: 9, to: out)
        out[at] = UInt8(ascii: "Z")
        return at + 1
    }

    /// Writes ``rfc3339(_:)``'s 30 bytes at `out`; returns 30.
    package static func writeRFC3339(_ nanoseconds: Int64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        let (seconds, fraction) = self.splitSeconds(nanoseconds)
        let at = self.writeRFC3339Second(seconds, to: out)
        return at + self.writeRFC3339Fraction(fraction, to: out + at)
    }

    /// Writes ``timeOfDay(_:)``'s 15 bytes at `out`; returns 15.
    package static func writeTimeOfDay(_ nanoseconds: Int64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        let (seconds, fraction) = self.splitSeconds(nanoseconds)
        var at = self.writeClock(self.civilFields(seconds).secondOfDay, to: out)
        out[at] = UInt8(ascii: ".")
        at += 1
        return at + self.writePadded(UInt64(clamping: fraction / 1000), width: 6, to: out + at)
    }

    /// Writes ``seconds(_:)``'s text at `out`; returns the bytes written.
    package static func writeSeconds(_ nanoseconds: Int64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        self.writeFixed(nanoseconds, unit: 1_000_000_000, decimals: 9, to: out)
    }

    /// Writes `nanoseconds` as milliseconds with exactly six decimals (`0.790123`, `1500.000000`) at `out` (room for
    /// 28 bytes); returns the bytes written.
    package static func writeMillisecondsSixDecimals(_ nanoseconds: Int64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        self.writeFixed(nanoseconds, unit: 1_000_000, decimals: 6, to: out)
    }

    /// `nanoseconds` in `unit`s with exactly `decimals` digits after the point (`unit` is 10^`decimals` ns).
    private static func writeFixed(
        _ nanoseconds: Int64,
        unit: UInt64,
        decimals: Int,
        to out: UnsafeMutablePointer<UInt8>
    ) -> Int {
        var at = self.writeSign(nanoseconds, to: out)
        let magnitude = nanoseconds.magnitude
        at += self.writeDecimal(magnitude / unit, to: out + at)
        out[at] = UInt8(ascii: ".")
        at += 1
        return at + self.writePadded(magnitude % unit, width: decimals, to: out + at)
    }

    /// Writes ``milliseconds(_:)``'s text at `out`; returns the bytes written.
    package static func writeMilliseconds(_ nanoseconds: Int64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        var at = self.writeSign(nanoseconds, to: out)
        let magnitude = nanoseconds.magnitude
        at += self.writeDecimal(magnitude / 1_000_000, to: out + at)
        var fraction = magnitude % 1_000_000
        guard fraction != 0 else { return at }
        var places = 6
        while fraction % 10 == 0 {
            fraction /= 10
            places -= 1
        }
        out[at] = UInt8(ascii: ".")
        at += 1
        return at + self.writePadded(fraction, width: places, to: out + at)
    }

    /// Writes ``duration(_:)``'s text at `out`; returns the bytes written.
    package static func writeDuration(_ nanoseconds: Int64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        // What rounds to zero has no sign.
        var at = nanoseconds.magnitude < 500 ? 0 : self.writeSign(nanoseconds, to: out)
        // Magnitudes up to 2^63 and half-units up to 5e6: the sums stay far below 2^64.
        let magnitude = nanoseconds.magnitude
        let micros = (magnitude + 500) / 1_000
        if micros < 1_000 {
            at += self.writeDecimal(micros, to: out + at)
            return at + self.writeUnit(" µs", to: out + at)
        }
        let hundredthsOfMs = (magnitude + 5_000) / 10_000
        if hundredthsOfMs < 1_000 {
            at += self.writeFraction(hundredthsOfMs, decimals: 2, to: out + at)
            return at + self.writeUnit(" ms", to: out + at)
        }
        let tenthsOfMs = (magnitude + 50_000) / 100_000
        if tenthsOfMs < 10_000 {
            at += self.writeFraction(tenthsOfMs, decimals: 1, to: out + at)
            return at + self.writeUnit(" ms", to: out + at)
        }
        let hundredthsOfSecond = (magnitude + 5_000_000) / 10_000_000
        at += self.writeFraction(hundredthsOfSecond, decimals: 2, to: out + at)
        return at + self.writeUnit(" s", to: out + at)
    }

    /// Appends what a `write…` function writes to `bytes` (for writers building byte arrays).
    @inlinable
    package static func append(to bytes: inout [UInt8], _ write: (UnsafeMutablePointer<UInt8>) -> Int) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: self.maxWrittenBytes) { scratch in
            guard let base = scratch.baseAddress else { return }
            let count = write(base)
            bytes.append(contentsOf: UnsafeBufferPointer(start: base, count: count))
        }
    }

    /// `end - start` in nanoseconds, saturated at `Int64`'s ends instead of trapping: times from the wire are
    /// untrusted, and a duration computed from two of them must never stop the program.
    @inlinable
    package static func difference(_ end: Int64, _ start: Int64) -> Int64 {
        let (value, overflow) = end.subtractingReportingOverflow(start)
        guard overflow else { return value }
        return end < start ? .min : .max
    }

    // MARK: - Calendar

    /// Whole seconds (floored) and the nanoseconds after them (0 ..< 1e9), also for times before 1970.
    package static func splitSeconds(_ nanoseconds: Int64) -> (Int64, Int64) {
        var seconds = nanoseconds / 1_000_000_000
        var fraction = nanoseconds % 1_000_000_000
        if fraction < 0 {
            fraction += 1_000_000_000
            seconds -= 1
        }
        return (seconds, fraction)
    }

    /// Year, month, day and second of the day for seconds since the epoch (UTC), by Howard Hinnant's
    /// days-to-civil algorithm.
    package static func civilFields(_ seconds: Int64) -> (year: Int64, month: Int64, day: Int64, secondOfDay: Int64) {
        var days = seconds / 86_400
        var rest = seconds % 86_400
        if rest < 0 {
            rest += 86_400
            days -= 1
        }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day, rest)
    }

    // MARK: - Pieces

    /// `HH:MM:SS` for a second of the day; returns 8.
    private static func writeClock(_ secondOfDay: Int64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        let second = UInt64(clamping: secondOfDay)
        var at = self.writePadded(second / 3600, width: 2, to: out)
        out[at] = UInt8(ascii: ":")
        at += 1
        at += self.writePadded(second / 60 % 60, width: 2, to: out + at)
        out[at] = UInt8(ascii: ":")
        at += 1
        return at + self.writePadded(second % 60, width: 2, to: out + at)
    }

    /// `-` for a negative value, nothing otherwise.
    private static func writeSign(_ value: Int64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        guard value < 0 else { return 0 }
        out[0] = UInt8(ascii: "-")
        return 1
    }

    /// `scaled` with `decimals` digits after the point: 1234 with 2 is `12.34`.
    private static func writeFraction(_ scaled: UInt64, decimals: Int, to out: UnsafeMutablePointer<UInt8>) -> Int {
        let scale: UInt64 = decimals == 1 ? 10 : 100
        var at = self.writeDecimal(scaled / scale, to: out)
        out[at] = UInt8(ascii: ".")
        at += 1
        return at + self.writePadded(scaled % scale, width: decimals, to: out + at)
    }

    /// Writes a short unit (ASCII or µs) at `out`.
    private static func writeUnit(_ unit: StaticString, to out: UnsafeMutablePointer<UInt8>) -> Int {
        unit.withUTF8Buffer { utf8 in
            out.update(from: utf8.baseAddress!, count: utf8.count)
            return utf8.count
        }
    }

    /// A String from a byte writer.
    private static func string(_ write: (UnsafeMutablePointer<UInt8>) -> Int) -> String {
        String(unsafeUninitializedCapacity: self.maxWrittenBytes) { buffer in
            guard let base = buffer.baseAddress else { return 0 }
            return write(base)
        }
    }
}
