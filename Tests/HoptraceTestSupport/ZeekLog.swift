import Foundation

/// A reader of Zeek's ASCII log format, written from Zeek's documentation (docs.zeek.org "Zeek TSV format logs" and
/// the `LogAscii` options: `#separator` spelled as `\xHH`, then `#set_separator`, `#empty_field`, `#unset_field`,
/// `#path`, `#open`, `#fields`, `#types`, the rows, `#close`; values with `\xHH` escapes) and from what `zeek-cut`
/// documents: it selects columns by the names of the latest `#fields` line, in the order asked, tab-separated. Not
/// hoptrace's code: the test's independent idea of the format.
public struct ZeekLog {
    /// A format violation, with the line it was found on.
    public struct Violation: Error, CustomStringConvertible {
        /// What is wrong.
        public var description: String
    }

    /// The header values in the order met (`separator`, `set_separator`, ...).
    public var headers: [(key: String, value: String)] = []
    /// The column names.
    public var fields: [String] = []
    /// The column types.
    public var types: [String] = []
    /// The rows, raw (still escaped), one array of fields each.
    public var rows: [[String]] = []
    /// The separator (a tab unless the header says otherwise).
    public var separator = "\t"
    /// `#set_separator`.
    public var setSeparator = ","
    /// `#empty_field`.
    public var emptyField = "(empty)"
    /// `#unset_field`.
    public var unsetField = "-"

    /// Parses `text`, checking what Zeek's documentation fixes: the header order, `#fields` and `#types` of one
    /// length, every row with that many fields, `#close` last.
    public init(_ text: String) throws {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        guard let first = lines.first, first.hasPrefix("#separator ") else {
            throw Violation(description: "the first line is not `#separator \\xHH`: \(lines.first ?? "")")
        }
        let spelled = String(first.dropFirst("#separator ".count))
        guard let separator = Self.unescape(spelled), !separator.isEmpty else {
            throw Violation(description: "bad separator \(spelled)")
        }
        self.separator = separator
        self.headers.append(("separator", separator))
        for (index, line) in lines.enumerated().dropFirst() {
            if line.hasPrefix("#") {
                let parts = line.dropFirst().components(separatedBy: separator)
                let key = parts[0]
                let values = Array(parts.dropFirst())
                self.headers.append((key, values.joined(separator: separator)))
                switch key {
                case "set_separator": self.setSeparator = Self.unescape(values.first ?? "") ?? ","
                case "empty_field": self.emptyField = Self.unescape(values.first ?? "") ?? "(empty)"
                case "unset_field": self.unsetField = Self.unescape(values.first ?? "") ?? "-"
                case "fields": self.fields = values
                case "types": self.types = values
                case "close":
                    if index != lines.count - 1 { throw Violation(description: "#close is not the last line") }
                default: break
                }
                continue
            }
            let row = line.components(separatedBy: separator)
            guard row.count == self.fields.count else {
                throw Violation(description: "line \(index + 1) has \(row.count) fields, #fields \(self.fields.count)")
            }
            self.rows.append(row)
        }
        let keys = self.headers.map(\.key)
        let expected = ["separator", "set_separator", "empty_field", "unset_field", "path", "open", "fields", "types"]
        guard Array(keys.prefix(expected.count)) == expected else {
            throw Violation(description: "headers \(keys), expected \(expected) first")
        }
        guard self.fields.count == self.types.count, !self.fields.isEmpty else {
            throw Violation(description: "#fields has \(self.fields.count) names, #types \(self.types.count)")
        }
    }

    /// The value of header `key` (`path`, `open`, `close`).
    public func header(_ key: String) -> String? { self.headers.first { $0.key == key }?.value }

    /// What `zeek-cut NAME...` prints: the named columns of each row, tab-separated, raw.
    public func cut(_ names: [String]) -> [String] {
        let indexes = names.map { name in self.fields.firstIndex(of: name) }
        return self.rows.map { row in indexes.map { $0.map { row[$0] } ?? "" }.joined(separator: "\t") }
    }

    /// The value of column `name` in `row`, unescaped; nil when unset; "" for the empty field.
    public func value(_ name: String, in row: [String]) -> String? {
        guard let index = self.fields.firstIndex(of: name) else { return nil }
        let raw = row[index]
        if raw == self.unsetField { return nil }
        if raw == self.emptyField { return "" }
        return Self.unescape(raw)
    }

    /// `\xHH` sequences decoded (bytes, then UTF-8 with replacement); nil for a malformed escape.
    public static func unescape(_ text: String) -> String? {
        var bytes: [UInt8] = []
        let utf8 = Array(text.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "\\"), index + 1 < utf8.count, utf8[index + 1] == UInt8(ascii: "x") {
                guard index + 3 < utf8.count,
                    let byte = UInt8(String(decoding: utf8[(index + 2)...(index + 3)], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(byte)
                index += 4
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
