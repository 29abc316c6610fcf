/// Settings of correlation. Times are nanoseconds of capture time.
public struct CorrelateOptions: Sendable, Hashable {
    /// A completed request at least this long is examined for where its time went and may be called slow.
    public var slowThreshold: Int64 = 200_000_000
    /// The share of the total one part must hold to be named as what made the request slow.
    public var slowShare: Double = 0.5
    /// A connection is tied to a lookup that answered its destination at most this long before its SYN.
    ///
    /// A resolver's caller connects as soon as it has the address (curl took up to 10 ms in the lab, most clients
    /// well under one). A busy pod also looks names up and connects by address on its own, and nothing on the wire
    /// links a lookup to a connection but their nearness in time: a wider window ties independent lookups to
    /// connections and charges their gap to the request. A lookup not followed that closely is a request of its own.
    public var dnsToConnectWindow: Int64 = 50_000_000
    /// How long after its last packet a request waits for sightings at other capture points and for the DNS
    /// transactions the flow stage holds back (2 s) before it is traced.
    public var settle: Int64 = 3_000_000_000
    /// A DNS query's transactions are all in this long after it was sent: the flow stage emits an unanswered one
    /// after the resolver's timeout (5 s, see ``Correlator/flowConfiguration(_:)``) and an answered one 2 s after
    /// its response.
    public var dnsStableDelay: Int64 = 7_000_000_000
    /// A connection is tied to its lookup this long after its SYN, when every query sent before it is stable.
    public var lookupSettle: Int64 = 7_500_000_000
    /// Traces are written in start order: a finished trace waits this long (capture time) for requests that started
    /// before it and are still in progress. Requests longer than this come out when they end. 0 (live): each as soon
    /// as it is final, a failure after a second (a retry that follows makes it a finding of the retry).
    public var reorderWindow: Int64 = 15_000_000_000
    /// A connection whose capture points have not all closed has its exchanges traced this long after its last
    /// record, and is kept until its records close (what comes later is traced too).
    public var openGroupTimeout: Int64 = 120_000_000_000
    /// How long an exchange forwarded by a known L7 proxy waits for the inbound request that caused it.
    public var proxyJoinWindow: Int64 = 30_000_000_000
    /// How long a connection from an address that had just been sent a request (perhaps forwarding it, as an L7
    /// proxy not known yet) waits for the inbound request to claim it, when that is longer than ``settle``.
    public var proxyHold: Int64 = 0
    /// Most connections held for correlation at once; beyond it the oldest is traced with what is known (counted).
    /// The flow stage's cap while correlating (``Correlator/correlatedConnections``): a connection is a group here
    /// while the flow stage holds it at one capture point or more, and a little longer (``settle``), so that the
    /// flow stage gives a connection up before this cap judges it early (a connection judged early ignores what it
    /// carries later). The records those connections hold (one per capture point) are capped at twice this number:
    /// a connection seen at many points is judged early sooner.
    public var maxOpenConnections = Correlator.correlatedConnections
    /// Most records (one per capture point of a connection) the connections held may hold together: twice
    /// ``maxOpenConnections``, for the flow stage's open records and those closed while their connection settles.
    public var maxHeldRecords: Int { 2 * maxOpenConnections }
    /// Most finished traces held for ordering; beyond it the oldest is written early, out of start order (counted).
    /// A trace waits up to ``reorderWindow`` for the traces that started before it: at 25,000 that is a node's
    /// 1,600 requests a second, and ~60 MiB under a flood.
    public var maxPendingTraces = 25_000
    /// Most HTTP exchanges kept for a proxy's inbound request to claim as its onward request (a minute's worth, at
    /// most this many); beyond it the earliest are forgotten (counted).
    public var maxOnwardExchanges = 200_000
    /// Most HTTP exchanges held on one connection not traced yet (a request waits for its response, a response for
    /// the settle time); beyond it (a flood of pipelined requests) the oldest are traced at once with what is known
    /// (counted). A keep-alive connection at 1,000 requests a second holds about 3,000.
    public var maxExchangesPerConnection = 8_192
    /// Most ICMP errors kept for the connections they quote (a minute's worth, at most this many); beyond it the
    /// earliest are forgotten (counted).
    public var maxICMPErrors = 100_000
    /// Most DNS queries held for building lookups and for connections to claim, across clients; beyond it (a flood
    /// of lookups) they are judged at once and the oldest lookups released (counted).
    public var maxHeldQueries = 100_000
    /// At the end of the input, how many connections still open are traced before the traces that can no longer be
    /// preceded are released (what is held at the end is a batch, not everything open).
    public var finishBatch = 4_096
    /// Most DNS queries of one client waiting to be built into lookups; beyond it the oldest are dropped (counted).
    /// Memory is bounded across clients by ``maxHeldQueries``; this only keeps one client from taking all of it (at
    /// 4,096 a busy pod's lookups were dropped: the dense benchmark node, 8 pods, lost 50,000 of them).
    public var maxQueriesPerClient = 32_768
    /// Two-way delay sums within this many ns of zero do not order two capture points (microsecond timestamps).
    public var delayTolerance: Int64 = 2_000
    /// How often (capture time) what is due is looked at.
    public var tick: Int64 = 1_000_000_000
    /// When set, requests still open are judged as soon as their verdict can no longer change (live tracing); when
    /// nil, they wait for their connections' records (files).
    public var liveness: Liveness?

    /// When a request whose connection is still open is final (live tracing).
    public struct Liveness: Sendable, Hashable {
        /// Least time without a packet on a connection whose SYN went unanswered before its breakpoint is final;
        /// more while the SYN was being retransmitted (the next retransmission is due after twice the last
        /// interval), up to ``maxQuietPeriod``.
        public var quietPeriod: Int64 = 3_000_000_000
        /// Most time to wait for a retransmission that backoff says may still come.
        public var maxQuietPeriod: Int64 = 15_000_000_000
        /// How long an open connection may stay silent with a request unanswered (or no request) before it is
        /// judged as it stands.
        public var responseTimeout: Int64 = 10_000_000_000

        /// The defaults.
        public init() {}

        /// How long a connection whose SYN went unanswered must be quiet: at least the quiet period, and twice the
        /// last retransmission interval (exponential backoff), capped.
        public func quiet(synTimes: [Int64]) -> Int64 {
            let times = synTimes.sorted()
            guard times.count >= 2 else { return quietPeriod }
            let interval = Clock.since(times[times.count - 1], times[times.count - 2])
            // Twice the interval, saturating: SYN times from a store or a hostile capture may be anything.
            let doubled = interval.multipliedReportingOverflow(by: 2)
            let backoff = doubled.overflow ? (interval < 0 ? Int64.min : Int64.max) : doubled.partialValue
            return min(maxQuietPeriod, max(quietPeriod, Clock.plus(backoff, 500_000_000)))
        }
    }

    /// The defaults.
    public init() {}

    /// The settings of live tracing: traces as soon as final, a 50 ms tick, little waiting.
    public static var live: CorrelateOptions {
        var options = CorrelateOptions()
        options.settle = 250_000_000
        options.proxyHold = 2_000_000_000
        options.reorderWindow = 0
        options.dnsStableDelay = 500_000_000
        // The flow stage gives an answered query out a quarter second after its answer (``LiveTracer/Options``),
        // and the answer came before the SYN it led to.
        options.lookupSettle = 300_000_000
        options.tick = 50_000_000
        options.liveness = Liveness()
        return options
    }
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
    /// HTTP exchanges forgotten before a proxy's inbound request could claim them, to stay under
    /// ``CorrelateOptions/maxOnwardExchanges``.
    public var shedExchanges = 0
    /// HTTP exchanges traced before their connection ended because it held more than
    /// ``CorrelateOptions/maxExchangesPerConnection`` (a request without its response yet is `incomplete`), or, seen
    /// at a capture point only, forgotten.
    public var evictedExchanges = 0
    /// ICMP errors forgotten before a connection they quote was traced, to stay under
    /// ``CorrelateOptions/maxICMPErrors``.
    public var shedICMPErrors = 0
    /// DNS queries judged before their retries or answers could join them, or released before a connection could
    /// claim them, to stay under ``CorrelateOptions/maxHeldQueries``.
    public var shedQueries = 0
    /// Connections the flow stage gave up at its own cap (their final records say so), as they reached the engine.
    /// Not in ``evicted``: the flow stage counts them itself.
    public var evictedFlows = 0
    /// Pieces of connections given up at a cap with no request, reset or ICMP error in them, and no beginning with
    /// payload: counted, not traced (their outcome is not known). Not in ``evicted``: each was given up already (here,
    /// in ``evictedConnections``, or by the flow stage).
    public var untracedPieces = 0
    /// DNS queries the flow stage gave up unanswered (at its cap on pending transactions): counted, not traced, and
    /// not part of any lookup. Not in ``evicted`` (the flow stage counts them).
    public var untracedQueries = 0
    /// Connections quiet for ``CorrelateOptions/openGroupTimeout`` while a capture point still held them open: their
    /// exchanges traced then (and the connection kept for what came later), each connection counted once.
    public var timedOutConnections = 0
    /// Most connections held at once.
    public var peakOpenConnections = 0

    /// Everything given up to stay within the caps.
    public var evicted: Int {
        evictedConnections + evictedPending + evictedQueries + shedQueries + shedExchanges + evictedExchanges
            + shedICMPErrors
    }

    /// Zeroes.
    public init() {}
}
