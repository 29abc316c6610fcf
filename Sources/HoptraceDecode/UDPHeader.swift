/// A UDP header (RFC 768).
public struct UDPHeader: Hashable, Sendable {
    /// Source port.
    public var srcPort: UInt16
    /// Destination port.
    public var dstPort: UInt16
    /// The length field: header plus payload.
    public var length: UInt16
    /// Checksum as on the wire (not verified).
    public var checksum: UInt16

    /// A header from its fields.
    @inlinable
    public init(srcPort: UInt16, dstPort: UInt16, length: UInt16, checksum: UInt16) {
        self.srcPort = srcPort
        self.dstPort = dstPort
        self.length = length
        self.checksum = checksum
    }
}
