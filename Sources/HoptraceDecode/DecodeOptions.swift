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
