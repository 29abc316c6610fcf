/// Formats packet times and durations the way Zeek's logs do.
public enum FlowTime {
    /// Nanoseconds since the epoch as seconds with 6 decimals ("1362692526.939527").
    public static func timestamp(_ nanoseconds: Int64) -> String {
        self.seconds(nanoseconds)
    }

    /// Nanoseconds as seconds with 6 decimals ("0.070248"); negative values keep their sign.
    public static func seconds(_ nanoseconds: Int64) -> String {
        let negative = nanoseconds < 0
        let magnitude = nanoseconds.magnitude
        let micros = (magnitude + 500) / 1_000
        let whole = micros / 1_000_000
        let fraction = String(micros % 1_000_000)
        return (negative ? "-" : "") + "\(whole)." + String(repeating: "0", count: 6 - fraction.count) + fraction
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
