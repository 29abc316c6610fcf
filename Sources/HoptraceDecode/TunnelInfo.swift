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

extension TunnelKind: Codable {}

extension TunnelInfo: Codable {}
