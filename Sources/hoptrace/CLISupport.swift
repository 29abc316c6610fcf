import ArgumentParser
import Foundation

/// A run-time failure the user can act on: printed as one line `hoptrace: <message>`, exit status 1.
struct CLIFailure: Error, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// Durations as people write them on a command line: `200ms`, `1.5s`, `800us`, `2m`.
enum DurationText {
    static func nanoseconds(_ text: String) -> Int64? {
        let units: [(String, Double)] = [
            ("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
        ]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let value = Double(text.dropLast(suffix.count)), value >= 0, value.isFinite else { return nil }
            return Int64(value * scale)
        }
        return nil
    }
}

/// Interface index names for SLL2 captures.
enum IfIndexNames {
    /// `3=cni0` → (3, "cni0").
    static func parse(_ entry: String) -> (Int32, String)? {
        let parts = entry.split(separator: "=", maxSplits: 1)
        guard parts.count == 2, let index = Int32(parts[0]), !parts[1].isEmpty else { return nil }
        return (index, String(parts[1]))
    }

    struct BadFile: Error, CustomStringConvertible {
        var description: String
    }

    /// The `ifindex` → `ifname` pairs of `ip -j link` output.
    static func load(ipLinkJSON path: String) throws -> [Int32: String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BadFile(description: "cannot read the file")
        }
        guard let links = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
            throw BadFile(description: "not the JSON array `ip -j link` prints")
        }
        var names: [Int32: String] = [:]
        for link in links {
            if let index = link["ifindex"] as? Int, let name = link["ifname"] as? String { names[Int32(index)] = name }
        }
        return names
    }
}

/// Buffered writes to standard output.
struct StandardOutput {
    mutating func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
