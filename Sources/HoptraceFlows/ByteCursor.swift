// A bounds-checked, big-endian reader over borrowed bytes, for the application-layer parsers (DNS, HTTP).
//
// Every read checks its length first and returns nil on too few bytes, moving the cursor only on success. Nothing
// here allocates.

/// A cursor over borrowed bytes. Reads are big-endian (network order).
@usableFromInline
struct ByteCursor {
    /// The bytes read; borrowed, valid as long as the caller keeps them.
    @usableFromInline
    let bytes: UnsafeRawBufferPointer
    /// The next byte to read.
    @usableFromInline
    var offset: Int

    @inlinable
    init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    /// The number of bytes left after the cursor.
    @inlinable
    var remaining: Int { Swift.max(0, self.bytes.count - self.offset) }

    @inlinable
    mutating func readUInt16() -> UInt16? {
        guard self.offset >= 0, self.remaining >= 2 else { return nil }
        defer { self.offset += 2 }
        return UInt16(bigEndian: self.bytes.loadUnaligned(fromByteOffset: self.offset, as: UInt16.self))
    }

    @inlinable
    mutating func readUInt32() -> UInt32? {
        guard self.offset >= 0, self.remaining >= 4 else { return nil }
        defer { self.offset += 4 }
        return UInt32(bigEndian: self.bytes.loadUnaligned(fromByteOffset: self.offset, as: UInt32.self))
    }

    @inlinable
    mutating func readUInt64() -> UInt64? {
        guard self.offset >= 0, self.remaining >= 8 else { return nil }
        defer { self.offset += 8 }
        return UInt64(bigEndian: self.bytes.loadUnaligned(fromByteOffset: self.offset, as: UInt64.self))
    }

    /// Skips `count` bytes; false (and no move) if fewer are left.
    @inlinable
    mutating func skip(_ count: Int) -> Bool {
        guard count >= 0, self.offset >= 0, self.remaining >= count else { return false }
        self.offset += count
        return true
    }
}

/// Untrusted text from a packet, made safe to store and print: at most `limit` bytes, printable ASCII kept,
/// everything else (control bytes, non-ASCII) as `\xNN`.
@usableFromInline
func sanitizedString(_ bytes: UnsafeRawBufferPointer, limit: Int = 256) -> String {
    // Fast path, the common case: printable ASCII without a backslash, within the limit: one copy, no escaping.
    let prefix = UnsafeRawBufferPointer(rebasing: bytes[0..<Swift.min(bytes.count, Swift.max(limit, 0))])
    var clean = true
    for byte in prefix where byte < 0x20 || byte >= 0x7f || byte == UInt8(ascii: "\\") {
        clean = false
        break
    }
    if clean { return String(decoding: prefix, as: UTF8.self) }
    var out: [UInt8] = []
    out.reserveCapacity(Swift.min(bytes.count, limit) + 16)
    var used = 0
    for byte in bytes {
        if used >= limit { break }
        if byte >= 0x20 && byte < 0x7f && byte != UInt8(ascii: "\\") {
            out.append(byte)
            used += 1
        } else {
            let digits: StaticString = "0123456789abcdef"
            out.append(UInt8(ascii: "\\"))
            out.append(UInt8(ascii: "x"))
            out.append(digits.utf8Start[Int(byte >> 4)])
            out.append(digits.utf8Start[Int(byte & 0x0f)])
            used += 4
        }
    }
    return String(decoding: out, as: UTF8.self)
}
