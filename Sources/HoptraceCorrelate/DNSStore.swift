import HoptraceDecode
import HoptraceFlows

/// The DNS transactions of the last seconds, by client: deduplicated across capture points, built into lookups as
/// their queries become stable, claimed by the connections they led to, and given up as failed lookups once over.
///
/// A query is stable once every transaction of it has arrived (the flow stage emits an answered transaction its
/// linger after the response, an unanswered one after its timeout): ``stableDelay`` after it was sent. Lookups are
/// built from stable queries in the order they were sent, once each (``DNSLookupBuilder`` keeps the open ones), so
/// the cost is in the queries, not in how long they are kept.
struct DNSStore {
    /// A query's identity across capture points.
    struct QueryKey: Hashable {
        var client: FlowEndpoint
        var id: UInt16
        var name: String
        var type: DNSRecordType
    }

    /// One client's queries and lookups.
    struct Client {
        /// Transactions of queries not stable yet, by query.
        var pending: [QueryKey: [(DNSTransaction, CapturePoint)]] = [:]
        /// The pending queries in the order they arrived (from ``orderHead``; keys no longer pending are skipped):
        /// the oldest is found without a scan when the cap is reached.
        var order: [QueryKey] = []
        var orderHead = 0
        var builder = DNSLookupBuilder()
        /// Resolved lookups over, sorted by their end (kept for claims: found by binary search on the end).
        var closed: [DNSLookup] = []
        /// How many lookups of ``closed`` answered each address.
        var closedAnswers: [IPAddress: Int] = [:]
        /// Failed lookups over, not released yet.
        var failed: [DNSLookup] = []
        var claimed = Set<LookupKey>()
    }

    /// A lookup's identity.
    struct LookupKey: Hashable {
        var start: Int64
        var name: String
    }

    /// How long after a query all its transactions are in.
    let stableDelay: Int64
    private var clients: [IPAddress: Client] = [:]
    /// Queries held (pending and in open or closed lookups).
    private(set) var count = 0

    init(stableDelay: Int64) {
        self.stableDelay = stableDelay
    }

    /// Takes one transaction; returns how many queries were dropped to stay under the per-client cap.
    mutating func take(_ transaction: DNSTransaction, point: CapturePoint, cap: Int) -> Int {
        guard let question = transaction.question, transaction.queryTime != nil else { return 0 }
        let key = QueryKey(
            client: transaction.client,
            id: transaction.id,
            name: DNSLookupBuilder.normalized(question.name),
            type: question.type
        )
        var dropped = 0
        var added = 0
        modify(transaction.client.address) { client in
            if client.pending[key] == nil {
                if client.pending.count >= cap {
                    // The oldest pending query goes (the first to arrive still pending).
                    client.skipGoneKeys()
                    if client.orderHead < client.order.count {
                        client.pending[client.order[client.orderHead]] = nil
                        client.orderHead += 1
                        dropped = 1
                    }
                }
                added = 1 - dropped
                client.order.append(key)
            }
            client.pending[key, default: []].append((transaction, point))
        }
        count += added
        return dropped
    }

    private mutating func modify(_ address: IPAddress, _ body: (inout Client) -> Void) {
        body(&clients[address, default: Client()])
    }

    /// Builds the lookups of every query stable by `now` (all of them when `now` is `.max`, at the end): the failed
    /// ones wait in ``release(now:retention:)``'s list, the resolved ones are kept for claims.
    mutating func build(upTo now: Int64) {
        let stable = now == .max ? Int64.max : Clock.since(now, stableDelay)
        for address in Array(clients.keys) {
            modify(address) { client in
                var ready: [DNSQuery] = []
                var readyKeys: [QueryKey] = []
                for (key, transactions) in client.pending {
                    let sent = transactions.compactMap(\.0.queryTime).min() ?? .max
                    guard sent < stable, let query = DNSLookupBuilder.query(from: transactions) else { continue }
                    ready.append(query)
                    readyKeys.append(key)
                }
                for key in readyKeys { client.pending[key] = nil }
                client.skipGoneKeys()
                ready.sort { ($0.queryTime, $0.name, $0.type.rawValue) < ($1.queryTime, $1.name, $1.type.rawValue) }
                var finished: [DNSLookup] = []
                for query in ready { finished += client.builder.add(query) }
                finished += client.builder.close(before: stable)
                for lookup in finished {
                    if lookup.outcome == .resolved {
                        client.keepClosed(lookup)
                    } else {
                        client.failed.append(lookup)
                    }
                }
            }
        }
    }

    /// The lookups no connection will claim: the failed ones (they resolved nothing to connect to), and the resolved
    /// ones kept `retention` for claims and unclaimed by then (a name looked up and not connected to); every one at
    /// the end (`now` is `.max`). They are forgotten.
    mutating func release(now: Int64, retention: Int64) -> [DNSLookup] {
        release(now: now, retention: retention, failedBefore: .max)
    }

    /// ``release(now:retention:)``, the failed lookups only when they ended before `failedBefore`.
    private mutating func release(now: Int64, retention: Int64, failedBefore: Int64) -> [DNSLookup] {
        var released: [DNSLookup] = []
        var forgotten = 0
        let horizon = now == .max ? Int64.max : Clock.since(now, retention)
        for address in Array(clients.keys) {
            modify(address) { client in
                if failedBefore == .max {
                    released += client.failed
                    forgotten += client.failed.map(\.queries.count).reduce(0, +)
                    client.failed = []
                } else if !client.failed.isEmpty {
                    let gone = client.failed.filter { $0.end < failedBefore }
                    client.failed.removeAll { $0.end < failedBefore }
                    released += gone
                    forgotten += gone.map(\.queries.count).reduce(0, +)
                }
                guard let first = client.closed.first, first.end < horizon || now == .max else { return }
                let gone = client.closed.filter { $0.end < horizon || now == .max }
                client.closed.removeAll { $0.end < horizon || now == .max }
                for lookup in gone {
                    for address in Self.addresses(of: lookup) {
                        client.closedAnswers[address, default: 1] -= 1
                        if client.closedAnswers[address] == 0 { client.closedAnswers[address] = nil }
                    }
                    if client.claimed.remove(LookupKey(start: lookup.start, name: lookup.name)) == nil {
                        released.append(lookup)
                    }
                }
                forgotten += gone.map(\.queries.count).reduce(0, +)
            }
            if let client = clients[address], client.pending.isEmpty, client.builder.open.isEmpty,
                client.closed.isEmpty, client.failed.isEmpty
            {
                clients[address] = nil
            }
        }
        count -= forgotten
        return released.sorted { $0.start < $1.start }
    }

    /// Under a flood of lookups: builds every query held into its lookup now (without waiting for the retries and
    /// answers `stableDelay` would), releases the failed ones, and while more than `target` queries are still held,
    /// the resolved lookups that ended first (claimed ones are dropped, unclaimed ones returned). Returns the lookups
    /// released, in start order, and how many queries left the store.
    mutating func shed(to target: Int) -> (lookups: [DNSLookup], queries: Int) {
        let before = count
        build(upTo: .max)
        guard count > target else { return ([], 0) }
        // The lookups that ended first, failed or resolved, until what stays is `target` queries.
        var ends: [(end: Int64, queries: Int)] = []
        for client in clients.values {
            for lookup in client.closed { ends.append((lookup.end, lookup.queries.count)) }
            for lookup in client.failed { ends.append((lookup.end, lookup.queries.count)) }
        }
        ends.sort { $0.end < $1.end }
        var excess = count - target
        var cutoff = Int64.min
        for entry in ends where excess > 0 {
            excess -= entry.queries
            cutoff = entry.end
        }
        guard cutoff != .min else { return ([], 0) }
        let bound = Clock.plus(cutoff, 1)
        let released = release(now: bound, retention: 0, failedBefore: bound)
        return (released.sorted { $0.start < $1.start }, before - count)
    }

    /// The earliest start of a lookup still held (closed and not released, or failed and not released yet): no
    /// lookup released later starts before it. `.max` when none is held.
    func earliestHeldStart() -> Int64 {
        var earliest = Int64.max
        for client in clients.values {
            for lookup in client.closed where lookup.start < earliest { earliest = lookup.start }
            for lookup in client.failed where lookup.start < earliest { earliest = lookup.start }
        }
        return earliest
    }

    /// Whether some query of `client` was answered with `address`.
    func answered(_ address: IPAddress, for client: IPAddress) -> Bool {
        guard let entry = clients[client] else { return false }
        return entry.closedAnswers[address] != nil
            || entry.builder.open.contains { $0.answered(address) }
            || entry.pending.values.contains { list in
                list.contains { transaction, _ in
                    transaction.answers.contains { answer in
                        if case .address(let answered) = answer.data { return answered == address }
                        return false
                    }
                }
            }
    }

    /// The lookup that gave `client` the address `answering` it connected to at `before`: the latest one, not claimed
    /// yet, that resolved it and ended from `window` before the connection to 1 ms after.
    mutating func claim(client: IPAddress, answering: IPAddress, before: Int64, window: Int64) -> DNSLookup? {
        guard let entry = clients[client] else { return nil }
        let earliest = Clock.since(before, window)
        let latest = Clock.plus(before, 1_000_000)
        // The candidate so far: a closed lookup, or an open one (built only once chosen: building copies queries).
        var chosenEnd = Int64.min
        var chosenClosed: Int?
        var chosenOpen: Int?
        func better(start: Int64, end: Int64, name: String) -> Bool {
            end >= earliest && end <= latest && (chosenClosed == nil && chosenOpen == nil || end > chosenEnd)
                && !entry.claimed.contains(LookupKey(start: start, name: name))
        }
        // Only the closed lookups that ended in the window: found by their end, never a scan of the client's all.
        var index = entry.closed.partitionPoint { $0.end < earliest }
        while index < entry.closed.count, entry.closed[index].end <= latest {
            let lookup = entry.closed[index]
            if better(start: lookup.start, end: lookup.end, name: lookup.name),
                lookup.queries.contains(where: { $0.addresses.contains(answering) })
            {
                (chosenEnd, chosenClosed) = (lookup.end, index)
            }
            index += 1
        }
        for (position, open) in entry.builder.open.enumerated() where open.answered(answering) {
            guard let span = open.resolvedSpan, better(start: span.start, end: span.end, name: span.name) else {
                continue
            }
            (chosenEnd, chosenClosed, chosenOpen) = (span.end, nil, position)
        }
        let chosen =
            chosenOpen.map { DNSLookupBuilder.lookup(entry.builder.open[$0]) } ?? chosenClosed.map { entry.closed[$0] }
        if let chosen {
            clients[client]?.claimed.insert(LookupKey(start: chosen.start, name: chosen.name))
        }
        return chosen
    }

    /// The addresses a lookup's answers gave, each once.
    static func addresses(of lookup: DNSLookup) -> Set<IPAddress> {
        var addresses = Set<IPAddress>()
        for query in lookup.queries { addresses.formUnion(query.addresses) }
        return addresses
    }
}

extension DNSStore.Client {
    /// Drops the keys at the front of ``order`` that are no longer pending, and the storage before the head once it
    /// is most of the array.
    mutating func skipGoneKeys() {
        while orderHead < order.count, pending[order[orderHead]] == nil { orderHead += 1 }
        if orderHead >= 1_024, orderHead * 2 >= order.count {
            order.removeFirst(orderHead)
            orderHead = 0
        }
    }

    /// Keeps a resolved lookup for claims, in end order (lookups close about in that order: from the back).
    mutating func keepClosed(_ lookup: DNSLookup) {
        var index = closed.count
        while index > 0, closed[index - 1].end > lookup.end { index -= 1 }
        closed.insert(lookup, at: index)
        for address in DNSStore.addresses(of: lookup) { closedAnswers[address, default: 0] += 1 }
    }
}
