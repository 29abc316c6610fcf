/// Groups DNS sightings into resolutions: one client's search-list walk for one name.
public enum DNSWalks {
    /// Queries from one client further apart than this start a new resolution.
    public static let walkGap: Int64 = 6_000_000_000
    /// How long a resolver waits for an answer before it retries or moves on (glibc's default `timeout:5`).
    public static let unansweredWait: Int64 = 5_000_000_000

    /// Deduplicates sightings of the same query across capture points (DNAT changes the server address, never the
    /// client port, id or question), keeping the view nearest the client: the earliest query, and of those the
    /// latest response.
    static func deduplicate(_ sightings: [DNSSighting]) -> [DNSQueryTrace] {
        struct Key: Hashable {
            var client: Endpoint
            var id: UInt16
            var name: String
            var type: String
        }
        var best: [Key: DNSSighting] = [:]
        var seenAt: [Key: [String]] = [:]
        var order: [Key] = []
        for sighting in sightings.sorted(by: { $0.queryTime < $1.queryTime }) {
            let key = Key(client: sighting.client, id: sighting.id, name: sighting.name, type: sighting.type)
            if !seenAt[key, default: []].contains(sighting.capturePoint) {
                seenAt[key, default: []].append(sighting.capturePoint)
            }
            guard let current = best[key] else {
                best[key] = sighting
                order.append(key)
                continue
            }
            // Same query seen again further along the path: the client's view has the earliest query and the
            // latest response; take the answer from whichever sighting saw one.
            var merged = current
            if let response = sighting.responseTime, merged.responseTime.map({ response > $0 }) ?? true {
                merged.responseTime = response
            }
            if merged.rcode == nil { merged.rcode = sighting.rcode }
            if merged.addresses.isEmpty { merged.addresses = sighting.addresses }
            merged.queryCount = max(merged.queryCount, sighting.queryCount)
            best[key] = merged
        }
        return order.compactMap { key in best[key].map { (key, $0) } }.map { key, s in
            var query = DNSQueryTrace(
                name: s.name,
                type: s.type,
                rcode: s.rcode,
                addresses: s.addresses,
                queryTime: s.queryTime,
                responseTime: s.responseTime,
                queryCount: s.queryCount,
                client: s.client,
                server: s.server
            )
            query.seenAt = seenAt[key] ?? []
            return query
        }
    }

    /// The first label of a name: what a search-list walk keeps constant.
    static func stem(_ name: String) -> Substring {
        name.split(separator: ".", maxSplits: 1).first ?? Substring(name)
    }

    /// One client's resolutions, in time order.
    public static func resolutions(_ sightings: [DNSSighting]) -> [(client: String, resolution: DNSResolution)] {
        let queries = deduplicate(sightings)
        var open: [String: [DNSQueryTrace]] = [:]
        var result: [(String, DNSResolution)] = []
        func close(_ client: String) {
            guard let walk = open.removeValue(forKey: client), !walk.isEmpty else { return }
            result.append((client, resolution(of: walk)))
        }
        for query in queries.sorted(by: { $0.queryTime < $1.queryTime }) {
            let client = query.client.host
            if let walk = open[client], let last = walk.last {
                let sameStem = stem(last.name) == stem(query.name)
                // An unanswered query keeps the walk open for the resolver's timeouts (glibc: 5 s, 2 attempts).
                let lastEnd =
                    walk.map { $0.responseTime ?? ($0.queryTime + unansweredWait * Int64($0.queryCount)) }.max()
                    ?? last.queryTime
                let answered = walk.contains { !$0.addresses.isEmpty }
                if !sameStem || query.queryTime - lastEnd > walkGap || (answered && query.name != last.name) {
                    close(client)
                }
            }
            open[client, default: []].append(query)
        }
        for client in Array(open.keys) { close(client) }
        return result.sorted { $0.1.start < $1.1.start }
    }

    /// The outcome of one walk.
    static func resolution(of walk: [DNSQueryTrace]) -> DNSResolution {
        let start = walk.map(\.queryTime).min() ?? 0
        let end = walk.map { $0.responseTime ?? $0.queryTime }.max() ?? start
        if let answered = walk.first(where: { !$0.addresses.isEmpty }) {
            let used = walk.filter { $0.name == answered.name && $0.responseTime != nil }
            let answerEnd = used.compactMap(\.responseTime).max() ?? end
            return DNSResolution(
                name: answered.name,
                queries: walk,
                answer: answered.addresses.first,
                outcome: "NOERROR",
                start: start,
                end: answerEnd
            )
        }
        let last = walk[walk.count - 1]
        let outcome: String
        if walk.allSatisfy({ $0.responseTime == nil }) {
            outcome = "timeout"
        } else {
            outcome = walk.last(where: { $0.rcode != nil })?.rcode ?? "timeout"
        }
        return DNSResolution(name: last.name, queries: walk, answer: nil, outcome: outcome, start: start, end: end)
    }
}
