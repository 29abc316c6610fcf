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
