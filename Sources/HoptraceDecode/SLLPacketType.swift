import HoptraceCapture

/// The Linux packet type of an SLL or SLL2 header (`PACKET_HOST` ... `PACKET_OUTGOING`): the direction.
public struct SLLPacketType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The value as in the header.
    public var rawValue: UInt16

    /// The packet type with this value.
    @inlinable
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// Addressed to this host.
    public static let host = SLLPacketType(rawValue: 0)
    /// Link-layer broadcast.
    public static let broadcast = SLLPacketType(rawValue: 1)
    /// Link-layer multicast.
    public static let multicast = SLLPacketType(rawValue: 2)
    /// Addressed to another host (promiscuous mode).
    public static let otherHost = SLLPacketType(rawValue: 3)
    /// Sent by this host.
    public static let outgoing = SLLPacketType(rawValue: 4)

    /// The direction this packet type means: outgoing is outbound, every other known type inbound.
    @inlinable
    public var direction: PacketDirection {
        switch self.rawValue {
        case 4: return .outbound
        case 0...3: return .inbound
        default: return .unknown
        }
    }

    /// tcpdump's words: "In", "B", "M", "P", "Out".
    public var description: String {
        switch self.rawValue {
        case 0: return "In"
        case 1: return "B"
        case 2: return "M"
        case 3: return "P"
        case 4: return "Out"
        default: return "type \(self.rawValue)"
        }
    }
}
