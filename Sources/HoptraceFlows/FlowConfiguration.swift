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
    /// Whether connections still open are also emitted as provisional records (``FlowEvent/opened(_:)``).
    public var emitOpened = false
    /// With ``emitOpened``: whether a provisional record is also emitted while a connection holds nothing but its
    /// originator's packets without payload or reset (a SYN not answered yet, bare ACKs). Live correlation judges an
    /// unanswered SYN by them; correlation of files takes such a connection at its final record, and turns this off
    /// (a flood of unanswered SYNs, or of pieces of connections given up, then costs no provisional records).
    public var emitBareOpened = true
    /// With ``emitOpened``: whether a provisional record is also emitted while a connection holds nothing but its
    /// responder's packets without a reset (no SYN, nothing from the originator: a SYN-ACK or a response caught
    /// alone, as a piece of a connection given up at the cap, or where only replies pass). Correlation of files
    /// takes such a piece at its final record, and turns this off (a flood of connections given up then costs no
    /// provisional records for their reply pieces).
    public var emitServerOnlyOpened = true
    /// With ``emitOpened``: whether a provisional record is also emitted while neither side has sent payload, a FIN or
    /// a reset (``ConnectionRecord/isQuiet``: the SYN-ACK and the handshake's ACK). Live correlation judges a
    /// handshake by them; correlation of files takes such a connection at its first data, FIN or reset, or at its
    /// final record, and turns this off (a flood of half-open or idle connections then costs no connection each in
    /// the correlator until it carries something).
    public var emitQuietOpened = true
    /// Whether every TCP segment is also emitted as a ``SegmentObservation`` (for correlation across capture
    /// points).
    public var emitSegments = false
    /// Whether HTTP exchanges go to the sink (``FlowEvent/http(_:)``). Off, heads are parsed for their framing only
    /// (the method and status, no other text kept) and exchanges are still counted
    /// (``ConnectionRecord/httpExchanges``, ``FlowStatistics/httpExchanges``): for a consumer of connection
    /// records alone, such as `hoptrace flows`.
    public var emitHTTP = true

    /// The defaults.
    public init() {}
}
