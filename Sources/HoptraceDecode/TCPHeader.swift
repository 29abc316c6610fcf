/// The TCP flags byte (RFC 9293; ECE and CWR from RFC 3168).
public struct TCPFlags: OptionSet, Hashable, Sendable, CustomStringConvertible {
    /// The flags byte (byte 13 of the TCP header).
    public var rawValue: UInt8

    /// Flags from the header byte.
    @inlinable
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// No more data from sender.
    public static let fin = TCPFlags(rawValue: 0x01)
    /// Synchronize sequence numbers.
    public static let syn = TCPFlags(rawValue: 0x02)
    /// Reset the connection.
    public static let rst = TCPFlags(rawValue: 0x04)
    /// Push.
    public static let psh = TCPFlags(rawValue: 0x08)
    /// The acknowledgment field is significant.
    public static let ack = TCPFlags(rawValue: 0x10)
    /// The urgent pointer is significant.
    public static let urg = TCPFlags(rawValue: 0x20)
    /// ECN echo.
    public static let ece = TCPFlags(rawValue: 0x40)
    /// Congestion window reduced.
    public static let cwr = TCPFlags(rawValue: 0x80)

    /// As tcpdump prints them: `S`, `S.`, `P.`, `F.`, `R`, `R.`, `none`.
    public var description: String {
        if self.rawValue == 0 { return "none" }
        var text = ""
        if self.contains(.fin) { text += "F" }
        if self.contains(.syn) { text += "S" }
        if self.contains(.rst) { text += "R" }
        if self.contains(.psh) { text += "P" }
        if self.contains(.ack) { text += "." }
        if self.contains(.urg) { text += "U" }
        if self.contains(.ece) { text += "E" }
        if self.contains(.cwr) { text += "W" }
        return text
    }
}

/// One SACK block: the left and right edges of a received range (RFC 2018).
public struct SACKBlock: Hashable, Sendable {
    /// First sequence number of the block.
    public var left: UInt32
    /// Sequence number just past the block.
    public var right: UInt32

    /// A block from its edges.
    @inlinable
    public init(left: UInt32, right: UInt32) {
        self.left = left
        self.right = right
    }
}

/// Up to four SACK blocks, inline (no array, no allocation).
public struct SACKBlocks: Hashable, Sendable, RandomAccessCollection {
    @usableFromInline
    var storage: (SACKBlock, SACKBlock, SACKBlock, SACKBlock)
    @usableFromInline
    var _count: UInt8

    /// No blocks.
    @inlinable
    public init() {
        let zero = SACKBlock(left: 0, right: 0)
        self.storage = (zero, zero, zero, zero)
        self._count = 0
    }

    /// The first index.
    @inlinable
    public var startIndex: Int { 0 }
    /// One past the last block.
    @inlinable
    public var endIndex: Int { Int(self._count) }

    /// The block at `position`.
    @inlinable
    public subscript(position: Int) -> SACKBlock {
        switch position {
        case 0: return self.storage.0
        case 1: return self.storage.1
        case 2: return self.storage.2
        default: return self.storage.3
        }
    }

    /// Appends a block; a fifth and later are dropped (40 option bytes hold at most four).
    @inlinable
    mutating func append(_ block: SACKBlock) {
        switch self._count {
        case 0: self.storage.0 = block
        case 1: self.storage.1 = block
        case 2: self.storage.2 = block
        case 3: self.storage.3 = block
        default: return
        }
        self._count += 1
    }

    public static func == (lhs: SACKBlocks, rhs: SACKBlocks) -> Bool { lhs.elementsEqual(rhs) }

    public func hash(into hasher: inout Hasher) {
        for block in self { hasher.combine(block) }
    }
}

/// The TCP timestamps option (RFC 7323): TSval and TSecr.
public struct TCPTimestampOption: Hashable, Sendable {
    /// TSval: the sender's clock.
    public var val: UInt32
    /// TSecr: the echoed peer clock.
    public var ecr: UInt32

    /// A timestamp option from its two fields.
    @inlinable
    public init(val: UInt32, ecr: UInt32) {
        self.val = val
        self.ecr = ecr
    }
}

/// The TCP options hoptrace understands, parsed from the option bytes.
public struct TCPOptions: Hashable, Sendable {
    /// Maximum segment size (kind 2).
    public var mss: UInt16?
    /// Window scale shift count (kind 3).
    public var windowScale: UInt8?
    /// SACK permitted (kind 4).
    public var sackPermitted: Bool
    /// Timestamps (kind 8).
    public var timestamp: TCPTimestampOption?
    /// SACK blocks (kind 5), at most four.
    public var sackBlocks: SACKBlocks
    /// How many options of other kinds were present (skipped by their length).
    public var unknownCount: Int
    /// Whether an option had a length that does not fit (decoding of options stopped there).
    public var malformed: Bool

    /// No options.
    @inlinable
    public init() {
        self.mss = nil
        self.windowScale = nil
        self.sackPermitted = false
        self.timestamp = nil
        self.sackBlocks = SACKBlocks()
        self.unknownCount = 0
        self.malformed = false
    }
}

/// A TCP header (RFC 9293 section 3.1).
public struct TCPHeader: Hashable, Sendable {
    /// Source port.
    public var srcPort: UInt16
    /// Destination port.
    public var dstPort: UInt16
    /// Sequence number (absolute, as on the wire).
    public var seq: UInt32
    /// Acknowledgment number (absolute).
    public var ack: UInt32
    /// Flags.
    public var flags: TCPFlags
    /// Window, unscaled.
    public var window: UInt16
    /// Header length in bytes (data offset * 4), 20...60.
    public var headerLength: Int
    /// Parsed options.
    public var options: TCPOptions
    /// Checksum as on the wire (not verified: offloads leave it wrong on the sending host).
    public var checksum: UInt16
    /// Urgent pointer.
    public var urgentPointer: UInt16

    /// A header from its fields.
    @inlinable
    public init(
        srcPort: UInt16,
        dstPort: UInt16,
        seq: UInt32,
        ack: UInt32,
        flags: TCPFlags,
        window: UInt16,
        headerLength: Int,
        options: TCPOptions,
        checksum: UInt16,
        urgentPointer: UInt16
    ) {
        self.srcPort = srcPort
        self.dstPort = dstPort
        self.seq = seq
        self.ack = ack
        self.flags = flags
        self.window = window
        self.headerLength = headerLength
        self.options = options
        self.checksum = checksum
        self.urgentPointer = urgentPointer
    }
}

/// A UDP header (RFC 768).
public struct UDPHeader: Hashable, Sendable {
    /// Source port.
    public var srcPort: UInt16
    /// Destination port.
    public var dstPort: UInt16
    /// The length field: header plus payload.
    public var length: UInt16
    /// Checksum as on the wire (not verified).
    public var checksum: UInt16

    /// A header from its fields.
    @inlinable
    public init(srcPort: UInt16, dstPort: UInt16, length: UInt16, checksum: UInt16) {
        self.srcPort = srcPort
        self.dstPort = dstPort
        self.length = length
        self.checksum = checksum
    }
}

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

/// The transport layer of a packet.
public enum Transport: Hashable, Sendable {
    /// A TCP segment.
    case tcp(TCPHeader)
    /// A UDP datagram.
    case udp(UDPHeader)
    /// An ICMP or ICMPv6 message.
    case icmp(ICMPMessage)
    /// Another IP protocol (or a non-first fragment whose transport header is elsewhere).
    case other(protocol: IPProtocol)
    /// No transport layer: not IP, or decoding stopped before it.
    case none
}
