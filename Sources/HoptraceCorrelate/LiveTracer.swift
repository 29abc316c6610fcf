import HoptraceCapture
import HoptraceDecode
import HoptraceFlows

/// Traces requests while they happen: packets in, each request's trace out once, as soon as its verdict is final.
///
/// The same streaming engine as for files (``TraceEngine``), with the settings of live tracing
/// (``CorrelateOptions/live``): the flow stage lingers a quarter second after a close instead of five, and a request
/// whose connection is still open is judged once nothing can change its verdict:
/// - ok and slow: the response completed, ``CorrelateOptions/settle`` ago (copies at other capture points are in);
/// - rejected, reset: the ICMP error or the RST, once the connection closed everywhere;
/// - breakpoint: the client gave up (its RST or FIN), or its connection has been quiet for the quiet period: at
///   least ``CorrelateOptions/Liveness/quietPeriod``, and more when the SYN was being retransmitted (the next
///   retransmission is due after twice the last interval), capped;
/// - no-response: the client closed or reset, or nothing for ``CorrelateOptions/Liveness/responseTimeout``;
/// - dns-failure: once the lookup is over.
/// Each poll costs what is due, not what is open: the engine looks only at the connections whose time came.
///
/// Feed packets in capture order with ``process(_:interfaces:)`` and call ``poll(now:)`` often (after each packet
/// and when the link is quiet); ``finish(now:)`` ends the input. Time is the capture's clock (ns since the epoch):
/// the wall clock live, packet time when a file is replayed. Not thread-safe: one tracer per packet stream.
public final class LiveTracer {
    /// Settings of a live trace.
    public struct Options: Sendable {
        /// The correlator's settings (``CorrelateOptions/live`` by default).
        public var correlate = CorrelateOptions.live
        /// The flow stage's settings.
        public var flows: FlowConfiguration = {
            var flows = Correlator.flowConfiguration(Correlator.correlatedFlows)
            flows.closeLinger = 250_000_000
            flows.dnsLinger = 250_000_000
            flows.sweepInterval = 250_000_000
            return flows
        }()
        /// Least time between two polls that do any work.
        public var pollInterval: Int64 = 250_000_000

        /// The defaults.
        public init() {}

        /// Least quiet time before an unanswered SYN's breakpoint is final.
        public var quietPeriod: Int64 {
            get { correlate.liveness?.quietPeriod ?? 0 }
            set { correlate.liveness?.quietPeriod = newValue }
        }
        /// Most quiet time waited for a SYN retransmission that backoff says may still come.
        public var maxQuietPeriod: Int64 {
            get { correlate.liveness?.maxQuietPeriod ?? 0 }
            set { correlate.liveness?.maxQuietPeriod = newValue }
        }
        /// How long an open connection may stay silent with its request unanswered.
        public var responseTimeout: Int64 {
            get { correlate.liveness?.responseTimeout ?? 0 }
            set { correlate.liveness?.responseTimeout = newValue }
        }
        /// How long after a completed response, a reset or an ICMP error its trace is printed.
        public var settle: Int64 {
            get { correlate.settle }
            set { correlate.settle = newValue }
        }
    }

    /// Counters of a live trace.
    public struct Statistics: Sendable, Hashable {
        /// Packets given to ``LiveTracer/process(_:interfaces:)``.
        public var packets = 0
        /// Of those, packets the decoder could not read.
        public var undecodable = 0
        /// Polls that looked at what was due.
        public var correlations = 0
        /// Traces returned.
        public var traced = 0
        /// Connections held, not traced yet, at the last poll.
        public var pending = 0
        /// Connections and lookups given up to stay within memory caps.
        public var evicted = 0
    }

    /// The settings in use.
    public let options: Options
    /// What addresses are: declared and learned.
    public let directory: ClusterDirectory
    /// The counters so far.
    public private(set) var statistics = Statistics()

    private let decoder = PacketDecoder()
    private let points = CapturePointTable()
    private let engine: TraceEngine
    private let analyzer: FlowAnalyzer
    private let interfaceName: (Int32) -> String?
    private var ifIndexNames: [Int32: String]
    private var knownIfIndexes = Set<Int32>()
    private var lastPoll: Int64 = .min
    private var finished = false

    /// A tracer.
    ///
    /// - Parameters:
    ///   - options: the settings.
    ///   - directory: the cluster directory (declared state; it learns as the capture goes).
    ///   - ifIndexNames: names of SLL2 interface indexes known in advance.
    ///   - interfaceName: names an SLL2 interface index seen for the first time and not in `ifIndexNames` (live:
    ///     `if_indextoname`); nil leaves it `if<N>`.
    public init(
        options: Options = Options(),
        directory: ClusterDirectory = ClusterDirectory(),
        ifIndexNames: [Int32: String] = [:],
        interfaceName: @escaping (Int32) -> String? = { _ in nil }
    ) {
        self.options = options
        self.directory = directory
        self.ifIndexNames = ifIndexNames
        self.interfaceName = interfaceName
        let points = self.points
        let engine = TraceEngine(options: options.correlate, directory: directory) { id in
            id >= 0 && id < points.points.count ? points[id] : CapturePoint(name: "if?\(id)")
        }
        self.engine = engine
        let overflow = self.overflow
        let analyzer = FlowAnalyzer(configuration: options.flows) { event in
            engine.take(event)
            // A flood between two polls: what is over the caps goes out with the next poll.
            if engine.isOverfull { overflow.traces += engine.releaseOverflow() }
        }
        self.analyzer = analyzer
        engine.pendingExchanges = { [unowned analyzer] record in analyzer.pendingExchanges(of: record) }
        if !ifIndexNames.isEmpty { points.setIfIndexNames(ifIndexNames) }
    }

    /// Traces released over the caps between two polls.
    private final class Overflow {
        var traces: [RequestTrace] = []
        func take() -> [RequestTrace] {
            defer { traces = [] }
            return traces
        }
    }
    private let overflow = Overflow()

    /// One packet of a source whose interfaces are `interfaces` (borrowed; nothing of it is kept).
    public func process(_ packet: Packet, interfaces: [InterfaceDescription]) {
        statistics.packets += 1
        guard let decoded = decoder.decode(packet) else {
            statistics.undecodable += 1
            return
        }
        let ifIndex = decoded.link.ifIndex
        if ifIndex >= 0, !knownIfIndexes.contains(ifIndex) {
            knownIfIndexes.insert(ifIndex)
            if ifIndexNames[ifIndex] == nil, let name = interfaceName(ifIndex) {
                ifIndexNames[ifIndex] = name
                points.setIfIndexNames(ifIndexNames)
            }
        }
        let point = points.id(for: decoded, interfaces: interfaces)
        analyzer.process(decoded, capturePoint: point)
    }

    /// The traces that became final by `now` and were not returned before, in start order; does nothing (and
    /// returns nothing) when called again within ``Options/pollInterval``.
    public func poll(now: Int64) -> [RequestTrace] {
        guard !finished, lastPoll == .min || Clock.since(now, lastPoll) >= options.pollInterval else { return [] }
        lastPoll = now
        statistics.correlations += 1
        // The flow stage's timeouts run on packet time; a quiet link still moves the clock.
        analyzer.advance(to: now)
        let traces = overflow.take() + engine.advance(to: now)
        statistics.traced += traces.count
        statistics.pending = engine.openConnections
        statistics.evicted = engine.statistics.evicted
        return traces
    }

    /// Ends the input: every flow is closed and every request not returned yet is returned as it stands.
    public func finish(now: Int64) -> [RequestTrace] {
        guard !finished else { return [] }
        finished = true
        analyzer.advance(to: now)
        let early = engine.advance(to: now)
        analyzer.finish()
        let traces = overflow.take() + early + engine.finish()
        statistics.traced += traces.count
        statistics.pending = 0
        return traces
    }
}
