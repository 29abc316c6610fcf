/// Settings of the correlator.
public struct CorrelateOptions: Sendable, Hashable {
    /// A completed request at least this long (ns) is examined for where its time went and may be called slow.
    public var slowThreshold: Int64
    /// The share of the total one part must hold to be named as what made the request slow.
    public var slowShare: Double
    /// A connection is tied to a DNS answer when its SYN follows the answer by at most this much (ns).
    public var dnsToConnectWindow: Int64

    public init(
        slowThreshold: Int64 = 200_000_000,
        slowShare: Double = 0.5,
        dnsToConnectWindow: Int64 = 10_000_000_000
    ) {
        self.slowThreshold = slowThreshold
        self.slowShare = slowShare
        self.dnsToConnectWindow = dnsToConnectWindow
    }
}

/// Turns a capture's observations into requests, each traced end to end with a verdict and a latency breakdown.
public struct Correlator: Sendable {
    public var options: CorrelateOptions

    public init(options: CorrelateOptions = .init()) {
        self.options = options
    }

    /// One request before diagnosis: its DNS, its connection(s) and the exchange on each.
    struct Assembly {
        var dns: DNSResolution?
        /// The client's connection (for an L7 proxy: the inbound one) and its exchange index at the client side.
        var connection: StitchedConnection?
        var exchange: Int?
        /// Behind an L7 proxy: the proxy's onward connection and exchange.
        var upstream: StitchedConnection?
        var upstreamExchange: Int?
        /// Whether the upstream was matched by X-Request-ID (else by method, path and time).
        var joinedByRequestID: Bool
        var start: Int64
    }

    /// Every request in the observations, in start order, traced.
    public func trace(_ observations: Observations) -> [RequestTrace] {
        let resolutions = DNSWalks.resolutions(observations.dns)
        var resolved = Set<String>()
        for (_, resolution) in resolutions { resolved.formUnion(resolution.queries.flatMap(\.addresses)) }
        let connections = Stitcher.stitch(observations.tcp, resolvedAddresses: resolved)
        let homes = Self.homes(of: connections)
        var assemblies = assemble(connections: connections, resolutions: resolutions)
        assemblies.sort { $0.start < $1.start }
        let traces = assemblies.enumerated().map { index, assembly in
            diagnose(assembly, index: index, observations: observations, homes: homes)
        }
        return Self.foldRetries(traces)
    }

    /// A client that sends a request on a keep-alive connection the server is closing gets no answer and sends
    /// it again on a new connection (curl, browsers and most HTTP libraries do). When the retry, same client,
    /// method, target and request id, follows within a second and completes, the failed attempt is a finding of
    /// the retry, not a request of its own.
    static func foldRetries(_ traces: [RequestTrace]) -> [RequestTrace] {
        var result: [RequestTrace] = []
        var pending: [RequestTrace] = []
        for trace in traces {
            if let request = trace.request, !trace.verdict.kind.isFailure,
                let index = pending.firstIndex(where: { failed in
                    failed.request?.method == request.method && failed.request?.path == request.path
                        && failed.request?.requestID == request.requestID && failed.client?.host == trace.client?.host
                        && trace.start - failed.start < 1_000_000_000 && trace.start >= failed.start
                })
            {
                let failed = pending.remove(at: index)
                var retried = trace
                retried.findings.append(
                    Finding(
                        kind: "retried",
                        detail: "a first attempt from \(failed.client.map(\.description) ?? "?") got no answer "
                            + "(\(failed.verdict.kind.rawValue): \(failed.verdict.detail)); the client sent it again on a "
                            + "new connection"
                    )
                )
                result.append(retried)
                continue
            }
            if trace.request != nil, trace.verdict.kind.isFailure {
                pending.append(trace)
            } else {
                result.append(trace)
            }
        }
        result += pending
        result.sort { $0.start < $1.start }
        for index in result.indices { result[index].index = index }
        return result
    }

    /// The capture point behind which each address lives: where a connection's client was first seen entering,
    /// and where its server was last seen leaving toward it.
    static func homes(of connections: [StitchedConnection]) -> [String: String] {
        var homes: [String: String] = [:]
        for connection in connections where connection.path.count > 1 {
            let first = connection.clientSide
            if first.clientDirection != .outbound {
                homes[first.client.host] = homes[first.client.host] ?? first.capturePoint
            }
            let last = connection.serverSide
            if last.clientDirection != .inbound, last.synAckTime != nil || last.serverBytes > 0 {
                homes[last.server.host] = homes[last.server.host] ?? last.capturePoint
            }
        }
        return homes
    }

    // MARK: - Assembly

    func assemble(
        connections: [StitchedConnection],
        resolutions: [(client: String, resolution: DNSResolution)]
    ) -> [Assembly] {
        // L7 proxy joins: an exchange on one connection that forwards an exchange of another.
        struct ExchangeRef: Hashable {
            var connection: Int
            var exchange: Int
        }
        struct RequestLine: Hashable {
            var method: String
            var path: String
        }
        var upstreamOf: [ExchangeRef: (ExchangeRef, Bool)] = [:]
        var consumed = Set<ExchangeRef>()
        // Exchanges by method and path, in (connection, exchange) order: the candidates of a join are only those,
        // visited in the order a scan of every exchange would visit them (linear, not quadratic, in the exchanges).
        var byRequestLine: [RequestLine: [ExchangeRef]] = [:]
        for (cj, outbound) in connections.enumerated() {
            for (ej, onward) in outbound.clientSide.exchanges.enumerated() {
                byRequestLine[RequestLine(method: onward.method, path: onward.path), default: []].append(
                    ExchangeRef(connection: cj, exchange: ej)
                )
            }
        }
        for (ci, inbound) in connections.enumerated() {
            for (ei, request) in inbound.clientSide.exchanges.enumerated() {
                var best: (ExchangeRef, Bool, Int64)?
                let candidates = byRequestLine[RequestLine(method: request.method, path: request.path)] ?? []
                // Only this exchange itself: nothing to join (the common case, without a proxy).
                if candidates.count == 1 && candidates[0] == ExchangeRef(connection: ci, exchange: ei) { continue }
                for ref in candidates where ref.connection != ci {
                    let onward = connections[ref.connection].clientSide.exchanges[ref.exchange]
                    guard !consumed.contains(ref) else { continue }
                    let byID = request.requestID != nil && request.requestID == onward.requestID
                    if request.requestID != nil, onward.requestID != nil, !byID { continue }
                    let until = request.responseLast ?? request.responseFirst ?? inbound.serverSide.lastTime
                    guard onward.requestFirst >= request.requestFirst, onward.requestFirst <= until else {
                        continue
                    }
                    let gap = onward.requestFirst - request.requestFirst
                    if best == nil || (byID && !best!.1) || (byID == best!.1 && gap < best!.2) {
                        best = (ref, byID, gap)
                    }
                }
                if let best {
                    upstreamOf[ExchangeRef(connection: ci, exchange: ei)] = (best.0, best.1)
                    consumed.insert(best.0)
                }
            }
        }

        var assemblies: [Assembly] = []
        var usedResolutions = Set<Int>()
        // Resolutions by client, sorted by end time: a connection looks only at its own client's that ended in its
        // window (a binary search, not a scan of every lookup the client made: linear in the capture, not quadratic).
        var resolutionsOf: [String: [Int]] = [:]
        for (ri, entry) in resolutions.enumerated() { resolutionsOf[entry.client, default: []].append(ri) }
        for client in resolutionsOf.keys {
            resolutionsOf[client]?.sort { (resolutions[$0].resolution.end, $0) < (resolutions[$1].resolution.end, $1) }
        }
        for (ci, connection) in connections.enumerated() {
            // DNS over TCP is a transport of the DNS transactions already traced, not a request of its own.
            if connection.clientSide.server.port == 53 { continue }
            let exchanges = connection.clientSide.exchanges
            let indices: [Int?] = exchanges.isEmpty ? [nil] : exchanges.indices.map { $0 }
            for ei in indices {
                if let ei, consumed.contains(ExchangeRef(connection: ci, exchange: ei)) { continue }
                var assembly = Assembly(
                    dns: nil,
                    connection: connection,
                    exchange: ei,
                    upstream: nil,
                    upstreamExchange: nil,
                    joinedByRequestID: false,
                    start: ei.flatMap { $0 > 0 ? exchanges[$0].requestFirst : nil } ?? connection.start
                )
                if let ei, let (ref, byID) = upstreamOf[ExchangeRef(connection: ci, exchange: ei)] {
                    assembly.upstream = connections[ref.connection]
                    assembly.upstreamExchange = ref.exchange
                    assembly.joinedByRequestID = byID
                }
                if ei == nil || ei == 0 {
                    let client = connection.clientSide.client.host
                    let target = connection.clientSide.server.host
                    // The last in capture order of the unused lookups that ended from `dnsToConnectWindow` before
                    // the connection to 1 ms after it and returned its server's address.
                    var chosen: Int?
                    let candidates = resolutionsOf[client] ?? []
                    let (difference, overflow) = connection.start.subtractingReportingOverflow(
                        options.dnsToConnectWindow
                    )
                    let earliest = overflow ? Int64.min : difference
                    var low = 0
                    var high = candidates.count
                    while low < high {
                        let middle = (low + high) / 2
                        if resolutions[candidates[middle]].resolution.end < earliest {
                            low = middle + 1
                        } else {
                            high = middle
                        }
                    }
                    for ri in candidates[low...] {
                        if resolutions[ri].resolution.end > connection.start + 1_000_000 { break }
                        guard !usedResolutions.contains(ri), ri > (chosen ?? -1),
                            resolutions[ri].resolution.queries.contains(where: { $0.addresses.contains(target) })
                        else { continue }
                        chosen = ri
                    }
                    if let chosen {
                        usedResolutions.insert(chosen)
                        assembly.dns = resolutions[chosen].resolution
                        assembly.start = min(assembly.start, resolutions[chosen].resolution.start)
                    }
                }
                assemblies.append(assembly)
            }
        }
        // Resolutions that led to no connection: a failed name is a request of its own.
        for (ri, entry) in resolutions.enumerated() where !usedResolutions.contains(ri) {
            guard entry.resolution.answer == nil else { continue }
            assemblies.append(
                Assembly(
                    dns: entry.resolution,
                    connection: nil,
                    exchange: nil,
                    upstream: nil,
                    upstreamExchange: nil,
                    joinedByRequestID: false,
                    start: entry.resolution.start
                )
            )
        }
        return assemblies
    }
}
