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
        self.reassembler.releaseCompleted()
        var decoded = DecodedPacket(packet)
        if let link = self.decodeLink(packet.linkType, packet.bytes, &decoded) {
            self.decodeEtherPayload(link.etherType, packet.bytes, link.offset, &decoded, depth: 0)
        }
        self.statistics.packets += 1
        if decoded.network != nil { self.statistics.ip += 1 }
        if decoded.tunnel != nil { self.statistics.tunneled += 1 }
        if let warning = decoded.warning {
            self.statistics.warnings += 1
            self.statistics.warningsByCode[warning.code, default: 0] += 1
        }
        self.statistics.reassemblyDropped = self.reassembler.dropped
        if decoded.swallowed && self.options.swallowFragments { return nil }
        return decoded
    }
}
