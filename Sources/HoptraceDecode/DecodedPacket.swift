import HoptraceCapture

/// One decoded packet.
///
/// Borrowed: ``payload`` and ``transportBytes`` point into the ``Packet``'s bytes (or, for a reassembled IP datagram,
/// into the decoder's reassembly buffer) and are valid as long as those are: until the source's next `next()` and
/// the decoder's next `decode(_:)`.
public struct DecodedPacket {
    /// Capture time in nanoseconds since the Unix epoch, from the packet.
    public var timestamp: Int64
    /// Index into the source's interfaces, from the packet.
    public var interfaceID: Int
    /// From the packet if the source knew it, else from the SLL/SLL2 packet type.
    public var direction: PacketDirection
    /// What the link layer said.
    public var link: LinkInfo
    /// The outermost tunnel, when one was taken off; ``network`` is then the innermost IP header.
    public var tunnel: TunnelInfo?
    /// The (innermost) IP header; nil for ARP and other non-IP frames.
    public var network: NetworkHeader?
    /// The ARP message, when the frame is ARP.
    public var arp: ARPMessage?
    /// The (innermost) transport header.
    public var transport: Transport
    /// The captured bytes from the transport header on (header and payload), possibly cut by the snapshot length.
    public var transportBytes: UnsafeRawBufferPointer
    /// The transport payload as captured: may be shorter than ``payloadLength`` (snapshot length), never longer
    /// (Ethernet trailer padding excluded).
    public var payload: UnsafeRawBufferPointer
    /// The transport payload's length on the wire, from the IP and TCP/UDP length fields.
    public var payloadLength: Int
    /// The packet's length on the wire, from the packet.
    public var originalLength: Int
    /// The number of bytes captured (less than ``originalLength`` when the snapshot length cut the packet).
    public var capturedLength: Int
    /// The first problem met, if any.
    public var warning: DecodeWarning?
    /// Set when the packet is a fragment taken into reassembly that did not complete its datagram.
    @usableFromInline
    var swallowed: Bool

    /// A packet with its capture metadata and nothing decoded yet.
    @inlinable
    public init(_ packet: Packet) {
        self.timestamp = packet.timestamp
        self.interfaceID = packet.interfaceID
        self.direction = packet.direction
        self.link = LinkInfo(linkType: packet.linkType)
        self.tunnel = nil
        self.network = nil
        self.arp = nil
        self.transport = .none
        self.transportBytes = UnsafeRawBufferPointer(start: nil, count: 0)
        self.payload = UnsafeRawBufferPointer(start: nil, count: 0)
        self.payloadLength = 0
        self.originalLength = packet.originalLength
        self.capturedLength = packet.bytes.count
        self.warning = nil
        self.swallowed = false
    }

    /// Sets every field as ``init(_:)`` does, in place (no temporary of this large struct).
    @inlinable
    mutating func reset(_ packet: borrowing Packet) {
        self.timestamp = packet.timestamp
        self.interfaceID = packet.interfaceID
        self.direction = packet.direction
        self.link = LinkInfo(linkType: packet.linkType)
        self.tunnel = nil
        self.network = nil
        self.arp = nil
        self.transport = .none
        self.transportBytes = UnsafeRawBufferPointer(start: nil, count: 0)
        self.payload = UnsafeRawBufferPointer(start: nil, count: 0)
        self.payloadLength = 0
        self.originalLength = packet.originalLength
        self.capturedLength = packet.bytes.count
        self.warning = nil
        self.swallowed = false
    }

    /// A packet with no bytes, of no link type: the starting value of a ``DecodedPacket`` that
    /// ``PacketDecoder/decode(_:into:)`` fills.
    @inlinable
    public static var empty: DecodedPacket {
        DecodedPacket(
            Packet(
                timestamp: 0,
                interfaceID: -1,
                direction: .unknown,
                linkType: LinkType(rawValue: 0),
                originalLength: 0,
                bytes: UnsafeRawBufferPointer(start: nil, count: 0)
            )
        )
    }

    /// The TCP header, if the transport is TCP.
    @inlinable
    public var tcp: TCPHeader? {
        if case .tcp(let header) = self.transport { return header }
        return nil
    }

    /// The UDP header, if the transport is UDP.
    @inlinable
    public var udp: UDPHeader? {
        if case .udp(let header) = self.transport { return header }
        return nil
    }

    /// The ICMP message, if the transport is ICMP or ICMPv6.
    @inlinable
    public var icmp: ICMPMessage? {
        if case .icmp(let message) = self.transport { return message }
        return nil
    }
}
