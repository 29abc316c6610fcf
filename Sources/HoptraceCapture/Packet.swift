/// The direction of a packet relative to the capture point, as pcapng's `epb_flags` and Linux's packet types
/// express it.
public enum PacketDirection: UInt8, Sendable, Hashable, CustomStringConvertible {
    /// Not recorded by the source (classic pcap files, most link types).
    case unknown = 0
    /// Received by the interface.
    case inbound = 1
    /// Sent by the interface.
    case outbound = 2

    /// `In`, `Out`, or `-` when unknown (as tcpdump prints directions).
    public var description: String {
        switch self {
        case .unknown: return "-"
        case .inbound: return "In"
        case .outbound: return "Out"
        }
    }
}

/// One interface a source captures on, or one pcapng Interface Description Block.
public struct InterfaceDescription: Sendable, Hashable {
    /// The interface name (`eth0`, `cni0`, `any`); for a classic pcap file, the file's base name.
    public var name: String
    /// Free-text description (pcapng `if_description`), if any.
    public var description: String?
    /// The link-layer header type of this interface's packets.
    public var linkType: LinkType
    /// The snapshot length; 0 means unlimited.
    public var snapLength: UInt32
    /// Timestamp units per second on the wire (1_000_000 for µs, 1_000_000_000 for ns).
    public var timestampsPerSecond: UInt64
    /// Whether `name` names a real interface (a live capture, a pcapng `if_name`) rather than standing in for one
    /// (a classic pcap file's base name, a pcapng interface without a name).
    public var isNamed: Bool

    /// Creates a value with these fields.
    public init(
        name: String,
        description: String? = nil,
        linkType: LinkType,
        snapLength: UInt32 = 0,
        timestampsPerSecond: UInt64 = 1_000_000,
        isNamed: Bool = true
    ) {
        self.name = name
        self.description = description
        self.linkType = linkType
        self.snapLength = snapLength
        self.timestampsPerSecond = timestampsPerSecond
        self.isNamed = isNamed
    }
}

/// A packet as a source yields it: metadata plus the captured bytes, borrowed.
///
/// `bytes` points into the source's own buffer and is valid only until the next call to
/// ``PacketSource/next()`` on the same source (or until the source is released). Decode it in place; copy only what
/// must outlive the call.
public struct Packet {
    /// Capture time in nanoseconds since the Unix epoch.
    public var timestamp: Int64
    /// Index into the source's ``PacketSource/interfaces``.
    public var interfaceID: Int
    /// Direction, when the source records it.
    public var direction: PacketDirection
    /// The link-layer header type of `bytes`.
    public var linkType: LinkType
    /// The packet's length on the wire; `bytes.count` is less when the snapshot length cut it.
    public var originalLength: Int
    /// The captured bytes, borrowed from the source.
    public var bytes: UnsafeRawBufferPointer

    @inlinable
    /// Creates a value with these fields.
    public init(
        timestamp: Int64,
        interfaceID: Int,
        direction: PacketDirection,
        linkType: LinkType,
        originalLength: Int,
        bytes: UnsafeRawBufferPointer
    ) {
        self.timestamp = timestamp
        self.interfaceID = interfaceID
        self.direction = direction
        self.linkType = linkType
        self.originalLength = originalLength
        self.bytes = bytes
    }
}

/// Anything that yields packets in capture order: a live libpcap handle, a pcap or pcapng file, several of those
/// merged by timestamp.
public protocol PacketSource: AnyObject {
    /// The interfaces seen so far. Grows while a pcapng file is read (an Interface Description Block may appear
    /// between packets); an index, once given, never changes meaning.
    var interfaces: [InterfaceDescription] { get }

    /// The next packet, or `nil` at the end of the input.
    ///
    /// The returned packet's bytes are valid until the next call. A fault after some packets (a truncated file)
    /// is thrown only after every complete packet before it has been returned.
    func next() throws(CaptureError) -> Packet?

    /// Packets the source skipped or adjusted for their times (a file reader's count; zero for live sources).
    var timestampAnomalies: TimestampAnomalies { get }
}

extension PacketSource {
    /// None: a source that cannot meet an odd time (a live capture) counts nothing.
    public var timestampAnomalies: TimestampAnomalies { TimestampAnomalies() }
}
