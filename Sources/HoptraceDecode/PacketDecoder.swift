/// Decodes packets in place: link layer, IP (with fragment reassembly), tunnels, transport.
///
/// Stateful only for IP fragment reassembly, which is bounded (``DecodeOptions/maxDatagramsInFlight``, 65535 bytes a
/// datagram, ``DecodeOptions/reassemblyTimeout`` by packet time). Every other path reads the borrowed bytes without
/// allocating or copying. Not thread-safe: one decoder per packet stream.
public final class PacketDecoder {
    /// The limits this decoder was made with.
    public let options: DecodeOptions
    /// Counters since creation.
    public internal(set) var statistics = DecodeStatistics()
    let reassembler: FragmentReassembler

    /// A decoder.
    public init(options: DecodeOptions = .init()) {
        self.options = options
        self.reassembler = FragmentReassembler(
            maxInFlight: options.maxDatagramsInFlight,
            timeout: options.reassemblyTimeout
        )
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
        decoded = DecodedPacket(packet)
        if let link = self.decodeLink(packet.linkType, packet.bytes, &decoded) {
            self.decodeEtherPayload(link.etherType, packet.bytes, link.offset, &decoded, depth: 0)
        }
        Self.count(decoded, dropped: self.reassembler.dropped, into: &self.statistics)
        return !(decoded.swallowed && self.options.swallowFragments)
    }

    /// Counts one decoded packet into `statistics` (one access to the decoder's counters per packet).
    private static func count(
        _ decoded: borrowing DecodedPacket,
        dropped: Int,
        into statistics: inout DecodeStatistics
    ) {
        statistics.packets &+= 1
        if decoded.network != nil { statistics.ip &+= 1 }
        if decoded.tunnel != nil { statistics.tunneled &+= 1 }
        if let warning = decoded.warning {
            statistics.warnings += 1
            statistics.warningsByCode[warning.code, default: 0] += 1
        }
        statistics.reassemblyDropped = dropped
    }
}
