import Foundation

/// The C library's calendar, the independent fact the time formatters are checked against.
public enum Gmtime {
    /// An instant in nanoseconds since the epoch as `gmtime_r(3)` splits it, with the nanoseconds after the whole
    /// second (0 ..< 1e9, also before 1970).
    public static func parts(_ nanoseconds: Int64) -> (parts: tm, fraction: Int64) {
        var seconds = nanoseconds / 1_000_000_000
        var fraction = nanoseconds % 1_000_000_000
        if fraction < 0 {
            fraction += 1_000_000_000
            seconds -= 1
        }
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        return (parts, fraction)
    }

    /// The instant as RFC 3339 with nanoseconds, UTC, spelled from ``parts(_:)`` by `printf`.
    public static func rfc3339(_ nanoseconds: Int64) -> String {
        let (parts, fraction) = self.parts(nanoseconds)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ",
            parts.tm_year + 1900,
            parts.tm_mon + 1,
            parts.tm_mday,
            parts.tm_hour,
            parts.tm_min,
            parts.tm_sec,
            fraction
        )
    }
}
