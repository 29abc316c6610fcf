// Big-endian and little-endian loads over borrowed bytes.
//
// Every parser checks the length of the header it is about to read once (`bytes.count - offset >= n`) and then reads
// its fields with these unchecked loads. The loads never trap in release builds and never allocate.

extension UnsafeRawBufferPointer {
    /// Reads one byte. The caller has checked `offset < count`.
    @inlinable
    @inline(__always)
    func u8(_ offset: Int) -> UInt8 {
        self.loadUnaligned(fromByteOffset: offset, as: UInt8.self)
    }

    /// Reads a big-endian UInt16. The caller has checked `offset + 2 <= count`.
    @inlinable
    @inline(__always)
    func be16(_ offset: Int) -> UInt16 {
        UInt16(bigEndian: self.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    /// Reads a big-endian UInt32. The caller has checked `offset + 4 <= count`.
    @inlinable
    @inline(__always)
    func be32(_ offset: Int) -> UInt32 {
        UInt32(bigEndian: self.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// Reads a big-endian UInt64. The caller has checked `offset + 8 <= count`.
    @inlinable
    @inline(__always)
    func be64(_ offset: Int) -> UInt64 {
        UInt64(bigEndian: self.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// Reads a little-endian UInt16. The caller has checked `offset + 2 <= count`.
    @inlinable
    @inline(__always)
    func le16(_ offset: Int) -> UInt16 {
        UInt16(littleEndian: self.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    /// Reads a little-endian UInt32. The caller has checked `offset + 4 <= count`.
    @inlinable
    @inline(__always)
    func le32(_ offset: Int) -> UInt32 {
        UInt32(littleEndian: self.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// Whether `length` bytes are available at `offset` (both non-negative).
    @inlinable
    @inline(__always)
    func has(_ length: Int, at offset: Int) -> Bool {
        offset >= 0 && length >= 0 && offset <= self.count && self.count - offset >= length
    }

    /// The bytes from `offset` to `offset + length`, clamped to what is there. Never traps.
    @inlinable
    func slice(_ offset: Int, _ length: Int) -> UnsafeRawBufferPointer {
        guard offset >= 0, offset < self.count, length > 0, let base = self.baseAddress else {
            return UnsafeRawBufferPointer(start: nil, count: 0)
        }
        return UnsafeRawBufferPointer(start: base + offset, count: Swift.min(length, self.count - offset))
    }
}
