import ArgumentParser
import Foundation
import HoptraceCapture
import HoptraceCorrelate
import HoptraceDecode
import HoptraceFlows
import HoptraceKube
import HoptraceReport

/// A run-time failure the user can act on: printed as one line `hoptrace: <message>`, exit status 1.
struct CLIFailure: Error, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// A usage error found once the files are open (a filter libpcap cannot compile for a file's link type): printed
/// as one line `hoptrace: <message>`, exit status 2, as the errors found while parsing the options.
struct UsageFailure: Error, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// A duration on the command line as people write it: `200ms`, `1.5s`, `800us`, `2m`, `1h`; a bare number is
/// seconds.
struct DurationArgument: ExpressibleByArgument, Sendable {
    var nanoseconds: Int64

    init?(argument: String) {
        let units: [(String, Double)] = [
            ("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
        ]
        var number = Substring(argument)
        var scale = 1e9
        for (suffix, value) in units where argument.hasSuffix(suffix) {
            number = argument.dropLast(suffix.count)
            scale = value
            break
        }
        guard let value = Double(number), value >= 0, value.isFinite, value * scale < 9.2e18 else { return nil }
        self.nanoseconds = Int64(value * scale)
    }
}

/// Durations in option values that are read as text.
enum DurationText {
    static func nanoseconds(_ text: String) -> Int64? { DurationArgument(argument: text)?.nanoseconds }
}

/// `--links FILE` and `--ifname INDEX=NAME`: names for the interface indexes of `tcpdump -i any` (SLL2) captures.
struct InterfaceNameOptions: ParsableArguments {
    @Option(help: "A file holding the captured node's `ip -j link` output, to name SLL2 interface indexes.")
    var links: String?

    @Option(name: .customLong("ifname"), help: "Name an SLL2 interface index: INDEX=NAME (repeatable).")
    var ifNames: [String] = []

    func validate() throws {
        for entry in ifNames where IfIndexNames.parse(entry) == nil {
            throw ValidationError("--ifname '\(entry)' is not INDEX=NAME; e.g. --ifname 3=cni0")
        }
    }

    /// The names given, `--ifname` over `--links`.
    func load() throws -> [Int32: String] {
        var names: [Int32: String] = [:]
        if let links {
            do {
                names = try IfIndexNames.load(ipLinkJSON: links)
            } catch {
                throw CLIFailure("\(links): \(error); write it with `ip -j link > \(links)` on the node")
            }
        }
        for entry in ifNames { if let (index, name) = IfIndexNames.parse(entry) { names[index] = name } }
        return names
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
