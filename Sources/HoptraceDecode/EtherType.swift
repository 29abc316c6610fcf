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
