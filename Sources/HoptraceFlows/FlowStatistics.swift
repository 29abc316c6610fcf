/// Counters of a ``FlowAnalyzer``.
public struct FlowStatistics: Sendable, Hashable {
    /// Packets given to ``FlowAnalyzer/process(_:capturePoint:)``.
    public var packets = 0
    /// TCP segments.
    public var tcpPackets = 0
    /// UDP datagrams.
    public var udpPackets = 0
    /// ICMP and ICMPv6 messages.
    public var icmpPackets = 0
    /// TCP connections created.
    public var connections = 0
    /// TCP connections tracked now.
    public var activeConnections = 0
    /// Most TCP connections tracked at once.
    public var peakConnections = 0
    /// Connections emitted after close plus linger.
    public var closedConnections = 0
    /// Connections emitted after the idle timeout.
    public var idleConnections = 0
    /// Connections evicted to stay under ``FlowConfiguration/maxConnections``.
    public var evictedForCap = 0
    /// DNS messages parsed.
    public var dnsMessages = 0
    /// DNS payloads that did not parse (shorter than a header).
    public var dnsUnparsable = 0
    /// DNS transactions emitted.
    public var dnsTransactions = 0
    /// HTTP exchanges emitted.
    public var httpExchanges = 0
    /// ICMP errors emitted.
    public var icmpErrors = 0

    /// Zeroes.
    public init() {}
}
