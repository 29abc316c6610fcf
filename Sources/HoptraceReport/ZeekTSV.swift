import HoptraceCapture
import HoptraceDecode
import HoptraceFlows

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Zeek's ASCII log format, as its ASCII writer (`logging/writers/ascii`) writes it and `zeek-cut` reads it.
///
/// ```
/// #separator \x09
/// #set_separator	,
/// #empty_field	(empty)
/// #unset_field	-
/// #path	flows
/// #open	2026-11-30-17-06-23
/// #fields	type	time	capturePoint	...
/// #types	string	time	string	...
/// conn	1795361169.514824000	vethclient0	...
/// #close	2026-11-30-17-06-24
/// ```
///
/// Fields are separated by a tab; `#open` and `#close` are the local wall-clock time, as Zeek writes them. Values:
/// an unset value is `-`, an empty string `(empty)`, a string that is exactly `-` or `(empty)` has its first byte
/// escaped (`\x2d`, `\x28empty)`); in strings every byte outside printable ASCII, the backslash, the tab and (in
/// sets and vectors) the comma are written `\xHH`, so that no value can break a line or a column. `time` and
/// `interval` are seconds (hoptrace writes nine decimals: nanosecond precision), `bool` is `T` or `F`.
///
/// hoptrace's column names are its JSON keys, nested objects joined with `.` (`origStats.bytes`), as Zeek names
/// record fields (`id.orig_h`): `zeek-cut time orig resp` selects what `jq '.time, .orig, .resp'` does.
public enum ZeekTSV {
    /// A column: its name in `#fields` and its Zeek type in `#types` (`time`, `interval`, `string`, `addr`, `port`,
    /// `count`, `int`, `bool`, `set[string]`, `vector[count]`, `vector[string]`).
    public struct Field: Sendable, Equatable {
        /// The column name.
        public var name: String
        /// The Zeek type.
        public var type: String

        /// A column.
        public init(_ name: String, _ type: String) {
            self.name = name
            self.type = type
        }
    }

    /// Appends the header block for a log named `path` with these columns; `open` is the wall-clock time in
    /// seconds since the epoch (now by default).
    public static func appendHeader(path: String, fields: [Field], open: Int = Self.now(), to bytes: inout [UInt8]) {
        bytes.append(contentsOf: "#separator \\x09\n".utf8)
        bytes.append(contentsOf: "#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\t".utf8)
        self.appendEscaped(path, to: &bytes)
        bytes.append(contentsOf: "\n#open\t".utf8)
        self.appendStamp(open, to: &bytes)
        bytes.append(contentsOf: "\n#fields".utf8)
        for field in fields {
            bytes.append(0x09)
            bytes.append(contentsOf: field.name.utf8)
        }
        bytes.append(contentsOf: "\n#types".utf8)
        for field in fields {
            bytes.append(0x09)
            bytes.append(contentsOf: field.type.utf8)
        }
        bytes.append(0x0A)
    }

    /// Appends the header block to `out`.
    public static func appendHeader(path: String, fields: [Field], open: Int = Self.now(), to out: BufferedOutput) {
        var bytes: [UInt8] = []
        self.appendHeader(path: path, fields: fields, open: open, to: &bytes)
        out.append(contentsOf: bytes)
    }

    /// Appends `#close` and the wall-clock time to `out`.
    public static func appendClose(at time: Int = Self.now(), to out: BufferedOutput) {
        var bytes: [UInt8] = []
        self.appendClose(at: time, to: &bytes)
        out.append(contentsOf: bytes)
    }

    /// Appends `#close` and the wall-clock time.
    public static func appendClose(at time: Int = Self.now(), to bytes: inout [UInt8]) {
        bytes.append(contentsOf: "#close\t".utf8)
        self.appendStamp(time, to: &bytes)
        bytes.append(0x0A)
    }

    /// The wall clock, in seconds since the epoch.
    public static func now() -> Int { Int(time(nil)) }

    /// `2026-11-30-17-06-23` in local time, as Zeek's `Timestamp()` writes it.
    static func appendStamp(_ seconds: Int, to bytes: inout [UInt8]) {
        var clock = time_t(seconds)
        var parts = tm()
        localtime_r(&clock, &parts)
        let fields = [
            Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday), Int(parts.tm_hour),
            Int(parts.tm_min), Int(parts.tm_sec),
        ]
        for (index, value) in fields.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: "-")) }
            TimeFormat.append(to: &bytes) {
                TimeFormat.writePadded(UInt64(clamping: value), width: index == 0 ? 4 : 2, to: $0)
            }
        }
    }

    /// Appends a string value escaped as Zeek's ASCII writer does (see the type's documentation), at most `limit`
    /// bytes of it (then `…`, escaped like any byte beyond ASCII).
    public static func appendEscaped(_ value: String, limit: Int = 1024, inSet: Bool = false, to bytes: inout [UInt8]) {
        if value.isEmpty {
            bytes.append(contentsOf: "(empty)".utf8)
            return
        }
        let reservedValue = value == "-" || value == "(empty)"
        var value = value
        value.withUTF8 { utf8 in
            let raw = UnsafeRawBufferPointer(utf8)
            let cut = raw.count > limit ? JSONWriter.boundary(raw, atMost: max(0, limit)) : raw.count
            let whole = cut == raw.count
            let reserved = whole && reservedValue
            for (index, byte) in raw[0..<cut].enumerated() {
                if (index == 0 && reserved) || byte < 0x20 || byte >= 0x7F || byte == 0x5C || (inSet && byte == 0x2C) {
                    self.appendHexEscape(byte, to: &bytes)
                } else {
                    bytes.append(byte)
                }
            }
            if !whole { for byte: UInt8 in [0xE2, 0x80, 0xA6] { self.appendHexEscape(byte, to: &bytes) } }
        }
    }

    /// `\xHH`.
    private static func appendHexEscape(_ byte: UInt8, to bytes: inout [UInt8]) {
        let hex: StaticString = "0123456789abcdef"
        hex.withUTF8Buffer { table in
            bytes.append(contentsOf: [
                UInt8(ascii: "\\"), UInt8(ascii: "x"), table[Int(byte >> 4)], table[Int(byte & 0xF)],
            ])
        }
    }
}

/// One TSV line being written: a tab before every field but the first, `-` for what is absent. It takes the
/// output bytes over (no copy) and gives them back with the newline in ``finish(into:)``.
public struct TSVRow {
    private var bytes: [UInt8] = []
    private var first = true

    /// A row appending to `bytes`.
    public init(appendingTo bytes: inout [UInt8]) {
        swap(&self.bytes, &bytes)
    }

    /// Ends the line and gives the bytes back.
    public mutating func finish(into bytes: inout [UInt8]) {
        self.bytes.append(0x0A)
        swap(&self.bytes, &bytes)
        self.bytes.removeAll()
    }

    @inline(__always)
    private mutating func next() {
        if self.first {
            self.first = false
        } else {
            self.bytes.append(0x09)
        }
    }

    /// `-`: an unset value.
    public mutating func unset() {
        self.next()
        self.bytes.append(UInt8(ascii: "-"))
    }

    /// A `string` (escaped and bounded), `-` when nil.
    public mutating func string(_ value: String?, limit: Int = 1024) {
        guard let value else { return self.unset() }
        self.next()
        ZeekTSV.appendEscaped(value, limit: limit, to: &self.bytes)
    }

    /// A `count` or `int` (or `port`), `-` when nil.
    public mutating func integer<T: BinaryInteger>(_ value: T?) {
        guard let value else { return self.unset() }
        self.next()
        if value < 0 { self.bytes.append(UInt8(ascii: "-")) }
        let magnitude = UInt64(clamping: value.magnitude)
        TimeFormat.append(to: &self.bytes) { TimeFormat.writeDecimal(magnitude, to: $0) }
    }

    /// A `time` or an `interval`: seconds with nine decimals; `-` when nil.
    public mutating func seconds(_ nanoseconds: Int64?) {
        guard let nanoseconds else { return self.unset() }
        self.next()
        TimeFormat.append(to: &self.bytes) { TimeFormat.writeSeconds(nanoseconds, to: $0) }
    }

    /// A `bool`: `T` or `F`.
    public mutating func bool(_ value: Bool) {
        self.next()
        self.bytes.append(value ? UInt8(ascii: "T") : UInt8(ascii: "F"))
    }

    /// An `addr`, `-` when nil.
    public mutating func address(_ value: IPAddress?) {
        guard let value else { return self.unset() }
        self.next()
        value.appendDescription(to: &self.bytes)
    }

    /// An endpoint as a `string`: `10.0.0.1:80`, `[fd00::1]:80`.
    public mutating func endpoint(_ value: FlowEndpoint?) {
        guard let value else { return self.unset() }
        self.next()
        JSONWriter.appendEndpoint(value, to: &self.bytes)
    }

    /// A `set[string]` or `vector[string]`: elements joined by `,` (each escaped, a comma in one as `\x2c`);
    /// `(empty)` when there are none.
    public mutating func strings<S: Sequence>(_ values: S, limit: Int = 256) where S.Element == String {
        self.next()
        var any = false
        for value in values {
            if any { self.bytes.append(UInt8(ascii: ",")) }
            any = true
            ZeekTSV.appendEscaped(value, limit: limit, inSet: true, to: &self.bytes)
        }
        if !any { self.bytes.append(contentsOf: "(empty)".utf8) }
    }

    /// A `vector[count]`: numbers joined by `,`; `(empty)` when there are none.
    public mutating func integers<S: Sequence>(_ values: S) where S.Element: BinaryInteger {
        self.next()
        var any = false
        for value in values {
            if any { self.bytes.append(UInt8(ascii: ",")) }
            any = true
            if value < 0 { self.bytes.append(UInt8(ascii: "-")) }
            let magnitude = UInt64(clamping: value.magnitude)
            TimeFormat.append(to: &self.bytes) { TimeFormat.writeDecimal(magnitude, to: $0) }
        }
        if !any { self.bytes.append(contentsOf: "(empty)".utf8) }
    }
}
