/// A 48-bit MAC address, inline.
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    /// The six bytes in the low 48 bits, first byte most significant.
    public var rawValue: UInt64

    /// The MAC address whose six bytes are the low 48 bits of `rawValue`.
    @inlinable
    public init(rawValue: UInt64) { self.rawValue = rawValue & 0xffff_ffff_ffff }

    /// Reads six bytes at `offset`. The caller has checked they are there.
    @inlinable
    static func read(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> MACAddress {
        MACAddress(rawValue: UInt64(bytes.be16(offset)) << 32 | UInt64(bytes.be32(offset + 2)))
    }

    /// `aa:bb:cc:dd:ee:ff`.
    public var description: String {
        (0..<6).map { i -> String in
            let byte = UInt8(truncatingIfNeeded: self.rawValue >> (40 - 8 * UInt64(i)))
            return (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }.joined(separator: ":")
    }
}

/// Stored as its 48-bit value.
extension MACAddress: Codable {
    /// Reads the value.
    public init(from decoder: any Decoder) throws {
        self.init(rawValue: try decoder.singleValueContainer().decode(UInt64.self))
    }

    /// Writes the value.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.rawValue)
    }
}
