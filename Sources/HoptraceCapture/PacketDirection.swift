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

/// Stored as its raw value (0, 1, 2).
extension PacketDirection: Codable {}
