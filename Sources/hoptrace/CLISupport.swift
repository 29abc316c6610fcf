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

    /// As help shows a default: `1s`, `500ms`.
    var defaultValueDescription: String {
        for (suffix, scale) in [("h", Int64(3600e9)), ("m", 60_000_000_000), ("s", 1_000_000_000), ("ms", 1_000_000)]
        where nanoseconds >= scale && nanoseconds % scale == 0 {
            return "\(nanoseconds / scale)\(suffix)"
        }
        return "\(nanoseconds)ns"
    }
}

/// Durations in option values that are read as text.
enum DurationText {
    static func nanoseconds(_ text: String) -> Int64? { DurationArgument(argument: text)?.nanoseconds }
}

/// `--links [NODE=]FILE` and `--ifname [NODE:]INDEX=NAME`: names for the interface indexes of `tcpdump -i any`
/// (SLL2) captures; with several nodes, each node's own.
struct InterfaceNameOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "A file holding the captured node's `ip -j link` output, to name SLL2 interface indexes; NODE=FILE for "
                + "one node of several (repeatable).",
            valueName: "[node=]file"
        )
    )
    var links: [String] = []

    @Option(
        name: .customLong("ifname"),
        help: "Name an SLL2 interface index: INDEX=NAME, or NODE:INDEX=NAME (repeatable)."
    )
    var ifNames: [String] = []

    func validate() throws {
        for entry in ifNames where IfIndexNames.parse(entry) == nil {
            throw ValidationError("--ifname '\(entry)' is not INDEX=NAME; e.g. --ifname 3=cni0 or node-a:3=cni0")
        }
    }

    /// The names given for every node (`--ifname` over `--links`).
    func load() throws -> [Int32: String] { try loadAll().shared }

    /// The names given: for every node, and per node.
    func loadAll() throws -> (shared: [Int32: String], perNode: [String: [Int32: String]]) {
        var shared: [Int32: String] = [:]
        var perNode: [String: [Int32: String]] = [:]
        for entry in links {
            var node: String?
            var file = entry
            // NODE=FILE, unless the whole entry is a file that exists (a path may hold '=').
            if !FileManager.default.fileExists(atPath: entry), let equals = entry.firstIndex(of: "=") {
                node = String(entry[..<equals])
                file = String(entry[entry.index(after: equals)...])
            }
            let names: [Int32: String]
            do {
                names = try IfIndexNames.load(ipLinkJSON: file)
            } catch {
                throw CLIFailure("\(file): \(error); write it with `ip -j link > \(file)` on the node")
            }
            if let node { perNode[node, default: [:]].merge(names) { $1 } } else { shared.merge(names) { $1 } }
        }
        for entry in ifNames {
            guard let (node, index, name) = IfIndexNames.parse(entry) else { continue }
            if let node { perNode[node, default: [:]][index] = name } else { shared[index] = name }
        }
        return (shared, perNode)
    }
}

/// Interface index names for SLL2 captures.
enum IfIndexNames {
    /// `3=cni0` → (nil, 3, "cni0"); `node-a:3=cni0` → ("node-a", 3, "cni0").
    static func parse(_ entry: String) -> (String?, Int32, String)? {
        let parts = entry.split(separator: "=", maxSplits: 1)
        guard parts.count == 2, !parts[1].isEmpty else { return nil }
        var node: String?
        var indexText = parts[0]
        if let colon = indexText.lastIndex(of: ":") {
            node = String(indexText[..<colon])
            indexText = indexText[indexText.index(after: colon)...]
            if node?.isEmpty == true { return nil }
        }
        guard let index = Int32(indexText) else { return nil }
        return (node, index, String(parts[1]))
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
