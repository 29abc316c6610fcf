import HoptraceCapture

/// An EtherType (the protocol field of Ethernet, 802.1Q, SLL and SLL2 headers, and of GRE and Geneve).
public struct EtherType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The 16-bit value.
    public var rawValue: UInt16

    /// The EtherType with this value.
    @inlinable
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// IPv4.
    public static let ipv4 = EtherType(rawValue: 0x0800)
    /// ARP.
    public static let arp = EtherType(rawValue: 0x0806)
    /// Transparent Ethernet bridging (an Ethernet frame inside GRE or Geneve).
    public static let transparentEthernet = EtherType(rawValue: 0x6558)
    /// 802.1Q customer VLAN tag.
    public static let vlan = EtherType(rawValue: 0x8100)
    /// IPv6.
    public static let ipv6 = EtherType(rawValue: 0x86dd)
    /// 802.1ad service VLAN tag (QinQ outer tag).
    public static let qinq = EtherType(rawValue: 0x88a8)
    /// Pre-standard QinQ outer tag.
    public static let qinqLegacy = EtherType(rawValue: 0x9100)

    /// `0x0800` style.
    public var description: String {
        let hex = String(self.rawValue, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}

/// An IP protocol number (the IPv4 protocol field, the IPv6 next header).
public struct IPProtocol: RawRepresentable, Hashable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    /// The 8-bit value.
    public var rawValue: UInt8

    /// The protocol with this number.
    @inlinable
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The protocol with this number, written as a literal (`network.protocol == 6`).
    @inlinable
    public init(integerLiteral value: UInt8) { self.rawValue = value }

    /// IPv6 hop-by-hop options.
    public static let hopByHop: IPProtocol = 0
    /// ICMP.
    public static let icmp: IPProtocol = 1
    /// IPv4 in IP (IP-in-IP).
    public static let ipip: IPProtocol = 4
    /// TCP.
    public static let tcp: IPProtocol = 6
    /// UDP.
    public static let udp: IPProtocol = 17
    /// IPv6 in IP (6in4 / 6in6).
    public static let ipv6: IPProtocol = 41
    /// IPv6 routing header.
    public static let routing: IPProtocol = 43
    /// IPv6 fragment header.
    public static let fragment: IPProtocol = 44
    /// GRE.
    public static let gre: IPProtocol = 47
    /// IPsec ESP.
    public static let esp: IPProtocol = 50
    /// IPsec authentication header.
    public static let authentication: IPProtocol = 51
    /// ICMPv6.
    public static let icmpv6: IPProtocol = 58
    /// IPv6 no next header.
    public static let noNextHeader: IPProtocol = 59
    /// IPv6 destination options.
    public static let destinationOptions: IPProtocol = 60
    /// SCTP.
    public static let sctp: IPProtocol = 132

    /// The number in decimal.
    public var description: String { String(self.rawValue) }
}

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
