import ArgumentParser
import Foundation
import HoptraceReport

/// A run-time failure the user can act on: printed as one line `hoptrace: <message>`, exit status 1.
struct CLIFailure: Error, CustomStringConvertible {
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

/// Standard output through a 64 KiB buffer: one write(2) per buffer, not per line. Flushed before an error line
/// is printed, so that everything read before a fault is out first.
final class BufferedOutput {
    private var buffer: [UInt8] = []

    init() { buffer.reserveCapacity(1 << 16) }

    deinit { flush() }

    /// Appends text as it is.
    func write(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 16 { flush() }
    }

    /// Appends text and a newline.
    func line(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        buffer.append(0x0A)
        if buffer.count >= 1 << 16 { flush() }
    }

    /// Appends an endpoint as ``FlowEndpoint/description`` writes it, without building a String.
    func append(_ endpoint: FlowEndpoint) {
        if !endpoint.address.isIPv4 { buffer.append(UInt8(ascii: "[")) }
        endpoint.address.appendDescription(to: &buffer)
        buffer.append(contentsOf: endpoint.address.isIPv4 ? ":".utf8 : "]:".utf8)
        FlowTime.appendDecimal(UInt64(endpoint.port), to: &buffer)
    }

    /// Appends text to the current line.
    func append(_ text: String) { buffer.append(contentsOf: text.utf8) }

    /// Appends a time as ``FlowTime/timestamp(_:)`` writes it.
    func appendTimestamp(_ nanoseconds: Int64) { FlowTime.appendSeconds(nanoseconds, to: &buffer) }

    /// Appends a decimal number.
    func append(decimal: Int) {
        if decimal < 0 { buffer.append(UInt8(ascii: "-")) }
        FlowTime.appendDecimal(UInt64(decimal.magnitude), to: &buffer)
    }

    /// Appends an unsigned decimal number.
    func append(unsigned: UInt64) { FlowTime.appendDecimal(unsigned, to: &buffer) }

    /// Ends the current line.
    func endLine() {
        buffer.append(0x0A)
        if buffer.count >= 1 << 16 { flush() }
    }

    func flush() {
        guard !buffer.isEmpty else { return }
        buffer.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count, let base = raw.baseAddress {
                let written = Foundation.write(STDOUT_FILENO, base + offset, raw.count - offset)
                if written <= 0 {
                    if written < 0 && errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Runs a command body with buffered standard output, flushed before any error leaves the body.
func withBufferedOutput(_ body: (BufferedOutput) throws -> Void) throws {
    let output = BufferedOutput()
    defer { output.flush() }
    try body(output)
}
