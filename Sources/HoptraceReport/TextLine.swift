import HoptraceCapture
import HoptraceFlows

/// Pieces the text records share, appended as bytes.
enum TextLine {
    /// `TIME POINT FIRST SECOND`: the RFC 3339 time, the capture point (made safe), both endpoints.
    static func appendStart(
        _ time: Int64,
        _ capturePoint: String,
        _ first: FlowEndpoint,
        _ second: FlowEndpoint,
        to bytes: inout [UInt8]
    ) {
        TimeFormat.append(to: &bytes) { TimeFormat.writeRFC3339(time, to: $0) }
        bytes.append(UInt8(ascii: " "))
        TerminalText.append(capturePoint, limit: 64, to: &bytes)
        bytes.append(UInt8(ascii: " "))
        JSONWriter.appendEndpoint(first, to: &bytes)
        bytes.append(UInt8(ascii: " "))
        JSONWriter.appendEndpoint(second, to: &bytes)
    }

    /// A decimal number.
    static func appendNumber<T: BinaryInteger>(_ value: T, to bytes: inout [UInt8]) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        let magnitude = UInt64(clamping: value.magnitude)
        TimeFormat.append(to: &bytes) { TimeFormat.writeDecimal(magnitude, to: $0) }
    }
}

/// Cluster names beside a record's addresses.
enum NamesComment {
    /// ` # 10.244.0.10 pod default/client, 10.96.0.100:80 service default/web:80` (nothing without names), sorted by
    /// address, each name made safe for a terminal.
    static func append(_ names: [String: String], to bytes: inout [UInt8]) {
        guard !names.isEmpty else { return }
        bytes.append(contentsOf: " # ".utf8)
        for (index, entry) in names.sorted(by: { $0.key < $1.key }).enumerated() {
            if index > 0 { bytes.append(contentsOf: ", ".utf8) }
            TerminalText.append(entry.key, limit: 64, to: &bytes)
            bytes.append(UInt8(ascii: " "))
            TerminalText.append(entry.value, limit: 120, to: &bytes)
        }
    }

    /// `address name` entries, sorted by address (for a TSV set).
    static func entries(_ names: [String: String]) -> [String] {
        names.sorted(by: { $0.key < $1.key }).map { "\($0.key) \($0.value)" }
    }
}
