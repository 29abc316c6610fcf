/// A record the flow stage emits.
public enum FlowEvent: Hashable, Sendable {
    /// A TCP connection still open at a capture point, as a provisional record (only with
    /// ``FlowConfiguration/emitOpened``): at its first packet, when the other side first answers, and when the
    /// handshake completes. Correlation learns from it which capture points hold a connection still open, and what
    /// it looked like so far; a later record of the same ``ConnectionRecord/id`` replaces an earlier one.
    case opened(ConnectionRecord)
    /// A TCP connection, when it closed (plus linger), went idle, was evicted, or the input ended.
    case connection(ConnectionRecord)
    /// An HTTP/1.x exchange, when done (always before its connection's record).
    case http(HTTPExchange)
    /// A DNS transaction, when answered (plus a short linger), timed out, or the input ended.
    case dns(DNSTransaction)
    /// An ICMP error quoting a packet, as it arrives.
    case icmpError(ICMPErrorEvent)
    /// One TCP segment, as it arrives (only with ``FlowConfiguration/emitSegments``).
    case segment(SegmentObservation)
}
