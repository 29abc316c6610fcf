import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The progress line of a long read, on standard error when it is a terminal: bytes and packets read, what was
/// found, the rate, and for files of known size the share done and the time left. Redrawn in place at most five
/// times a second and cleared at the end; nothing at all when standard error is not a terminal, or when the records
/// themselves stream to the same terminal on standard output (they show the progress).
final class ProgressLine {
    private let enabled: Bool
    private let total: UInt64?
    private let found: String
    private let start = ProgressLine.now()
    private var lastDraw: UInt64 = 0
    private var drawn = false

    /// - Parameters:
    ///   - paths: the files read (`-` for standard input: its size is unknown).
    ///   - found: what the count passed to ``update(packets:bytes:found:)`` counts (`requests`, `connections`).
    ///   - streamsToTerminal: whether records are written to standard output as they are found.
    init(paths: [String], found: String, streamsToTerminal: Bool) {
        self.found = found
        self.enabled =
            isatty(STDERR_FILENO) != 0 && !(streamsToTerminal && isatty(STDOUT_FILENO) != 0)
            && ProcessInfo.processInfo.environment["TERM"] != "dumb"
        var sum: UInt64 = 0
        var known = true
        for path in paths {
            var info = stat()
            if path == "-" || stat(path, &info) != 0 || (info.st_mode & S_IFMT) != S_IFREG {
                known = false
            } else {
                sum &+= UInt64(info.st_size)
            }
        }
        self.total = known && sum > 0 ? sum : nil
    }

    /// Redraws the line (rate-limited).
    func update(packets: Int, bytes: UInt64, found count: Int) {
        guard enabled else { return }
        let now = Self.now()
        guard now &- lastDraw >= 200_000_000 else { return }
        lastDraw = now
        writeStandardError(
            "\r\u{1B}[K"
                + Self.text(
                    packets: packets,
                    bytes: bytes,
                    total: total,
                    found: count,
                    noun: found,
                    elapsed: now &- start
                )
        )
        drawn = true
    }

    /// Erases the line, if one was drawn.
    func clear() {
        if drawn { writeStandardError("\r\u{1B}[K") }
        drawn = false
    }

    /// `412 MB of 1.03 GB (40%), 1.2 M packets, 3,456 requests, 850 k packets/s, 3 s left`.
    static func text(packets: Int, bytes: UInt64, total: UInt64?, found: Int, noun: String, elapsed: UInt64) -> String {
        let seconds = max(Double(elapsed) / 1e9, 0.001)
        var parts: [String] = []
        if let total, total > 0 {
            let share = min(Double(bytes) / Double(total), 1)
            parts.append("\(size(bytes)) of \(size(total)) (\(Int(share * 100))%)")
        } else {
            parts.append(size(bytes))
        }
        parts.append("\(count(Double(packets))) packets")
        parts.append("\(found) \(noun)")
        parts.append("\(count(Double(packets) / seconds)) packets/s")
        if let total, bytes > 0, bytes < total {
            let left = Double(total - bytes) / (Double(bytes) / seconds)
            parts.append(left < 60 ? "\(Int(left.rounded(.up))) s left" : "\(Int((left / 60).rounded(.up))) min left")
        }
        return parts.joined(separator: ", ")
    }

    /// 1.03 GB, 412 MB, 96 kB, 512 B (decimal units, as `ls -lh --si` and tcpdump's status).
    static func size(_ bytes: UInt64) -> String {
        let value = Double(bytes)
        if value >= 1e9 { return String(format: "%.2f GB", value / 1e9) }
        if value >= 1e6 { return String(format: "%.0f MB", value / 1e6) }
        if value >= 1e3 { return String(format: "%.0f kB", value / 1e3) }
        return "\(bytes) B"
    }

    /// 1.2 M, 850 k, 999.
    static func count(_ value: Double) -> String {
        if value >= 1e6 { return String(format: "%.1f M", value / 1e6) }
        if value >= 1e3 { return String(format: "%.0f k", value / 1e3) }
        return String(Int(value))
    }

    private static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
    }
}
