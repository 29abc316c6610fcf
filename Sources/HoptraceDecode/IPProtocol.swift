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

/// Stored as its number.
extension IPProtocol: Codable {}
