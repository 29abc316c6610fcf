/// Settings of correlation. Times are nanoseconds of capture time.
public struct CorrelateOptions: Sendable, Hashable {
    /// A completed request at least this long is examined for where its time went and may be called slow.
    public var slowThreshold: Int64 = 200_000_000
    /// The share of the total one part must hold to be named as what made the request slow.
    public var slowShare: Double = 0.5
    /// A connection is tied to a lookup that answered its destination at most this long before its SYN.
    public var dnsToConnectWindow: Int64 = 10_000_000_000
    /// How long after its last packet a request waits for sightings at other capture points and for the DNS
    /// transactions the flow stage holds back (2 s) before it is traced.
    public var settle: Int64 = 3_000_000_000
    /// Traces are written in start order: a finished trace waits this long (capture time) for requests that started
    /// before it and are still in progress. Requests longer than this come out when they end.
    public var reorderWindow: Int64 = 30_000_000_000
    /// A connection whose capture points have not all closed is traced anyway this long after its last packet.
    public var openGroupTimeout: Int64 = 120_000_000_000
    /// How long an exchange forwarded by a known L7 proxy waits for the inbound request that caused it.
    public var proxyJoinWindow: Int64 = 30_000_000_000
    /// Most connections held for correlation at once; beyond it the oldest is traced with what is known (counted).
    public var maxOpenConnections = 200_000
    /// Most finished traces held for ordering; beyond it the oldest is written early (counted).
    public var maxPendingTraces = 100_000
    /// Most DNS queries held per client; beyond it the oldest are dropped (counted).
    public var maxQueriesPerClient = 4_096
    /// Two-way delay sums within this many ns of zero do not order two capture points (microsecond timestamps).
    public var delayTolerance: Int64 = 2_000

    /// The defaults.
    public init() {}
}

/// Counters of correlation, for the summary and for `"evicted"` in JSON.
public struct CorrelateStatistics: Sendable, Hashable {
    /// Flow records taken in.
    public var records = 0
    /// Connections (stitched across capture points) formed.
    public var connections = 0
    /// Requests traced.
    public var traced = 0
    /// Connections traced before all their capture points closed, to stay under the cap.
    public var evictedConnections = 0
    /// Traces written out of start order to stay under the cap.
    public var evictedPending = 0
    /// DNS queries dropped to stay under the per-client cap.
    public var evictedQueries = 0
    /// Connections traced before all their capture points closed because they stayed open too long.
    public var timedOutConnections = 0
    /// Most connections held at once.
    public var peakOpenConnections = 0

    /// Everything given up to stay within the caps.
    public var evicted: Int { evictedConnections + evictedPending + evictedQueries }

    /// Zeroes.
    public init() {}
}
