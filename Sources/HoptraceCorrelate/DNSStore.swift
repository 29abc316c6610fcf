import HoptraceDecode
import HoptraceFlows

/// The DNS transactions of the last seconds, by client: deduplicated across capture points, built into lookups as
/// their queries become stable, claimed by the connections they led to, and given up as failed lookups once over.
///
/// A query is stable once every transaction of it has arrived (the flow stage emits an answered transaction its
/// linger after the response, an unanswered one after its timeout): ``stableDelay`` after it was sent. Lookups are
/// built from stable queries in the order they were sent, once each (``DNSLookupBuilder`` keeps the open ones), so
/// the cost is in the queries, not in how long they are kept.
///
/// Queries not stable yet sit in one flat table across clients (a slot each, found by a ``SlotIndex``): at the end of
/// a flood of unanswered queries every one the flow stage held arrives at once, each from a client of its own, and a
/// table per client cost three allocations and a dictionary entry of 150 bytes for each.
struct DNSStore {
    /// A query's identity across capture points.
    struct QueryKey: Hashable {
        var client: FlowEndpoint
        var id: UInt16
        var name: String
        var type: DNSRecordType
    }

    /// A query not stable yet: its transactions, one per capture point that saw it (almost always one, kept inline).
    struct Pending {
        var first: DNSTransaction
        var more: [DNSTransaction] = []
        /// Its key's hash (to find its index entry when it leaves).
        var hash: Int
        /// When it arrived, counted in queries (to tell its entry in ``DNSStore/order`` from a later one in its slot).
        var arrival: UInt64

        var transactions: [DNSTransaction] { [first] + more }
        /// The earliest time a transaction of it was sent.
        var sent: Int64 {
            var sent = first.queryTime ?? .max
            for transaction in more { sent = min(sent, transaction.queryTime ?? .max) }
            return sent
        }
    }

    /// One client's lookups: the open ones, and the resolved ones kept for claims. A client with queries pending and
    /// no lookup has no entry.
    struct Client {
        var builder = DNSLookupBuilder()
        /// Resolved lookups over, sorted by their end (kept for claims: found by binary search on the end).
        var closed: [DNSLookup] = []
        /// How many lookups of ``closed`` answered each address.
        var closedAnswers: [IPAddress: Int] = [:]
        var claimed = Set<LookupKey>()

        var isEmpty: Bool { builder.openCount == 0 && closed.isEmpty }
    }

    /// A lookup's identity.
    struct LookupKey: Hashable {
        var start: Int64
        var name: String
    }

    /// An address a client's pending transaction was answered with.
    struct AnswerKey: Hashable {
        var client: IPAddress
        var address: IPAddress
    }

    /// How long after a query all its transactions are in.
    let stableDelay: Int64
    private let capturePoint: (Int) -> CapturePoint
    /// The queries not stable yet (nil: a free slot), found by their key's hash in ``index``.
    private var slots: [Pending?] = []
    private var freeSlots: [Int32] = []
    private var index = SlotIndex()
    /// The pending queries in the order they arrived (slot and arrival; entries whose slot moved on are skipped): a
    /// client's oldest is found without a scan of all when it reaches its cap.
    private var order: [(slot: Int32, arrival: UInt64)] = []
    /// Positions in ``order`` are counted from the first query ever (``orderBase`` of them were dropped from its front).
    private var orderBase = 0
    /// Entries of ``order`` before it are of queries gone.
    private var orderHead = 0
    private var nextArrival: UInt64 = 0
    /// Pending queries per client.
    private var waiting: [IPAddress: Int32] = [:]
    /// For a client at its cap: the position in ``order`` before which none of its queries is pending.
    private var oldestSearch: [IPAddress: Int] = [:]
    /// How many pending transactions of a client were answered with an address.
    private var pendingAnswers: [AnswerKey: Int32] = [:]
    private var clients: [IPAddress: Client] = [:]
    /// Failed lookups over, not released yet.
    private var failed: [DNSLookup] = []
    /// Queries held (pending and in open or closed lookups).
    private(set) var count = 0

    init(stableDelay: Int64, capturePoint: @escaping (Int) -> CapturePoint) {
        self.stableDelay = stableDelay
        self.capturePoint = capturePoint
    }

    /// Takes one transaction; returns how many queries were dropped to stay under the per-client cap.
    mutating func take(_ transaction: DNSTransaction, cap: Int) -> Int {
        guard let question = transaction.question, transaction.queryTime != nil else { return 0 }
        let key = QueryKey(
            client: transaction.client,
            id: transaction.id,
            name: DNSLookupBuilder.normalized(question.name),
            type: question.type
        )
        let hash = key.hashValue
        noteAnswers(of: transaction, by: 1)
        if let found = index.find(hash: hash, where: { Self.matches(slots[Int($0)]?.first, key) }) {
            slots[Int(found.slot)]?.more.append(transaction)
            return 0
        }
        let address = transaction.client.address
        var dropped = 0
        if Int(waiting[address] ?? 0) >= cap, let oldest = oldestPending(of: address) {
            // The oldest pending query of the client goes (the first to arrive still pending).
            removePending(slot: oldest)
            dropped = 1
        }
        let pending = Pending(first: transaction, hash: hash, arrival: nextArrival)
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            slots[Int(slot)] = pending
        } else {
            slot = Int32(slots.count)
            slots.append(pending)
        }
        index.insert(slot, hash: hash)
        order.append((slot, nextArrival))
        nextArrival += 1
        waiting[address, default: 0] += 1
        count += 1 - dropped
        return dropped
    }

    private static func matches(_ pending: DNSTransaction?, _ key: QueryKey) -> Bool {
        guard let pending, let question = pending.question else { return false }
        return pending.client == key.client && pending.id == key.id && question.type == key.type
            && DNSLookupBuilder.normalized(question.name) == key.name
    }

    private mutating func noteAnswers(of transaction: DNSTransaction, by change: Int32) {
        for answer in transaction.answers {
            guard case .address(let address) = answer.data else { continue }
            let key = AnswerKey(client: transaction.client.address, address: address)
            let left = (pendingAnswers[key] ?? 0) + change
            pendingAnswers[key] = left > 0 ? left : nil
        }
    }

    /// The slot of the oldest query of `address` still pending.
    private mutating func oldestPending(of address: IPAddress) -> Int32? {
        var position = max(oldestSearch[address] ?? 0, orderBase + orderHead) - orderBase
        while position < order.count {
            let (slot, arrival) = order[position]
            if let pending = slots[Int(slot)], pending.arrival == arrival, pending.first.client.address == address {
                oldestSearch[address] = orderBase + position
                return slot
            }
            position += 1
        }
        oldestSearch[address] = orderBase + position
        return nil
    }

    /// Takes a query out of the pending table (the count of queries held is the caller's).
    @discardableResult
    private mutating func removePending(slot: Int32) -> Pending? {
        guard let pending = slots[Int(slot)] else { return nil }
        if let entry = index.find(hash: pending.hash, where: { $0 == slot }) { index.remove(at: entry.position) }
        slots[Int(slot)] = nil
        freeSlots.append(slot)
        let address = pending.first.client.address
        if let left = waiting[address], left > 1 {
            waiting[address] = left - 1
        } else {
            waiting[address] = nil
            oldestSearch[address] = nil
        }
        noteAnswers(of: pending.first, by: -1)
        for transaction in pending.more { noteAnswers(of: transaction, by: -1) }
        if index.count == 0 {
            // Nothing pending: the table's storage goes (a flood's would stay otherwise).
            slots = []
            freeSlots = []
            orderBase += order.count
            order = []
            orderHead = 0
            index.removeAll()
        } else {
            // Entries of queries gone are skipped at the front of the arrival order, and their storage dropped once
            // they are most of it.
            while orderHead < order.count, slots[Int(order[orderHead].slot)]?.arrival != order[orderHead].arrival {
                orderHead += 1
            }
            if orderHead >= 1_024, orderHead * 2 >= order.count {
                order.removeFirst(orderHead)
                orderBase += orderHead
                orderHead = 0
            }
        }
        return pending
    }

    /// Builds the lookups of every query stable by `now` (all of them when `now` is `.max`, at the end): the failed
    /// ones wait in ``release(now:retention:)``'s list, the resolved ones are kept for claims.
    mutating func build(upTo now: Int64) {
        let stable = now == .max ? Int64.max : Clock.since(now, stableDelay)
        // The stable queries, by client, each client's in the order they were sent.
        // Sorted by client, time, name and type; the name is read from its slot only to break a tie of client and
        // time, so that what is sorted holds no reference (moving it costs no retain and release).
        var ready: [(client: IPAddress, sent: Int64, type: UInt16, slot: Int32)] = []
        for slot in slots.indices {
            guard let pending = slots[slot] else { continue }
            let sent = pending.sent
            guard sent < stable, let question = pending.first.question else { continue }
            ready.append((pending.first.client.address, sent, question.type.rawValue, Int32(slot)))
        }
        ready.sort { a, b in
            if a.client != b.client { return a.client < b.client }
            if a.sent != b.sent { return a.sent < b.sent }
            let nameA = slots[Int(a.slot)]?.first.question?.name ?? ""
            let nameB = slots[Int(b.slot)]?.first.question?.name ?? ""
            return nameA != nameB ? nameA < nameB : a.type < b.type
        }
        var next = 0
        while next < ready.count {
            let address = ready[next].client
            var client = clients.removeValue(forKey: address) ?? Client()
            var finished: [DNSLookup] = []
            while next < ready.count, ready[next].client == address {
                if let pending = removePending(slot: ready[next].slot) {
                    let views = pending.transactions.map { ($0, capturePoint($0.capturePoint)) }
                    if let query = DNSLookupBuilder.query(from: views) {
                        finished += client.builder.add(query)
                    } else {
                        count -= 1
                    }
                }
                next += 1
            }
            finished += client.builder.close(before: stable)
            keep(finished, client: &client)
            if !client.isEmpty { clients[address] = client }
        }
        // The other clients' open lookups that no query sent from `stable` on can continue.
        let open = clients.compactMap { $0.value.builder.openCount == 0 ? nil : $0.key }
        for address in open {
            guard var client = clients.removeValue(forKey: address) else { continue }
            keep(client.builder.close(before: stable), client: &client)
            if !client.isEmpty { clients[address] = client }
        }
    }

    /// Keeps lookups over: the resolved ones for claims, the failed ones for release.
    private mutating func keep(_ finished: [DNSLookup], client: inout Client) {
        for lookup in finished {
            if lookup.outcome == .resolved {
                client.keepClosed(lookup)
            } else {
                failed.append(lookup)
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
        if failedBefore == .max {
            released = failed
            failed = []
        } else if !failed.isEmpty {
            released = failed.filter { $0.end < failedBefore }
            failed.removeAll { $0.end < failedBefore }
        }
        var forgotten = released.map(\.queries.count).reduce(0, +)
        let horizon = now == .max ? Int64.max : Clock.since(now, retention)
        for address in Array(clients.keys) {
            guard var client = clients[address], let first = client.closed.first, first.end < horizon || now == .max
            else { continue }
            clients[address] = nil
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
            if !client.isEmpty { clients[address] = client }
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
        }
        for lookup in failed { ends.append((lookup.end, lookup.queries.count)) }
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
        }
        for lookup in failed where lookup.start < earliest { earliest = lookup.start }
        return earliest
    }

    /// Whether some query of `client` was answered with `address`.
    func answered(_ address: IPAddress, for client: IPAddress) -> Bool {
        if pendingAnswers[AnswerKey(client: client, address: address)] != nil { return true }
        guard let entry = clients[client] else { return false }
        return entry.closedAnswers[address] != nil || entry.builder.anyOpenAnswered(address)
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
        // The closed lookups that ended in the window, latest first (found by their end, never a scan of the
        // client's all), and only while they can still be the latest: the first that answered the address and is
        // not claimed wins, or among several that ended at that instant the earliest kept.
        if entry.closedAnswers[answering] != nil {
            var index = entry.closed.partitionPoint { $0.end <= latest } - 1
            while index >= 0 {
                let end = entry.closed[index].end
                if end < earliest || end < chosenEnd { break }
                if entry.closed[index].queries.contains(where: { $0.addresses.contains(answering) }),
                    !entry.claimed.contains(LookupKey(start: entry.closed[index].start, name: entry.closed[index].name))
                {
                    (chosenEnd, chosenClosed) = (end, index)
                }
                index -= 1
            }
        }
        entry.builder.forEachResolvedOpen(answering: answering) { position, span in
            guard better(start: span.start, end: span.end, name: span.name) else { return }
            (chosenEnd, chosenClosed, chosenOpen) = (span.end, nil, position)
        }
        let chosen = chosenOpen.flatMap { entry.builder.lookup(at: $0) } ?? chosenClosed.map { entry.closed[$0] }
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
    /// Keeps a resolved lookup for claims, in end order (lookups close about in that order: from the back).
    mutating func keepClosed(_ lookup: DNSLookup) {
        var index = closed.count
        while index > 0, closed[index - 1].end > lookup.end { index -= 1 }
        closed.insert(lookup, at: index)
        for address in DNSStore.addresses(of: lookup) { closedAnswers[address, default: 0] += 1 }
    }
}
