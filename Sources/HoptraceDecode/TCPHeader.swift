/// A TCP header (RFC 9293 section 3.1).
public struct TCPHeader: Hashable, Sendable {
    /// Source port.
    public var srcPort: UInt16
    /// Destination port.
    public var dstPort: UInt16
    /// Sequence number (absolute, as on the wire).
    public var seq: UInt32
    /// Acknowledgment number (absolute).
    public var ack: UInt32
    /// Flags.
    public var flags: TCPFlags
    /// Window, unscaled.
    public var window: UInt16
    /// Header length in bytes (data offset * 4), 20...60.
    public var headerLength: Int
    /// Parsed options.
    public var options: TCPOptions
    /// Checksum as on the wire (not verified: offloads leave it wrong on the sending host).
    public var checksum: UInt16
    /// Urgent pointer.
    public var urgentPointer: UInt16

    /// A header from its fields.
    @inlinable
    public init(
        srcPort: UInt16,
        dstPort: UInt16,
        seq: UInt32,
        ack: UInt32,
        flags: TCPFlags,
        window: UInt16,
        headerLength: Int,
        options: TCPOptions,
        checksum: UInt16,
        urgentPointer: UInt16
    ) {
        self.srcPort = srcPort
        self.dstPort = dstPort
        self.seq = seq
        self.ack = ack
        self.flags = flags
        self.window = window
        self.headerLength = headerLength
        self.options = options
        self.checksum = checksum
        self.urgentPointer = urgentPointer
    }
}
