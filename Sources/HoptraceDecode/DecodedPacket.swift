import HoptraceCapture

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

/// The kind of an overlay tunnel.
public enum TunnelKind: Hashable, Sendable, CustomStringConvertible {
    /// VXLAN (UDP 4789, or 8472 as flannel and Cilium use) with its network identifier.
    case vxlan(vni: UInt32)
    /// Geneve (UDP 6081) with its network identifier.
    case geneve(vni: UInt32)
    /// IP-in-IP (protocol 4) or IPv6-in-IP (protocol 41), as Calico uses.
    case ipip
    /// GRE (protocol 47), with its key when present.
    case gre(key: UInt32?)

    /// `VXLAN vni 1`, `Geneve vni 2`, `IPIP`, `GRE key 7`.
    public var description: String {
        switch self {
        case .vxlan(let vni): return "VXLAN vni \(vni)"
        case .geneve(let vni): return "Geneve vni \(vni)"
        case .ipip: return "IPIP"
        case .gre(let key): return key.map { "GRE key \($0)" } ?? "GRE"
        }
    }
}

/// The outermost tunnel a packet was carried in. The packet's ``DecodedPacket/network`` is the innermost header.
public struct TunnelInfo: Hashable, Sendable {
    /// The outermost tunnel's kind.
    public var kind: TunnelKind
    /// The outer IP header's source.
    public var outerSrc: IPAddress
    /// The outer IP header's destination.
    public var outerDst: IPAddress
    /// The outer UDP ports (VXLAN, Geneve), 0 otherwise.
    public var outerSrcPort: UInt16
    /// The outer UDP destination port (VXLAN, Geneve), 0 otherwise.
    public var outerDstPort: UInt16
    /// How many tunnel layers were taken off (GRE in GRE gives 2).
    public var depth: Int

    /// A tunnel from its fields.
    @inlinable
    public init(
        kind: TunnelKind,
        outerSrc: IPAddress,
        outerDst: IPAddress,
        outerSrcPort: UInt16 = 0,
        outerDstPort: UInt16 = 0,
        depth: Int = 1
    ) {
        self.kind = kind
        self.outerSrc = outerSrc
        self.outerDst = outerDst
        self.outerSrcPort = outerSrcPort
        self.outerDstPort = outerDstPort
        self.depth = depth
    }
}

/// A problem met while decoding one packet. Decoding stops at that layer; the layers before stay valid.
public struct DecodeWarning: Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    ///
    /// A one-byte value (so that ``DecodedPacket`` stays a trivial type, copied without reference counting); its
    /// ``rawValue`` is the short kebab-case name.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        @usableFromInline
        let index: UInt8

        @inlinable
        init(_ index: UInt8) { self.index = index }

        /// The names, in index order.
        private static let names: [String] = [
            "truncated", "bad-length", "bad-version", "bad-option", "unsupported-link-type", "fragment-overlap",
            "bad-fragment", "tunnel-too-deep", "bad-tunnel",
        ]

        /// A short kebab-case name.
        public var rawValue: String { Self.names[Int(self.index)] }

        /// The code with this name, or nil when no code has it.
        public init?(rawValue: String) {
            guard let index = Self.names.firstIndex(of: rawValue) else { return nil }
            self.index = UInt8(index)
        }

        /// The captured bytes end inside a header.
        public static let truncated = Code(0)
        /// A length field contradicts the header or the bytes around it.
        public static let badLength = Code(1)
        /// An IP version nibble that does not match the header type.
        public static let badVersion = Code(2)
        /// A TCP option whose length does not fit.
        public static let badOption = Code(3)
        /// A link-layer type hoptrace does not decode.
        public static let unsupportedLinkType = Code(4)
        /// Overlapping IP fragments with different bytes: the datagram was dropped.
        public static let fragmentOverlap = Code(5)
        /// A fragment past 65535 bytes, or not a multiple of 8 before the last.
        public static let badFragment = Code(6)
        /// Tunnels nested deeper than the decoder follows.
        public static let tunnelTooDeep = Code(7)
        /// A tunnel header that is not what its port or protocol promised.
        public static let badTunnel = Code(8)

        /// The name.
        public var description: String { self.rawValue }
    }

    /// The layer a warning concerns.
    public enum Layer: UInt8, Hashable, Sendable, CustomStringConvertible {
        /// Ethernet, VLAN, SLL, SLL2, NULL/LOOP, NFLOG.
        case link
        /// ARP.
        case arp
        /// IPv4 or IPv6 (extension headers included).
        case network
        /// IP fragment reassembly.
        case fragment
        /// TCP, UDP, ICMP.
        case transport
        /// VXLAN, Geneve, GRE, IP-in-IP.
        case tunnel

        /// The layer's name.
        public var description: String {
            switch self {
            case .link: return "link"
            case .arp: return "arp"
            case .network: return "ip"
            case .fragment: return "fragment"
            case .transport: return "transport"
            case .tunnel: return "tunnel"
            }
        }
    }

    /// What went wrong.
    public var code: Code
    /// Where.
    public var layer: Layer
    /// A fixed phrase naming the header ("TCP header", "IPv6 fragment header"). Static text: no allocation.
    public var detail: StaticString

    /// A warning.
    @inlinable
    public init(_ code: Code, _ layer: Layer, _ detail: StaticString) {
        self.code = code
        self.layer = layer
        self.detail = detail
    }

    /// `truncated TCP header`.
    public var description: String { "\(self.code) \(self.detail)" }

    public static func == (lhs: DecodeWarning, rhs: DecodeWarning) -> Bool {
        lhs.code == rhs.code && lhs.layer == rhs.layer && lhs.detail.description == rhs.detail.description
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.code)
        hasher.combine(self.layer)
    }
}

/// One decoded packet.
///
/// Borrowed: ``payload`` and ``transportBytes`` point into the ``Packet``'s bytes (or, for a reassembled IP datagram,
/// into the decoder's reassembly buffer) and are valid as long as those are: until the source's next `next()` and
/// the decoder's next `decode(_:)`.
public struct DecodedPacket {
    /// Capture time in nanoseconds since the Unix epoch, from the packet.
    public var timestamp: Int64
    /// Index into the source's interfaces, from the packet.
    public var interfaceID: Int
    /// From the packet if the source knew it, else from the SLL/SLL2 packet type.
    public var direction: PacketDirection
    /// What the link layer said.
    public var link: LinkInfo
    /// The outermost tunnel, when one was taken off; ``network`` is then the innermost IP header.
    public var tunnel: TunnelInfo?
    /// The (innermost) IP header; nil for ARP and other non-IP frames.
    public var network: NetworkHeader?
    /// The ARP message, when the frame is ARP.
    public var arp: ARPMessage?
    /// The (innermost) transport header.
    public var transport: Transport
    /// The captured bytes from the transport header on (header and payload), possibly cut by the snapshot length.
    public var transportBytes: UnsafeRawBufferPointer
    /// The transport payload as captured: may be shorter than ``payloadLength`` (snapshot length), never longer
    /// (Ethernet trailer padding excluded).
    public var payload: UnsafeRawBufferPointer
    /// The transport payload's length on the wire, from the IP and TCP/UDP length fields.
    public var payloadLength: Int
    /// The packet's length on the wire, from the packet.
    public var originalLength: Int
    /// The number of bytes captured (less than ``originalLength`` when the snapshot length cut the packet).
    public var capturedLength: Int
    /// The first problem met, if any.
    public var warning: DecodeWarning?
    /// Set when the packet is a fragment taken into reassembly that did not complete its datagram.
    @usableFromInline
    var swallowed: Bool

    /// A packet with its capture metadata and nothing decoded yet.
    @inlinable
    public init(_ packet: Packet) {
        self.timestamp = packet.timestamp
        self.interfaceID = packet.interfaceID
        self.direction = packet.direction
        self.link = LinkInfo(linkType: packet.linkType)
        self.tunnel = nil
        self.network = nil
        self.arp = nil
        self.transport = .none
        self.transportBytes = UnsafeRawBufferPointer(start: nil, count: 0)
        self.payload = UnsafeRawBufferPointer(start: nil, count: 0)
        self.payloadLength = 0
        self.originalLength = packet.originalLength
        self.capturedLength = packet.bytes.count
        self.warning = nil
        self.swallowed = false
    }

    /// Sets every field as ``init(_:)`` does, in place (no temporary of this large struct).
    @inlinable
    mutating func reset(_ packet: borrowing Packet) {
        self.timestamp = packet.timestamp
        self.interfaceID = packet.interfaceID
        self.direction = packet.direction
        self.link = LinkInfo(linkType: packet.linkType)
        self.tunnel = nil
        self.network = nil
        self.arp = nil
        self.transport = .none
        self.transportBytes = UnsafeRawBufferPointer(start: nil, count: 0)
        self.payload = UnsafeRawBufferPointer(start: nil, count: 0)
        self.payloadLength = 0
        self.originalLength = packet.originalLength
        self.capturedLength = packet.bytes.count
        self.warning = nil
        self.swallowed = false
    }

    /// A packet with no bytes, of no link type: the starting value of a ``DecodedPacket`` that
    /// ``PacketDecoder/decode(_:into:)`` fills.
    @inlinable
    public static var empty: DecodedPacket {
        DecodedPacket(
            Packet(
                timestamp: 0,
                interfaceID: -1,
                direction: .unknown,
                linkType: LinkType(rawValue: 0),
                originalLength: 0,
                bytes: UnsafeRawBufferPointer(start: nil, count: 0)
            )
        )
    }

    /// The TCP header, if the transport is TCP.
    @inlinable
    public var tcp: TCPHeader? {
        if case .tcp(let header) = self.transport { return header }
        return nil
    }

    /// The UDP header, if the transport is UDP.
    @inlinable
    public var udp: UDPHeader? {
        if case .udp(let header) = self.transport { return header }
        return nil
    }

    /// The ICMP message, if the transport is ICMP or ICMPv6.
    @inlinable
    public var icmp: ICMPMessage? {
        if case .icmp(let message) = self.transport { return message }
        return nil
    }
}

/// Limits and choices of a ``PacketDecoder``.
public struct DecodeOptions: Sendable {
    /// At most this many IP datagrams are reassembled at once; a new one evicts the oldest.
    public var maxDatagramsInFlight: Int = 64
    /// A datagram's reassembly is dropped when no fragment came for this long (packet time, ns).
    public var reassemblyTimeout: Int64 = 30_000_000_000
    /// When true (the default), a fragment that does not complete a datagram yields nil from
    /// ``PacketDecoder/decode(_:)``; when false, it yields a packet with ``NetworkHeader/isFragment`` set and
    /// transport `.other` (what `hoptrace packets` shows, one line per frame).
    public var swallowFragments: Bool = true
    /// Whether IP fragments are reassembled at all.
    public var reassembleFragments: Bool = true
    /// UDP destination ports decoded as VXLAN.
    public var vxlanPorts: (UInt16, UInt16) = (4789, 8472)
    /// UDP destination port decoded as Geneve.
    public var genevePort: UInt16 = 6081
    /// At most this many tunnels are taken off one packet.
    public var maxTunnelDepth: Int = 4

    /// The defaults.
    public init() {}
}

/// Counters of a ``PacketDecoder``.
public struct DecodeStatistics: Sendable, Equatable {
    /// Packets given to the decoder.
    public var packets: Int = 0
    /// Packets that got an IP header.
    public var ip: Int = 0
    /// Packets with a warning.
    public var warnings: Int = 0
    /// Warnings by code.
    public var warningsByCode: [DecodeWarning.Code: Int] = [:]
    /// IP fragments seen.
    public var fragments: Int = 0
    /// Datagrams completed by reassembly.
    public var reassembled: Int = 0
    /// Datagrams given up (timeout, eviction, overlap conflict).
    public var reassemblyDropped: Int = 0
    /// Packets taken out of a tunnel.
    public var tunneled: Int = 0

    /// All zero.
    public init() {}
}
