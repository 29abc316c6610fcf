/// Formats packet times and durations the way Zeek's logs do.
public enum FlowTime {
    /// Nanoseconds since the epoch as seconds with 6 decimals ("1362692526.939527").
    public static func timestamp(_ nanoseconds: Int64) -> String {
        self.seconds(nanoseconds)
    }

    /// Nanoseconds as seconds with 6 decimals ("0.070248"); negative values keep their sign.
    public static func seconds(_ nanoseconds: Int64) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        self.appendSeconds(nanoseconds, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends ``seconds(_:)``'s text to `bytes`, digit by digit (no String built): for writers of many lines.
    public static func appendSeconds(_ nanoseconds: Int64, to bytes: inout [UInt8]) {
        let micros = (nanoseconds.magnitude + 500) / 1_000
        if nanoseconds < 0 { bytes.append(UInt8(ascii: "-")) }
        self.appendDecimal(micros / 1_000_000, to: &bytes)
        bytes.append(UInt8(ascii: "."))
        var fraction = micros % 1_000_000
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: 6))
        for place in stride(from: 5, through: 0, by: -1) {
            bytes[start + place] = UInt8(truncatingIfNeeded: 0x30 + fraction % 10)
            fraction /= 10
        }
    }

    /// Appends `value` in decimal to `bytes`.
    public static func appendDecimal(_ value: UInt64, to bytes: inout [UInt8]) {
        let start = bytes.count
        var value = value
        repeat {
            bytes.append(UInt8(truncatingIfNeeded: 0x30 + value % 10))
            value /= 10
        } while value > 0
        bytes[start...].reverse()
    }

    /// Nanoseconds as a short human duration: "850us", "12.3ms", "1.50s".
    public static func human(_ nanoseconds: Int64) -> String {
        let value = Double(nanoseconds)
        if abs(value) < 1_000_000 { return "\(Int64((value / 1_000).rounded()))us" }
        if abs(value) < 1_000_000_000 {
            let ms = (value / 100_000).rounded() / 10
            return "\(ms)ms"
        }
        let s = (value / 10_000_000).rounded() / 100
        return "\(s)s"
    }
}
