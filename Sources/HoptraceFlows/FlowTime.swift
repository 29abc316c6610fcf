/// Formats packet times and durations the way Zeek's logs do.
///
/// Each format has a String form and a byte form that writes into the caller's memory (for writers of many lines:
/// no String, no Float64 printing).
public enum FlowTime {
    /// The most bytes ``writeSeconds(_:to:)``, ``writeDecimal(_:to:)`` or ``writeHuman(_:to:)`` write.
    public static let maxWrittenBytes = 32

    /// Nanoseconds since the epoch as seconds with 6 decimals ("1362692526.939527").
    public static func timestamp(_ nanoseconds: Int64) -> String {
        self.seconds(nanoseconds)
    }

    /// Nanoseconds as seconds with 6 decimals ("0.070248"); negative values keep their sign.
    public static func seconds(_ nanoseconds: Int64) -> String {
        String(unsafeUninitializedCapacity: self.maxWrittenBytes) { buffer in
            guard let base = buffer.baseAddress else { return 0 }
            return self.writeSeconds(nanoseconds, to: base)
        }
    }

    /// Appends ``seconds(_:)``'s text to `bytes`, digit by digit (no String built): for writers of many lines.
    public static func appendSeconds(_ nanoseconds: Int64, to bytes: inout [UInt8]) {
        self.append(to: &bytes) { self.writeSeconds(nanoseconds, to: $0) }
    }

    /// Writes ``seconds(_:)``'s text at `out` (room for ``maxWrittenBytes``); returns the bytes written.
    @inlinable
    public static func writeSeconds(_ nanoseconds: Int64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        let micros = (nanoseconds.magnitude + 500) / 1_000
        var count = 0
        if nanoseconds < 0 {
            out[0] = UInt8(ascii: "-")
            count = 1
        }
        count += self.writeDecimal(micros / 1_000_000, to: out + count)
        out[count] = UInt8(ascii: ".")
        var fraction = micros % 1_000_000
        for place in stride(from: 6, through: 1, by: -1) {
            out[count + place] = UInt8(truncatingIfNeeded: 0x30 + fraction % 10)
            fraction /= 10
        }
        return count + 7
    }

    /// Appends `value` in decimal to `bytes`.
    public static func appendDecimal(_ value: UInt64, to bytes: inout [UInt8]) {
        self.append(to: &bytes) { self.writeDecimal(value, to: $0) }
    }

    /// Writes `value` in decimal at `out` (room for 20 bytes); returns the bytes written.
    @inlinable
    public static func writeDecimal(_ value: UInt64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        var value = value
        var at = digits
        repeat {
            at -= 1
            out[at] = UInt8(truncatingIfNeeded: 0x30 + value % 10)
            value /= 10
        } while at > 0
        return digits
    }

    /// Nanoseconds as a short human duration: "850us", "12.3ms", "1.5s" (microseconds rounded; milliseconds to one
    /// decimal and seconds to two, printed as the shortest decimal, as Swift prints a Double: "1.0s", "1.25s").
    public static func human(_ nanoseconds: Int64) -> String {
        String(unsafeUninitializedCapacity: self.maxWrittenBytes) { buffer in
            guard let base = buffer.baseAddress else { return 0 }
            return self.writeHuman(nanoseconds, to: base)
        }
    }

    /// Writes ``human(_:)``'s text at `out` (room for ``maxWrittenBytes``); returns the bytes written.
    public static func writeHuman(_ nanoseconds: Int64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        let value = Double(nanoseconds)
        if abs(value) < 1_000_000 {
            var count = self.writeSigned(Int64((value / 1_000).rounded()), to: out)
            out[count] = UInt8(ascii: "u")
            out[count + 1] = UInt8(ascii: "s")
            count += 2
            return count
        }
        if abs(value) < 1_000_000_000 {
            // Tenths of a millisecond, an integer below 10^4 in magnitude: Double(n) / 10 prints as n's digits with
            // one decimal.
            let tenths = Int64((value / 100_000).rounded())
            var count = self.writeFixed(tenths, scale: 10, to: out)
            out[count] = UInt8(ascii: "m")
            out[count + 1] = UInt8(ascii: "s")
            count += 2
            return count
        }
        // Hundredths of a second, below 10^12 in magnitude: Double(n) / 100 prints as the shortest decimal, with
        // one or two decimals.
        let hundredths = Int64((value / 10_000_000).rounded())
        var count = self.writeFixed(hundredths, scale: 100, to: out)
        out[count] = UInt8(ascii: "s")
        count += 1
        return count
    }

    /// `value` with a sign when negative.
    private static func writeSigned(_ value: Int64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        var count = 0
        if value < 0 {
            out[0] = UInt8(ascii: "-")
            count = 1
        }
        return count + self.writeDecimal(value.magnitude, to: out + count)
    }

    /// `scaled` tenths (`scale` 10) or hundredths (`scale` 100) as the shortest decimal with at least one
    /// decimal, as Swift prints `Double(scaled) / Double(scale)`: "12.3", "1.0", "1.5", "1.25".
    private static func writeFixed(_ scaled: Int64, scale: UInt64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        var count = 0
        if scaled < 0 {
            out[0] = UInt8(ascii: "-")
            count = 1
        }
        let magnitude = scaled.magnitude
        count += self.writeDecimal(magnitude / scale, to: out + count)
        out[count] = UInt8(ascii: ".")
        count += 1
        let fraction = magnitude % scale
        if scale == 10 {
            out[count] = UInt8(truncatingIfNeeded: 0x30 + fraction)
            return count + 1
        }
        out[count] = UInt8(truncatingIfNeeded: 0x30 + fraction / 10)
        count += 1
        if fraction % 10 != 0 {
            out[count] = UInt8(truncatingIfNeeded: 0x30 + fraction % 10)
            count += 1
        }
        return count
    }

    /// Appends what `write` writes (at most ``maxWrittenBytes``) to `bytes`.
    private static func append(to bytes: inout [UInt8], _ write: (UnsafeMutablePointer<UInt8>) -> Int) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: self.maxWrittenBytes) { scratch in
            guard let base = scratch.baseAddress else { return }
            let count = write(base)
            bytes.append(contentsOf: UnsafeBufferPointer(start: base, count: count))
        }
    }
}
