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
    /// TCP packets seen twice at one capture point (a bridge's promiscuous copy, a packet bare and encapsulated) and
    /// dropped as copies.
    public var copies = 0
    /// TCP connections created.
    public var connections = 0
    /// TCP connections tracked now.
    public var activeConnections = 0
    /// Most TCP connections tracked at once.
    public var peakConnections = 0
    /// Connections emitted after close plus linger, or closed and still lingering when the cap needed room.
    public var closedConnections = 0
    /// Connections emitted after the idle timeout.
    public var idleConnections = 0
    /// Open connections evicted to stay under ``FlowConfiguration/maxConnections`` (their records say `.evicted`).
    public var evictedForCap = 0
    /// DNS transactions emitted early to stay under ``FlowConfiguration/maxDNSTransactions``
    /// (``DNSTransaction/isEvicted``).
    public var evictedDNSTransactions = 0
    /// Times a connection's bytes held ahead of holes were released as gaps to stay under
    /// ``FlowConfiguration/maxHeldBytes``, and the bytes released.
    public var evictedReassemblies = 0
    /// Bytes released by ``evictedReassemblies``.
    public var evictedHeldBytes = 0
    /// Times a connection's stored heads (or partial DNS messages) were released to stay under
    /// ``FlowConfiguration/maxBufferedHeadBytes``.
    public var evictedHeads = 0
    /// Bytes released by ``evictedHeads``.
    public var evictedHeadBytes = 0
    /// HTTP heads longer than the parser stores, reported truncated (``HTTPHead/isTruncated``), for whatever
    /// reason: their own length or the budget.
    public var truncatedHeads = 0

    /// Everything evicted to stay within a cap: connections, DNS transactions, reassembly and head buffers. What
    /// the command line reports as `"evicted": N` (a count of evictions, not of bytes).
    public var evicted: Int {
        self.evictedForCap + self.evictedDNSTransactions + self.evictedReassemblies + self.evictedHeads
    }
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
