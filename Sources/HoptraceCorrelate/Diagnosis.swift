import HoptraceCapture
import HoptraceDecode
import HoptraceFlows
import HoptraceKube

/// Judges one assembled request: its hops, timings, verdict, sentence, mode, names and findings, decided once.
///
/// Every number a sentence states is one of the trace's own numbers, formatted by ``TimeFormat/duration(_:)``:
/// the sentence is written from the timings and hops, never from other arithmetic.
struct Diagnosis {
    let options: CorrelateOptions
    let directory: ClusterDirectory
    let topology: Topology
    /// The last capture time reached (for requests cut by the end of the capture).
    let captureEnd: Int64
    /// The latest time of anything the correlator was given so far (records, exchanges, transactions): at the end of
    /// the input, about where the capture ended (``captureEnd`` moves once a second of capture time).
    var latestSeen: Int64 = .min

    /// How far hoptrace has seen: what an unanswered query or SYN can be said to have waited.
    var seenUntil: Int64 { max(captureEnd, latestSeen) }

    static func human(_ ns: Int64) -> String { TimeFormat.duration(ns) }

    /// `pieces` as one string, made at its final size: for the sentences every trace of a flood writes (interpolation
    /// appends piece by piece, ~400 instructions each, growing the string as it goes).
    static func join(_ pieces: String...) -> String {
        var count = 0
        for piece in pieces { count += piece.utf8.count }
        return String(unsafeUninitializedCapacity: count) { buffer in
            var at = 0
            for var piece in pieces {
                piece.withUTF8 { utf8 in
                    guard let source = utf8.baseAddress, let target = buffer.baseAddress else { return }
                    (target + at).update(from: source, count: utf8.count)
                    at += utf8.count
                }
            }
            return at
        }
    }

    func corrected(_ time: Int64, _ sighting: Sighting) -> Int64 {
        topology.corrected(time, node: sighting.point.node)
    }

    // MARK: Entry

    func trace(_ assembly: Assembly) -> RequestTrace {
        var trace: RequestTrace
        switch assembly.kind {
        case .dns:
            trace = lookupTrace(assembly)
        case .http, .connection:
            trace = connectionTrace(assembly)
        }
        trace.names = names(of: trace)
        clusterFindings(&trace)
        return trace
    }

    /// Decides a trace's mode, names and cluster findings from its hops, as ``trace(_:)`` does for the traces it
    /// builds (the mode from ``ClusterDirectory/mode(target:proxied:translated:request:)``).
    func annotate(_ trace: inout RequestTrace) {
        if let target = trace.hops.first?.destination {
            trace.mode = directory.mode(
                target: target,
                proxied: trace.hops.contains { $0.connection > 0 },
                translated: trace.hops.contains { $0.connection == 0 && [.dnat, .dnatSnat].contains($0.translation) },
                request: trace.request
            )
        }
        trace.names = names(of: trace)
        clusterFindings(&trace)
    }

    // MARK: A lookup that led nowhere

    func lookupTrace(_ assembly: Assembly) -> RequestTrace {
        var lookup = assembly.dns!
        // Unanswered, and the capture ended before a resolver gives up: not a timeout seen, and no time is counted
        // past the capture's end.
        let cutByEnd =
            lookup.outcome == .timeout && lookup.end > seenUntil && seenUntil >= lookup.start
        if cutByEnd { lookup.end = seenUntil }
        var names: [String] = []
        for query in lookup.queries where !names.contains(query.name) { names.append(query.name) }
        let sent = lookup.queries.map(\.sent).reduce(0, +)
        let server = lookup.queries.first?.server
        var sentence: String
        switch lookup.outcome {
        case .timeout:
            sentence =
                "no answer from \(server.map(\.description) ?? "the DNS server") for \(names.joined(separator: ", ")) "
                + "after \(sent) quer\(sent == 1 ? "y" : "ies") over \(Self.human(lookup.duration)) (DNS timeout)"
        case .nxdomain:
            let stem = DNSLookupBuilder.stem(lookup.name)
            sentence =
                "\(stem) did not resolve: NXDOMAIN for each of the \(names.count) name\(names.count == 1 ? "" : "s") "
                + "tried (\(names.joined(separator: ", "))), \(Self.human(lookup.duration))"
        case .noData:
            sentence =
                "\(lookup.name) exists but has no \(Set(lookup.queries.map(\.type.description)).sorted().joined(separator: "/")) "
                + "record (NOERROR without answers), \(Self.human(lookup.duration))"
        case .servfail, .refused, .failed:
            let code = lookup.queries.last(where: { $0.rcode != nil })?.rcode?.description ?? "an error"
            sentence =
                "\(server.map(\.description) ?? "the DNS server") answered \(code) for \(lookup.name) after "
                + Self.human(lookup.duration)
        case .resolved:
            let answer = lookup.answer.map { " to \($0)" } ?? ""
            sentence =
                "\(lookup.name) resolved\(answer) in \(Self.human(lookup.duration)) (\(lookup.queries.count) "
                + "quer\(lookup.queries.count == 1 ? "y" : "ies")); no connection to it followed"
        }
        if cutByEnd {
            sentence =
                "no answer from \(server.map(\.description) ?? "the DNS server") for \(names.joined(separator: ", ")) "
                + "in the \(Self.human(lookup.duration)) after the " + (sent == 1 ? "query" : "first query")
                + " that hoptrace saw, less than a resolver waits before it times out"
        }
        // The furthest capture point the queries reached: the DNS server's own link when the capture showed one (a
        // bridge's copies can be stamped after it), else the last to see them.
        let seen = lookup.queries.last?.seenAt ?? []
        let client = lookup.queries.first?.client.address
        let serverLink = seen.last { point in
            guard let id = topology.id(of: point), let home = topology.home(of: id) else { return false }
            return home != client
        }
        let location = serverLink ?? seen.last
        let mode: TraceMode = names.contains { ClusterDirectory.serviceRef(dnsName: $0) != nil } ? .clusterip : .direct
        let resolved = lookup.outcome == .resolved
        return RequestTrace(
            kind: .dns,
            mode: mode,
            verdict: Verdict(
                kind: resolved ? .ok : cutByEnd ? .incomplete : .dnsFailure,
                sentence: sentence,
                location: location,
                phase: resolved || cutByEnd ? nil : .dns
            ),
            findings: [],
            client: lookup.queries.first?.client,
            service: server,
            dns: lookup,
            timings: Timings(dns: lookup.duration, total: lookup.duration),
            start: lookup.start,
            end: lookup.end
        )
    }

    // MARK: A connection and its request

    /// The facts of one connection's path, read once.
    struct PathFacts {
        var sightings: [Sighting]
        var evidence: [OrderEvidence]
        var synSeen: Bool { sightings.contains { $0.record.synTime != nil } }
        var synAckSeen: Bool { sightings.contains { $0.record.synAckTime != nil } }
        var answered: Bool {
            sightings.contains {
                $0.record.synAckTime != nil || $0.record.responderSummary.firstData != nil
            }
        }
        var maxSYN: Int {
            var most = 0
            for index in sightings.indices where sightings[index].record.synTime != nil {
                most = max(most, 1 + sightings[index].record.synRetransmissions)
            }
            return most
        }
        var client: Sighting { sightings[0] }
        var server: Sighting { sightings[sightings.count - 1] }
    }

    func connectionTrace(_ assembly: Assembly) -> RequestTrace {
        let facts = PathFacts(sightings: assembly.path.map(\.0), evidence: assembly.path.map(\.1))
        let client = facts.client
        var findings: [Finding] = []
        let exchange = assembly.exchange
        let upstreamFacts = assembly.upstream.map {
            PathFacts(sightings: $0.path.map(\.0), evidence: $0.path.map(\.1))
        }
        let serverFacts = upstreamFacts ?? facts
        let service = client.server
        let server = serverFacts.server.server
        var summary: RequestSummary?
        if let request = exchange?.request {
            summary = RequestSummary(
                method: request.method,
                path: request.target,
                host: request.host,
                requestID: request.requestID ?? assembly.upstream?.exchange.request?.requestID,
                status: exchange?.response?.status,
                headTruncated: exchange?.headTruncated ?? false
            )
        }
        let translated = facts.sightings.contains { $0.server != client.server }
        let mode = directory.mode(
            target: service,
            proxied: assembly.upstream != nil,
            translated: translated,
            answered: facts.answered,
            request: summary
        )

        // Hops.
        var hops = makeHops(facts, connection: 0, exchange: exchange)
        if let upstream = assembly.upstream, let upstreamFacts {
            var onward = makeHops(upstreamFacts, connection: 1, exchange: upstream.exchange)
            if !onward.isEmpty { onward[0].translation = .l7Proxy }
            hops += onward
        }

        // Findings every connection may have.
        for stray in assembly.strays where stray.server.address != client.server.address {
            findings.append(
                Finding(
                    .unnattedReply,
                    "an RST from \(stray.server) reached \(stray.client) un-NATed at \(stray.point) (conntrack "
                        + "INVALID): the client connected to \(client.server)"
                )
            )
        }
        if facts.maxSYN > 1 {
            findings.append(Finding(.synRetransmitted, "the SYN was sent \(facts.maxSYN) times"))
        }
        if let dns = assembly.isFirstOnConnection ? assembly.dns : nil {
            let names = Set(dns.queries.map(\.name))
            if names.count > 1 {
                findings.append(
                    Finding(
                        .dnsSearchWalk,
                        "\(dns.queries.count) DNS queries (\(names.count) names) before the answer: "
                            + names.sorted().joined(separator: ", ")
                    )
                )
            }
        }
        if !facts.synSeen, !facts.synAckSeen, !assembly.continuesGivenUp {
            findings.append(
                Finding(.handshakeNotCaptured, FixedText.handshakeNotCaptured)
            )
        }
        if summary == nil, exchange == nil, isHeadersOnly(facts) {
            findings.append(
                Finding(.httpNotVisible, FixedText.httpNotVisible)
            )
        }
        if let exchange, exchange.request != nil, exchange.headTruncated {
            findings.append(Finding(.headTruncated, FixedText.headTruncated))
        }
        let givenUpAfter = assembly.evicted || facts.sightings.contains(where: { $0.record.endReason == .evicted })
        if assembly.continuesGivenUp {
            // A later piece of a connection the flow stage gave up: its beginning was captured, in the piece given up.
            findings.append(
                Finding(.evicted, givenUpAfter ? FixedText.takenUpAndGivenUp : FixedText.takenUpAgain)
            )
        } else if givenUpAfter {
            findings.append(Finding(.evicted, FixedText.givenUp))
        } else if assembly.exchangeCapped {
            findings.append(
                Finding(
                    .evicted,
                    "hoptrace traced this request before its connection ended, to stay within its cap on requests held "
                        + "on one connection (\(options.maxExchangesPerConnection)): what came after is not in this trace"
                )
            )
        }

        let start = assembly.start
        var state = Outcome(start: start, end: start)
        state.timings.dns = assembly.isFirstOnConnection ? assembly.dns?.duration : nil
        if assembly.isFirstOnConnection, let syn = client.record.synTime, let synAck = client.record.synAckTime {
            state.timings.connect = Clock.elapsed(synAck, syn)
        }

        let verdict: Verdict
        if let rejection = rejection(assembly, facts: facts) {
            verdict = rejected(rejection, facts: facts, mode: mode, service: service, state: &state)
        } else if !facts.answered, facts.synSeen, exchange?.request == nil {
            verdict = unanswered(
                facts,
                assembly: assembly,
                mode: mode,
                service: service,
                server: server,
                state: &state
            )
        } else if let exchange, exchange.request != nil {
            verdict = http(
                exchange,
                assembly: assembly,
                facts: facts,
                serverFacts: serverFacts,
                hops: hops,
                state: &state,
                findings: &findings
            )
        } else if isHeadersOnly(facts), client.hasClientData {
            verdict = tcpOnly(facts, assembly: assembly, hops: hops, state: &state)
        } else {
            verdict = bareConnection(facts, assembly: assembly, service: service, server: server, state: &state)
        }

        // The phases add up to the total, end minus start, by construction: taken in the order they happen, each
        // is cut to what the span has left (phases overlap when a response starts before the request's last byte
        // was seen), and the client's share is what they leave.
        var timings = state.timings
        let span = Clock.elapsed(state.end, start)
        var left = span
        func take(_ phase: inout Int64?) {
            guard let value = phase else { return }
            let taken = min(max(value, 0), left)
            phase = taken
            left -= taken
        }
        take(&timings.dns)
        take(&timings.connect)
        take(&timings.request)
        take(&timings.server)
        take(&timings.network)
        take(&timings.response)
        timings.client = left
        timings.total = span
        var final = verdict
        if final.kind == .ok {
            final = slowVerdict(final, timings: timings, hops: hops, serverFacts: serverFacts, facts: facts)
        }
        return RequestTrace(
            kind: assembly.kind,
            mode: mode,
            verdict: final,
            findings: state.findings.isEmpty ? findings : findings + state.findings,
            request: summary,
            client: client.client,
            service: service,
            server: server == service && mode != .direct ? nil : server,
            dns: assembly.isFirstOnConnection ? assembly.dns : nil,
            hops: hops,
            timings: timings,
            start: start,
            end: Clock.plus(start, timings.total)
        )
    }

    /// What the verdict functions work out beside the verdict.
    struct Outcome {
        var timings = Timings(total: 0)
        var start: Int64
        var end: Int64
        var findings: [Finding] = []

        init(start: Int64, end: Int64) {
            self.start = start
            self.end = end
        }
    }

    /// Whether the capture's snap length cut the payload (headers-only): far fewer bytes captured than sent.
    func isHeadersOnly(_ facts: PathFacts) -> Bool {
        let o = facts.client.record.originatorSummary
        let r = facts.client.record.responderSummary
        // In floating point: byte counts from a store may be anything, and their sums must not trap.
        let wire = Double(o.bytes) + Double(r.bytes)
        let captured = Double(o.capturedPayloadBytes) + Double(r.capturedPayloadBytes)
        return wire > 0 && captured * 2 < wire
    }

    // MARK: Rejected

    func rejection(_ assembly: Assembly, facts: PathFacts) -> ICMPRecord? {
        guard !facts.answered else { return nil }
        return assembly.icmp.min { $0.event.time < $1.event.time }
    }

    func rejected(
        _ record: ICMPRecord,
        facts: PathFacts,
        mode: TraceMode,
        service: FlowEndpoint,
        state: inout Outcome
    ) -> Verdict {
        let event = record.event
        let kind = event.kind
        // Located where the sender's message was first seen: the capture point nearest the sender that saw it.
        let positions = facts.sightings.map(\.point)
        let location = positions.last { $0 == record.point } ?? facts.server.point
        state.end = max(topology.corrected(event.time, node: record.point.node), state.start)
        if let syn = facts.client.record.synTime {
            state.timings.connect = Clock.elapsed(state.end, corrected(syn, facts.client))
        }
        let why =
            directory.isServiceAddress(service.address) ? " (a Service without endpoints is rejected this way)" : ""
        return Verdict(
            kind: .rejected,
            sentence: "\(event.sender) rejected the connection to \(service) with ICMP \(kind)\(why)",
            location: location,
            phase: .connect
        )
    }

    // MARK: The SYN went unanswered

    func unanswered(
        _ facts: PathFacts,
        assembly: Assembly,
        mode: TraceMode,
        service: FlowEndpoint,
        server: FlowEndpoint,
        state: inout Outcome
    ) -> Verdict {
        let client = facts.client
        let syn = corrected(client.record.synTime ?? client.start, client)
        if let origin = resetOrigin(withStrays(facts, assembly), facts: facts) {
            let time = corrected(origin.time, origin.sighting)
            state.end = max(time, state.start)
            state.timings.connect = Clock.elapsed(state.end, syn)
            let byServer = origin.byServer
            return Verdict(
                kind: .reset,
                sentence: byServer
                    ? "the server \(server) answered the SYN with a reset (nothing listens on that port) after "
                        + Self.human(state.timings.connect ?? 0)
                    : "a reset answering the SYN appeared at \(origin.sighting.point), not sent by the server, after "
                        + Self.human(state.timings.connect ?? 0),
                location: origin.sighting.point,
                phase: .connect
            )
        }
        // The client reset its own attempt before any answer (a scanner, a client that gave up): not the network.
        if let reset = facts.sightings.compactMap({ s in s.record.originatorSummary.rstTime.map { corrected($0, s) } })
            .min(), reset >= syn
        {
            state.end = max(reset, state.start)
            state.timings.connect = Clock.elapsed(state.end, syn)
            return Verdict(
                kind: .reset,
                sentence: "the client reset its own connection to \(service) "
                    + "\(Self.human(state.timings.connect ?? 0)) after its SYN, before any answer came",
                location: facts.client.point,
                phase: .connect
            )
        }
        let last = facts.server
        let lastSYN = facts.sightings.flatMap { s in s.synTimes.map { corrected($0, s) } }.max() ?? syn
        state.end = max(lastSYN, state.start)
        state.timings.connect = Clock.elapsed(state.end, syn)
        let next = nextExpected(after: last, facts: facts, mode: mode)
        let sent = facts.maxSYN
        // A single SYN and less than TCP's first retransmission timeout (1 s) seen after it: no answer yet is not a
        // lost SYN.
        if sent == 1, seenUntil < Clock.plus(lastSYN, 1_000_000_000) {
            state.end = max(seenUntil, state.start)
            state.timings.connect = Clock.elapsed(state.end, syn)
            return Verdict(
                kind: .incomplete,
                sentence: "the SYN to \(service) was last seen at \(last.point) (as \(last.client) > \(last.server)) "
                    + "and hoptrace saw \(Self.human(state.timings.connect ?? 0)) after it without an answer, less than "
                    + "TCP waits before sending it again: whether it was answered is not known",
                location: last.point,
                phase: .connect
            )
        }
        return Verdict(
            kind: .breakpoint,
            sentence: "the SYN to \(service) was last seen at \(last.point) (as \(last.client) > \(last.server)), "
                + "sent \(sent) time\(sent == 1 ? "" : "s") over \(Self.human(state.timings.connect ?? 0)), and never "
                + "reached " + (next.map(\.description) ?? last.server.address.description) + "; no answer came back",
            location: last.point,
            next: next,
            phase: .connect
        )
    }

    /// Where a packet that was last seen at `last` should have appeared next: the point that answered connections
    /// to the same destination crossed after `last`; else the capture point the destination address lives behind;
    /// else, entering a node for a Service or NodePort, the node's pod bridge.
    func nextExpected(after last: Sighting, facts: PathFacts, mode: TraceMode) -> CapturePoint? {
        // The point answered connections to the same destination crossed next (the next hop, not the last).
        for target in [facts.client.server, last.server] {
            if let next = topology.successor(of: last.pointID, toward: target), next != last.pointID {
                return topology.point(next)
            }
        }
        if let pointID = topology.firstHome(of: last.server.address, excluding: last.pointID),
            let point = topology.point(pointID)
        {
            return point
        }
        // Last seen entering the node on its uplink, to a Service or NodePort (translated to a pod after this
        // point): the node's one pod bridge is where it goes next.
        if topology.kind(of: last.point) == .uplink, mode == .nodeport || mode == .clusterip {
            if let bridge = topology.soleBridge(on: last.point.node) { return topology.point(bridge) }
        }
        return nil
    }

    /// Where a reset from the server's side was first seen in causal order from its sender: the capture point
    /// nearest the server that saw it.
    /// The path's sightings and the stray resets beside it (the path alone, not a copy of it, when there are none).
    func withStrays(_ facts: PathFacts, _ assembly: Assembly) -> [Sighting] {
        assembly.strays.isEmpty ? facts.sightings : facts.sightings + assembly.strays
    }

    func resetOrigin(_ sightings: [Sighting], facts: PathFacts) -> (sighting: Sighting, time: Int64, byServer: Bool)? {
        // Most connections end without a reset: nothing to place.
        guard sightings.contains(where: { $0.record.responderSummary.rstTime != nil }) else { return nil }
        let positions = facts.sightings.map(\.pointID)
        var best: (position: Int, sighting: Sighting, time: Int64)?
        for sighting in sightings {
            guard let time = sighting.record.responderSummary.rstTime else { continue }
            let position = positions.lastIndex(of: sighting.pointID) ?? 0
            if best == nil || position > best!.position { best = (position, sighting, time) }
        }
        guard let best else { return nil }
        // Sent by the server itself when seen at the server's own point (or the nearest there is).
        let serverHome = topology.home(of: best.sighting.pointID)
        let byServer =
            best.position == positions.count - 1
            && (serverHome == nil || serverHome == facts.server.server.address)
        return (best.sighting, best.time, byServer)
    }

    // MARK: An HTTP exchange

    func http(
        _ exchange: HTTPExchange,
        assembly: Assembly,
        facts: PathFacts,
        serverFacts: PathFacts,
        hops: [Hop],
        state: inout Outcome,
        findings: inout [Finding]
    ) -> Verdict {
        let client = facts.client
        let request = exchange.request!
        // Built where a sentence names the request (a request given up at a cap, a flood's everyday verdict, does not).
        var what: String { Self.join(request.method, " ", request.target) }
        let requestFirst = corrected(exchange.requestFirstByte?.time ?? client.start, client)
        let requestLast = corrected(exchange.requestLastByte?.time ?? requestFirst, client)
        state.timings.request = Clock.elapsed(requestLast, requestFirst)
        state.end = max(state.end, requestLast)

        // How far did the request get? Along the client's connection, then (behind a proxy) the onward one.
        let raw = exchange.requestFirstByte.flatMap { client.clientRaw($0.offset) }
        // Each point with where the exchange is among its exchanges (read in place later: no copy of it, nor a retain).
        var views: [(Sighting, Int?)] = facts.sightings.map {
            ($0, $0.position(ofExchangeStartingAt: raw, index: exchange.index))
        }
        if let upstream = assembly.upstream {
            let onwardClient = upstream.path[0].0
            let onwardRaw = upstream.exchange.requestFirstByte.flatMap { onwardClient.clientRaw($0.offset) }
            views += upstream.path.map {
                ($0.0, $0.0.position(ofExchangeStartingAt: onwardRaw, index: upstream.exchange.index))
            }
        }
        let lastSeen = views.lastIndex { $0.1 != nil } ?? 0
        if lastSeen < views.count - 1, assembly.upstream == nil {
            let last = views[lastSeen].0
            let next = views[lastSeen + 1].0
            let retransmissions = facts.sightings.map(\.record.originatorSummary.retransmissions).max() ?? 0
            state.end = max(state.end, corrected(client.record.endTime, client))
            return Verdict(
                kind: .breakpoint,
                sentence: "the request \(what) was last seen at \(last.point) and never reached \(next.point)"
                    + (retransmissions > 0
                        ? " (retransmitted \(retransmissions) time\(retransmissions == 1 ? "" : "s"))" : ""),
                location: last.point,
                next: next.point,
                phase: .request
            )
        }
        // The server's nearest view of this request.
        let serverView = views.last { $0.1 != nil }
        let serverSide = serverFacts.server

        let complete =
            exchange.isResponseComplete
            || (exchange.response != nil && exchange.responseLastByte != nil && !exchange.responseHasGap)
        if let responseFirstMark = exchange.responseFirstByte {
            let responseFirst = corrected(responseFirstMark.time, client)
            let wait = Clock.elapsed(responseFirst, requestLast)
            if let (sighting, position) = serverView, let position,
                let serverLast = sighting.exchanges[position].requestLastByte,
                let serverFirst = sighting.exchanges[position].responseFirstByte
            {
                let atServer = Clock.elapsed(
                    corrected(serverFirst.time, sighting),
                    corrected(serverLast.time, sighting)
                )
                state.timings.server = min(wait, atServer)
                state.timings.network = Clock.since(wait, state.timings.server ?? 0)
            } else {
                state.timings.network = wait
            }
            if let responseLast = exchange.responseLastByte {
                let last = corrected(responseLast.time, client)
                state.timings.response = Clock.elapsed(last, responseFirst)
                state.end = max(state.end, last)
            } else {
                state.end = max(state.end, responseFirst)
            }
        }
        let serverPoint = serverView?.0.point ?? serverSide.point
        let serverName = serverFacts.server.server
        if complete {
            if let reset = [client.record.responderSummary.rstTime, client.record.originatorSummary.rstTime]
                .compactMap({ $0 }).min(), let responseLast = exchange.responseLastByte, reset >= responseLast.time
            {
                let fromClient = client.record.originatorSummary.rstTime == reset
                state.findings.append(
                    Finding(
                        .resetAfterResponse,
                        "a reset from the \(fromClient ? "client" : "server") closed the connection after the response "
                            + "completed: not a failure"
                    )
                )
            }
            let status = exchange.response.map { " " + String($0.status) } ?? ""
            let total = Clock.elapsed(state.end, state.start)
            return Verdict(
                kind: .ok,
                sentence: Self.join(what, " completed", status, " in ", Self.human(total)),
                location: serverPoint
            )
        }

        // A response began but did not complete.
        if exchange.responseFirstByte != nil {
            if let breakpoint = responseBreakpoint(
                exchange,
                views: views,
                facts: facts,
                state: &state,
                findings: &findings
            ) {
                return breakpoint
            }
        }
        if let origin = resetOrigin(serverFacts.sightings, facts: serverFacts)
            ?? resetOrigin(facts.sightings, facts: facts)
        {
            let time = corrected(origin.time, origin.sighting)
            state.end = max(state.end, time)
            let midResponse = exchange.responseFirstByte != nil
            let phase: Phase = midResponse ? .response : .request
            let acceptQueue = acceptQueueFull(facts)
            if acceptQueue {
                state.findings.append(
                    Finding(
                        .acceptQueueFull,
                        "the server's SYN-ACK was sent \(facts.sightings.map(\.record.synAckRetransmissions).max().map { $0 + 1 } ?? 1) "
                            + "times and the request was never acknowledged: its listen queue was full (nothing "
                            + "accepted the connection)"
                    )
                )
            }
            let who =
                origin.byServer
                ? "the server \(serverName) reset the connection" : "a reset appeared at \(origin.sighting.point)"
            let when: String
            if midResponse {
                when = "mid-response, after \(Self.human(state.timings.response ?? 0)) of response"
            } else if acceptQueue {
                when = "before accepting it; the request \(what) had been sent"
            } else {
                when = "while the client waited for the response to \(what)"
            }
            return Verdict(kind: .reset, sentence: "\(who) \(when)", location: origin.sighting.point, phase: phase)
        }
        // A response begun and not whole: who closed first after it began. The server (its FIN), with nothing
        // missing from what was captured, cut it short, whether or not the capture ended soon after; the client
        // (its FIN or reset), before any FIN of the server's, gave up on an answered request: neither is "no
        // response" nor the capture's end.
        // The server's FIN where it was seen first: at the server's side, else at the client's.
        let serverFin =
            serverSide.record.responderSummary.fin.map {
                (time: corrected($0.time, serverSide), point: serverSide.point)
            }
            ?? client.record.responderSummary.fin.map { (time: corrected($0.time, client), point: client.point) }
        if let status = exchange.response?.status, let responseFirstMark = exchange.responseFirstByte {
            let responseFirst = corrected(responseFirstMark.time, client)
            let clientEnd = [client.record.originatorSummary.fin?.time, client.record.originatorSummary.rstTime]
                .compactMap { $0 }.map { corrected($0, client) }.min()
            if let fin = serverFin, fin.time >= responseFirst, clientEnd.map({ $0 > fin.time }) ?? true {
                if !exchange.responseHasGap {
                    state.end = max(state.end, fin.time)
                    state.timings.response = Clock.elapsed(fin.time, responseFirst)
                    // The response's bytes up to the FIN, in the client's view of the server's stream.
                    let sent = client.record.responderSummary.fin.map { mark in
                        mark.offset > responseFirstMark.offset ? mark.offset - responseFirstMark.offset : 0
                    }
                    let bytes = sent.map { " and \($0) byte\($0 == 1 ? "" : "s") of it" } ?? ""
                    return Verdict(
                        kind: .truncated,
                        sentence: "\(serverName) closed the connection mid-response (FIN at \(fin.point)), after "
                            + "\(Self.human(state.timings.response ?? 0)) of response\(bytes): the response to \(what) "
                            + "ended before its length",
                        location: fin.point,
                        phase: .response
                    )
                }
            } else if let clientEnd, clientEnd >= responseFirst {
                state.end = max(state.end, clientEnd)
                state.timings.response = Clock.elapsed(clientEnd, responseFirst)
                return Verdict(
                    kind: .incomplete,
                    sentence: "\(what) was answered \(status) and the client closed the connection "
                        + "\(Self.human(state.timings.response ?? 0)) into the response, before it was whole",
                    location: client.point,
                    phase: .response
                )
            }
        }
        if exchange.response != nil, assembly.atEnd {
            return Verdict(
                kind: .incomplete,
                sentence: "\(what) was answered \(exchange.response!.status) and the response was still arriving when "
                    + "the capture ended",
                location: serverPoint,
                phase: .response
            )
        }
        let delivered =
            serverView.flatMap { sighting, position in
                position.flatMap { sighting.exchanges[$0].requestLastByte.map { corrected($0.time, sighting) } }
            }
            ?? requestLast
        if let serverFin = serverSide.record.responderSummary.fin ?? client.record.responderSummary.fin,
            corrected(serverFin.time, serverSide) <= Clock.plus(delivered, 1_000_000), exchange.responseFirstByte == nil
        {
            state.end = max(state.end, corrected(client.record.originatorSummary.fin?.time ?? serverFin.time, client))
            return Verdict(
                kind: .noResponse,
                sentence: "\(serverName) had closed the keep-alive connection (FIN at \(serverPoint)) as the request "
                    + "arrived; it was never answered on this connection",
                location: serverPoint,
                phase: .response
            )
        }
        let gaveUp =
            client.record.originatorSummary.rstTime.map { ($0, "gave up") }
            ?? client.record.originatorSummary.fin.map { ($0.time, "closed") }
        // The wait: the request's way to the server (network), then the server holding it unanswered.
        func waited(until end: Int64) {
            state.timings.network = Clock.elapsed(delivered, requestLast)
            state.timings.server = Clock.elapsed(end, delivered)
        }
        // Interim responses (100 Continue) are not an answer, but they were sent: said, so that nobody looks for
        // them in vain.
        let interim = exchange.interimStatuses.map(String.init).joined(separator: ", ")
        let unanswered = interim.isEmpty ? "had not answered" : "had sent only an interim \(interim) and no answer"
        // The server closed its side after the request, before the client closed or gave up: the server's doing
        // (nginx: "upstream prematurely closed connection while reading response header").
        // Not through a proxy: there the server's FIN is on the onward connection and says nothing of the client's.
        // Nor when a later request on the connection was answered: responses come in order, so the server did not
        // close on this one (its answer is missing from the capture, or was not parsed).
        let laterAnswered = assembly.lastAnsweredIndex.map { $0 > exchange.index } ?? false
        let serverClose = assembly.upstream != nil || laterAnswered ? nil : serverFin
        if let serverClose, gaveUp.map({ serverClose.time <= corrected($0.0, client) }) ?? true {
            let end = max(serverClose.time, delivered)
            state.end = max(state.end, end)
            waited(until: end)
            let how = interim.isEmpty ? "without answering" : "having sent only an interim \(interim) and no answer"
            return Verdict(
                kind: .noResponse,
                sentence: "\(serverName) received the request at \(serverPoint) and closed the connection (FIN at "
                    + "\(serverClose.point)) \(Self.human(Clock.elapsed(end, delivered))) later, \(how)",
                location: serverClose.point,
                phase: .response
            )
        }
        if let (time, how) = gaveUp {
            let end = corrected(time, client)
            state.end = max(state.end, end)
            waited(until: end)
            return Verdict(
                kind: .noResponse,
                sentence: "\(serverName) received the request at \(serverPoint) and \(unanswered) when the client "
                    + "\(how) \(Self.human(Clock.elapsed(end, delivered))) later",
                location: serverPoint,
                phase: .response
            )
        }
        if assembly.evicted || facts.sightings.contains(where: { $0.record.endReason == .evicted }) {
            // Given up at a cap before any response: what came after is not in this trace, and no wait is invented.
            return Verdict(
                kind: .incomplete,
                // Made at its size (a flood of connections given up writes it for every one).
                sentence: Self.join(
                    serverName.description,
                    " received the request at ",
                    serverPoint.description,
                    """
                     and hoptrace gave the connection up before any response, to stay within its cap on connections \
                    held at once: whether it was answered is not known
                    """
                ),
                location: serverPoint,
                phase: .response
            )
        }
        if assembly.exchangeCapped {
            return Verdict(
                kind: .incomplete,
                sentence: "\(serverName) received the request at \(serverPoint) and hoptrace traced it before any "
                    + "response, to stay within its cap on requests held on one connection: whether it was answered "
                    + "is not known",
                location: serverPoint,
                phase: .response
            )
        }
        // The end of what was seen, not the last clock tick (which is up to a second of capture time behind it).
        let end = max(seenUntil, delivered)
        state.end = max(state.end, end)
        waited(until: end)
        return Verdict(
            kind: .noResponse,
            sentence: "\(serverName) received the request at \(serverPoint) and \(unanswered) by the end of the "
                + "capture, \(Self.human(Clock.elapsed(end, delivered))) later",
            location: serverPoint,
            phase: .response
        )
    }

    /// The server's listen queue overflowed: its SYN-ACK retransmitted, the client's data retransmitted (never
    /// acknowledged), and nothing of the server's beyond the handshake.
    func acceptQueueFull(_ facts: PathFacts) -> Bool {
        let serverSide = facts.server.record
        return serverSide.synAckRetransmissions > 0 && serverSide.originatorSummary.retransmissions > 0
            && serverSide.responderSummary.firstData == nil
    }

    /// The response stopped crossing a hop: the capture point nearest the client that saw all of it, and the next
    /// one toward the client, which saw less. With the largest segments each saw (an MTU black hole passes small
    /// segments and drops full-size ones).
    func responseBreakpoint(
        _ exchange: HTTPExchange,
        views: [(Sighting, Int?)],
        facts: PathFacts,
        state: inout Outcome,
        findings: inout [Finding]
    ) -> Verdict? {
        // Bytes of the response each point saw: the server's sequence space it covered, less the holes in it (an MTU
        // black hole passes the small tail segment and drops the full-size ones before it).
        let reached = views.map { sighting, _ in
            let summary = sighting.record.responderSummary
            return summary.bytes >= summary.gapBytes ? summary.bytes - summary.gapBytes : 0
        }
        guard let most = reached.max(), most > 0 else { return nil }
        // From the server toward the client: the first point that saw less than the server's side.
        guard let short = reached.lastIndex(where: { $0 < most }), short + 1 < reached.count else { return nil }
        let full = short + 1
        let last = views[full].0
        let next = views[full - 1].0
        let passed = last.record.responderSummary.largestSegment
        let beyond = next.record.responderSummary.largestSegment
        if passed > beyond, beyond > 0 {
            let icmp = ""
            findings.append(
                Finding(
                    .mtuBlackHole,
                    "segments of up to \(beyond) bytes reached \(next.point) but those of \(passed) bytes seen at "
                        + "\(last.point) never did: a path MTU smaller than full-size packets, with the ICMP "
                        + "fragmentation-needed lost or filtered\(icmp)"
                )
            )
        }
        state.end = max(state.end, corrected(facts.client.record.endTime, facts.client))
        let missing = most - reached[full - 1]
        return Verdict(
            kind: .breakpoint,
            sentence: "the response to \(exchange.request!.method) \(exchange.request!.target) was last seen whole at "
                + "\(last.point); \(missing) byte\(missing == 1 ? "" : "s") of it never reached \(next.point)",
            location: last.point,
            next: next.point,
            phase: .response
        )
    }

    // MARK: Without HTTP

    /// A headers-only capture: the request and response judged from TCP alone.
    func tcpOnly(_ facts: PathFacts, assembly: Assembly, hops: [Hop], state: inout Outcome) -> Verdict {
        let client = facts.client
        let o = client.record.originatorSummary
        let r = client.record.responderSummary
        guard let requestFirst = o.firstData, let requestLast = o.lastData else {
            return bareConnection(
                facts,
                assembly: assembly,
                service: client.server,
                server: facts.server.server,
                state: &state
            )
        }
        let first = corrected(requestFirst.time, client)
        let last = corrected(requestLast.time, client)
        state.timings.request = Clock.elapsed(last, first)
        state.end = max(state.end, last)
        guard let responseFirst = r.firstData, let responseLast = r.lastData else {
            return Verdict(
                kind: .noResponse,
                sentence: "\(facts.server.server) received \(o.bytes) bytes from the client and sent nothing back "
                    + "(HTTP not visible)",
                location: facts.server.point,
                phase: .response
            )
        }
        let respFirst = corrected(responseFirst.time, client)
        let respLast = corrected(responseLast.time, client)
        let wait = Clock.elapsed(respFirst, last)
        let serverSide = facts.server
        if let sFirst = serverSide.record.responderSummary.firstData,
            let sLast = serverSide.record.originatorSummary.lastData
        {
            let atServer = Clock.elapsed(corrected(sFirst.time, serverSide), corrected(sLast.time, serverSide))
            state.timings.server = min(wait, atServer)
            state.timings.network = Clock.since(wait, state.timings.server ?? 0)
        } else {
            state.timings.network = wait
        }
        state.timings.response = Clock.elapsed(respLast, respFirst)
        state.end = max(state.end, respLast)
        return Verdict(
            kind: .ok,
            sentence: "the client sent \(o.bytes) bytes and the server answered \(r.bytes) bytes in "
                + Self.human(Clock.elapsed(state.end, state.start)) + " (HTTP not visible in this capture)",
            location: serverSide.point
        )
    }

    /// A connection that carried no request hoptrace recognised.
    func bareConnection(
        _ facts: PathFacts,
        assembly: Assembly,
        service: FlowEndpoint,
        server: FlowEndpoint,
        state: inout Outcome
    ) -> Verdict {
        let client = facts.client
        let o = client.record.originatorSummary
        let r = client.record.responderSummary
        let handshake = facts.synSeen || facts.synAckSeen
        let reset = resetOrigin(withStrays(facts, assembly), facts: facts)
        let clientReset = facts.sightings.compactMap(\.record.originatorSummary.rstTime).min()
        state.end = max(state.end, corrected(client.record.endTime, client))
        // Each sentence is one interpolation (its storage reserved once): built of `+` and `+=`, the pieces cost a
        // reallocation and a copy each, a tenth of a lone reset's trace.
        if !handshake {
            let then =
                reset != nil
                ? ", then a reset from the server" : clientReset != nil ? ", then a reset from the client" : ""
            let sentence = """
                the connection to \(service) was already open when the capture began (its handshake was not \
                captured); \(o.bytes) bytes from the client and \(r.bytes) from the server were seen\(then)
                """
            if let reset {
                return Verdict(kind: .reset, sentence: sentence, location: reset.sighting.point, phase: .response)
            }
            return Verdict(kind: .ok, sentence: sentence)
        }
        if let reset, o.firstData == nil {
            state.end = max(state.end, corrected(reset.time, reset.sighting))
            let by = reset.byServer ? " by the server \(server)" : ", at \(reset.sighting.point)"
            return Verdict(
                kind: .reset,
                sentence: "the connection to \(service) was reset before any request was sent\(by)",
                location: reset.sighting.point,
                phase: .request
            )
        }
        let closed = o.fin != nil || r.fin != nil || clientReset != nil || reset != nil
        let what = o.firstData == nil ? "no data was sent" : "\(o.bytes) bytes were sent and \(r.bytes) received"
        if closed {
            return Verdict(
                kind: .ok,
                sentence: "the connection to \(service) opened and closed; \(what), no HTTP request was recognised"
            )
        }
        return Verdict(
            kind: .ok,
            sentence: "the connection to \(service) opened and was still open when the capture ended; \(what)"
        )
    }

    // MARK: Slow

    /// A completed request stays ok unless it was slow and one part holds most of its time.
    func slowVerdict(
        _ verdict: Verdict,
        timings: Timings,
        hops: [Hop],
        serverFacts: PathFacts,
        facts: PathFacts
    ) -> Verdict {
        guard timings.total >= options.slowThreshold, timings.total > 0 else { return verdict }
        let parts: [(SlowPart, Int64)] = [
            (.dns, timings.dns ?? 0), (.connect, timings.connect ?? 0), (.request, timings.request ?? 0),
            (.server, timings.server ?? 0), (.network, timings.network ?? 0), (.response, timings.response ?? 0),
        ]
        guard let (part, value) = parts.max(by: { $0.1 < $1.1 }),
            Double(value) >= options.slowShare * Double(timings.total)
        else { return verdict }
        let share = Int((Double(value) / Double(timings.total) * 100).rounded())
        let ofTotal = "\(share)% of \(Self.human(timings.total))"
        switch part {
        case .dns:
            return Verdict(
                kind: .slow,
                sentence: "DNS took \(Self.human(value)) of \(Self.human(timings.total)) (\(share)%)",
                slowPart: .dns
            )
        case .server:
            let serverSide = serverFacts.server
            return Verdict(
                kind: .slow,
                sentence: "the server \(serverSide.server) took \(Self.human(value)) to answer (\(ofTotal)); the "
                    + "request was fully delivered at \(verdict.location ?? serverSide.point)",
                location: verdict.location ?? serverSide.point,
                slowPart: .server
            )
        default:
            // A segment of the path: the hop-to-hop crossing that holds the part's time.
            var worst: (index: Int, delay: Int64, direction: String)?
            for (index, hop) in hops.enumerated() where index > 0 && hops[index - 1].connection == hop.connection {
                let delay: Int64
                let direction: String
                switch part {
                case .request, .connect:
                    delay = hop.requestDelay ?? hop.synDelay ?? 0
                    direction = "request"
                case .response:
                    delay = hop.responseDelay ?? 0
                    direction = "response"
                default:
                    delay = max(hop.requestDelay ?? 0, hop.responseDelay ?? 0)
                    direction = (hop.responseDelay ?? 0) > (hop.requestDelay ?? 0) ? "response" : "request"
                }
                if worst == nil || delay > worst!.delay { worst = (index, delay, direction) }
            }
            if let worst, Double(worst.delay) >= 0.5 * Double(value) {
                let near = hops[worst.index - 1].point
                let far = hops[worst.index].point
                let (from, to) = worst.direction == "response" ? (far, near) : (near, far)
                return Verdict(
                    kind: .slow,
                    sentence: "the \(worst.direction)'s bytes took \(Self.human(worst.delay)) to cross \(from) → \(to) "
                        + "(the \(part.rawValue) phase took \(Self.human(value)), \(ofTotal))",
                    location: to,
                    segmentFrom: from,
                    slowPart: .segment
                )
            }
            if part == .request {
                // No hop holds it: the bytes were already slow where they were first seen, between the client and
                // the capture point nearest it.
                return Verdict(
                    kind: .slow,
                    sentence:
                        "the request phase took \(Self.human(value)) (\(ofTotal)): its bytes were already slow at "
                        + "\(facts.client.point), the capture point nearest the client",
                    location: facts.client.point,
                    slowPart: part
                )
            }
            return Verdict(
                kind: .slow,
                sentence: "the \(part.rawValue) phase took \(Self.human(value)) (\(ofTotal))",
                location: part == .response ? facts.client.point : nil,
                slowPart: part
            )
        }
    }

    // MARK: Hops

    /// The times one capture point saw the marks hop delays are measured between: the SYN, the request's last byte
    /// and the response's last byte (with the raw sequence number that identifies the byte at every point).
    struct HopMarks {
        var syn: Int64?
        var request: (raw: UInt32?, time: Int64)?
        var response: (raw: UInt32?, time: Int64)?
        /// A bridge's own copy of frames it forwarded between two ports (placed by ``OrderEvidence/bridge``): its
        /// time is kept only where it lies between its neighbours' (a copy handed over after the frame left the
        /// egress port is not when the frame crossed).
        var isBridgeCopy = false
    }

    /// A hop's directions when it has one: shared arrays, one per direction (a new one-element array was an
    /// allocation per hop; a second direction copies it on write).
    static let singleDirections: [[PacketDirection]] = [[.unknown], [.inbound], [.outbound]]

    static func only(_ direction: PacketDirection) -> [PacketDirection] {
        singleDirections[Int(direction.rawValue)]
    }

    /// The capture points of one connection, in path order, with the delays between them.
    func makeHops(_ facts: PathFacts, connection: Int, exchange: HTTPExchange?) -> [Hop] {
        var hops: [Hop] = []
        var marks: [HopMarks] = []
        // What the first hop was entered with (the client's own view): the translation of each later hop is from the
        // hop before it.
        var entering: (FlowEndpoint, FlowEndpoint)?
        let client = facts.client
        let raw = exchange?.requestFirstByte.flatMap { client.clientRaw($0.offset) }
        let exchangeIndex = exchange?.index
        hops.reserveCapacity(facts.sightings.count)
        // The marks time the delays between hops: a path of one sighting (most) has none to time.
        let timesDelays = facts.sightings.count > 1
        if timesDelays { marks.reserveCapacity(facts.sightings.count) }
        for (sighting, evidence) in zip(facts.sightings, facts.evidence) {
            // The exchange as seen here, read in place (three of its marks; no copy of it, nor a retain).
            let position = exchangeIndex.flatMap { sighting.position(ofExchangeStartingAt: raw, index: $0) }
            let seenHere = position != nil
            let requestLast = position.flatMap { sighting.exchanges[$0].requestLastByte }
            let responseFirst = position.flatMap { sighting.exchanges[$0].responseFirstByte }
            let responseLast = position.flatMap { sighting.exchanges[$0].responseLastByte }
            let retransmissions =
                sighting.record.originatorSummary.retransmissions + sighting.record.responderSummary.retransmissions
            let synCount = sighting.record.synTime == nil ? 0 : 1 + sighting.record.synRetransmissions
            if var last = hops.last, last.point == sighting.point {
                if !last.directions.contains(sighting.direction) { last.directions.append(sighting.direction) }
                last.source = sighting.client
                last.destination = sighting.server
                last.synCount = max(last.synCount, synCount)
                last.retransmissions = max(last.retransmissions, retransmissions)
                last.sawResponse = last.sawResponse || responseFirst != nil
                hops[hops.count - 1] = last
                continue
            }
            hops.append(
                Hop(
                    point: sighting.point,
                    directions: Self.only(sighting.direction),
                    source: sighting.client,
                    destination: sighting.server,
                    encapsulation: sighting.record.originatorFirst?.tunnel.map {
                        Encapsulation(
                            kind: $0.kind.description,
                            outerSource: $0.outerSrc,
                            outerDestination: $0.outerDst
                        )
                    },
                    evidence: evidence,
                    connection: connection,
                    firstSeen: corrected(sighting.start, sighting),
                    handshakeRTT: sighting.record.synTime.flatMap { syn in
                        sighting.record.synAckTime.map { Clock.elapsed($0, syn) }
                    },
                    synCount: synCount,
                    retransmissions: retransmissions,
                    sawRequest: exchange == nil
                        ? (sighting.record.synTime != nil || sighting.hasClientPackets) : seenHere,
                    sawResponse: exchange == nil ? sighting.record.synAckTime != nil : responseFirst != nil
                )
            )
            if entering == nil { entering = (sighting.client, sighting.server) }
            guard timesDelays else { continue }
            var mark = HopMarks()
            mark.isBridgeCopy = evidence == .bridge && topology.kind(of: sighting.point) == .bridge
            mark.syn = sighting.record.synTime.map { corrected($0, sighting) }
            if let last = requestLast {
                mark.request = (sighting.clientRaw(last.offset), corrected(last.time, sighting))
            } else if exchange == nil, let last = sighting.record.originatorSummary.lastData {
                mark.request = (sighting.clientRaw(last.offset), corrected(last.time, sighting))
            }
            if let last = responseLast {
                mark.response = (sighting.serverRaw(last.offset), corrected(last.time, sighting))
            } else if exchange == nil, let last = sighting.record.responderSummary.lastData {
                mark.response = (sighting.serverRaw(last.offset), corrected(last.time, sighting))
            }
            marks.append(mark)
        }
        // Delays between consecutive hops that saw the same mark: the SYN and the request toward the server, the
        // response toward the client. A bridge copy out of step with its neighbours is skipped: the next hop is
        // timed from the one before it.
        // Written into the hops as found (most paths have one hop, and so no delay at all).
        func delays(
            _ time: (HopMarks) -> (raw: UInt32?, time: Int64)?,
            towardServer: Bool,
            into field: WritableKeyPath<Hop, Int64?>
        ) {
            var previous: (raw: UInt32?, time: Int64)?
            for index in marks.indices {
                guard let here = time(marks[index]) else {
                    previous = nil
                    continue
                }
                if marks[index].isBridgeCopy {
                    let next = index + 1 < marks.count ? time(marks[index + 1]) : nil
                    let inStep: Bool
                    if let previous, let next {
                        inStep =
                            towardServer
                            ? previous.time <= here.time && here.time <= next.time
                            : next.time <= here.time && here.time <= previous.time
                    } else {
                        inStep = false
                    }
                    guard inStep else { continue }
                }
                if let before = previous, before.raw == here.raw {
                    hops[index][keyPath: field] =
                        towardServer ? Clock.elapsed(here.time, before.time) : Clock.elapsed(before.time, here.time)
                }
                previous = here
            }
        }
        if marks.count > 1 {
            delays({ $0.syn.map { (raw: nil, time: $0) } }, towardServer: true, into: \.synDelay)
            delays(\.request, towardServer: true, into: \.requestDelay)
            delays(\.response, towardServer: false, into: \.responseDelay)
        }
        for i in hops.indices {
            guard let before = i == 0 ? entering : (hops[i - 1].source, hops[i - 1].destination) else { continue }
            hops[i].translation = Self.translation(from: before, to: (hops[i].source, hops[i].destination))
        }
        return hops
    }

    /// The translation between two views of one connection's client-to-server addresses.
    static func translation(from a: (FlowEndpoint, FlowEndpoint), to b: (FlowEndpoint, FlowEndpoint)) -> Translation {
        switch (a.1 != b.1, a.0 != b.0) {
        case (true, true): return .dnatSnat
        case (true, false): return .dnat
        case (false, true): return .snat
        case (false, false): return .none
        }
    }

    // MARK: Names

    /// The names of every address of the trace, keyed as ``RequestTrace/names`` documents.
    func names(of trace: RequestTrace) -> [String: AddressName] {
        // Without cluster state, before anything named an address (a capture without DNS answers, proxies or node
        // addresses learned): nothing to look up.
        if directory.namesNothing { return [:] }
        // Each endpoint once, in the order first named (a lookup's queries name the same two many times over); the
        // transport as a flag, so that the list holds no references to copy as it is searched.
        var endpoints: [(endpoint: FlowEndpoint, udp: Bool)] = []
        endpoints.reserveCapacity(8)
        func add(_ endpoint: FlowEndpoint, udp: Bool) {
            if !endpoints.contains(where: { $0.endpoint == endpoint && $0.udp == udp }) {
                endpoints.append((endpoint, udp))
            }
        }
        let udp = trace.kind == .dns
        if let client = trace.client { add(client, udp: udp) }
        if let service = trace.service { add(service, udp: udp) }
        if let server = trace.server { add(server, udp: udp) }
        for hop in trace.hops {
            add(hop.source, udp: false)
            add(hop.destination, udp: false)
        }
        let queries = trace.dns?.queries ?? []
        for query in queries {
            add(query.client, udp: query.transport != .tcp)
            add(query.server, udp: query.transport != .tcp)
        }
        // The first name given for each key wins; kept in a list (a trace has a few) and made a dictionary once.
        var named: [(key: String, name: AddressName)] = []
        func note(_ key: String, _ name: AddressName) {
            if !named.contains(where: { $0.key == key }) { named.append((key, name)) }
        }
        for (endpoint, udp) in endpoints {
            // The address and port's name where the port matters (a Service port, a NodePort, a host-network pod),
            // else the address's alone.
            // The keys are spelled only for addresses that have a name (most have none).
            let byAddress = directory.name(ofAddress: endpoint.address)
            if let name = directory.name(of: endpoint, transport: udp ? "UDP" : "TCP"), name != byAddress {
                note(endpoint.description, name)
            }
            if let byAddress { note(endpoint.address.description, byAddress) }
        }
        if let answer = trace.dns?.answer, let name = directory.name(ofAddress: answer) {
            note(answer.description, name)
        }
        guard !named.isEmpty else { return [:] }
        var names = [String: AddressName](minimumCapacity: named.count)
        for (key, name) in named { names[key] = name }
        return names
    }
}

/// The texts of findings that say the same for every trace, made once: a trace holds a reference to them, not a copy
/// of its own (under a flood of connections given up, every trace carries one).
enum FixedText {
    static let handshakeNotCaptured = "the capture began after this connection opened: its handshake was not captured"
    static let httpNotVisible =
        "the capture holds only the first bytes of each packet (snap length): HTTP was not visible, so the "
        + "request was judged from TCP alone"
    static let headTruncated = "a head was longer than hoptrace keeps; what was kept is shown"
    static let takenUpAgain = takenUp + "is not in this trace"
    static let takenUpAndGivenUp = takenUp + "and what came after it are not in this trace"
    static let givenUp =
        "hoptrace gave this connection up before it ended, to stay within its cap on connections held at "
        + "once: what came after is not in this trace"
    private static let takenUp =
        "hoptrace gave this connection up (to stay within its cap on connections held at once) and took it "
        + "up again mid-stream: what came before this piece, its handshake included, "
}
