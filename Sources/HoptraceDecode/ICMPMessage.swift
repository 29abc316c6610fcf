/// The original packet an ICMP error quotes: its IP header and the first bytes of its transport header.
///
/// kube-proxy's REJECT for a Service without endpoints quotes the client's SYN to the ClusterIP: `dst` and
/// `dstPort` name the Service, `tcpSeq` the SYN's sequence number.
public struct QuotedPacket: Hashable, Sendable {
    /// 4 or 6.
    public var version: UInt8
    /// Quoted source address.
    public var src: IPAddress
    /// Quoted destination address.
    public var dst: IPAddress
    /// Quoted protocol (after IPv6 extension headers).
    public var `protocol`: IPProtocol
    /// Quoted IPv4 identification (0 for IPv6).
    public var ipID: UInt32
    /// Quoted total length field (IPv4 total length; IPv6 40 + payload length).
    public var totalLength: Int
    /// Quoted source port (TCP/UDP), when the quote reaches it.
    public var srcPort: UInt16?
    /// Quoted destination port (TCP/UDP), when the quote reaches it.
    public var dstPort: UInt16?
    /// Quoted TCP sequence number, when the quote reaches it.
    public var tcpSeq: UInt32?

    /// A quote from its fields.
    @inlinable
    public init(
        version: UInt8,
        src: IPAddress,
        dst: IPAddress,
        protocol: IPProtocol,
        ipID: UInt32,
        totalLength: Int,
        srcPort: UInt16?,
        dstPort: UInt16?,
        tcpSeq: UInt32?
    ) {
        self.version = version
        self.src = src
        self.dst = dst
        self.protocol = `protocol`
        self.ipID = ipID
        self.totalLength = totalLength
        self.srcPort = srcPort
        self.dstPort = dstPort
        self.tcpSeq = tcpSeq
    }
}

/// An ICMP or ICMPv6 message.
public struct ICMPMessage: Hashable, Sendable {
    /// Type.
    public var type: UInt8
    /// Code.
    public var code: UInt8
    /// Whether this is ICMPv6.
    public var isV6: Bool
    /// Bytes 4...7 of the message: echo id and sequence, the MTU of packet-too-big / fragmentation-needed,
    /// the pointer of parameter-problem, the gateway of redirect.
    public var restOfHeader: UInt32
    /// The original packet quoted by an error (destination unreachable, time exceeded, packet too big,
    /// parameter problem), when it could be read.
    public var quoted: QuotedPacket?

    /// A message from its fields.
    @inlinable
    public init(type: UInt8, code: UInt8, isV6: Bool, restOfHeader: UInt32, quoted: QuotedPacket?) {
        self.type = type
        self.code = code
        self.isV6 = isV6
        self.restOfHeader = restOfHeader
        self.quoted = quoted
    }

    /// Whether this is an error message that quotes the original packet.
    @inlinable
    public var isError: Bool {
        if self.isV6 { return self.type < 128 }
        return self.type == 3 || self.type == 4 || self.type == 5 || self.type == 11 || self.type == 12
    }
}
