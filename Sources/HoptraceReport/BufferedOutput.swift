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

/// Where record writers put their bytes: raw memory written to a file descriptor (standard output by default) with
/// one write(2) per 64 KiB, not per line, or kept in memory (for tests, and for callers that want the text).
///
/// Writers append pieces straight into it (numbers, times and addresses digit by digit, no String built), then the
/// caller ends the record with ``endRecord()``, which writes the buffer out once it holds 64 KiB. ``flush()`` writes
/// what is left; it runs before an error line is printed, so that everything read before a fault is out first, and
/// on deinit.
///
/// The bytes, their count and capacity are raw memory behind a `let` pointer, so that an append is a capacity check
/// and a copy: no array uniqueness check and no dynamic exclusivity check per piece (a record line is a dozen
/// pieces, and `requests` writes one per request). It lives beside the writers, not in the CLI, so that a record
/// goes from a writer to the file descriptor without a copy, and so that tests run writers into memory.
public final class BufferedOutput {
    @usableFromInline
    struct Storage {
        @usableFromInline var base: UnsafeMutablePointer<UInt8>
        @usableFromInline var count: Int
        @usableFromInline var capacity: Int
        /// The whole second of the last RFC 3339 time written, and its first 20 bytes (records come in time order,
        /// thousands a second: the calendar is computed once a second, not once a record).
        var lastSecond: Int64 = .min
        var lastSecondText: (UInt64, UInt64, UInt32) = (0, 0, 0)
    }

    @usableFromInline
    let storage: UnsafeMutablePointer<Storage>
    /// The file descriptor written to; nil keeps everything in memory.
    public let fileDescriptor: Int32?
    /// Bytes kept before a write(2).
    @usableFromInline
    static let flushThreshold = 1 << 16

    /// Output to `fileDescriptor` (standard output by default).
    public init(fileDescriptor: Int32 = 1) {
        self.fileDescriptor = fileDescriptor
        self.storage = .allocate(capacity: 1)
        let capacity = Self.flushThreshold + 4096
        self.storage.initialize(to: Storage(base: .allocate(capacity: capacity), count: 0, capacity: capacity))
    }

    /// Output kept in memory: ``text`` and ``bytes`` are everything written.
    public init(inMemory: Void) {
        self.fileDescriptor = nil
        self.storage = .allocate(capacity: 1)
        self.storage.initialize(to: Storage(base: .allocate(capacity: 4096), count: 0, capacity: 4096))
    }

    deinit {
        self.flush()
        self.storage.pointee.base.deallocate()
        self.storage.deallocate()
    }

    /// The bytes not yet written out (all of them, for output kept in memory).
    public var bytes: [UInt8] {
        Array(UnsafeBufferPointer(start: self.storage.pointee.base, count: self.storage.pointee.count))
    }

    /// ``bytes`` as text.
    public var text: String { String(decoding: self.bytes, as: UTF8.self) }

    /// The number of bytes not yet written out.
    public var count: Int { self.storage.pointee.count }

    /// Calls `body` with the bytes not yet written out, in place.
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        body(UnsafeRawBufferPointer(start: self.storage.pointee.base, count: self.storage.pointee.count))
    }

    /// Drops the spaces at the end of what is buffered, back to offset `start` at most (for output kept in memory:
    /// a buffer written out since `start` has nothing to drop).
    func removeTrailingSpaces(downTo start: Int) {
        let base = self.storage.pointee.base
        var count = self.storage.pointee.count
        while count > max(0, start), base[count - 1] == UInt8(ascii: " ") { count -= 1 }
        self.storage.pointee.count = count
    }

    // MARK: - Appending

    /// Room for `count` more bytes: where to write them (then ``commit(_:)`` how many were written).
    @inlinable
    @inline(__always)
    public func reserve(_ count: Int) -> UnsafeMutablePointer<UInt8> {
        if self.storage.pointee.count + count > self.storage.pointee.capacity { self.grow(count) }
        return self.storage.pointee.base + self.storage.pointee.count
    }

    /// Counts `count` bytes written at ``reserve(_:)``'s pointer.
    @inlinable
    @inline(__always)
    public func commit(_ count: Int) {
        self.storage.pointee.count += count
    }

    /// Appends what `write` writes into room for `maxCount` bytes (a ``TimeFormat`` byte writer, say).
    @inlinable
    @inline(__always)
    public func write(_ maxCount: Int, _ write: (UnsafeMutablePointer<UInt8>) -> Int) {
        self.commit(write(self.reserve(maxCount)))
    }

    /// Appends one byte.
    @inlinable
    @inline(__always)
    public func append(_ byte: UInt8) {
        self.reserve(1).pointee = byte
        self.storage.pointee.count += 1
    }

    /// Appends raw bytes.
    public func append(_ raw: UnsafeRawBufferPointer) {
        guard let source = raw.baseAddress, raw.count > 0 else { return }
        self.reserve(raw.count).update(from: source.assumingMemoryBound(to: UInt8.self), count: raw.count)
        self.storage.pointee.count += raw.count
    }

    /// Appends bytes.
    public func append(contentsOf bytes: [UInt8]) {
        bytes.withUnsafeBytes { self.append($0) }
    }

    /// Appends a literal.
    public func append(_ text: StaticString) {
        text.withUTF8Buffer { self.append(UnsafeRawBufferPointer($0)) }
    }

    /// Appends text as it is (trusted text: for packet-derived text use ``appendTerminal(_:limit:)``).
    public func append(_ text: String) {
        let done: Void? = text.utf8.withContiguousStorageIfAvailable { self.append(UnsafeRawBufferPointer($0)) }
        if done == nil {
            var text = text
            text.withUTF8 { self.append(UnsafeRawBufferPointer($0)) }
        }
    }

    /// Appends text made safe for a terminal and bounded (``TerminalText``).
    public func appendTerminal(_ text: String, limit: Int = 256) {
        TerminalText.append(text, limit: limit, to: self)
    }

    /// Appends a decimal number.
    public func appendNumber<T: BinaryInteger>(_ value: T) {
        let out = self.reserve(21)
        var count = 0
        if value < 0 {
            out[0] = UInt8(ascii: "-")
            count = 1
        }
        count += TimeFormat.writeDecimal(UInt64(clamping: value.magnitude), to: out + count)
        self.commit(count)
    }

    /// Appends an instant as RFC 3339 with nanoseconds (``TimeFormat/rfc3339(_:)``).
    public func appendRFC3339(_ nanoseconds: Int64) {
        let (seconds, fraction) = TimeFormat.splitSeconds(nanoseconds)
        let out = self.reserve(30)
        withUnsafeMutableBytes(of: &self.storage.pointee.lastSecondText) { cache in
            let cached = cache.baseAddress!.assumingMemoryBound(to: UInt8.self)
            if self.storage.pointee.lastSecond != seconds {
                _ = TimeFormat.writeRFC3339Second(seconds, to: cached)
                self.storage.pointee.lastSecond = seconds
            }
            out.update(from: cached, count: 20)
        }
        self.commit(20 + TimeFormat.writeRFC3339Fraction(fraction, to: out + 20))
    }

    /// Appends a duration for people (`790 µs`).
    public func appendDuration(_ nanoseconds: Int64) {
        self.write(TimeFormat.maxWrittenBytes) { TimeFormat.writeDuration(nanoseconds, to: $0) }
    }

    /// Appends an address: `10.0.0.1`, `fd00::1` (IPv4 digit by digit).
    public func appendAddress(_ address: IPAddress) {
        guard address.isIPv4 else {
            self.append(address.description)
            return
        }
        let out = self.reserve(15)
        let value = address.ipv4Value
        var count = 0
        for shift in stride(from: 24, through: 0, by: -8) {
            count += TimeFormat.writeDecimal(UInt64((value >> UInt32(shift)) & 0xff), to: out + count)
            if shift > 0 {
                out[count] = UInt8(ascii: ".")
                count += 1
            }
        }
        self.commit(count)
    }

    /// Appends an endpoint: `10.0.0.1:80`, `[fd00::1]:80`.
    public func appendEndpoint(_ endpoint: FlowEndpoint) {
        if endpoint.address.isIPv4 {
            // "255.255.255.255:65535": 21 bytes at most, written in one go.
            let out = self.reserve(21)
            let value = endpoint.address.ipv4Value
            var count = 0
            for shift in stride(from: 24, through: 0, by: -8) {
                count += TimeFormat.writeDecimal(UInt64((value >> UInt32(shift)) & 0xff), to: out + count)
                out[count] = shift > 0 ? UInt8(ascii: ".") : UInt8(ascii: ":")
                count += 1
            }
            count += TimeFormat.writeDecimal(UInt64(endpoint.port), to: out + count)
            self.commit(count)
            return
        } else {
            self.append(UInt8(ascii: "["))
            self.appendAddress(endpoint.address)
            self.append(UInt8(ascii: "]"))
        }
        self.append(UInt8(ascii: ":"))
        self.appendNumber(endpoint.port)
    }

    // MARK: - Writing out

    /// Appends text as it is, and writes out if the buffer is full (for whole blocks of text).
    public func write(_ text: String) {
        self.append(text)
        self.endRecord()
    }

    /// Appends text and a newline.
    public func line(_ text: String) {
        self.append(text)
        self.append(0x0A)
        self.endRecord()
    }

    /// Writes the buffer out when it holds 64 KiB or more (a no-op for output kept in memory).
    @inlinable
    @inline(__always)
    public func endRecord() {
        if self.storage.pointee.count >= Self.flushThreshold, self.fileDescriptor != nil { self.flush() }
    }

    /// Writes out everything buffered (a no-op for output kept in memory).
    public func flush() {
        guard let fileDescriptor, self.storage.pointee.count > 0 else { return }
        writeAll(
            fileDescriptor,
            UnsafeRawBufferPointer(start: self.storage.pointee.base, count: self.storage.pointee.count)
        )
        self.storage.pointee.count = 0
    }

    /// Makes room for `count` more bytes.
    @usableFromInline
    func grow(_ count: Int) {
        let state = self.storage.pointee
        if self.fileDescriptor != nil && state.count > 0 && count <= state.capacity {
            self.flush()
            return
        }
        let capacity = max(state.capacity * 2, state.count + count)
        let base = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        base.update(from: state.base, count: state.count)
        state.base.deallocate()
        self.storage.pointee = Storage(base: base, count: state.count, capacity: capacity)
    }
}

/// write(2) until all of `raw` is written (or writing fails: a closed pipe ends the output, as for tcpdump).
private func writeAll(_ fileDescriptor: Int32, _ raw: UnsafeRawBufferPointer) {
    guard let base = raw.baseAddress else { return }
    var offset = 0
    while offset < raw.count {
        let written = write(fileDescriptor, base + offset, raw.count - offset)
        if written <= 0 {
            if written < 0 && errno == EINTR { continue }
            return
        }
        offset += written
    }
}
