/// A record the flow stage emits.
public enum FlowEvent: Hashable, Sendable {
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

/// Limits and timeouts of a ``FlowAnalyzer``. Times are nanoseconds of packet time.
public struct FlowConfiguration: Sendable {
    /// Most TCP connections tracked at once; beyond it the least recently active are evicted (counted in
    /// ``FlowStatistics/evictedForCap``).
    public var maxConnections = 100_000
    /// How long a closed connection stays (to absorb late ACKs, retransmitted FINs and RSTs) before its record.
    public var closeLinger: Int64 = 5_000_000_000
    /// A connection without packets for this long is emitted.
    public var idleTimeout: Int64 = 300_000_000_000
    /// An unanswered DNS query is emitted after this long.
    public var dnsTimeout: Int64 = 10_000_000_000
    /// An answered DNS query stays this long to count duplicate responses.
    public var dnsLinger: Int64 = 2_000_000_000
    /// Most DNS transactions pending at once; beyond it the oldest are emitted early, marked
    /// ``DNSTransaction/isEvicted`` (counted in ``FlowStatistics/evictedDNSTransactions``).
    public var maxDNSTransactions = 100_000
    /// Most bytes held ahead of holes for reassembly across all connections (each direction holds at most 256 KiB
    /// of its own); beyond it the connection that began holding first has its holes declared gaps and its bytes
    /// delivered (counted in ``FlowStatistics/evictedReassemblies``).
    public var maxHeldBytes = 64 << 20
    /// Most bytes stored across all connections for HTTP heads in progress and partial DNS-over-TCP messages (each
    /// head stores at most 64 KiB of its own); beyond it the connection that began storing first has its heads
    /// truncated (still reported, ``HTTPHead/isTruncated``) and its partial DNS messages dropped (counted in
    /// ``FlowStatistics/evictedHeads``).
    public var maxBufferedHeadBytes = 16 << 20
    /// How often (packet time) timeouts are checked.
    public var sweepInterval: Int64 = 1_000_000_000
    /// Whether every TCP segment is also emitted as a ``SegmentObservation`` (for correlation across capture
    /// points).
    public var emitSegments = false

    /// The defaults.
    public init() {}
}

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
    /// Connections evicted to stay under ``FlowConfiguration/maxConnections`` (their records say `.evicted`).
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
