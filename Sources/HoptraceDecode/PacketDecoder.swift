import HoptraceCapture

/// Decodes packets in place: link layer, IP (with fragment reassembly), tunnels, transport.
///
/// Stateful only for IP fragment reassembly, which is bounded (``DecodeOptions/maxDatagramsInFlight``, 65535 bytes a
/// datagram, ``DecodeOptions/reassemblyTimeout`` by packet time). Every other path reads the borrowed bytes without
/// allocating or copying. Not thread-safe: one decoder per packet stream.
public final class PacketDecoder {
    /// The limits this decoder was made with.
    public let options: DecodeOptions
    /// Counters since creation.
    public internal(set) var statistics: DecodeStatistics {
        get { self.counters.pointee }
        set { self.counters.pointee = newValue }
        _modify { yield &self.counters.pointee }
    }
    let reassembler: FragmentReassembler
    /// The counters, behind a `let` pointer: a stored `var` of a class would cost a dynamic exclusivity check at
    /// every per-packet update. Only this decoder's methods touch them, and a decoder is used by one thread.
    private let counters: UnsafeMutablePointer<DecodeStatistics>

    /// A decoder.
    public init(options: DecodeOptions = .init()) {
        self.options = options
        self.reassembler = FragmentReassembler(
            maxInFlight: options.maxDatagramsInFlight,
            timeout: options.reassemblyTimeout
        )
        self.counters = .allocate(capacity: 1)
        self.counters.initialize(to: DecodeStatistics())
    }

    deinit {
        self.counters.deinitialize(count: 1)
        self.counters.deallocate()
    }

    /// Decodes one packet.
    ///
    /// The result borrows the packet's bytes (and, for a reassembled datagram, this decoder's buffer until the next
    /// call). Never traps on packet data: a malformed packet comes back with ``DecodedPacket/warning`` set and the
    /// layers before the fault filled in.
    ///
    /// - Returns: the decoded packet, or nil when it is an IP fragment taken into reassembly that does not complete
    ///   its datagram (only with ``DecodeOptions/swallowFragments``).
    public func decode(_ packet: Packet) -> DecodedPacket? {
        var decoded = DecodedPacket(packet)
        return self.decode(packet, into: &decoded) ? decoded : nil
    }

    /// Decodes one packet into `decoded`, overwriting every field: ``decode(_:)`` without copying the (large)
    /// decoded packet, for a loop that keeps one ``DecodedPacket`` and lends it out.
    ///
    /// - Returns: false when the packet is an IP fragment taken into reassembly that does not complete its datagram
    ///   (only with ``DecodeOptions/swallowFragments``); `decoded` then holds that fragment.
    public func decode(_ packet: borrowing Packet, into decoded: inout DecodedPacket) -> Bool {
        self.reassembler.releaseCompleted()
        decoded.reset(packet)
        if let link = self.decodeLink(packet.linkType, packet.bytes, &decoded) {
            self.decodeEtherPayload(link.etherType, packet.bytes, link.offset, &decoded, depth: 0)
        }
        Self.count(
            ip: decoded.network != nil,
            tunneled: decoded.tunnel != nil,
            warning: decoded.warning,
            dropped: self.reassembler.dropped,
            into: &self.counters.pointee
        )
        return !(decoded.swallowed && self.options.swallowFragments)
    }

    /// Counts one decoded packet into `statistics` (one access to the decoder's counters per packet).
    private static func count(
        ip: Bool,
        tunneled: Bool,
        warning: DecodeWarning?,
        dropped: Int,
        into statistics: inout DecodeStatistics
    ) {
        statistics.packets &+= 1
        if ip { statistics.ip &+= 1 }
        if tunneled { statistics.tunneled &+= 1 }
        if let warning {
            statistics.warnings += 1
            statistics.warningsByCode[warning.code, default: 0] += 1
        }
        statistics.reassemblyDropped = dropped
    }
}
