/// Text forms of capture times and durations.
public enum TimeFormat {
    /// RFC 3339 UTC with nanoseconds: `2026-11-22T14:02:03.123456789Z`.
    public static func rfc3339(_ nanoseconds: Int64) -> String {
        let (seconds, fraction) = splitSeconds(nanoseconds)
        let c = civilFields(seconds)
        guard (0...9999).contains(c.year) else {
            let (date, time) = civil(seconds)
            return "\(date)T\(time).\(pad(fraction, 9))Z"
        }
        // Written as bytes in one buffer: trace JSON prints several of these per request.
        return String(unsafeUninitializedCapacity: 30) { buffer in
            var index = 0
            func put(_ value: Int64, _ width: Int) {
                var value = value
                var at = index + width - 1
                while at >= index {
                    buffer[at] = UInt8(truncatingIfNeeded: 0x30 + value % 10)
                    value /= 10
                    at -= 1
                }
                index += width
            }
            func put(_ byte: UInt8) {
                buffer[index] = byte
                index += 1
            }
            put(c.year, 4)
            put(UInt8(ascii: "-"))
            put(c.month, 2)
            put(UInt8(ascii: "-"))
            put(c.day, 2)
            put(UInt8(ascii: "T"))
            put(c.secondOfDay / 3600, 2)
            put(UInt8(ascii: ":"))
            put(c.secondOfDay / 60 % 60, 2)
            put(UInt8(ascii: ":"))
            put(c.secondOfDay % 60, 2)
            put(UInt8(ascii: "."))
            put(fraction, 9)
            put(UInt8(ascii: "Z"))
            return index
        }
    }

    /// Time of day with microseconds, as tcpdump prints it: `14:02:03.123456`.
    public static func timeOfDay(_ nanoseconds: Int64) -> String {
        let (seconds, fraction) = splitSeconds(nanoseconds)
        return "\(civil(seconds).time).\(pad(fraction / 1000, 6))"
    }

    /// A duration for people: `850 µs`, `12.3 ms`, `1.25 s`.
    public static func duration(_ nanoseconds: Int64) -> String {
        let value = Double(nanoseconds)
        if nanoseconds >= 1_000_000_000 { return fixed(value / 1e9, 2) + " s" }
        if nanoseconds >= 10_000_000 { return fixed(value / 1e6, 1) + " ms" }
        if nanoseconds >= 1_000_000 { return fixed(value / 1e6, 2) + " ms" }
        return fixed(value / 1e3, 0) + " µs"
    }

    /// A decimal with a fixed number of digits after the point (no Foundation formatting).
    public static func fixed(_ value: Double, _ decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        // Saturated (and NaN as 0): a duration or coordinate from absurd packet times must print, not trap.
        let magnitude = (abs(value) * scale).rounded()
        let scaled = magnitude.isNaN ? 0 : magnitude >= 9.2e18 ? Int64(9.2e18) : Int64(magnitude)
        let whole = scaled / Int64(scale)
        let fraction = scaled % Int64(scale)
        let sign = value < 0 && scaled != 0 ? "-" : ""
        return decimals == 0 ? "\(sign)\(whole)" : "\(sign)\(whole).\(pad(fraction, decimals))"
    }

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

    static func pad<T: BinaryInteger>(_ value: T, _ width: Int) -> String {
        let digits = value.description
        return digits.utf8.count >= width
            ? digits : String(repeating: "0", count: width - digits.utf8.count) + digits
    }

    /// Calendar date and time of day for seconds since the epoch (UTC), by Howard Hinnant's days-to-civil algorithm.
    static func civil(_ seconds: Int64) -> (date: String, time: String) {
        let c = civilFields(seconds)
        let rest = c.secondOfDay
        let date = "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))"
        let time = "\(pad(rest / 3600, 2)):\(pad(rest / 60 % 60, 2)):\(pad(rest % 60, 2))"
        return (date, time)
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
}
