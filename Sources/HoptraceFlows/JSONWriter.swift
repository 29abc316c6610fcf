import HoptraceCapture
import HoptraceDecode

/// The one JSON writer of hoptrace: every JSON line (packets, connections, requests, traces, names) is written by it,
/// straight into a reusable byte buffer.
///
/// Commas and nesting are tracked for the caller (a bit per open container, no allocation); numbers are written digit
/// by digit, instants and durations by ``TimeFormat``'s byte writers, strings through one escaper:
///
/// - RFC 8259: `"` and `\` escaped, control characters as `\n`, `\r`, `\t`, `\b`, `\f` or `\u00XX`;
/// - also DEL as `\u007f`, and U+2028 and U+2029 as `\u2028` and `\u2029`, so that a line is also valid JavaScript
///   and can be pasted into a terminal;
/// - invalid UTF-8 (from ``string(utf8:limit:)``) replaced by U+FFFD, as `String(decoding:as:)` does;
/// - packet-derived text bounded: at most `limit` bytes, cut on a character boundary and marked with `…`.
///
/// Strings without anything to escape (the common case) are found eight bytes at a time and appended whole.
///
/// Each value is written through a pointer after one check for room (and for a copy of the writer sharing the
/// buffer: the writer is a value, its bytes are copied on write): appending to an `[UInt8]` byte by byte checked
/// both at every byte, and writing was 38% of `requests --json`.
///
/// The record dialect (docs/packet.schema.json, connection.schema.json, request.schema.json) uses it through the
/// `member` methods: camelCase keys, absent values left out, instants as an RFC 3339 string plus its integer
/// nanoseconds (``instant(_:_:_:)``), durations as milliseconds (``milliseconds(_:_:)``), endpoints as
/// `"10.0.0.1:80"` or `"[fd00::1]:80"` (``member(_:endpoint:)``).
public struct JSONWriter {
    /// The bytes, shared only between copies of a writer until one of them writes.
    @usableFromInline
    final class Storage {
        @exclusivity(unchecked) var base: UnsafeMutablePointer<UInt8>
        @exclusivity(unchecked) var count = 0
        @exclusivity(unchecked) var capacity: Int
        /// The whole second ``rfc3339(_:)`` wrote last and its first 20 bytes (`2026-11-22T14:02:03.`): a trace's
        /// instants mostly share their second, and the date is most of the work.
        @exclusivity(unchecked) var lastSecond = Int64.min
        @exclusivity(unchecked) var lastSecondText: (UInt64, UInt64, UInt32) = (0, 0, 0)

        init(capacity: Int) {
            self.capacity = max(capacity, 64)
            self.base = .allocate(capacity: self.capacity)
        }

        deinit { self.base.deallocate() }
    }

    private var storage: Storage
    /// Open containers: bit `d` of `needsComma` says whether the container at depth `d` already has a value.
    private var depth = 0
    private var needsComma: UInt64 = 0
    /// Whether the last thing written was a key (its value follows without a comma).
    private var afterKey = false

    /// An empty writer with room for `capacity` bytes.
    public init(capacity: Int = 4096) {
        self.storage = Storage(capacity: capacity)
    }

    /// Appends what was written to `bytes` and empties the writer. Only this writer's bytes are copied, so a batch
    /// built line by line (the agent's rows) costs each line once.
    public mutating func finish(appendingTo bytes: inout [UInt8]) {
        self.withUnsafeBytes { bytes.append(contentsOf: $0) }
        self.reset()
    }

    /// Empties the buffer (keeping its capacity) for the next line.
    public mutating func reset() {
        if isKnownUniquelyReferenced(&self.storage) {
            self.storage.count = 0
        } else {
            self.storage = Storage(capacity: self.storage.capacity)
        }
        self.depth = 0
        self.needsComma = 0
        self.afterKey = false
    }

    /// The bytes written so far (a copy; ``withUnsafeBytes(_:)`` reads them in place).
    public var bytes: [UInt8] {
        self.withUnsafeBytes { Array($0) }
    }

    /// How many bytes have been written.
    public var count: Int { self.storage.count }

    /// Reads the bytes written so far in place.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: self.storage.base, count: self.storage.count))
    }

    // MARK: - The buffer

    /// Room for `count` more bytes, in a buffer this writer alone holds: where to write them.
    @inline(__always)
    private mutating func reserve(_ count: Int) -> UnsafeMutablePointer<UInt8> {
        if _slowPath(
            !isKnownUniquelyReferenced(&self.storage) || self.storage.capacity &- self.storage.count < count
        ) {
            self.grow(count)
        }
        return self.storage.base + self.storage.count
    }

    /// Moves the bytes to a buffer of their own with room for `count` more (at least double the old one).
    @inline(never)
    private mutating func grow(_ count: Int) {
        let old = self.storage
        let needed = old.count + count
        let grown = Storage(capacity: needed > old.capacity ? max(needed, old.capacity * 2) : old.capacity)
        grown.base.update(from: old.base, count: old.count)
        grown.count = old.count
        self.storage = grown
    }

    /// Marks `count` bytes written at the pointer ``reserve(_:)`` gave.
    @inline(__always)
    private func commit(_ count: Int) {
        self.storage.count &+= count
    }

    /// Appends raw bytes.
    private mutating func append(_ raw: UnsafeRawBufferPointer) {
        guard let source = raw.baseAddress, raw.count > 0 else { return }
        self.reserve(raw.count).update(from: source.assumingMemoryBound(to: UInt8.self), count: raw.count)
        self.commit(raw.count)
    }

    /// Writes bytes already formed as a value (after its comma when one is due).
    private mutating func value(_ raw: UnsafeRawBufferPointer) {
        let at = self.valueStart(raw.count)
        if let source = raw.baseAddress {
            at.update(from: source.assumingMemoryBound(to: UInt8.self), count: raw.count)
        }
        self.commit(raw.count)
    }

    /// Writes, as a string value, text that needs no escaping (an address) built by `build` (the rare IPv6 path).
    private mutating func quoted(_ build: (inout [UInt8]) -> Void) {
        var text: [UInt8] = [UInt8(ascii: "\"")]
        build(&text)
        text.append(UInt8(ascii: "\""))
        text.withUnsafeBytes { self.value($0) }
    }

    // MARK: - Structure

    /// Room for a value of at most `count` bytes, after the comma that separates it from the one before when one is
    /// due: where to write it.
    @inline(__always)
    private mutating func valueStart(_ count: Int) -> UnsafeMutablePointer<UInt8> {
        let at = self.reserve(count &+ 1)
        if self.afterKey {
            self.afterKey = false
            return at
        }
        guard self.depth > 0 else { return at }
        let bit: UInt64 = 1 << UInt64((self.depth - 1) & 63)
        if self.needsComma & bit != 0 {
            at.pointee = UInt8(ascii: ",")
            self.commit(1)
            return at + 1
        }
        self.needsComma |= bit
        return at
    }

    private mutating func open(_ byte: UInt8) {
        self.valueStart(1).pointee = byte
        self.commit(1)
        self.depth += 1
        self.needsComma &= ~(1 << UInt64((self.depth - 1) & 63))
    }

    private mutating func close(_ byte: UInt8) {
        self.depth = max(0, self.depth - 1)
        self.reserve(1).pointee = byte
        self.commit(1)
    }

    /// `{`.
    public mutating func beginObject() { self.open(UInt8(ascii: "{")) }

    /// `}`.
    public mutating func endObject() { self.close(UInt8(ascii: "}")) }

    /// `[`.
    public mutating func beginArray() { self.open(UInt8(ascii: "[")) }

    /// `]`.
    public mutating func endArray() { self.close(UInt8(ascii: "]")) }

    /// Writes an object key that is data (an address, a name: escaped); the next call writes its value.
    public mutating func key(text name: String) {
        self.appendEscaped(name, limit: .max)
        self.reserve(1).pointee = UInt8(ascii: ":")
        self.commit(1)
        self.afterKey = true
    }

    /// Writes an object key given as a literal: ASCII letters, digits, `.` and `_`, nothing to escape (checked in
    /// debug builds).
    public mutating func key(_ name: StaticString) {
        let length = name.utf8CodeUnitCount
        let at = self.valueStart(length &+ 3)
        at.pointee = UInt8(ascii: "\"")
        assert(name.withUTF8Buffer { $0.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C } })
        Self.copyShort(name.utf8Start, length, to: at + 1)
        at[length &+ 1] = UInt8(ascii: "\"")
        at[length &+ 2] = UInt8(ascii: ":")
        self.commit(length &+ 3)
        self.afterKey = true
    }

    /// Copies `count` bytes; up to 32 as unaligned words that may overlap (a key, a word of hoptrace's own), without
    /// a call to `memmove`, which cost as much as the rest of writing a key.
    @inline(__always)
    static func copyShort(_ source: UnsafePointer<UInt8>, _ count: Int, to target: UnsafeMutablePointer<UInt8>) {
        let from = UnsafeRawPointer(source)
        let to = UnsafeMutableRawPointer(target)
        if count >= 8 && count <= 32 {
            var offset = 0
            while offset &+ 8 < count {
                to.storeBytes(
                    of: from.loadUnaligned(fromByteOffset: offset, as: UInt64.self),
                    toByteOffset: offset,
                    as: UInt64.self
                )
                offset &+= 8
            }
            // The last word ends with the last byte (it may overlap the one before).
            to.storeBytes(
                of: from.loadUnaligned(fromByteOffset: count &- 8, as: UInt64.self),
                toByteOffset: count &- 8,
                as: UInt64.self
            )
        } else if count >= 4 && count < 8 {
            to.storeBytes(of: from.loadUnaligned(as: UInt32.self), as: UInt32.self)
            to.storeBytes(
                of: from.loadUnaligned(fromByteOffset: count &- 4, as: UInt32.self),
                toByteOffset: count &- 4,
                as: UInt32.self
            )
        } else if count > 0 {
            target.update(from: source, count: count)
        }
    }

    /// Writes `run` as it is: a key with the punctuation before it that a writer of a fixed layout knows is due
    /// (`,"mode":`, `,"verdict":{"kind":`, `},"request":`), and takes what follows as that key's value.
    ///
    /// For objects whose members are all written, in a fixed order (a trace): the first member of an object opened
    /// with ``beginObject()`` is written with ``key(_:)``, every later one with a run that starts with its comma, and an
    /// object opened inside a run is closed inside one. The comma bookkeeping is not consulted (a run is about half
    /// the work of a key); arrays and objects of a varying number of members are written as usual between runs.
    @inline(__always)
    public mutating func run(_ text: StaticString) {
        self.place(text, at: self.reserve(text.utf8CodeUnitCount))
        self.afterKey = true
    }

    /// Copies a literal to `at` (room ``reserve(_:)`` or ``valueStart(_:)`` gave) and marks it written.
    @inline(__always)
    private mutating func place(_ text: StaticString, at: UnsafeMutablePointer<UInt8>) {
        Self.copyShort(text.utf8Start, text.utf8CodeUnitCount, to: at)
        self.commit(text.utf8CodeUnitCount)
    }

    // MARK: - Values

    /// A string value hoptrace wrote itself, with nothing to escape (an enum's raw value, a fixed word; never text
    /// from a packet or a file): copied without the scan for characters to escape (checked in debug builds).
    public mutating func string(trusted value: String) {
        var value = value
        value.withUTF8 { utf8 in
            let raw = UnsafeRawBufferPointer(utf8)
            assert(!Self.needsEscaping(raw))
            self.quoted(raw)
        }
    }

    /// `"node/interface"` (a capture point's description), or `"interface"` without a node, escaped, without
    /// building the joined string.
    public mutating func string(joining first: String?, _ second: String) {
        guard var first else {
            self.appendEscaped(second, limit: .max)
            return
        }
        var second = second
        first.withUTF8 { head in
            second.withUTF8 { tail in
                let head = UnsafeRawBufferPointer(head)
                let tail = UnsafeRawBufferPointer(tail)
                guard !Self.needsEscaping(head), !Self.needsEscaping(tail) else {
                    self.appendEscaped(
                        String(decoding: head, as: UTF8.self) + "/" + String(decoding: tail, as: UTF8.self),
                        limit: .max
                    )
                    return
                }
                self.quoted(head, joinedTo: tail)
            }
        }
    }

    /// Writes text with nothing to escape as a string value: `"`, `head`, then `/` and `tail` when `tail` is given,
    /// `…` when `cut`, `"`. The one place a string is quoted without escaping.
    private mutating func quoted(
        _ head: UnsafeRawBufferPointer,
        joinedTo tail: UnsafeRawBufferPointer? = nil,
        cut: Bool = false
    ) {
        let middle = tail.map { 1 &+ $0.count } ?? 0
        let count = head.count &+ middle &+ (cut ? 3 : 0)
        let at = self.valueStart(count &+ 2)
        at.pointee = UInt8(ascii: "\"")
        var written = 1
        if let source = head.baseAddress {
            Self.copyShort(source.assumingMemoryBound(to: UInt8.self), head.count, to: at + written)
        }
        written &+= head.count
        if let tail {
            at[written] = UInt8(ascii: "/")
            written &+= 1
            if let source = tail.baseAddress {
                Self.copyShort(source.assumingMemoryBound(to: UInt8.self), tail.count, to: at + written)
            }
            written &+= tail.count
        }
        if cut {
            at[written] = 0xE2
            at[written &+ 1] = 0x80
            at[written &+ 2] = 0xA6
            written &+= 3
        }
        at[written] = UInt8(ascii: "\"")
        self.commit(written &+ 1)
    }

    /// A string value, escaped; at most `limit` UTF-8 bytes of it (then `…`).
    public mutating func string(_ value: String, limit: Int = .max) {
        self.appendEscaped(value, limit: limit)
    }

    /// A string value from UTF-8 bytes that may be invalid (replaced by U+FFFD), escaped and bounded.
    public mutating func string(utf8 value: UnsafeRawBufferPointer, limit: Int = .max) {
        if Self.isASCII(value) {
            self.appendEscaped(value, limit: limit)
        } else {
            // Rare (packet bytes beyond ASCII): String(decoding:) makes them valid, U+FFFD for each bad sequence.
            self.appendEscaped(String(decoding: value, as: UTF8.self), limit: limit)
        }
    }

    /// An integer value.
    @inlinable
    public mutating func int<T: BinaryInteger>(_ value: T) {
        if let small = Int64(exactly: value) {
            self.int64(small)
        } else if let large = UInt64(exactly: value) {
            self.uint64(large, negative: false)
        } else {
            self.digits(String(value))
        }
    }

    /// An `Int64` value.
    @usableFromInline
    mutating func int64(_ value: Int64) {
        self.uint64(value.magnitude, negative: value < 0)
    }

    /// A magnitude and its sign.
    @usableFromInline
    mutating func uint64(_ magnitude: UInt64, negative: Bool) {
        var at = self.valueStart(21)
        var written = 0
        if negative {
            at.pointee = UInt8(ascii: "-")
            at += 1
            written = 1
        }
        self.commit(written &+ TimeFormat.writeDecimal(magnitude, to: at))
    }

    /// A value given as JSON already (a fragment this writer or another wrote, kept to be written again): the
    /// caller vouches that `json` is one whole JSON value.
    public mutating func json(_ json: UnsafeRawBufferPointer) {
        self.value(json)
    }

    /// Digits given as text (integers beyond 64 bits).
    @usableFromInline
    mutating func digits(_ text: String) {
        var text = text
        text.withUTF8 { self.value(UnsafeRawBufferPointer($0)) }
    }

    /// A number with exactly `decimals` digits after the point (rounded half away from zero); `null` when not
    /// finite.
    public mutating func double(_ value: Double, decimals: Int = 3) {
        guard value.isFinite else {
            self.null()
            return
        }
        self.digits(TimeFormat.fixed(value, decimals))
    }

    /// A duration in nanoseconds as milliseconds with exactly six decimals (`0.790123`, `1500.000000`): what
    /// ``double(_:decimals:)`` writes for `ns / 1e6`, written from the integer (no `String`).
    public mutating func millisecondsSixDecimals(_ nanoseconds: Int64) {
        // Below 2^50 ns (13 days) `Double(ns) / 1e6` rounds back to `ns` exactly; beyond, the double's own rounding.
        guard nanoseconds.magnitude < 1 << 50 else {
            self.double(Double(nanoseconds) / 1e6, decimals: 6)
            return
        }
        let at = self.valueStart(TimeFormat.maxWrittenBytes)
        self.commit(TimeFormat.writeMillisecondsSixDecimals(nanoseconds, to: at))
    }

    /// A duration as milliseconds, exact to the nanosecond (`0.790123`, `1500`).
    public mutating func milliseconds(_ nanoseconds: Int64) {
        let at = self.valueStart(TimeFormat.maxWrittenBytes)
        self.commit(TimeFormat.writeMilliseconds(nanoseconds, to: at))
    }

    /// An instant as an RFC 3339 string with nanoseconds (`"2026-11-22T14:02:03.123456789Z"`).
    public mutating func rfc3339(_ nanoseconds: Int64) {
        let at = self.valueStart(TimeFormat.maxWrittenBytes &+ 2)
        at.pointee = UInt8(ascii: "\"")
        let (seconds, fraction) = TimeFormat.splitSeconds(nanoseconds)
        let storage = self.storage
        withUnsafeMutableBytes(of: &storage.lastSecondText) { cache in
            let cached = cache.baseAddress!.assumingMemoryBound(to: UInt8.self)
            if storage.lastSecond != seconds {
                _ = TimeFormat.writeRFC3339Second(seconds, to: cached)
                storage.lastSecond = seconds
            }
            (at + 1).update(from: cached, count: 20)
        }
        let written = 20 &+ TimeFormat.writeRFC3339Fraction(fraction, to: at + 21)
        at[written &+ 1] = UInt8(ascii: "\"")
        self.commit(written &+ 2)
    }

    /// `true` or `false`.
    public mutating func bool(_ value: Bool) {
        self.literal(value ? "true" : "false")
    }

    /// `null`.
    public mutating func null() {
        self.literal("null")
    }

    /// A literal value.
    @inline(__always)
    private mutating func literal(_ text: StaticString) {
        self.place(text, at: self.valueStart(text.utf8CodeUnitCount))
    }

    /// An endpoint as a string: `"10.0.0.1:80"`, `"[fd00::1]:80"` (no String built for IPv4).
    public mutating func endpoint(_ value: FlowEndpoint) {
        if value.address.isIPv4 {
            // `"`, the endpoint, `"`.
            let at = self.valueStart(FlowEndpoint.ipv4TextCapacity &+ 2)
            at.pointee = UInt8(ascii: "\"")
            let written = 1 &+ value.writeIPv4Description(to: at + 1)
            at[written] = UInt8(ascii: "\"")
            self.commit(written &+ 1)
        } else {
            self.quoted { Self.appendEndpoint(value, to: &$0) }
        }
    }

    /// An address as a string: `"10.0.0.1"`, `"fd00::1"`.
    public mutating func address(_ value: IPAddress) {
        if value.isIPv4 {
            let at = self.valueStart(17)
            at.pointee = UInt8(ascii: "\"")
            let written = 1 &+ value.writeIPv4Description(to: at + 1)
            at[written] = UInt8(ascii: "\"")
            self.commit(written &+ 1)
        } else {
            self.quoted { value.appendDescription(to: &$0) }
        }
    }

    /// `key: value` for optional strings, `null` when absent.
    public mutating func field(_ name: StaticString, _ value: String?) {
        self.key(name)
        if let value { self.string(value) } else { self.null() }
    }

    /// `key: value` for optional strings hoptrace wrote itself (``string(trusted:)``), `null` when absent.
    public mutating func field(_ name: StaticString, trusted value: String?) {
        self.key(name)
        if let value { self.string(trusted: value) } else { self.null() }
    }

    /// `key: value` for optional integers, `null` when absent.
    @inlinable
    public mutating func field<T: BinaryInteger>(_ name: StaticString, _ value: T?) {
        self.key(name)
        if let value { self.int(value) } else { self.null() }
    }

    // MARK: - Record members (absent values left out)

    /// `"key":"value"`, left out when nil; at most `limit` bytes of the value.
    public mutating func member(_ key: StaticString, _ value: String?, limit: Int = .max) {
        guard let value else { return }
        self.key(key)
        self.string(value, limit: limit)
    }

    /// `"key":n`, left out when nil.
    @inlinable
    public mutating func member<T: BinaryInteger>(_ key: StaticString, _ value: T?) {
        guard let value else { return }
        self.key(key)
        self.int(value)
    }

    /// `"key":true|false`.
    public mutating func member(_ key: StaticString, _ value: Bool) {
        self.key(key)
        self.bool(value)
    }

    /// `"key":"10.0.0.1:80"`.
    public mutating func member(_ key: StaticString, endpoint value: FlowEndpoint) {
        self.key(key)
        self.endpoint(value)
    }

    /// `"key":"10.0.0.1"`, left out when nil.
    public mutating func member(_ key: StaticString, address value: IPAddress?) {
        guard let value else { return }
        self.key(key)
        self.address(value)
    }

    /// An instant as two members: `"time":"2026-11-22T14:02:03.123456789Z","timeNs":1795361169123456789`; left out
    /// when nil.
    public mutating func instant(_ key: StaticString, _ nanosecondsKey: StaticString, _ nanoseconds: Int64?) {
        guard let nanoseconds else { return }
        self.key(key)
        self.rfc3339(nanoseconds)
        self.key(nanosecondsKey)
        self.int(nanoseconds)
    }

    /// `"key":0.790123` (a duration in milliseconds), left out when nil.
    public mutating func milliseconds(_ key: StaticString, _ nanoseconds: Int64?) {
        guard let nanoseconds else { return }
        self.key(key)
        self.milliseconds(nanoseconds)
    }

    /// `"key":[n,...]`, left out when empty.
    @inlinable
    public mutating func member<S: Sequence>(_ key: StaticString, integers values: S) where S.Element: BinaryInteger {
        var iterator = values.makeIterator()
        guard let first = iterator.next() else { return }
        self.key(key)
        self.beginArray()
        self.int(first)
        while let next = iterator.next() { self.int(next) }
        self.endArray()
    }

    /// `"key":{...}`.
    public mutating func object(_ key: StaticString, _ build: (inout JSONWriter) -> Void) {
        self.key(key)
        self.beginObject()
        build(&self)
        self.endObject()
    }

    /// `"names":{"10.0.0.1":"pod default/client",...}` (sorted by address), left out when empty.
    public mutating func names(_ names: [String: String]) {
        guard !names.isEmpty else { return }
        self.key("names")
        self.beginObject()
        for (address, name) in names.sorted(by: { $0.key < $1.key }) {
            self.key(text: address)
            self.string(name, limit: 256)
        }
        self.endObject()
    }

    // MARK: - Escaping

    /// Appends `value` as a JSON string (quoted, escaped, bounded).
    private mutating func appendEscaped(_ value: String, limit: Int) {
        var value = value
        value.withUTF8 { self.appendEscaped(UnsafeRawBufferPointer($0), limit: limit) }
    }

    /// Appends valid UTF-8 `utf8` as a JSON string value (quoted, escaped, at most `limit` bytes of it).
    private mutating func appendEscaped(_ utf8: UnsafeRawBufferPointer, limit: Int) {
        let cut = utf8.count > limit ? Self.boundary(utf8, atMost: max(0, limit)) : utf8.count
        let text = UnsafeRawBufferPointer(rebasing: utf8[0..<cut])
        let cutMark = cut < utf8.count ? 3 : 0
        if !Self.needsEscaping(text) {
            self.quoted(text, cut: cutMark > 0)
            return
        }
        var escaped: [UInt8] = [UInt8(ascii: "\"")]
        escaped.reserveCapacity(cut + cut / 4 + 8)
        Self.appendEscapedSlowly(text, to: &escaped)
        if cutMark > 0 { escaped.append(contentsOf: [0xE2, 0x80, 0xA6]) }  // …
        escaped.append(UInt8(ascii: "\""))
        escaped.withUnsafeBytes { self.value($0) }
    }

    /// Appends raw bytes as one copy (a raw buffer appended as a sequence goes byte by byte).
    @inline(__always)
    static func append(_ raw: UnsafeRawBufferPointer, to bytes: inout [UInt8]) {
        guard let base = raw.baseAddress, raw.count > 0 else { return }
        bytes.append(contentsOf: UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: raw.count))
    }

    /// The largest count at most `limit` that does not cut a UTF-8 sequence of `utf8`.
    package static func boundary(_ utf8: UnsafeRawBufferPointer, atMost limit: Int) -> Int {
        var cut = min(limit, utf8.count)
        while cut > 0 && cut < utf8.count && utf8[cut] & 0xC0 == 0x80 { cut -= 1 }
        return cut
    }

    /// Writes `text` escaped, byte by byte: the definition the fast scan is checked against.
    package static func appendEscapedSlowly(_ text: UnsafeRawBufferPointer, to bytes: inout [UInt8]) {
        let hex: StaticString = "0123456789abcdef"
        var index = 0
        var plainStart = 0
        while index < text.count {
            let byte = text[index]
            var short: UInt8 = 0
            var code: UInt16 = 0
            var width = 1
            switch byte {
            case 0x22: short = 0x22
            case 0x5C: short = 0x5C
            case 0x0A: short = UInt8(ascii: "n")
            case 0x0D: short = UInt8(ascii: "r")
            case 0x09: short = UInt8(ascii: "t")
            case 0x08: short = UInt8(ascii: "b")
            case 0x0C: short = UInt8(ascii: "f")
            case 0x00..<0x20, 0x7F: code = UInt16(byte)
            case 0xE2 where index + 2 < text.count && text[index + 1] == 0x80 && (text[index + 2] | 1) == 0xA9:
                code = text[index + 2] == 0xA8 ? 0x2028 : 0x2029
                width = 3
            default:
                index += 1
                continue
            }
            if plainStart < index {
                Self.append(UnsafeRawBufferPointer(rebasing: text[plainStart..<index]), to: &bytes)
            }
            bytes.append(0x5C)
            if short != 0 {
                bytes.append(short)
            } else {
                bytes.append(UInt8(ascii: "u"))
                hex.withUTF8Buffer { digits in
                    for shift in stride(from: 12, through: 0, by: -4) {
                        bytes.append(digits[Int((code >> UInt16(shift)) & 0xF)])
                    }
                }
            }
            index += width
            plainStart = index
        }
        if plainStart < text.count { Self.append(UnsafeRawBufferPointer(rebasing: text[plainStart...]), to: &bytes) }
    }

    /// Whether any byte is a control character, DEL, a quote, a backslash or 0xE2 (the lead byte of U+2028 and
    /// U+2029); eight bytes at a time (SWAR: a byte below 0x20 or equal to c shows as a borrow into its top bit).
    package static func needsEscaping(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        // A zero byte's borrow reaches its top bit; the five tests are OR-ed and tested once (one branch a word).
        @inline(__always) func zeroBytes(_ v: UInt64) -> UInt64 { (v &- ones) & ~v }
        @inline(__always) func flags(_ word: UInt64) -> Bool {
            let below20 = (word &- ones &* 0x20) & ~word
            let special =
                zeroBytes(word ^ (ones &* 0x22)) | zeroBytes(word ^ (ones &* 0x5C)) | zeroBytes(word ^ (ones &* 0x7F))
                | zeroBytes(word ^ (ones &* 0xE2))
            return (below20 | special) & high != 0
        }
        let count = bytes.count
        guard count >= 8, let base = bytes.baseAddress else {
            // Fewer than eight bytes: one word of them padded with spaces (nothing to escape).
            var word: UInt64 = ones &* 0x20
            withUnsafeMutableBytes(of: &word) { $0.copyMemory(from: bytes) }
            return flags(word)
        }
        var index = 0
        while index &+ 8 <= count {
            if flags(UnsafeRawPointer(base).loadUnaligned(fromByteOffset: index, as: UInt64.self)) { return true }
            index &+= 8
        }
        // The last bytes: the word that ends with them (it overlaps bytes already tested, which are clean).
        return index < count && flags(UnsafeRawPointer(base).loadUnaligned(fromByteOffset: count &- 8, as: UInt64.self))
    }

    /// Whether every byte is below 0x80; eight bytes at a time.
    package static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        while index + 8 <= bytes.count {
            if bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { return false }
            index += 8
        }
        while index < bytes.count {
            if bytes[index] >= 0x80 { return false }
            index += 1
        }
        return true
    }

    /// Appends `10.0.0.1:80` or `[fd00::1]:80`.
    package static func appendEndpoint(_ value: FlowEndpoint, to bytes: inout [UInt8]) {
        if value.address.isIPv4 {
            value.address.appendDescription(to: &bytes)
        } else {
            bytes.append(UInt8(ascii: "["))
            value.address.appendDescription(to: &bytes)
            bytes.append(UInt8(ascii: "]"))
        }
        bytes.append(UInt8(ascii: ":"))
        TimeFormat.append(to: &bytes) { TimeFormat.writeDecimal(UInt64(value.port), to: $0) }
    }
}
