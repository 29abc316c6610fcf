/// An IPv4 or IPv6 header, with IPv6 extension headers walked.
public struct NetworkHeader: Hashable, Sendable {
    /// 4 or 6.
    public var version: UInt8
    /// Source address.
    public var src: IPAddress
    /// Destination address.
    public var dst: IPAddress
    /// The upper-layer protocol (for IPv6: after the extension headers).
    public var `protocol`: IPProtocol
    /// IPv4 identification, or the IPv6 fragment header's identification (0 when there is none).
    public var ipID: UInt32
    /// TTL / hop limit.
    public var ttl: UInt8
    /// The datagram's length on the wire: IPv4 total length, IPv6 40 + payload length (after reassembly: the
    /// reassembled datagram's).
    public var totalLength: Int
    /// Bytes from the start of the IP header to the upper-layer header (IPv4 options and IPv6 extension headers
    /// included).
    public var headerLength: Int
    /// DSCP (upper six bits of the traffic class).
    public var dscp: UInt8
    /// ECN (lower two bits of the traffic class).
    public var ecn: UInt8
    /// IPv4 don't-fragment bit.
    public var dontFragment: Bool
    /// Whether this packet is a fragment (more-fragments set or a non-zero offset; IPv6 atomic fragments are not).
    public var isFragment: Bool
    /// The fragment offset in bytes (0 unless a fragment).
    public var fragmentOffset: Int
    /// Whether `transport` and `payload` come from a datagram reassembled from several fragments.
    public var wasReassembled: Bool

    /// A header from its addressing fields; the rest zero.
    @inlinable
    public init(version: UInt8, src: IPAddress, dst: IPAddress, protocol: IPProtocol) {
        self.version = version
        self.src = src
        self.dst = dst
        self.protocol = `protocol`
        self.ipID = 0
        self.ttl = 0
        self.totalLength = 0
        self.headerLength = 0
        self.dscp = 0
        self.ecn = 0
        self.dontFragment = false
        self.isFragment = false
        self.fragmentOffset = 0
        self.wasReassembled = false
    }
}
