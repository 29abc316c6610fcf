import HoptraceDecode
import HoptraceFlows

/// The DNS transactions of the last seconds, by client: deduplicated across capture points, built into lookups,
/// claimed by the connections they led to, and given up as failed lookups once no connection can claim them.
struct DNSStore {
    /// One query's identity across capture points.
    struct QueryKey: Hashable {
        var client: FlowEndpoint
        var id: UInt16
        var name: String
        var type: DNSRecordType
    }

    /// One client's queries.
    struct Client {
        var sightings: [QueryKey: [(DNSTransaction, CapturePoint)]] = [:]
        var order: [QueryKey] = []
        var claimed = Set<LookupKey>()
        var cache: [DNSLookup]?
    }

    /// A lookup's identity.
    struct LookupKey: Hashable {
        var start: Int64
        var name: String
    }

    private var clients: [IPAddress: Client] = [:]
    /// Queries held.
    private(set) var count = 0

    /// Takes one transaction; returns how many queries were dropped to stay under the per-client cap.
    mutating func take(_ transaction: DNSTransaction, point: CapturePoint, cap: Int) -> Int {
        guard let question = transaction.question, transaction.queryTime != nil else { return 0 }
        var name = question.name.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        let key = QueryKey(client: transaction.client, id: transaction.id, name: name, type: question.type)
        var client = clients[transaction.client.address] ?? Client()
        var dropped = 0
        if client.sightings[key] == nil {
            if client.order.count >= cap {
                let oldest = client.order.removeFirst()
                client.sightings[oldest] = nil
                count -= 1
                dropped = 1
            }
            client.order.append(key)
            count += 1
        }
        client.sightings[key, default: []].append((transaction, point))
        client.cache = nil
        clients[transaction.client.address] = client
        return dropped
    }

    /// The lookups of one client, built from its queries held.
    private mutating func lookups(of address: IPAddress) -> [DNSLookup] {
        guard var client = clients[address] else { return [] }
        if let cache = client.cache { return cache }
        let queries = client.order.compactMap { key in client.sightings[key].flatMap(DNSLookupBuilder.query(from:)) }
        let built = DNSLookupBuilder.lookups(queries)
        client.cache = built
        clients[address] = client
        return built
    }

    /// Whether some query of `client` was answered with `address`.
    func answered(_ address: IPAddress, for client: IPAddress) -> Bool {
        guard let entry = clients[client] else { return false }
        return entry.sightings.values.contains { list in
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
        let candidates = lookups(of: client)
        let earliest = Clock.since(before, window)
        let latest = Clock.plus(before, 1_000_000)
        var chosen: DNSLookup?
        let claimed = clients[client]?.claimed ?? []
        for lookup in candidates where lookup.end >= earliest && lookup.end <= latest && lookup.outcome == .resolved {
            guard lookup.queries.contains(where: { $0.addresses.contains(answering) }),
                !claimed.contains(LookupKey(start: lookup.start, name: lookup.name))
            else { continue }
            if chosen == nil || lookup.end >= chosen!.end { chosen = lookup }
        }
        if let chosen {
            clients[client]?.claimed.insert(LookupKey(start: chosen.start, name: chosen.name))
        }
        return chosen
    }

    /// The failed lookups that ended before `horizon` and that no connection claimed; every query of a lookup over
    /// by then is forgotten.
    mutating func failedLookups(before horizon: Int64) -> [DNSLookup] {
        var failed: [DNSLookup] = []
        for address in Array(clients.keys) {
            let built = lookups(of: address)
            guard var client = clients[address] else { continue }
            var done: [DNSLookup] = []
            for lookup in built {
                let last = lookup.queries.map { $0.responseTime ?? $0.queryTime }.max() ?? lookup.end
                if Clock.plus(last, DNSLookupBuilder.idleGap) < horizon || horizon == .max { done.append(lookup) }
            }
            guard !done.isEmpty else { continue }
            for lookup in done {
                if lookup.outcome != .resolved,
                    !client.claimed.contains(LookupKey(start: lookup.start, name: lookup.name))
                {
                    failed.append(lookup)
                }
                client.claimed.remove(LookupKey(start: lookup.start, name: lookup.name))
                for query in lookup.queries {
                    client.sightings[QueryKey(client: query.client, id: query.id, name: query.name, type: query.type)] =
                        nil
                }
            }
            let before = client.order.count
            client.order.removeAll { client.sightings[$0] == nil }
            count -= before - client.order.count
            client.cache = nil
            clients[address] = client.order.isEmpty && client.claimed.isEmpty ? nil : client
        }
        return failed.sorted { $0.start < $1.start }
    }
}
