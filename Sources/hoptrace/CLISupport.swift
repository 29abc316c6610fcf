import ArgumentParser
import Foundation
import HoptraceFlows
import HoptraceKube
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
///
/// Records are written piece by piece straight into the buffer (numbers, times and addresses digit by digit, no
/// String built). The buffer and its fill count are raw memory held by `let` properties, so that an append is a
/// bounds check and a copy: no array uniqueness check and no dynamic exclusivity check per piece.
final class BufferedOutput {
    /// Bytes kept before a write(2): a line that ends past it flushes the buffer.
    private static let flushThreshold = 1 << 16
    /// Room for the longest piece of bounded size (an endpoint, a number) past the threshold.
    private static let capacity = flushThreshold + 256

    private let bytes: UnsafeMutablePointer<UInt8>
    /// The number of bytes buffered (one Int of raw memory).
    private let filled: UnsafeMutablePointer<Int>

    init() {
        self.bytes = .allocate(capacity: Self.capacity)
        self.filled = .allocate(capacity: 1)
        self.filled.initialize(to: 0)
    }

    deinit {
        self.flush()
        self.bytes.deallocate()
        self.filled.deallocate()
    }

    /// Room for `count` more bytes (flushing first if needed): where to write them.
    @inline(__always)
    private func reserve(_ count: Int) -> UnsafeMutablePointer<UInt8> {
        if self.filled.pointee + count > Self.capacity { self.flush() }
        return self.bytes + self.filled.pointee
    }

    /// Appends raw bytes, writing them straight out when they do not fit the buffer.
    private func append(raw: UnsafeRawBufferPointer) {
        guard let base = raw.baseAddress, raw.count > 0 else { return }
        if self.filled.pointee + raw.count > Self.capacity {
            self.flush()
            if raw.count > Self.capacity {
                Self.writeOut(UnsafeRawBufferPointer(start: base, count: raw.count))
                return
            }
        }
        (self.bytes + self.filled.pointee).update(from: base.assumingMemoryBound(to: UInt8.self), count: raw.count)
        self.filled.pointee += raw.count
    }

    /// Appends text as it is.
    func write(_ text: String) {
        self.append(text)
        if self.filled.pointee >= Self.flushThreshold { self.flush() }
    }

    /// Appends text and a newline.
    func line(_ text: String) {
        self.append(text)
        self.endLine()
    }

    /// Appends an endpoint as ``FlowEndpoint/description`` writes it, without building a String.
    func append(_ endpoint: FlowEndpoint) {
        let address = endpoint.address
        guard address.isIPv4 else {
            self.append("[")
            self.append(address.description)
            self.append("]:")
            self.append(unsigned: UInt64(endpoint.port))
            return
        }
        // "255.255.255.255:65535": 21 bytes at most.
        let out = self.reserve(21)
        let value = address.ipv4Value
        var count = 0
        for shift in stride(from: 24, through: 0, by: -8) {
            count += FlowTime.writeDecimal(UInt64(truncatingIfNeeded: (value >> UInt32(shift)) & 0xff), to: out + count)
            out[count] = shift > 0 ? UInt8(ascii: ".") : UInt8(ascii: ":")
            count += 1
        }
        count += FlowTime.writeDecimal(UInt64(endpoint.port), to: out + count)
        self.filled.pointee += count
    }

    /// Appends bytes (UTF-8 text) to the current line.
    func append(bytes: [UInt8]) {
        bytes.withUnsafeBytes { self.append(raw: $0) }
    }

    /// Appends a JSON object line for `event`, with the `names` member when there are names.
    func jsonLine(_ event: FlowEvent, capturePoints: [String], names: [String: String]) {
        if names.isEmpty {
            self.append(bytes: event.jsonBytes(capturePoints: capturePoints))
            self.endLine()
        } else {
            self.line(AddressNames.addNames(names, toJSONObject: event.jsonLine(capturePoints: capturePoints)))
        }
    }

    /// Appends text to the current line.
    func append(_ text: String) {
        let done: Void? = text.utf8.withContiguousStorageIfAvailable { self.append(raw: UnsafeRawBufferPointer($0)) }
        if done == nil {
            var text = text
            text.withUTF8 { self.append(raw: UnsafeRawBufferPointer($0)) }
        }
    }

    /// One record line of `flows` or `requests`: the JSON object (with a `names` member when there are names), or
    /// the text `writeText` puts on the line followed by the names comment.
    func recordLine(
        _ event: FlowEvent,
        json: Bool,
        capturePoints: [String],
        names: [String: String],
        text writeText: () -> Void
    ) {
        if json {
            self.jsonLine(event, capturePoints: capturePoints, names: names)
            return
        }
        writeText()
        if !names.isEmpty { self.append(AddressNames.comment(names)) }
        self.endLine()
    }

    /// Appends the start every flow record line shares: `time point first second` (time as
    /// ``FlowTime/timestamp(_:)``, endpoints as ``FlowEndpoint/description``), space-separated.
    func appendRecordStart(_ nanoseconds: Int64, point: String, _ first: FlowEndpoint, _ second: FlowEndpoint) {
        self.appendTimestamp(nanoseconds)
        self.append(byte: UInt8(ascii: " "))
        self.append(point)
        self.append(byte: UInt8(ascii: " "))
        self.append(first)
        self.append(byte: UInt8(ascii: " "))
        self.append(second)
    }

    /// Appends a time as ``FlowTime/timestamp(_:)`` writes it.
    func appendTimestamp(_ nanoseconds: Int64) {
        self.filled.pointee += FlowTime.writeSeconds(nanoseconds, to: self.reserve(FlowTime.maxWrittenBytes))
    }

    /// Appends a duration as ``FlowTime/human(_:)`` writes it.
    func appendHuman(_ nanoseconds: Int64) {
        self.filled.pointee += FlowTime.writeHuman(nanoseconds, to: self.reserve(FlowTime.maxWrittenBytes))
    }

    /// Appends a decimal number.
    func append(decimal: Int) {
        let out = self.reserve(21)
        var count = 0
        if decimal < 0 {
            out[0] = UInt8(ascii: "-")
            count = 1
        }
        count += FlowTime.writeDecimal(UInt64(decimal.magnitude), to: out + count)
        self.filled.pointee += count
    }

    /// Appends an unsigned decimal number.
    func append(unsigned: UInt64) {
        self.filled.pointee += FlowTime.writeDecimal(unsigned, to: self.reserve(20))
    }

    /// Appends one byte (an ASCII character).
    func append(byte: UInt8) {
        self.reserve(1).pointee = byte
        self.filled.pointee += 1
    }

    /// Ends the current line.
    func endLine() {
        self.append(byte: 0x0A)
        if self.filled.pointee >= Self.flushThreshold { self.flush() }
    }

    func flush() {
        guard self.filled.pointee > 0 else { return }
        Self.writeOut(UnsafeRawBufferPointer(start: self.bytes, count: self.filled.pointee))
        self.filled.pointee = 0
    }

    /// write(2) to standard output until all is written (or it fails).
    private static func writeOut(_ raw: UnsafeRawBufferPointer) {
        guard let base = raw.baseAddress else { return }
        var offset = 0
        while offset < raw.count {
            let written = Foundation.write(STDOUT_FILENO, base + offset, raw.count - offset)
            if written <= 0 {
                if written < 0 && errno == EINTR { continue }
                return
            }
            offset += written
        }
    }
}

/// Runs a command body with buffered standard output, flushed before any error leaves the body.
func withBufferedOutput(_ body: (BufferedOutput) throws -> Void) throws {
    let output = BufferedOutput()
    defer { output.flush() }
    try body(output)
}
