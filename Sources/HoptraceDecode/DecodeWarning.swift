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

    /// Equal code, layer and detail.
    public static func == (lhs: DecodeWarning, rhs: DecodeWarning) -> Bool {
        lhs.code == rhs.code && lhs.layer == rhs.layer && lhs.detail.description == rhs.detail.description
    }

    /// Hashes what ``==`` compares.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.code)
        hasher.combine(self.layer)
    }
}
