/// A link-layer header type, as numbered by the tcpdump group's LINKTYPE_ registry (the values in pcap and pcapng
/// files; libpcap's DLT_ values where they differ are mapped on the live path).
public struct LinkType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The LINKTYPE_ number.
    public var rawValue: UInt32

    @inlinable
    /// A link type from its LINKTYPE_ number.
    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// BSD loopback: a 4-byte address family in the host byte order of the capturing machine.
    public static let null = LinkType(rawValue: 0)
    /// Ethernet II / 802.3.
    public static let ethernet = LinkType(rawValue: 1)
    /// Raw IPv4 or IPv6, told apart by the version nibble.
    public static let raw = LinkType(rawValue: 101)
    /// OpenBSD loopback: a 4-byte address family in network byte order.
    public static let loop = LinkType(rawValue: 108)
    /// Linux cooked capture v1 (`tcpdump -i any` before libpcap 1.10).
    public static let linuxSLL = LinkType(rawValue: 113)
    /// Raw IPv4.
    public static let ipv4 = LinkType(rawValue: 228)
    /// Raw IPv6.
    public static let ipv6 = LinkType(rawValue: 229)
    /// Linux netfilter NFLOG.
    public static let nflog = LinkType(rawValue: 239)
    /// Linux cooked capture v2: carries the interface index and the packet type (direction).
    public static let linuxSLL2 = LinkType(rawValue: 276)

    /// The libpcap name (`EN10MB`, `LINUX_SLL2`), or `LINKTYPE(n)`.
    public var description: String {
        switch self {
        case .null: return "NULL"
        case .ethernet: return "EN10MB"
        case .raw: return "RAW"
        case .loop: return "LOOP"
        case .linuxSLL: return "LINUX_SLL"
        case .ipv4: return "IPV4"
        case .ipv6: return "IPV6"
        case .nflog: return "NFLOG"
        case .linuxSLL2: return "LINUX_SLL2"
        default: return "LINKTYPE(\(self.rawValue))"
        }
    }
}
