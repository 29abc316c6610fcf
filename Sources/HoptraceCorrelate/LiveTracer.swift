import HoptraceCapture
import HoptraceDecode
import HoptraceFlows

/// Traces requests while they happen: packets in, each request's trace out once, as soon as its verdict is final.
///
/// Feed packets in capture order with ``process(_:interfaces:)`` and call ``poll(now:)`` often (after each packet
/// and when the link is quiet); it returns the traces that became final since the last call. ``finish(now:)`` ends
/// the input and returns every request still pending, as it stands.
///
/// How: the flow stage emits a connection's record only when it closed (plus a linger) or went idle, so each
/// poll (at most every ``Options/pollInterval``) re-runs the correlator over the completed records still needed
/// plus a provisional snapshot of the open flows (``FlowAnalyzer/snapshot()``). A completed connection record is
/// dropped as soon as the requests of its client endpoint are all printed, and any completed record once older than
/// ``Options/joinWindow`` (unless a pending request is older still; never kept beyond ``Options/retention``), so
/// each poll works on the requests in progress, not on the traffic of the last minutes. A request is printed when
/// its verdict can no longer change:
/// - ok and slow: the response completed, ``Options/settle`` ago (copies at other capture points are in);
/// - rejected, reset: the ICMP error or the RST, ``Options/settle`` ago;
/// - breakpoint: the client gave up (its RST or FIN), or its connection has been quiet for the quiet period: at
///   least ``Options/quietPeriod``, and more when the SYN was being retransmitted, since the next retransmission is
///   due after twice the last interval (capped at ``Options/maxQuietPeriod``);
/// - no-response: the client closed or reset, or nothing for ``Options/responseTimeout``;
/// - dns-failure: no query from that walk for ``Options/dnsWalkGap`` (the walk may still try the next name).
///
/// A request is keyed on its client endpoint, the first sighting of its connection and its place among identical
/// requests on that connection (a DNS-only request on its walk's start), and never returned twice. Time is the
/// capture's clock (ns since the epoch): the wall clock live, packet time when a file is replayed.
///
/// Not thread-safe: one tracer per packet stream.
public final class LiveTracer {
    /// Settings of a live trace.
    public struct Options: Sendable {
        /// The correlator's settings.
        public var correlate = CorrelateOptions()
        /// The flow stage's limits.
        public var flows = FlowConfiguration()
        /// Least time without a packet on a connection whose SYN or data went unanswered before its breakpoint
        /// is final.
        public var quietPeriod: Int64 = 3_000_000_000
        /// Most time to wait for a retransmission that backoff says may still come.
        public var maxQuietPeriod: Int64 = 15_000_000_000
        /// How long after a completed response, a reset or an ICMP error its trace is printed.
        public var settle: Int64 = 250_000_000
        /// How long a request may wait for its response (client still connected, nothing moving) before it is
        /// printed as no-response; also how long an open connection without a request waits.
        public var responseTimeout: Int64 = 10_000_000_000
        /// A failed name resolution is final after this long without a query from its walk (the correlator joins
        /// queries with gaps under 6 s into one walk).
        public var dnsWalkGap: Int64 = 6_000_000_000
        /// Completed records older than this are dropped unless a pending request started before them (the
        /// correlator joins a DNS answer to a connection up to 10 s later, a retry up to 1 s later).
        public var joinWindow: Int64 = 15_000_000_000
        /// Completed records and printed keys older than this are dropped, pending requests or not.
        public var retention: Int64 = 120_000_000_000
        /// Least time between two correlations.
        public var pollInterval: Int64 = 500_000_000

        /// The defaults.
        public init() {}
    }

    /// Counters of a live trace.
    public struct Statistics: Sendable, Hashable {
        /// Packets given to ``LiveTracer/process(_:interfaces:)``.
        public var packets = 0
        /// Of those, packets the decoder could not read.
        public var undecodable = 0
        /// Correlation runs.
        public var correlations = 0
        /// Traces returned.
        public var traced = 0
        /// Requests seen and not final at the last correlation.
        public var pending = 0
        /// Completed flow records held (within the retention window).
        public var retainedRecords = 0
    }

    /// The settings in use.
    public let options: Options
    /// The counters so far.
    public private(set) var statistics = Statistics()

    /// What addresses are: declared and learned.
    public let directory: ClusterDirectory
    private let decoder = PacketDecoder()
    private let points = CapturePointTable()
    private let store: Store
    private let analyzer: FlowAnalyzer
    private let interfaceName: (Int32) -> String?
    private var ifIndexNames: [Int32: String]
    private var knownIfIndexes = Set<Int32>()
    private var printed: [String: Int64] = [:]
    /// Client endpoints (with their connection's first sighting) of the requests printed at the last poll, and the
    /// client endpoints and earliest start of those still pending.
    private var printedClients: [FlowEndpoint: Set<Int64>] = [:]
    private var pendingClients = Set<FlowEndpoint>()
    private var oldestPending: Int64 = .max
    private var lastPoll: Int64 = .min
    private var changed = false
    private var finished = false

    /// The completed flow records, as the analyzer's sink delivers them.
    private final class Store {
        var connections: [ConnectionRecord] = []
        var exchanges: [HTTPExchange] = []
        var dns: [DNSTransaction] = []
        var icmp: [ICMPErrorEvent] = []

        func take(_ event: FlowEvent) {
            switch event {
            case .connection(let record): connections.append(record)
            case .opened: break
            case .http(let exchange): exchanges.append(exchange)
            case .dns(let transaction): dns.append(transaction)
            case .icmpError(let event): icmp.append(event)
            case .segment: break
            }
        }

        var count: Int { connections.count + exchanges.count + dns.count + icmp.count }

        func prune(before cutoff: Int64, done: (ConnectionRecord) -> Bool, open: Set<UInt64>) {
            var removed = Set<UInt64>()
            connections.removeAll { record in
                guard record.endTime < cutoff || done(record) else { return false }
                removed.insert(record.id)
                return true
            }
            exchanges.removeAll {
                removed.contains($0.connectionID)
                    || (!open.contains($0.connectionID)
                        && ($0.responseLastByte?.time ?? $0.requestLastByte?.time ?? $0.requestFirstByte?.time ?? 0)
                            < cutoff)
            }
            dns.removeAll { ($0.responseTime ?? $0.queryTime ?? 0) < cutoff }
            icmp.removeAll { $0.time < cutoff }
        }
    }

    /// A tracer.
    ///
    /// - Parameters:
    ///   - options: the settings.
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
        let store = Store()
        self.store = store
        self.analyzer = FlowAnalyzer(configuration: options.flows, sink: store.take)
        if !ifIndexNames.isEmpty { points.setIfIndexNames(ifIndexNames) }
    }

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
        changed = true
    }

    /// The traces that became final by `now` and were not returned before, in start order; does nothing (and
    /// returns nothing) when called again within ``Options/pollInterval``.
    public func poll(now: Int64) -> [RequestTrace] {
        guard !finished, lastPoll == .min || now - lastPoll >= options.pollInterval else { return [] }
        lastPoll = now
        // Nothing new and nothing waiting: no verdict can change.
        guard changed || statistics.pending > 0 else { return [] }
        changed = false
        // Connections still open or lingering after close whose client's requests were all printed stay out.
        var skipped = Set<UInt64>()
        var snapshot: [FlowEvent] = []
        for event in analyzer.snapshot() {
            if case .connection(let record) = event, isDone(record) {
                skipped.insert(record.id)
                continue
            }
            snapshot.append(event)
        }
        if !skipped.isEmpty {
            snapshot.removeAll { event in
                if case .http(let exchange) = event { return skipped.contains(exchange.connectionID) }
                return false
            }
        }
        let traces = correlate(now: now, open: snapshot, skipping: skipped)
        let result = emit(traces, now: now, open: snapshot, final: false)
        prune(now: now, open: snapshot)
        return result
    }

    /// Ends the input: every flow is closed and every request not returned yet is returned as it stands.
    public func finish(now: Int64) -> [RequestTrace] {
        guard !finished else { return [] }
        finished = true
        analyzer.finish()
        let traces = correlate(now: now, open: [])
        let result = emit(traces, now: now, open: [], final: true)
        statistics.pending = 0
        return result
    }

    // MARK: - Correlation

    private func correlate(now: Int64, open: [FlowEvent], skipping skipped: Set<UInt64> = []) -> [RequestTrace] {
        statistics.correlations += 1
        var events: [FlowEvent] = []
        events.reserveCapacity(store.count + open.count)
        for exchange in store.exchanges where !skipped.contains(exchange.connectionID) {
            events.append(.http(exchange))
        }
        for event in open { if case .http = event { events.append(event) } }
        for record in store.connections { events.append(.connection(record)) }
        for event in open { if case .connection = event { events.append(event) } }
        for transaction in store.dns { events.append(.dns(transaction)) }
        for event in store.icmp { events.append(.icmpError(event)) }
        let names = points.points
        let engine = TraceEngine(options: options.correlate, directory: directory) { id in
            id >= 0 && id < names.count ? names[id] : CapturePoint(name: "if?\(id)")
        }
        for event in events { engine.take(event) }
        _ = engine.advance(to: now)
        return engine.finish()
    }

    /// What the flow records say about one client endpoint's connection: when it last moved, its SYN times,
    /// whether the client closed it, whether any of its records is still open.
    struct Activity {
        var last: Int64 = .min
        var synTimes: [Int64] = []
        var clientClosed = false
        var open = false
    }

    private func activity(of trace: RequestTrace, open: [FlowEvent]) -> Activity {
        var activity = Activity()
        guard let client = trace.client else { return activity }
        let firstSeen = trace.hops.first?.firstSeen ?? trace.start
        func take(_ record: ConnectionRecord, isOpen: Bool) {
            guard record.originator == client,
                record.startTime >= firstSeen - 1_000_000, record.startTime <= firstSeen + 1_000_000_000
            else { return }
            activity.last = max(activity.last, record.endTime)
            if isOpen { activity.open = true }
            let o = record.originatorSummary
            if o.fin != nil || o.rstTime != nil { activity.clientClosed = true }
            if let syn = record.synTime, record.synRetransmissionTimes.count + 1 > activity.synTimes.count {
                activity.synTimes = [syn] + record.synRetransmissionTimes
            }
        }
        for record in store.connections { take(record, isOpen: false) }
        for case .connection(let record) in open { take(record, isOpen: true) }
        return activity
    }

    /// How long a connection whose bytes went unanswered must be quiet before its breakpoint is final.
    func quietPeriod(synTimes: [Int64]) -> Int64 {
        guard synTimes.count >= 2 else { return options.quietPeriod }
        let interval = synTimes[synTimes.count - 1] - synTimes[synTimes.count - 2]
        // Exponential backoff: the next retransmission, if any, is due about twice the last interval later.
        return min(options.maxQuietPeriod, max(options.quietPeriod, 2 * interval + 500_000_000))
    }

    private func isFinal(_ trace: RequestTrace, now: Int64, open: [FlowEvent]) -> Bool {
        let settled = now - trace.end >= options.settle
        switch trace.verdict.kind {
        case .ok, .slow, .incomplete:
            if trace.request != nil { return settled }
            // A connection with no request (yet): final once it closed, or after the response timeout.
            if trace.kind == .dns { return settled }
            let activity = activity(of: trace, open: open)
            return !activity.open || now - activity.last >= options.responseTimeout
        case .rejected, .reset:
            return settled
        case .dnsFailure:
            let end = trace.dns.map { resolution in
                resolution.queries.map { max($0.queryTime, $0.responseTime ?? $0.queryTime) }.max() ?? resolution.end
            }
            return now - (end ?? trace.end) >= options.dnsWalkGap
        case .breakpoint:
            let activity = activity(of: trace, open: open)
            let last = max(activity.last, trace.end)
            if activity.clientClosed { return now - last >= options.settle }
            return now - last >= quietPeriod(synTimes: activity.synTimes)
        case .noResponse:
            let activity = activity(of: trace, open: open)
            let last = activity.last == .min ? trace.start : activity.last
            if activity.clientClosed { return now - last >= options.settle }
            return now - last >= options.responseTimeout
        }
    }

    /// The key that says two traces from different correlations are the same request.
    static func keys(_ traces: [RequestTrace]) -> [String] {
        var seen: [String: Int] = [:]
        return traces.map { trace in
            let base: String
            if trace.kind == .dns, let dns = trace.dns {
                base = "dns|\(dns.queries.first?.client.description ?? "?")|\(dns.start)|\(dns.name)"
            } else {
                let request = trace.request.map { "\($0.method) \($0.path) \($0.requestID ?? "")" } ?? "-"
                base =
                    "tcp|\(trace.client?.description ?? "?")|\(trace.hops.first?.firstSeen ?? trace.start)|\(request)"
            }
            let ordinal = seen[base, default: 0]
            seen[base] = ordinal + 1
            return "\(base)|\(ordinal)"
        }
    }

    private func emit(_ traces: [RequestTrace], now: Int64, open: [FlowEvent], final: Bool) -> [RequestTrace] {
        var result: [RequestTrace] = []
        var pending = 0
        pendingClients = []
        oldestPending = .max
        for (trace, key) in zip(traces, Self.keys(traces)) {
            if printed[key] != nil {
                if let client = trace.client {
                    printedClients[client, default: []].insert(trace.hops.first?.firstSeen ?? trace.start)
                }
                continue
            }
            guard final || isFinal(trace, now: now, open: open) else {
                pending += 1
                if let client = trace.client { pendingClients.insert(client) }
                oldestPending = min(oldestPending, trace.start)
                continue
            }
            if let client = trace.client {
                printedClients[client, default: []].insert(trace.hops.first?.firstSeen ?? trace.start)
            }
            printed[key] = trace.start
            var numbered = trace
            numbered.index = statistics.traced
            statistics.traced += 1
            result.append(numbered)
        }
        statistics.pending = pending
        return result
    }

    /// Whether `record` belongs to a client whose requests were all printed at the last poll (its connection's
    /// first sighting within a second of the printed request's).
    private func isDone(_ record: ConnectionRecord) -> Bool {
        let client = record.originator
        guard !pendingClients.contains(client), let starts = printedClients[client] else { return false }
        return starts.contains { record.startTime >= $0 - 1_000_000 && record.startTime <= $0 + 1_000_000_000 }
    }

    private func prune(now: Int64, open: [FlowEvent]) {
        let cutoff = max(now - options.retention, min(now - options.joinWindow, oldestPending - 1_000_000_000))
        var openIDs = Set<UInt64>()
        for case .connection(let record) in open { openIDs.insert(record.id) }
        // A completed connection whose client's requests were all printed: its sightings at the client's side and
        // wherever the client's address was kept (those behind SNAT age out with the join window).
        store.prune(before: cutoff, done: isDone, open: openIDs)
        // Printed clients are remembered past the flow stage's linger (a closed connection stays open there 5 s).
        let forget = now - options.joinWindow - options.flows.closeLinger
        printedClients = printedClients.compactMapValues { starts in
            let kept = starts.filter { $0 >= forget }
            return kept.isEmpty ? nil : kept
        }
        if printed.count > 1024 {
            printed = printed.filter { $0.value >= cutoff - options.retention }
        }
        statistics.retainedRecords = store.count
    }
}
