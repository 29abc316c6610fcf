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
    /// A lookup with no query for this long is over.
    static let idleGap: Int64 = 12_000_000_000

    /// A lookup being built.
    struct Open {
        var queries: [DNSQuery]
        var ports: Set<UInt16>
        var stem: Substring
        /// When a query of the lookup first succeeded (nil: none yet).
        var succeededAt: Int64?
        /// The latest response time (or query time) so far.
        var lastActivity: Int64
    }

    /// The lookups of one client's queries (deduplicated, any order), in start order.
    static func lookups(_ queries: [DNSQuery]) -> [DNSLookup] {
        var open: [Open] = []
        var closed: [Open] = []
        for query in queries.sorted(by: {
            ($0.queryTime, $0.name, $0.type.rawValue) < ($1.queryTime, $1.name, $1.type.rawValue)
        }) {
            let stem = stem(query.name)
            // Lookups long idle are over.
            var index = 0
            while index < open.count {
                if Clock.since(query.queryTime, open[index].lastActivity) > idleGap {
                    closed.append(open.remove(at: index))
                } else {
                    index += 1
                }
            }
            var best: (index: Int, sameSocket: Bool)?
            for (i, lookup) in open.enumerated() {
                guard lookup.stem == stem else { continue }
                // After a success only the other type of the same name, sent with it, still belongs to the lookup.
                if let succeeded = lookup.succeededAt, succeeded <= query.queryTime {
                    let sibling = lookup.queries.contains {
                        $0.name == query.name && $0.type != query.type && $0.client.port == query.client.port
                    }
                    guard sibling, !lookup.queries.contains(where: { $0.name == query.name && $0.type == query.type }),
                        Clock.since(query.queryTime, succeeded) <= continuationGap
                    else { continue }
                }
                let sameSocket = lookup.ports.contains(query.client.port)
                let gap = Clock.since(query.queryTime, lookup.lastActivity)
                let waiting = lookup.queries.contains { $0.responseTime == nil }
                let asked = lookup.queries.contains { $0.name == query.name && $0.type == query.type }
                let continues: Bool
                if sameSocket, gap <= continuationGap || (waiting && gap <= 2 * resolverTimeout) {
                    // The same socket, at once (the next name, the other type) or after a timeout (a retry).
                    continues = true
                } else if !sameSocket, !waiting, !asked, gap >= 0, gap <= continuationGap {
                    // The next name of the walk from a new socket (musl opens one per name), right after the
                    // previous name's answers. Never a query of a name already asked: two threads looking up the same
                    // name at once are two lookups.
                    continues = true
                } else if !sameSocket, waiting, !asked {
                    // The next name after the last one timed out: a resolver timeout after its last (re)send.
                    let lastSend =
                        lookup.queries.map { Clock.plus($0.queryTime, Int64($0.sent - 1) * resolverTimeout) }.max()
                        ?? lookup.lastActivity
                    let sinceSend = Clock.since(query.queryTime, lastSend)
                    continues = sinceSend >= 0 && sinceSend <= resolverTimeout + 1_000_000_000
                } else {
                    continues = false
                }
                guard continues else { continue }
                if best == nil || (sameSocket && !best!.sameSocket) || (sameSocket == best!.sameSocket) {
                    best = (i, sameSocket)
                }
            }
            if let best {
                open[best.index].queries.append(query)
                open[best.index].ports.insert(query.client.port)
                open[best.index].lastActivity = max(
                    open[best.index].lastActivity,
                    query.responseTime ?? query.queryTime
                )
                if query.succeeded, let response = query.responseTime {
                    open[best.index].succeededAt = min(open[best.index].succeededAt ?? response, response)
                }
            } else {
                open.append(
                    Open(
                        queries: [query],
                        ports: [query.client.port],
                        stem: stem,
                        succeededAt: query.succeeded ? query.responseTime : nil,
                        lastActivity: query.responseTime ?? query.queryTime
                    )
                )
            }
        }
        closed += open
        return closed.map(lookup).sorted { ($0.start, $0.name) < ($1.start, $1.name) }
    }

    /// The first label of a name: what a search-list walk keeps.
    static func stem(_ name: String) -> Substring {
        name.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).first ?? Substring(name)
    }

    /// The outcome of a built lookup.
    static func lookup(_ open: Open) -> DNSLookup {
        let queries = open.queries
        let start = queries.map(\.queryTime).min() ?? 0
        if let success = queries.filter(\.succeeded).min(by: { ($0.responseTime ?? .max) < ($1.responseTime ?? .max) })
        {
            // The answer used: the success and its sibling of the other type, when that was answered too (the
            // resolver waits for both).
            let siblings = queries.filter { $0.name == success.name && $0.responseTime != nil }
            let end = siblings.compactMap(\.responseTime).max() ?? success.responseTime ?? start
            let address = queries.filter { $0.name == success.name }.flatMap(\.addresses).first
            return DNSLookup(
                name: success.name,
                queries: queries,
                outcome: .resolved,
                answer: address,
                start: start,
                end: end
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
            // The resolver gave up a timeout after its last unanswered query.
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
        var name = question.name.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        var addresses: [IPAddress] = []
        var matching = 0
        for answer in answers {
            if answer.type == question.type { matching += 1 }
            if case .address(let address) = answer.data, addresses.count < 16 { addresses.append(address) }
        }
        if question.type == .any { matching = answers.count }
        var seen: [CapturePoint] = []
        for (_, point) in ordered where !seen.contains(point) { seen.append(point) }
        return DNSQuery(
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
    }
}
