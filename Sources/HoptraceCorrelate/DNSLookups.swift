import HoptraceCapture
import HoptraceDecode
import HoptraceFlows

/// Turns DNS transactions into lookups: one resolver invocation each.
///
/// A lookup is what one call to the resolver sends: for one name, the queries of its search-list walk (`ndots:5` turns
/// `web` into `web.default.svc.cluster.local`, then `web.svc.cluster.local`, ...), the A and AAAA queries of each
/// step (in parallel on one socket with glibc and musl), and the retries after a timeout. It ends at the first
/// answer of the asked type, or when every name failed. Busy pods look up the same name again and again: each
/// invocation is a lookup of its own, with its own latency. The rules, from the resolvers' own behaviour (glibc keeps
/// one UDP socket per thread across queries; musl opens one per name and sends A and AAAA on it):
/// - a query continues an open lookup of the same client when it asks a name of the same walk (same first label)
///   and either comes from the same socket (address and port) or starts within ``continuationGap`` of the lookup's
///   last answer (the resolver moving on to the next name at once);
/// - a query never continues a lookup that had already succeeded when it was sent;
/// - among several open lookups it could continue, the one on its own socket wins, then the most recent.
struct DNSLookupBuilder {
    /// The resolver moves to the next search name this soon after the previous answers.
    static let continuationGap: Int64 = 250_000_000
    /// How long a resolver waits for an answer before it retries or gives up (glibc's `timeout:5`).
    static let resolverTimeout: Int64 = 5_000_000_000

    /// A lookup being built.
    struct Open {
        private(set) var queries: [DNSQuery]
        /// The client ports the lookup's queries came from (one per socket: a few, so a list, not a hashed set).
        private(set) var ports: [UInt16]
        let stem: Substring
        /// When a query of the lookup first succeeded (nil: none yet).
        private(set) var succeededAt: Int64?
        /// The latest response time (or query time) so far.
        private(set) var lastActivity: Int64
        /// After this no query can continue the lookup (kept as queries join: every query sent is checked against
        /// every open lookup's). It never moves earlier: queries only join.
        private(set) var deadline: Int64 = .min
        /// Whether a query of the lookup is unanswered (kept as queries join).
        private(set) var waiting: Bool
        /// When the last (re)send of a query of the lookup went out: each retry a resolver timeout after the one
        /// before (kept as queries join).
        private(set) var lastSend: Int64

        init(_ query: DNSQuery, stem: Substring) {
            self.queries = [query]
            self.ports = [query.client.port]
            self.stem = stem
            self.succeededAt = query.succeeded ? query.responseTime : nil
            self.lastActivity = query.responseTime ?? query.queryTime
            self.waiting = query.responseTime == nil
            self.lastSend = Self.lastSend(of: query)
            self.deadline = computeDeadline()
        }

        /// Adds a query that continues the lookup.
        mutating func take(_ query: DNSQuery) {
            queries.append(query)
            if !ports.contains(query.client.port) { ports.append(query.client.port) }
            lastActivity = max(lastActivity, query.responseTime ?? query.queryTime)
            if query.succeeded, let response = query.responseTime {
                succeededAt = min(succeededAt ?? response, response)
            }
            if query.responseTime == nil { waiting = true }
            lastSend = max(lastSend, Self.lastSend(of: query))
            deadline = computeDeadline()
        }

        private static func lastSend(of query: DNSQuery) -> Int64 {
            Clock.plus(query.queryTime, Int64(query.sent - 1) &* resolverTimeout)
        }

        private func computeDeadline() -> Int64 {
            if !waiting { return Clock.plus(lastActivity, continuationGap) }
            return Clock.plus(lastSend, 2 * resolverTimeout + 1_000_000_000)
        }

        /// Whether some query of the lookup answered `address`.
        func answered(_ address: IPAddress) -> Bool {
            queries.contains { $0.addresses.contains(address) }
        }

        /// The name, start and end of the lookup as resolved (the first success with the earliest response; the end
        /// is the latest response to that name, its other type included), computed in place (building the lookup
        /// copies its queries); nil when no query succeeded. ``DNSLookupBuilder/lookup(_:)`` builds from it.
        var resolvedSpan: (name: String, start: Int64, end: Int64)? {
            // Stored fields read through the buffer: an element's computed property (`succeeded`) copies it.
            queries.withUnsafeBufferPointer { queries in
                var success: Int?
                var start = Int64.max
                for index in queries.indices {
                    start = min(start, queries[index].queryTime)
                    guard queries[index].rcode == .noError, queries[index].answeredRecords > 0 else { continue }
                    // The first success with the earliest response (as `min(by:)` picks).
                    if let best = success,
                        (queries[best].responseTime ?? .max) <= (queries[index].responseTime ?? .max)
                    {
                        continue
                    }
                    success = index
                }
                guard let success else { return nil }
                let name = queries[success].name
                var end: Int64?
                for index in queries.indices where queries[index].name == name {
                    if let response = queries[index].responseTime { end = max(end ?? response, response) }
                }
                return (name, start, end ?? queries[success].responseTime ?? start)
            }
        }
    }

    /// The lookups being built (queries can still join them), in the order they began; nil where one is over, until
    /// those are most of the list and it is compacted.
    private var slots: [Open?] = []
    /// How many lookups are open.
    private(set) var openCount = 0
    /// Beside each slot, what rules most open lookups out for a query from another socket without reading the lookup:
    /// one that had succeeded before the query was sent takes only its own socket's queries. A busy pod keeps dozens
    /// of lookups of one name open (each for the quarter second a resolver may continue it), and every query was
    /// checked against each of them.
    private struct Screen {
        /// When a query of it first succeeded; `.max` while none has.
        var succeededAt: Int64
        /// Its first query's port: its socket's, when ``onePort``.
        var port: UInt16
        /// Whether all its queries came from one socket.
        var onePort: Bool
        /// Whether the slot still holds an open lookup.
        var open: Bool
    }
    private var screens: [Screen] = []
    /// The open lookups' deadlines with their positions in ``slots``, earliest first. A deadline only moves later as
    /// queries join: the lookup is listed again then, and an entry that is no longer its lookup's deadline is
    /// skipped. A client with thousands of lookups open (one every few microseconds, each open for the quarter second
    /// a resolver may continue it) had every open lookup scanned each time one was over.
    private var deadlines = MinHeap<Deadline>()
    /// The positions in ``slots`` of the lookups of each stem, in order: a query is compared with the lookups of its
    /// own name's walk only (a client looking up 30,000 distinct names at once compared each query with all of them).
    private var byStem: [Substring: [Int]] = [:]

    /// An open lookup's deadline and its position.
    struct Deadline: Comparable {
        var time: Int64
        var position: Int

        static func < (lhs: Deadline, rhs: Deadline) -> Bool { (lhs.time, lhs.position) < (rhs.time, rhs.position) }
    }

    /// Calls `body` with the position and resolved span of each open lookup that answered `address`, in the order
    /// they began, reading each in place: a busy client has dozens open, and each connection's claim asks them all
    /// (a copy of each was most of the claim's cost).
    func forEachResolvedOpen(
        answering address: IPAddress,
        _ body: (_ position: Int, _ span: (name: String, start: Int64, end: Int64)) -> Void
    ) {
        slots.withUnsafeBufferPointer { slots in
            for index in slots.indices {
                guard case .some(let lookup) = slots[index], lookup.answered(address), let span = lookup.resolvedSpan
                else { continue }
                body(index, span)
            }
        }
    }

    /// Whether an open lookup answered `address` (read in place).
    func anyOpenAnswered(_ address: IPAddress) -> Bool {
        slots.withUnsafeBufferPointer { slots in
            slots.contains { lookup in
                guard case .some(let lookup) = lookup else { return false }
                return lookup.answered(address)
            }
        }
    }

    /// The open lookup at `position` (from ``forEachResolvedOpen(answering:_:)``), built.
    func lookup(at position: Int) -> DNSLookup? { slots[position].map(Self.lookup) }

    /// Adds the next query (in query-time order) and returns the lookups it showed to be over (their deadline passed
    /// before it was sent).
    mutating func add(_ query: DNSQuery) -> [DNSLookup] {
        let stem = Self.stem(query.name)
        // Lookups no query can continue any more are over: nothing waiting and quiet for longer than the resolver
        // moves on after, or waiting longer than its timeouts allow. Busy pods keep few lookups open.
        let finished = finish(before: query.queryTime)
        var best: (index: Int, sameSocket: Bool)?
        if let positions = byStem[stem] {
            // Read in place: a busy pod has dozens of lookups of one name open, and copying each (its queries and
            // ports) to ask was most of the cost.
            assert(screens.count == slots.count)
            let port = query.client.port
            let sent = query.queryTime
            slots.withUnsafeBufferPointer { slots in
                screens.withUnsafeBufferPointer { screens in
                    for i in positions {
                        let screen = screens[i]
                        guard screen.open else { continue }
                        // From another socket, after it succeeded: what ``continues(_:with:)`` rejects first.
                        if screen.succeededAt <= sent, screen.onePort, screen.port != port { continue }
                        guard case .some(let lookup) = slots[i] else { continue }
                        let continuation = Self.continues(lookup, with: query)
                        guard continuation.continues else { continue }
                        if best == nil || (continuation.sameSocket && !best!.sameSocket)
                            || continuation.sameSocket == best!.sameSocket
                        {
                            best = (i, continuation.sameSocket)
                        }
                    }
                }
            }
        }
        if let best, let before = slots[best.index]?.deadline {
            slots[best.index]?.take(query)
            if let lookup = slots[best.index] {
                screens[best.index].succeededAt = lookup.succeededAt ?? .max
                screens[best.index].onePort = lookup.ports.count == 1
            }
            if let after = slots[best.index]?.deadline, after != before {
                deadlines.insert(Deadline(time: after, position: best.index))
            }
        } else {
            let lookup = Open(query, stem: stem)
            slots.append(lookup)
            screens.append(
                Screen(succeededAt: lookup.succeededAt ?? .max, port: query.client.port, onePort: true, open: true)
            )
            openCount += 1
            byStem[stem, default: []].append(slots.count - 1)
            deadlines.insert(Deadline(time: lookup.deadline, position: slots.count - 1))
        }
        return finished
    }

    /// Closes the lookups that no query sent from `time` on can continue, and returns them.
    mutating func close(before time: Int64) -> [DNSLookup] {
        finish(before: time)
    }

    /// Removes the lookups whose deadline is before `time` and returns them, in the order they began.
    private mutating func finish(before time: Int64) -> [DNSLookup] {
        var positions: [Int] = []
        while let next = deadlines.min, next.time < time {
            deadlines.removeMin()
            guard let lookup = slots[next.position], lookup.deadline == next.time else { continue }
            positions.append(next.position)
        }
        guard !positions.isEmpty else { return [] }
        positions.sort()
        var finished: [DNSLookup] = []
        finished.reserveCapacity(positions.count)
        for position in positions {
            guard let lookup = slots[position] else { continue }
            finished.append(Self.lookup(lookup))
            slots[position] = nil
            screens[position].open = false
            openCount -= 1
        }
        if openCount == 0 {
            slots.removeAll(keepingCapacity: true)
            screens.removeAll(keepingCapacity: true)
            byStem.removeAll(keepingCapacity: true)
            deadlines.removeAll()
        } else if slots.count > 64, openCount * 2 < slots.count {
            compact()
        }
        return finished
    }

    /// Drops the positions of lookups that are over; the lists by stem and the deadlines follow.
    private mutating func compact() {
        slots = slots.filter { $0 != nil }
        screens = screens.filter(\.open)
        byStem.removeAll(keepingCapacity: true)
        deadlines.removeAll()
        for index in slots.indices {
            guard let lookup = slots[index] else { continue }
            byStem[lookup.stem, default: []].append(index)
            deadlines.insert(Deadline(time: lookup.deadline, position: index))
        }
    }

    /// Whether `query` continues the open `lookup`, and whether it came from the lookup's own socket.
    static func continues(_ lookup: Open, with query: DNSQuery) -> (continues: Bool, sameSocket: Bool) {
        let sameSocket = lookup.ports.contains(query.client.port)
        if !sameSocket {
            // From another socket a query continues a lookup only inside these windows, and never one that already
            // succeeded (after a success only the sibling type from the same socket joins): the rules below, their
            // cheap parts first, which rule out most of a busy pod's many lookups of one name.
            if let succeeded = lookup.succeededAt, succeeded <= query.queryTime { return (false, false) }
            if lookup.waiting {
                let sinceSend = Clock.since(query.queryTime, lookup.lastSend)
                guard sinceSend >= 0, sinceSend <= resolverTimeout + 1_000_000_000 else { return (false, false) }
            } else {
                let gap = Clock.since(query.queryTime, lookup.lastActivity)
                guard gap >= 0, gap <= continuationGap else { return (false, false) }
            }
        }
        let asked = lookup.queries.contains { $0.name == query.name && $0.type == query.type }
        // After a success only the other type of the same name, sent with it, still belongs to the lookup.
        if let succeeded = lookup.succeededAt, succeeded <= query.queryTime {
            let sibling = lookup.queries.contains {
                $0.name == query.name && $0.type != query.type && $0.client.port == query.client.port
            }
            guard sibling, !asked, Clock.since(query.queryTime, succeeded) <= continuationGap else {
                return (false, false)
            }
        }
        let gap = Clock.since(query.queryTime, lookup.lastActivity)
        let waiting = lookup.waiting
        if sameSocket, gap <= continuationGap || (waiting && gap <= 2 * resolverTimeout) {
            // The same socket, at once (the next name, the other type) or after a timeout (a retry).
            return (true, true)
        }
        if !sameSocket, !waiting, !asked, gap >= 0, gap <= continuationGap {
            // The next name of the walk from a new socket (musl opens one per name), right after the previous name's
            // answers. Never a query of a name already asked: two threads looking up the same name at once are two
            // lookups.
            return (true, false)
        }
        if !sameSocket, waiting, !asked {
            // The next name after the last one timed out: a resolver timeout after its last (re)send.
            let sinceSend = Clock.since(query.queryTime, lookup.lastSend)
            return (sinceSend >= 0 && sinceSend <= resolverTimeout + 1_000_000_000, false)
        }
        return (false, sameSocket)
    }

    /// A DNS name as lookups compare it: lowercase, without the root's trailing dot; the name itself (its storage
    /// shared, nothing allocated) when it is so already (ASCII without capitals or that dot, as almost every name
    /// on the wire is).
    static func normalized(_ name: String) -> String {
        // Read in place (iterating a String's UTF-8 view goes byte by byte through its index).
        let plain =
            name.utf8.withContiguousStorageIfAvailable { utf8 -> Bool in
                for byte in utf8 where (byte >= 0x41 && byte <= 0x5A) || byte >= 0x80 { return false }
                return utf8.last != UInt8(ascii: ".")
            } ?? false
        if plain { return name }
        var lower = name.lowercased()
        if lower.hasSuffix(".") { lower.removeLast() }
        return lower
    }

    /// The lookups of one client's queries (deduplicated, any order), in start order.
    static func lookups(_ queries: [DNSQuery]) -> [DNSLookup] {
        var builder = DNSLookupBuilder()
        var result: [DNSLookup] = []
        for query in queries.sorted(by: {
            ($0.queryTime, $0.name, $0.type.rawValue) < ($1.queryTime, $1.name, $1.type.rawValue)
        }) {
            result += builder.add(query)
        }
        result += builder.close(before: .max)
        return result.sorted { ($0.start, $0.name) < ($1.start, $1.name) }
    }

    /// The first label of a name: what a search-list walk keeps.
    static func stem(_ name: String) -> Substring {
        guard let dot = name.utf8.firstIndex(of: UInt8(ascii: ".")) else { return Substring(name) }
        return name[..<dot]
    }

    /// The outcome of a built lookup.
    static func lookup(_ open: Open) -> DNSLookup {
        let queries = open.queries
        let start = queries.map(\.queryTime).min() ?? 0
        if let span = open.resolvedSpan {
            // The answer used: the success and its sibling of the other type, when that was answered too (the
            // resolver waits for both): ``Open/resolvedSpan``.
            let address = queries.filter { $0.name == span.name }.flatMap(\.addresses).first
            return DNSLookup(
                name: span.name,
                queries: queries,
                outcome: .resolved,
                answer: address,
                start: span.start,
                end: span.end
            )
        }
        let last = queries.last!
        let answered = queries.filter { $0.responseTime != nil }
        let outcome: LookupOutcome
        let lastAnswered = answered.max { ($0.responseTime ?? 0) < ($1.responseTime ?? 0) }
        if queries.allSatisfy({ $0.responseTime == nil })
            || (last.responseTime == nil && answered.allSatisfy(\.isNoData))
        {
            outcome = .timeout
        } else if let code = lastAnswered?.rcode {
            switch code {
            case .nameError: outcome = .nxdomain
            case .noError: outcome = answered.contains { $0.rcode == .nameError } ? .nxdomain : .noData
            case .serverFailure: outcome = .servfail
            case .refused: outcome = .refused
            default: outcome = .failed
            }
        } else {
            outcome = .timeout
        }
        var end = queries.map { $0.responseTime ?? $0.queryTime }.max() ?? start
        if outcome == .timeout {
            // The resolver gave up a timeout after its last unanswered query (a query the flow stage gave up
            // unanswered is not here: counted by the engine, never part of a lookup).
            let lastSent = queries.filter { $0.responseTime == nil }.map(\.queryTime).max() ?? end
            end = max(end, Clock.plus(lastSent, resolverTimeout))
        }
        return DNSLookup(name: last.name, queries: queries, outcome: outcome, answer: nil, start: start, end: end)
    }

    /// Deduplicates one query's sightings at several capture points (DNAT changes the server, never the client's
    /// port, the id or the question): the view nearest the client is the earliest query and the latest response.
    static func query(from transactions: [(DNSTransaction, CapturePoint)]) -> DNSQuery? {
        let ordered = transactions.sorted { ($0.0.queryTime ?? .max) < ($1.0.queryTime ?? .max) }
        guard let (first, _) = ordered.first, let question = first.question, let queryTime = first.queryTime else {
            return nil
        }
        var responseTime: Int64?
        var rcode: DNSResponseCode?
        var answers: [DNSResourceRecord] = []
        var sent = 1
        for (transaction, _) in ordered {
            if let response = transaction.responseTime, responseTime.map({ response > $0 }) ?? true {
                responseTime = response
            }
            if rcode == nil { rcode = transaction.rcode }
            if answers.isEmpty { answers = transaction.answers }
            sent = max(sent, 1 + transaction.queryRetransmissions)
        }
        let name = normalized(question.name)
        var addresses: [IPAddress] = []
        var matching = 0
        for answer in answers {
            if answer.type == question.type { matching += 1 }
            if case .address(let address) = answer.data, addresses.count < 16 { addresses.append(address) }
        }
        if question.type == .any { matching = answers.count }
        var seen: [CapturePoint] = []
        for (_, point) in ordered where !seen.contains(point) { seen.append(point) }
        let query = DNSQuery(
            id: first.id,
            name: name,
            type: question.type,
            rcode: rcode,
            addresses: addresses,
            answeredRecords: matching,
            queryTime: queryTime,
            responseTime: responseTime,
            sent: sent,
            client: first.client,
            server: first.server,
            transport: first.transport,
            seenAt: seen
        )
        return query
    }
}
