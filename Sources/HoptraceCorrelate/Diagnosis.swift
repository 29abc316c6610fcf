import HoptraceCapture

extension Correlator {
    /// The exchange on `sighting` that is the same request as `exchange` (same method and target, nearest in time).
    static func matching(_ exchange: HTTPSighting, in sighting: TCPSighting) -> HTTPSighting? {
        sighting.exchanges
            .filter { $0.method == exchange.method && $0.path == exchange.path }
            .min { abs($0.requestFirst - exchange.requestFirst) < abs($1.requestFirst - exchange.requestFirst) }
    }

    /// Formats nanoseconds for a sentence.
    static func human(_ ns: Int64) -> String { TimeFormat.duration(ns) }

    /// Where a server-to-client RST came from: the furthest capture point along the path that saw it.
    static func resetOrigin(
        _ connection: StitchedConnection,
        homes: [String: String]
    ) -> (sighting: TCPSighting, byServer: Bool, hop: String)? {
        var best: (Int, TCPSighting)?
        for (index, sighting) in connection.path.enumerated() {
            guard let reset = sighting.reset, !reset.fromClient else { continue }
            if best == nil || index > best!.0 { best = (index, sighting) }
        }
        if best == nil {
            for stray in connection.strayResets {
                let index = connection.path.firstIndex { $0.capturePoint == stray.capturePoint } ?? 0
                if best == nil || index > best!.0 { best = (index, stray) }
            }
        }
        guard let (index, sighting) = best else { return nil }
        let serverSide = connection.serverSide
        let atServer = index == connection.path.count - 1
        let serverHome = homes[serverSide.server.host]
        let byServer = atServer && (serverHome == nil || serverHome == serverSide.capturePoint)
        return (sighting, byServer, sighting.capturePoint)
    }

    func diagnose(
        _ assembly: Assembly,
        index: Int,
        observations: Observations,
        homes: [String: String]
    ) -> RequestTrace {
        guard let connection = assembly.connection else {
            return diagnoseDNSOnly(assembly, index: index)
        }
        var findings: [Finding] = []
        let clientSide = connection.clientSide
        var hops = Stitcher.hops(of: connection, index: 0)
        if let upstream = assembly.upstream {
            var onward = Stitcher.hops(of: upstream, index: 1)
            if !onward.isEmpty { onward[0].translation = .l7Proxy }
            hops += onward
        }
        let serverConnection = assembly.upstream ?? connection
        let mode = Self.mode(assembly, hops: hops, serverAddresses: Set(homes.keys))
        let exchange = assembly.exchange.map { clientSide.exchanges[$0] }
        let isFirstOnConnection = (assembly.exchange ?? 0) == 0
        let start = isFirstOnConnection ? assembly.start : exchange?.requestFirst ?? assembly.start

        for stray in connection.strayResets where stray.server.host != clientSide.server.host {
            findings.append(
                Finding(
                    kind: "unnatted-reply",
                    detail: "an RST from \(stray.server) reached \(stray.client) un-NATed at \(stray.capturePoint) "
                        + "(conntrack INVALID): the client connected to \(clientSide.server)"
                )
            )
        }
        let maxSYN = connection.path.map(\.synCount).max() ?? 0
        if maxSYN > 1 {
            findings.append(Finding(kind: "syn-retransmitted", detail: "the SYN was sent \(maxSYN) times"))
        }
        if let dns = assembly.dns, dns.queries.count > 2 {
            let names = Array(Set(dns.queries.map(\.name))).sorted()
            findings.append(
                Finding(
                    kind: "dns-search-walk",
                    detail: "\(dns.queries.count) DNS queries (\(names.count) names) before the answer: "
                        + names.joined(separator: ", ")
                )
            )
        }

        var timings = Timings(total: 0)
        timings.dns = isFirstOnConnection ? assembly.dns?.duration : nil
        if isFirstOnConnection, let syn = clientSide.synTime, let synAck = clientSide.synAckTime {
            timings.connect = max(0, synAck - syn)
        }
        var end = clientSide.lastTime
        var verdict: Verdict

        let service = clientSide.server
        let server = serverConnection.serverSide.server
        let icmp = observations.icmp.filter { icmp in
            icmp.quotedProtocol == 6
                && ((clientSide.clientISN != nil && icmp.quotedSeq == clientSide.clientISN)
                    || connection.path.contains {
                        $0.client == icmp.quotedSource && $0.server == icmp.quotedDestination
                    })
        }.sorted { $0.time < $1.time }
        let answered = connection.path.contains { $0.synAckTime != nil || $0.serverBytes > 0 }

        if let rejection = icmp.first, !answered {
            let last = connection.path[connection.path.count - 1]
            verdict = Verdict(
                kind: .rejected,
                detail: "\(rejection.sender) rejected the connection to \(service) with ICMP \(rejection.name)"
                    + (mode == .clusterip ? " (a Service without endpoints is rejected this way)" : ""),
                hop: last.capturePoint
            )
            end = max(rejection.time, clientSide.synTime ?? rejection.time)
        } else if !connection.path.contains(where: { $0.synTime != nil || $0.synAckTime != nil }) {
            // The capture began after the handshake: say what was seen, never claim a SYN.
            let reset = connection.path.compactMap(\.reset).min { $0.time < $1.time }
            let sent = connection.path.map(\.clientBytes).max() ?? 0
            let received = connection.path.map(\.serverBytes).max() ?? 0
            var detail =
                "the connection to \(service) was already open when the capture began (its handshake was not "
                + "captured); \(sent) bytes from the client and \(received) from the server were seen"
            if let reset {
                detail += ", then a reset from the \(reset.fromClient ? "client" : "server")"
                end = max(end, reset.time)
            }
            verdict = Verdict(
                kind: reset == nil ? .ok : .reset,
                detail: detail,
                hop: reset == nil ? nil : clientSide.capturePoint
            )
        } else if !answered {
            if let origin = Self.resetOrigin(connection, homes: homes) {
                verdict = Verdict(
                    kind: .reset,
                    detail: (origin.byServer
                        ? "the server \(server) answered the SYN with a reset (nothing listens on that port)"
                        : "a reset answering the SYN appeared at \(origin.hop), not sent by the server")
                        + " while connecting",
                    hop: origin.hop
                )
                end = origin.sighting.reset?.time ?? end
            } else {
                let last = connection.path[connection.path.count - 1]
                let next = homes[last.server.host].flatMap { $0 == last.capturePoint ? nil : $0 }
                let lastSYN = connection.path.compactMap(\.synTime).max() ?? last.firstTime
                _ = lastSYN
                verdict = Verdict(
                    kind: .breakpoint,
                    detail: "the SYN to \(service) was last seen at \(last.capturePoint) (as \(last.client) > "
                        + "\(last.server)), sent \(max(maxSYN, 1)) time\(maxSYN == 1 ? "" : "s"), and never reached "
                        + (next ?? last.server.host) + "; no answer came back",
                    hop: last.capturePoint,
                    nextHop: next
                )
            }
        } else if let exchange {
            verdict = diagnoseExchange(
                exchange,
                assembly: assembly,
                connection: connection,
                serverConnection: serverConnection,
                homes: homes,
                observations: observations,
                timings: &timings,
                end: &end,
                findings: &findings
            )
        } else if let origin = Self.resetOrigin(connection, homes: homes) {
            verdict = Verdict(
                kind: .reset,
                detail: "the connection to \(service) was reset before any request was sent"
                    + (origin.byServer ? " by the server \(server)" : ", at \(origin.hop)"),
                hop: origin.hop
            )
        } else {
            verdict = Verdict(
                kind: .ok,
                detail: "the connection to \(service) opened and closed; no HTTP request was recognised on it",
                hop: nil
            )
        }

        if !answered, isFirstOnConnection, let syn = clientSide.synTime {
            // The connection never opened: the time from the first SYN to the rejection, the reset or the last
            // retransmission was spent connecting.
            timings.connect = max(0, end - syn)
        }
        timings.total = max(0, end - start)
        let accounted = [
            timings.dns, timings.connect, timings.request, timings.server, timings.network, timings.response,
        ].compactMap { $0 }.reduce(0, +)
        timings.client = max(0, timings.total - accounted)
        if verdict.kind == .ok {
            verdict = slowVerdict(
                verdict,
                timings: timings,
                hops: hops,
                serverConnection: serverConnection,
                connection: connection
            )
        }

        let request = exchange.map {
            RequestSummary(
                method: $0.method,
                path: $0.path,
                host: $0.host,
                requestID: $0.requestID
                    ?? assembly.upstreamExchange.flatMap { assembly.upstream?.clientSide.exchanges[$0].requestID },
                status: $0.status
            )
        }
        return RequestTrace(
            index: index,
            mode: mode,
            verdict: verdict,
            findings: findings,
            request: request,
            client: clientSide.client,
            service: service,
            server: server == service && mode != .direct ? nil : server,
            dns: isFirstOnConnection ? assembly.dns : nil,
            hops: hops,
            timings: timings,
            start: start,
            end: end
        )
    }

    /// The verdict of a request whose connection opened: was the request delivered, answered, reset?
    func diagnoseExchange(
        _ exchange: HTTPSighting,
        assembly: Assembly,
        connection: StitchedConnection,
        serverConnection: StitchedConnection,
        homes: [String: String],
        observations: Observations,
        timings: inout Timings,
        end: inout Int64,
        findings: inout [Finding]
    ) -> Verdict {
        let clientSide = connection.clientSide
        timings.request = max(0, exchange.requestLast - exchange.requestFirst)

        // How far did the request get? Along the client's connection, then (behind a proxy) the onward one.
        let onward: HTTPSighting? = assembly.upstreamExchange.map { serverConnection.clientSide.exchanges[$0] }
        let path = connection.path + (assembly.upstream?.path ?? [])
        var furthest: (Int, HTTPSighting)?
        for (index, sighting) in path.enumerated() {
            let reference = index < connection.path.count ? exchange : (onward ?? exchange)
            if let seen = Self.matching(reference, in: sighting) { furthest = (index, seen) }
        }
        let serverSide = serverConnection.serverSide
        let atServer = Self.matching(onward ?? exchange, in: serverSide)
        if assembly.upstream == nil, atServer == nil, let (index, _) = furthest, index < path.count - 1 {
            let last = path[index]
            let retransmissions = path.map(\.clientRetransmissions).max() ?? 0
            end = max(end, clientSide.lastTime)
            return Verdict(
                kind: .breakpoint,
                detail: "the request \(exchange.method) \(exchange.path) was last seen at \(last.capturePoint) and "
                    + "never reached \(path[index + 1].capturePoint)"
                    + (retransmissions > 0 ? " (retransmitted \(retransmissions) times)" : ""),
                hop: last.capturePoint,
                nextHop: path[index + 1].capturePoint
            )
        }

        let complete = exchange.responseComplete || (exchange.status != nil && exchange.responseLast != nil)
        if let responseFirst = exchange.responseFirst {
            let wait = max(0, responseFirst - exchange.requestLast)
            if let atServer, let serverFirst = atServer.responseFirst {
                timings.server = min(wait, max(0, serverFirst - atServer.requestLast))
                timings.network = wait - (timings.server ?? 0)
            } else {
                timings.network = wait
            }
            if let responseLast = exchange.responseLast {
                timings.response = max(0, responseLast - responseFirst)
                end = responseLast
            }
        }
        if complete {
            if let reset = clientSide.reset ?? serverSide.reset, reset.time >= (exchange.responseLast ?? 0) {
                findings.append(
                    Finding(
                        kind: "reset-after-response",
                        detail: "a reset from the \(reset.fromClient ? "client" : "server") closed the connection "
                            + "after the response completed: not a failure"
                    )
                )
            }
            let status = exchange.status.map { " \($0)" } ?? ""
            return Verdict(
                kind: .ok,
                detail: "\(exchange.method) \(exchange.path) completed\(status) in "
                    + Self.human(max(0, end - (assembly.dns?.start ?? clientSide.synTime ?? exchange.requestFirst))),
                hop: serverSide.capturePoint
            )
        }

        let server = serverSide.server
        if let origin = Self.resetOrigin(serverConnection, homes: homes) ?? Self.resetOrigin(connection, homes: homes) {
            let phase = exchange.responseFirst == nil ? "while the client waited for the response" : "mid-response"
            end = max(end, origin.sighting.reset?.time ?? end)
            return Verdict(
                kind: .reset,
                detail: (origin.byServer
                    ? "the server \(server) reset the connection" : "a reset appeared at \(origin.hop)")
                    + " \(phase)",
                hop: origin.hop
            )
        }
        let serverHop = serverSide.capturePoint
        let delivered = atServer?.requestLast ?? exchange.requestLast
        if let serverFin = serverSide.serverFinTime ?? clientSide.serverFinTime,
            serverFin <= delivered + 1_000_000, exchange.responseFirst == nil
        {
            end = max(end, clientSide.clientFinTime ?? clientSide.reset?.time ?? serverFin)
            return Verdict(
                kind: .noResponse,
                detail: "\(server) had closed the keep-alive connection (FIN at \(serverHop)) as the request "
                    + "arrived; it was never answered on this connection",
                hop: serverHop
            )
        }
        if let clientReset = clientSide.reset, clientReset.fromClient {
            end = clientReset.time
            return Verdict(
                kind: .noResponse,
                detail: "\(server) received the request at \(serverHop) and had not answered when the client gave up "
                    + Self.human(max(0, clientReset.time - delivered)) + " later",
                hop: serverHop
            )
        }
        if let fin = clientSide.clientFinTime {
            end = fin
            return Verdict(
                kind: .noResponse,
                detail: "\(server) received the request at \(serverHop) and had not answered when the client closed "
                    + Self.human(max(0, fin - delivered)) + " later",
                hop: serverHop
            )
        }
        end = max(end, observations.captureEnd)
        return Verdict(
            kind: .noResponse,
            detail: "\(server) received the request at \(serverHop) and had not answered by the end of the capture, "
                + Self.human(max(0, observations.captureEnd - delivered)) + " later",
            hop: serverHop
        )
    }

    /// A completed request's verdict stays ok unless it was slow and one part holds most of its time.
    func slowVerdict(
        _ verdict: Verdict,
        timings: Timings,
        hops: [Hop],
        serverConnection: StitchedConnection,
        connection: StitchedConnection
    ) -> Verdict {
        guard timings.total >= options.slowThreshold, timings.total > 0 else { return verdict }
        let parts: [(String, Int64)] = [
            ("dns", timings.dns ?? 0), ("connect", timings.connect ?? 0), ("request", timings.request ?? 0),
            ("server", timings.server ?? 0), ("network", timings.network ?? 0), ("response", timings.response ?? 0),
        ]
        guard let (part, value) = parts.max(by: { $0.1 < $1.1 }),
            Double(value) >= options.slowShare * Double(timings.total)
        else { return verdict }
        let share = Int((Double(value) / Double(timings.total) * 100).rounded())
        switch part {
        case "dns":
            return Verdict(
                kind: .slow,
                detail: "DNS took \(Self.human(value)) of \(Self.human(timings.total)) (\(share)%)",
                hop: "dns"
            )
        case "server":
            let serverSide = serverConnection.serverSide
            return Verdict(
                kind: .slow,
                detail: "the server \(serverSide.server) took \(Self.human(value)) to answer "
                    + "(\(share)% of \(Self.human(timings.total))); the request was fully delivered at "
                    + serverSide.capturePoint,
                hop: serverSide.capturePoint
            )
        default:
            // A part of the path: name the hop with the largest forwarding delay when it explains the part.
            let worst = hops.max { max($0.synDelay ?? 0, $0.dataDelay ?? 0) < max($1.synDelay ?? 0, $1.dataDelay ?? 0) }
            let worstDelay = worst.map { max($0.synDelay ?? 0, $0.dataDelay ?? 0) } ?? 0
            if let worst, Double(worstDelay) >= 0.5 * Double(value) {
                let before = hops.firstIndex(of: worst).flatMap { $0 > 0 ? hops[$0 - 1].capturePoint : nil } ?? "?"
                return Verdict(
                    kind: .slow,
                    detail: "the hop \(before) → \(worst.capturePoint) held \(Self.human(worstDelay)) of the "
                        + "\(part) phase (\(share)% of \(Self.human(timings.total)))",
                    hop: worst.capturePoint
                )
            }
            return Verdict(
                kind: .slow,
                detail: "the \(part) phase took \(Self.human(value)) (\(share)% of \(Self.human(timings.total)))",
                hop: part == "response" ? connection.clientSide.capturePoint : nil
            )
        }
    }

    /// A name that never resolved.
    func diagnoseDNSOnly(_ assembly: Assembly, index: Int) -> RequestTrace {
        let dns = assembly.dns!
        let names = dns.queries.map(\.name).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let detail: String
        switch dns.outcome {
        case "timeout":
            let server = dns.queries.first.map { "\($0.server)" } ?? "the DNS server"
            let sent = dns.queries.map(\.queryCount).reduce(0, +)
            detail =
                "no answer from \(server) for \(names.joined(separator: ", ")) after \(sent) queries over "
                + Self.human(dns.duration) + " (DNS timeout)"
        default:
            detail =
                "\(Self.stem(dns.name)) did not resolve: \(dns.outcome) for each of the \(names.count) names "
                + "tried (\(names.joined(separator: ", ")))"
        }
        let mode: TraceMode = names.contains { $0.contains(".svc.") } ? .clusterip : .direct
        // The furthest capture point the queries reached: the DNS server's side.
        let furthest = dns.queries.compactMap(\.seenAt.last).last ?? "dns"
        return RequestTrace(
            index: index,
            mode: mode,
            verdict: Verdict(kind: .dnsFailure, detail: detail, hop: furthest),
            findings: [],
            request: nil,
            client: dns.queries.first?.client,
            service: dns.queries.first?.server,
            server: nil,
            dns: dns,
            hops: [],
            timings: Timings(dns: dns.duration, total: dns.duration),
            start: dns.start,
            end: dns.end
        )
    }

    static func stem(_ name: String) -> String { String(DNSWalks.stem(name)) }

    /// Kubernetes' default `--service-node-port-range`.
    static let nodePortRange: ClosedRange<UInt16> = 30000...32767

    /// The request's mode, from its translations.
    static func mode(_ assembly: Assembly, hops: [Hop], serverAddresses: Set<String>) -> TraceMode {
        if assembly.upstream != nil { return .ingress }
        let first = hops.first { $0.connection == 0 }
        let translations = hops.filter { $0.connection == 0 }.map(\.translation)
        guard translations.contains(where: { $0 == .dnat || $0 == .dnatSnat }) else {
            // No translation seen, but the name was a Service's: the connection never got as far as the DNAT
            // (rejected or dropped before it), unless it went straight to a pod (a headless Service).
            if let dns = assembly.dns, dns.queries.contains(where: { $0.name.contains(".svc.") }),
                let target = first?.dst.host, !serverAddresses.contains(target)
            {
                return .clusterip
            }
            // To a node port, stopped before its DNAT.
            if let port = first?.dst.port, Self.nodePortRange.contains(port), let target = first?.dst.host,
                !serverAddresses.contains(target)
            {
                return .nodeport
            }
            return .direct
        }
        if assembly.dns != nil { return .clusterip }
        if translations.contains(.dnatSnat) { return .nodeport }
        if let port = first?.dst.port, Self.nodePortRange.contains(port) { return .nodeport }
        return .clusterip
    }
}
