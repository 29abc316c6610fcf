import HoptraceCapture
import HoptraceDecode
import HoptraceFlows
import HoptraceKube

/// Turns the flow stage's records into traced requests, as a stream: records in, traces out as soon as nothing later
/// in the capture can change them, in start order. Memory is bounded by what is open (connections in progress, the
/// last seconds of DNS, the traces waiting for their turn), not by the length of the capture.
///
/// Feed every ``FlowEvent`` with ``take(_:)`` (the flow stage configured with ``FlowConfiguration/emitOpened``, so
/// that open connections are known), call ``advance(to:)`` with the capture time reached (the flow stage's clock),
/// and ``finish()`` at the end. Each returns the traces that became final, in start order, with their index.
///
/// Not thread-safe: one engine per flow stage.
public final class TraceEngine {
    /// The settings in use.
    public let options: CorrelateOptions
    /// What addresses are: declared and learned.
    public let directory: ClusterDirectory
    /// The counters so far.
    public private(set) var statistics = CorrelateStatistics()

    /// Connections held now (stitched across capture points, not traced yet).
    public var openConnections: Int { groups.count }

    /// Live: the HTTP exchanges begun on a connection still open and not emitted yet by the flow stage (a request
    /// waiting for its response), for a request judged before its connection closed.
    public var pendingExchanges: ((ConnectionRecord) -> [HTTPExchange])?

    let topology = Topology()
    private var capturePoint: (Int) -> CapturePoint
    private var groups = IDTable<Int, ConnectionGroup>()
    /// The sightings the groups hold, all together, capped at ``CorrelateOptions/maxHeldRecords``: a
    /// connection seen at a hundred capture points holds a hundred records, each as large as a connection seen at
    /// one, and the cap on connections alone would let them hold 256 times as much. Twice, because a group holds
    /// the flow stage's open records (at most its cap) and those closed while it settles (a busy node's capture at
    /// 16,000 concurrent connections seen at three points: 73,000 at most).
    private var heldSightings = 0
    private var nextGroupID = 0
    /// Group ids in the order they were opened (ids of groups gone since are skipped): the oldest is evicted first.
    private var creation: [Int] = []
    private var creationHead = 0
    /// Where each flow record id stands (one lookup per record, whichever it is). Record and group ids are numbered
    /// here and in the flow stage, never taken from the wire: ``IDTable``.
    private var places = IDTable<UInt64, RecordPlace>()
    private var byClientISN: [UInt32: CandidateList] = [:]
    private var byServerISN: [UInt32: CandidateList] = [:]
    /// The connections of ``byServerISN`` that held only replies when their server ISN was learned: the only ones
    /// ``adoptReplies(into:serverISN:)`` can adopt (a connection that held more never holds only replies again), so
    /// that it does not look through every connection with the ISN (a fixed ISN lists 64 for each).
    private var repliesByServerISN: [UInt32: CandidateList] = [:]
    private var byMidstream: [MidstreamKey: CandidateList] = [:]
    private var orphanExchanges: [UInt64: [HTTPExchange]] = [:]
    private var dns: DNSStore
    private var icmp = ICMPErrors()
    private var onward = OnwardIndex()
    /// When each address last received a request's first bytes as a server (reference clock): a client that had
    /// just been sent a request may be forwarding it (an L7 proxy not learned yet), and its connection waits for
    /// the inbound one to claim it.
    private var served: [IPAddress: Int64] = [:]
    /// Live (``CorrelateOptions/proxyHold`` longer than ``CorrelateOptions/settle``): connections traced in the last
    /// hold period, by group id, so that an inbound request judged later still finds the onward exchange it caused.
    private var retired: [Int: (group: ConnectionGroup, at: Int64)] = [:]
    /// Traces judged and waiting for their turn, by start (sorted when ``pendingSorted``); the traces themselves sit
    /// in ``held`` so that sorting and releasing move small entries, not traces.
    private var pending: [Pending] = []
    private var held: [RequestTrace?] = []
    private var freeSlots: [Int] = []
    private var wheel = DueWheel()
    private var lastExpiry: Int64 = .min
    /// Tuples of connections the flow stage gave up at its cap: their later pieces begun mid-stream are continuations.
    private var givenUpTuples = GivenUpTuples()
    private var pendingSorted = true
    private var nextIndex = 0
    private var watermark: Int64 = .min
    /// The latest time of anything taken (see ``Diagnosis/latestSeen``).
    private var latestSeen: Int64 = .min
    private var lastDue: Int64 = .min

    /// An engine. `capturePoint` names a flow-stage capture point id (it may learn new ids as the capture goes).
    public init(
        options: CorrelateOptions = .init(),
        directory: ClusterDirectory = ClusterDirectory(),
        capturePoint: @escaping (Int) -> CapturePoint
    ) {
        self.options = options
        self.directory = directory
        self.capturePoint = capturePoint
        self.dns = DNSStore(stableDelay: options.dnsStableDelay, capturePoint: capturePoint)
    }

    /// Clock corrections per node (subtracted from that node's times), estimated from the packets seen on two nodes
    /// as the capture goes (``ClockOffsetEstimator``); empty for one node.
    public private(set) var clockOffsets: [ClockOffset] = []
    private var clocks = ClockOffsetEstimator()

    /// Kinds of capture points declared by `ip -j link` (master, kind), by interface name.
    public func declareKinds(_ kinds: [String: PointKind]) {
        topology.declaredKinds.merge(kinds) { _, new in new }
    }

    // MARK: Input

    /// Takes one flow record.
    public func take(_ event: FlowEvent) {
        statistics.records += 1
        // One switch: a record is bound (copied) once per event, not once per question asked of it.
        switch event {
        case .opened(let record):
            takeOpened(record)
        case .connection(let record):
            takeFinal(record)
        case .http(var exchange):
            latestSeen = max(latestSeen, Self.end(of: exchange))
            let place = places[exchange.connectionID]
            if case .finished = place { return }
            if case .group(let id) = place, let group = groups[id],
                let position = group.sightings.firstIndex(where: { $0.record.id == exchange.connectionID })
            {
                // Each request, not only a connection's first, says its server was just sent one (keep-alive
                // connections to a proxy carry many).
                noteServed(group.sightings[position], exchange)
                shareHeads(&exchange, in: group, at: position)
                if group.quietJudgedAt != nil, group.sightings[position].exchanges.last?.index == exchange.index {
                    // Live: the request judged while it waited (from the flow stage's pending exchanges), now
                    // whole: the newer view replaces it (it stays traced).
                    group.sightings[position].exchanges[group.sightings[position].exchanges.count - 1] = exchange
                } else {
                    group.sightings[position].exchanges.append(exchange)
                }
                group.lastActivity = max(group.lastActivity, Self.end(of: exchange))
                if exchange.isResponseComplete {
                    let due = Clock.plus(Self.end(of: exchange), options.settle)
                    group.nextExchangeDue = min(group.nextExchangeDue ?? due, due)
                }
                schedule(group)
                index(exchange, group: group, sighting: group.sightings[position])
                if group.sightings[position].exchanges.count > options.maxExchangesPerConnection {
                    trimExchanges(of: group)
                }
            } else if exchange.request == nil, options.liveness == nil,
                givenUpTuples.contains(capturePoint: exchange.capturePoint, exchange.client, exchange.server)
            {
                // Files: a response alone on a connection the flow stage gave up, before the piece it came in was
                // taken (a piece with only the server's packets waits for its final record): its request was in
                // the piece given up, and traced from there as given up before its response. Not kept; the piece
                // is counted when its final record comes, unless it holds more.
            } else {
                orphanExchanges[exchange.connectionID, default: []].append(exchange)
                if let count = orphanExchanges[exchange.connectionID]?.count, count > options.maxExchangesPerConnection
                {
                    // Exchanges of a connection not seen yet: the oldest go (counted), as they would be traced.
                    let excess = count - (options.maxExchangesPerConnection - options.maxExchangesPerConnection / 8)
                    orphanExchanges[exchange.connectionID]?.removeFirst(excess)
                    statistics.evictedExchanges += excess
                }
            }
        case .dns(let transaction):
            latestSeen = max(latestSeen, transaction.responseTime ?? transaction.queryTime ?? .min)
            if transaction.isEvicted, transaction.responseTime == nil {
                // Given up unanswered by the flow stage (at its cap on pending transactions): its outcome is not known
                // and cannot be. Counted, and not part of any lookup, so that a flood of queries costs what counting
                // does.
                statistics.untracedQueries += 1
                return
            }
            let point = capturePoint(transaction.capturePoint)
            // A lookup is a conversation too: it tells which address lives behind which point.
            topology.note(
                point: transaction.capturePoint,
                capturePoint: point,
                group: -1 - (Int(transaction.client.port) << 16 | Int(transaction.id)),
                transaction.client.address,
                transaction.server.address
            )
            statistics.evictedQueries += dns.take(transaction, cap: options.maxQueriesPerClient)
            if let question = transaction.question, !transaction.answers.isEmpty,
                let service = ClusterDirectory.serviceRef(dnsName: question.name.lowercased())
            {
                for answer in transaction.answers {
                    if case .address(let address) = answer.data {
                        directory.learnDNSAnswer(service: service, address: address)
                    }
                }
            }
        case .icmpError(let event):
            latestSeen = max(latestSeen, event.time)
            let record = ICMPRecord(event: event, point: capturePoint(event.capturePoint))
            icmp.append(record)
            if icmp.count > options.maxICMPErrors {
                // A flood of ICMP errors: the earliest half kept is forgotten (counted), once per half a cap of
                // errors, not per error.
                statistics.shedICMPErrors += icmp.shed(to: options.maxICMPErrors / 2)
            }
            if event.quotedProtocol == .tcp || event.quotedProtocol == .udp, event.type == 3 || event.type == 1 {
                // Unreachable from an address that is not the quoted destination: the node rejecting it.
                if event.sender != event.quotedDestination.address {
                    directory.learnNodeAddress(event.sender)
                    if (event.type == 3 && event.code == 3) || (event.isV6 && event.type == 1 && event.code == 4) {
                        directory.learnRejected(event.quotedDestination)
                    }
                }
            }
        case .segment:
            break
        }
    }

    /// Notes that a record's server was sent data (a request's first bytes), on the reference clock.
    private func noteServed(_ record: ConnectionRecord) {
        guard let first = record.originatorSummary.firstData else { return }
        noteServed(record.responder.address, at: first.time, node: capturePoint(record.capturePoint).node)
    }

    /// The server's ISN, once a newer record of one of `group`'s sightings shows it: listed, and the replies caught
    /// half translated before it adopted.
    private func learnServerISN(of group: ConnectionGroup, at index: Int) {
        guard group.serverISN == nil, let isn = group.sightings[index].serverISN else { return }
        listServerISN(isn, of: group)
        adoptReplies(into: group, serverISN: isn)
    }

    /// Lists `group` under its server ISN, just learned (and among the replies, when it holds nothing else).
    private func listServerISN(_ isn: UInt32, of group: ConnectionGroup) {
        group.serverISN = isn
        Self.note(group.id, in: &byServerISN[isn])
        if group.sightings.allSatisfy(\.isReplyOnly) { Self.note(group.id, in: &repliesByServerISN[isn]) }
    }

    /// A provisional record: a connection still open at a capture point.
    private func takeOpened(_ record: ConnectionRecord) {
        latestSeen = max(latestSeen, record.endTime)
        let place = places[record.id]
        if case .finished = place { return }
        noteServed(record)
        if case .group(let id) = place, let group = groups[id],
            let index = group.sightings.firstIndex(where: { $0.record.id == record.id })
        {
            // A newer provisional record of a connection still open there.
            group.sightings[index].record = record
            group.lastActivity = max(group.lastActivity, record.endTime)
            learnServerISN(of: group, at: index)
        } else if options.liveness == nil, record.synAckTime == nil, record.isBare {
            // Files: a connection with nothing yet but its client's packets without payload (an unanswered SYN,
            // bare ACKs) is taken when it is answered, carries data or ends (its final record); a flood of
            // unanswered SYNs then costs one record each, not two. Live tracing judges a SYN by its provisional
            // records, so it takes them all. (Over files, ``Correlator`` does not even ask the flow stage for these:
            // ``FlowConfiguration/emitBareOpened``; records from elsewhere, such as the store's, may still hold them.)
        } else if options.liveness == nil, record.isQuiet {
            // Files: a connection where neither side has sent payload, a FIN or a reset yet (a handshake, bare ACKs)
            // is taken at the record that carries more, or at its final record: a flood of half-open or idle
            // connections then makes no connection of each in the correlator until it carries something. (Over
            // files, ``Correlator`` does not ask for these: ``FlowConfiguration/emitQuietOpened``.) Nothing is
            // judged earlier for it: path order does not depend on when a sighting joined its connection.
        } else if options.liveness == nil, isServerOnly(record) {
            // Files: a piece with only the server's packets and no reset (a SYN-ACK or a response, where only
            // replies pass, or after the flow stage gave its connection up) waits for its final record too: a flood
            // of connections given up then makes no connection of these pieces, which carry no request. (Over files,
            // ``Correlator`` does not ask for these either: ``FlowConfiguration/emitServerOnlyOpened``.)
        } else {
            attach(record, isFinal: false)
        }
    }

    /// A final record: a connection closed (or given up) at a capture point.
    private func takeFinal(_ record: ConnectionRecord) {
        latestSeen = max(latestSeen, record.endTime)
        // The final record is a connection's last event (its exchanges come before it): forgotten with it,
        // so a flood of connections traced before they ended is not remembered for minutes.
        let place = places[record.id]
        if case .finished = place {
            places[record.id] = nil
            return
        }
        noteServed(record)
        if record.endReason == .evicted {
            statistics.evictedFlows += 1
            // What follows an unanswered SYN begins again (a SYN-ACK, a SYN): only pieces that got further are
            // noted for their continuations (a SYN flood then costs no table writes).
            if record.synTime == nil || record.synAckTime != nil || record.responderSummary.packets > 0
                || record.originatorSummary.firstData != nil
            {
                givenUpTuples.insert(record)
            }
        }
        if case .group(let id) = place, let group = groups[id],
            let index = group.sightings.firstIndex(where: { $0.record.id == record.id })
        {
            if !group.sightings[index].isFinal { group.open -= 1 }
            group.sightings[index].record = record
            group.sightings[index].isFinal = true
            group.lastActivity = max(group.lastActivity, record.endTime)
            schedule(group)
            learnServerISN(of: group, at: index)
        } else if record.endReason == .evicted, isEmptyPiece(record) {
            // Given up by the flow stage with nothing in it and nothing here to join: counted at once.
            statistics.untracedPieces += 1
        } else if isLoneGivenUpPiece(record) {
            // A piece of a connection given up that would be a connection of its own and a given-up piece
            // (``isGivenUpPiece(_:)``) when judged: counted at once.
            orphanExchanges[record.id] = nil
            statistics.untracedPieces += 1
        } else {
            attach(record, isFinal: true)
        }
    }

    /// Advances capture time to `now`: traces what can no longer change and returns the traces whose turn came.
    public func advance(to now: Int64) -> [RequestTrace] {
        if now > watermark { watermark = now }
        // Checking every connection costs what is open; do it once per capture second.
        guard Clock.since(watermark, lastDue) >= options.tick || pending.count > options.maxPendingTraces else {
            return []
        }
        lastDue = watermark
        finalizeDue()
        return release(upTo: Clock.since(watermark, options.reorderWindow), holdRetries: false)
    }

    /// Whether more traces wait for their turn than ``CorrelateOptions/maxPendingTraces`` allows (by an eighth): a
    /// flood of connections traced between two clock ticks. Call ``releaseOverflow()`` then.
    public var isOverfull: Bool {
        pending.count > options.maxPendingTraces + max(1, options.maxPendingTraces / 8)
            || dns.count > options.maxHeldQueries + max(1, options.maxHeldQueries / 8)
    }

    /// The earliest traces held, down to seven eighths of the cap (counted in
    /// ``CorrelateStatistics/evictedPending``): they go out before their turn rather than hold memory without bound.
    public func releaseOverflow() -> [RequestTrace] {
        if dns.count > options.maxHeldQueries {
            // A flood of lookups: judged now, the oldest released, down to seven eighths of the cap (counted).
            let shed = dns.shed(to: options.maxHeldQueries - options.maxHeldQueries / 8)
            statistics.shedQueries += shed.queries
            for lookup in shed.lookups { queue(Assembly(lookup: lookup)) }
        }
        return release(
            upTo: Clock.since(watermark, options.reorderWindow),
            holdRetries: false,
            keep: options.maxPendingTraces - options.maxPendingTraces / 8
        )
    }

    /// The input ended: traces everything still open and returns every trace not returned yet.
    public func finish() -> [RequestTrace] {
        var traces: [RequestTrace] = []
        finish { traces += $0 }
        return traces
    }

    /// The input ended: traces everything still open, handing the traces to `emit` in start order, a batch at a
    /// time, as soon as no connection left can start earlier; what is held at once is a batch of connections and
    /// the traces waiting for the earlier ones, not everything that was open.
    public func finish(_ emit: ([RequestTrace]) -> Void) {
        dns.build(upTo: .max)
        // Ties in time by creation order, not by the dictionary's (per-process) order.
        let order = groups.values.sorted { ($0.firstTime, $0.id) < ($1.firstTime, $1.id) }
        // The earliest a trace of the connections from each position on can start (a connection's trace starts at
        // its client's first packet on the reference clock, or at the lookup it claims, which the DNS store bounds).
        var earliest = [Int64](repeating: .max, count: order.count + 1)
        for index in order.indices.reversed() {
            let group = order[index]
            var start = group.firstTime
            for sighting in group.sightings {
                start = min(start, topology.corrected(sighting.start, node: sighting.point.node))
            }
            if let lookup = group.lookup { start = min(start, lookup.start) }
            earliest[index] = min(earliest[index + 1], start)
        }
        // An inbound request claims its onward one: a connection from an address that is itself sent requests
        // (perhaps a proxy, its upstream connection reused and so begun long before) is traced after the
        // connections to that address that began before its last packet. Each list is walked once, by a cursor.
        var inbound: [IPAddress: (groups: [ConnectionGroup], next: Int)] = [:]
        if !served.isEmpty {
            // Under each address its server has at any point: a Service address where the client sent it, the
            // proxy's own after the DNAT.
            var addresses: [IPAddress] = []
            for group in order {
                addresses.removeAll(keepingCapacity: true)
                for sighting in group.sightings where !sighting.isReplyOnly {
                    let address = sighting.server.address
                    guard served[address] != nil, !addresses.contains(address) else { continue }
                    addresses.append(address)
                    inbound[address, default: ([], 0)].groups.append(group)
                }
            }
        }
        let size = max(1, options.finishBatch)
        var next = 0
        while next < order.count {
            let end = min(next + size, order.count)
            for group in order[next..<end] where groups[group.id] === group {
                if !inbound.isEmpty, let client = group.clientSide,
                    var waiting = inbound[client.client.address]
                {
                    while waiting.next < waiting.groups.count,
                        waiting.groups[waiting.next].firstTime <= group.lastActivity
                    {
                        let other = waiting.groups[waiting.next]
                        waiting.next += 1
                        if other !== group, groups[other.id] === other { finalize(other, final: true) }
                    }
                    inbound[client.client.address] = waiting
                }
                finalize(group, final: true)
            }
            next = end
            guard next < order.count else { break }
            // Lookups no connection left can claim (they ended more than the claim window before its start).
            for lookup in dns.release(
                now: Clock.since(Clock.since(earliest[next], options.dnsToConnectWindow), 1_000_000),
                retention: 0
            ) {
                queue(Assembly(lookup: lookup))
            }
            // A clock offset learned while tracing shifts later starts a little: keep a second's margin.
            let horizon = Clock.since(min(earliest[next], dns.earliestHeldStart()), 1_000_000_000)
            let ready = release(upTo: horizon, holdRetries: true)
            if !ready.isEmpty { emit(ready) }
        }
        // The lookups no connection claimed, in start order, a batch at a time (a flood of them is many).
        let lookups = dns.release(now: .max, retention: 0)
        var first = 0
        while first < lookups.count {
            let end = min(first + size, lookups.count)
            for lookup in lookups[first..<end] { queue(Assembly(lookup: lookup)) }
            first = end
            guard first < lookups.count else { break }
            let ready = release(upTo: Clock.since(lookups[first].start, 1), holdRetries: true)
            if !ready.isEmpty { emit(ready) }
        }
        let rest = release(upTo: .max, holdRetries: false)
        if !rest.isEmpty { emit(rest) }
    }

    // MARK: Stitching

    /// Puts a record into the connection it belongs to, or a new one.
    private func attach(_ record: ConnectionRecord, isFinal: Bool) {
        let point = capturePoint(record.capturePoint)
        var sighting = Sighting(record: record, isFinal: isFinal, point: point, pointID: record.capturePoint)
        if !orphanExchanges.isEmpty, let orphans = orphanExchanges.removeValue(forKey: record.id) {
            sighting.exchanges = orphans
        }
        let found = findGroup(for: sighting)
        let group = found ?? newGroup(for: sighting)
        group.sightings.append(sighting)
        heldSightings += 1
        if found != nil { enforceCap(sparing: group) }
        if record.synTime == nil, record.synAckTime == nil, givenUpTuples.contains(record) {
            group.continuesGivenUp = true
        }
        if !isFinal { group.open += 1 }
        group.lastActivity = max(group.lastActivity, record.endTime)
        group.firstTime = min(group.firstTime, sighting.start)
        schedule(group)
        places[record.id] = .group(group.id)
        if group.clientISN == nil, let isn = sighting.clientISN {
            group.clientISN = isn
            Self.note(group.id, in: &byClientISN[isn])
        }
        if group.serverISN == nil, let isn = sighting.serverISN {
            listServerISN(isn, of: group)
            if !sighting.isReplyOnly { adoptReplies(into: group, serverISN: isn) }
        }
        if let key = MidstreamKey(sighting.record) {
            Self.note(group.id, in: &byMidstream[key])
        }
        topology.note(
            point: record.capturePoint,
            capturePoint: point,
            group: group.id,
            record.originator.address,
            record.responder.address
        )
        if group.sightings.contains(where: { $0.pointID == record.capturePoint && $0.record.id != record.id }) {
            topology.noteRouter(record.capturePoint)
        }
        for exchange in sighting.exchanges { index(exchange, group: group, sighting: sighting) }
    }

    /// The most connections listed under one ISN (or one tuple begun mid-stream) for the sightings still to come to be
    /// matched with: the latest. NAT's views of a connection come within milliseconds of each other, while a scanner's
    /// fixed ISN lists every connection it makes; only the latest are candidates, and a list costs what it holds.
    static let candidatesPerKey = 64
    /// The most sightings joined into one connection.
    static let sightingsPerConnection = 256
    /// The most client addresses one connection is seen with (before and after source NAT, with a margin).
    static let clientAddressesPerConnection = 4

    static func note(_ id: Int, in list: inout CandidateList?) {
        CandidateList.note(id, in: &list, cap: candidatesPerKey)
    }

    /// Moves the sightings of replies caught half translated (only the server's packets, the same server ISN),
    /// that arrived before the connection's server ISN was known, into the connection.
    private func adoptReplies(into group: ConnectionGroup, serverISN: UInt32) {
        guard let listed = repliesByServerISN[serverISN] else { return }
        for id in listed where id != group.id {
            guard let other = groups[id], other.sightings.allSatisfy(\.isReplyOnly),
                consistent(other.sightings[0], with: group)
            else { continue }
            for sighting in other.sightings {
                group.sightings.append(sighting)
                places[sighting.record.id] = .group(group.id)
                if !sighting.isFinal { group.open += 1 }
            }
            group.lastActivity = max(group.lastActivity, other.lastActivity)
            groups[id] = nil
            CandidateList.unnote(id, in: &byServerISN[serverISN])
            CandidateList.unnote(id, in: &repliesByServerISN[serverISN])
        }
    }

    private func newGroup(for sighting: Sighting) -> ConnectionGroup {
        let group = ConnectionGroup(id: nextGroupID, firstTime: sighting.start)
        nextGroupID += 1
        groups[group.id] = group
        creation.append(group.id)
        statistics.connections += 1
        if groups.count > statistics.peakOpenConnections { statistics.peakOpenConnections = groups.count }
        enforceCap(sparing: group)
        // Ids of groups traced since are dropped once they are most of the list, and the ids passed by the cap once
        // they are half of it (amortized constant work; else a flood grows the list by every connection it made).
        if creation.count - creationHead > 2 * groups.count + 4_096 || creationHead > creation.count / 2 + 4_096 {
            creation = creation[creationHead...].filter { groups[$0] != nil }
            creationHead = 0
        }
        return group
    }

    /// Past the cap (on connections, or on the sightings they hold), the connection opened longest ago is traced
    /// with what is known, `group` (which a sighting has just joined) excepted: constant work per new sighting (the
    /// ids in opening order, those gone since skipped), never a scan of what is open.
    private func enforceCap(sparing group: ConnectionGroup) {
        var spared = false
        while groups.count > options.maxOpenConnections || heldSightings > options.maxHeldRecords,
            creationHead < creation.count
        {
            let id = creation[creationHead]
            creationHead += 1
            if id == group.id {
                // Spared, and kept in the list (at its end: it has just been joined or opened). Met a second time,
                // it is all the list holds: nothing else to judge.
                creation.append(id)
                if spared { break }
                spared = true
                continue
            }
            guard let victim = groups[id] else { continue }
            // A connection that had closed both ways (a FIN each way, or a reset) at every point that saw it has
            // ended: what may still come of it is its final records, which add nothing but late retransmissions.
            // Judged now, it is whole, and not said to be given up.
            if victim.sightings.contains(where: { !$0.record.isClosedBothWays }) {
                statistics.evictedConnections += 1
                victim.evicted = true
            }
            finalize(victim, final: true)
        }
    }

    /// The connection a sighting belongs to: same client ISN (or server ISN, or raw sequence numbers without a
    /// handshake), consistent in time, in IP identification and in the translations the capture shows.
    private func findGroup(for sighting: Sighting) -> ConnectionGroup? {
        findGroup(for: sighting, among: candidates(for: sighting.record))
    }

    /// ``findGroup(for:)`` among candidates already listed (``candidates(for:)``).
    private func findGroup(for sighting: Sighting, among candidates: CandidateList?) -> ConnectionGroup? {
        guard let candidates else { return nil }
        for id in candidates.reversed() {
            guard let group = groups[id] else { continue }
            if consistent(sighting, with: group) { return group }
        }
        return nil
    }

    /// The connections a sighting may belong to, by the first key it has: its client ISN (or the one its reset
    /// answers), its server ISN, or its raw sequence numbers without a handshake; the latest last.
    private func candidates(for record: ConnectionRecord) -> CandidateList? {
        if let isn = record.clientISN {
            return byClientISN[isn]
        } else if let isn = record.answeredISN {
            return byClientISN[isn]
        } else if let isn = record.serverISN {
            return byServerISN[isn]
        } else if let key = MidstreamKey(record) {
            return byMidstream[key]
        }
        return nil
    }

    /// Whether `sighting` is the same connection as `group`'s sightings.
    func consistent(_ sighting: Sighting, with group: ConnectionGroup) -> Bool {
        // A connection crosses a few points per node; hundreds of views are not one connection (and each join would
        // cost them all).
        guard group.sightings.count < Self.sightingsPerConnection else { return false }
        // The rules are all required; the ones that cost no allocation come first (a scanner's fixed ISN lists 64
        // candidates for every connection, and the rule of one point rejects each of them).
        for other in group.sightings {
            if let a = sighting.serverISN, let b = other.serverISN, a != b { return false }
            if other.pointID == sighting.pointID, other.client == sighting.client, other.server == sighting.server {
                // The same addresses twice at one point: a new connection reusing the ISN (nmap, a stack reusing it).
                return false
            }
            if other.pointID == sighting.pointID, other.server == sighting.server,
                other.client.address != sighting.client.address, sighting.clientISN != nil, other.clientISN != nil
            {
                // At one point, the same server from another client address is a translated view (SNAT seen twice
                // where interfaces are not told apart) only when it is the same packet, by its IP identification:
                // else another connection with the same ISN (a scanner's fixed ISN), never a NAT invented.
                guard let mine = sighting.record.originatorFirst?.ipID, mine != 0,
                    other.record.originatorFirst?.ipID == mine
                else { return false }
            }
        }
        // NAT gives a connection a client address or two more (MASQUERADE, a node's overlay address), never dozens:
        // distinct connections that share their ISNs, seen at many points, are not views of one.
        if !group.sightings.contains(where: { $0.client.address == sighting.client.address }) {
            var clients = Set<IPAddress>()
            for other in group.sightings { clients.insert(other.client.address) }
            if clients.count >= Self.clientAddressesPerConnection { return false }
        }
        // Close in time: within the SYN retransmissions (plus clock offsets between nodes), else a minute.
        let window: Int64 = 2_000_000_000
        let time = topology.corrected(sighting.start, node: sighting.point.node)
        let anchor = group.sightings.first { $0.clientISN != nil } ?? group.sightings[0]
        let anchorTime = topology.corrected(anchor.start, node: anchor.point.node)
        let near =
            group.sightings.contains { other in
                other.synTimes.contains { syn in
                    Clock.since(topology.corrected(syn, node: other.point.node), time).magnitude <= window
                }
            }
            || Clock.since(anchorTime, time).magnitude <= (sighting.clientISN == nil ? 60_000_000_000 : window)
        guard near else { return false }
        // A translated view of the same packet keeps its IP identification (NAT rewrites addresses, not the ID).
        if sighting.clientISN != nil, let mine = sighting.record.originatorFirst, mine.ipID != 0 {
            let translated = group.sightings.lazy.filter {
                $0.clientISN != nil && ($0.client != sighting.client || $0.server != sighting.server)
            }
            let same = group.sightings.contains { $0.client == sighting.client && $0.server == sighting.server }
            if !same, !translated.isEmpty {
                // Only translated views so far: the first SYN must be the same packet (same IP ID), unless one of
                // the two saw only a retransmission (its first SYN later than the other's first).
                let matches = translated.contains { other in
                    guard let theirs = other.record.originatorFirst, theirs.ipID != 0 else { return true }
                    if theirs.ipID == mine.ipID { return true }
                    let a = topology.corrected(other.record.synTime ?? 0, node: other.point.node)
                    let b = topology.corrected(sighting.record.synTime ?? 0, node: sighting.point.node)
                    return Clock.since(a, b).magnitude > 500_000_000
                }
                if !matches { return false }
            }
        }
        return true
    }

    // MARK: Learning

    /// Learns translations from a group's sightings: a client address replaced (MASQUERADE) is the node's; the
    /// client's original destination translated elsewhere is a NodePort when it is a node address, or when the
    /// source was masqueraded too and its port is in the NodePort range on an address not known as a Service's;
    /// else a Service address. (A pod calling its own Service is masqueraded as well: hairpin, still a ClusterIP.)
    private func learnTranslations(_ path: [Sighting], original: (client: FlowEndpoint, server: FlowEndpoint)) {
        for sighting in path {
            let masqueraded = sighting.client.address != original.client.address
            if masqueraded { directory.learnNodeAddress(sighting.client.address) }
            let target = original.server
            guard sighting.server != target, !directory.isNodePort(target) else { continue }
            if directory.isNodeAddress(target.address)
                || (masqueraded && ClusterDirectory.nodePortRange.contains(target.port)
                    && !directory.isServiceAddress(target.address))
            {
                directory.learnNodePort(target)
            } else {
                directory.learnTranslated(target, sourceAlsoRewritten: masqueraded)
            }
        }
    }

    /// Gives an exchange seen at several capture points one copy of its heads' text: the view already held at
    /// another point lends its strings when they are the same (a busy node's connections cross three points, and the
    /// heads of the exchanges waiting to be traced were most of what `trace` held beyond `requests`).
    private func shareHeads(_ exchange: inout HTTPExchange, in group: ConnectionGroup, at position: Int) {
        guard group.sightings.count > 1, exchange.request != nil || exchange.response != nil else { return }
        let raw = exchange.requestFirstByte.flatMap { group.sightings[position].clientRaw($0.offset) }
        for other in group.sightings.indices where other != position {
            guard
                let at = group.sightings[other].likelyPosition(ofExchangeStartingAt: raw, index: exchange.index)
            else { continue }
            if let theirs = group.sightings[other].exchanges[at].request { exchange.request?.shareText(of: theirs) }
            if let theirs = group.sightings[other].exchanges[at].response { exchange.response?.shareText(of: theirs) }
            return
        }
    }

    /// The request heads held on open connections, and how many distinct copies of their text they keep (for tests).
    var heldRequestHeads: (views: Int, texts: Int) {
        var views = 0
        var texts = Set<ObjectIdentifier>()
        for group in groups.values {
            for sighting in group.sightings {
                for exchange in sighting.exchanges {
                    guard let request = exchange.request else { continue }
                    views += 1
                    texts.insert(request.textIdentity)
                }
            }
        }
        return (views, texts.count)
    }

    private func index(_ exchange: HTTPExchange, group: ConnectionGroup, sighting: Sighting) {
        guard let request = exchange.request, let first = exchange.requestFirstByte else { return }
        let entry = OnwardIndex.Entry(
            time: topology.corrected(first.time, node: sighting.point.node),
            group: group.id,
            index: exchange.index,
            requestID: request.requestID,
            host: request.host,
            sender: sighting.client.address,
            forwarded: request.forwardedFor != nil || request.requestID != nil || request.traceparent != nil,
            raw: sighting.clientRaw(first.offset),
            destination: sighting.server.address
        )
        // Indexed by any client (proxies not learned yet) and by this client.
        onward.insert(entry, method: request.method, path: request.target)
        // Exchanges are kept a minute for a proxy's inbound request to claim; a flood of requests is bounded by count:
        // never more than the cap (two entries each), the earliest quarter forgotten at once when it is passed (each
        // shedding sorts what is kept: once per quarter of the cap of exchanges, not per exchange).
        let cap = options.maxOnwardExchanges
        if onward.count > 2 * cap {
            statistics.shedExchanges += onward.shed(to: 2 * (cap - cap / 4)) / 2
        }
    }

    static func end(of exchange: HTTPExchange) -> Int64 {
        exchange.responseLastByte?.time ?? exchange.responseFirstByte?.time ?? exchange.requestLastByte?.time
            ?? exchange.requestFirstByte?.time ?? 0
    }

    // MARK: Finalizing

    /// When a group should be looked at next: `settle` after its last packet once every point closed it, else when
    /// its next exchange is due or it has been open too long.
    ///
    /// - Parameter floor: the earliest tick to wake at (from the wheel's own pass: the next tick, never one already
    ///   due, which would wake the group again in the same pass).
    private func schedule(_ group: ConnectionGroup, floor: Int64 = .min) {
        var due =
            group.open == 0
            ? Clock.plus(group.lastActivity, options.settle)
            : group.quietJudgedAt == group.lastActivity
                // Traced as it stood, nothing since: looked at again only every timeout (what comes reschedules it).
                ? Clock.plus(watermark, options.openGroupTimeout)
                : Clock.plus(group.lastActivity, options.openGroupTimeout)
        if group.open > 0, group.quietJudgedAt != group.lastActivity, let live = liveWait(group) {
            due = min(due, Clock.plus(group.lastActivity, live))
        }
        if let exchange = group.nextExchangeDue { due = min(due, exchange) }
        // Nothing is final before the connection has claimed its lookup: wake then (and judge then, or later).
        if !group.dnsChecked { due = Clock.plus(group.firstTime, options.lookupSettle) }
        let second = max(due / options.tick + 1, floor)
        guard group.scheduled != second else { return }
        group.scheduled = second
        wheel.insert(second, group.id)
        if wheel.count > 2 * groups.count + 4096 {
            // Each live group has one entry that counts (its bucket is its `scheduled`): the rest are stale.
            wheel.compact { [groups] second, id in groups[id]?.scheduled == second }
        }
    }

    private func finalizeDue() {
        let now = watermark
        // Lookups first: the connections due now claim the ones that led to them.
        dns.build(upTo: now)
        // Only the groups whose time came (a wheel of capture seconds): the cost is in what is due, not in what
        // is open.
        let second = now / options.tick
        // Connections from an address that is itself sent requests (perhaps a proxy, forwarding them) come after
        // the others due in this pass: the inbound request claims its onward one before that is traced on its own.
        var forwarding: [(Int64, Int, Int64)] = []
        while let (bucket, due) = wheel.popDue(through: second) {
            // In the order the connections began (then opened here): a connection claims the latest lookup left
            // unclaimed before its SYN, so the claims go in SYN order, whatever order their records came in.
            var ids: [(Int64, Int)] = []
            ids.reserveCapacity(due.count)
            for id in due {
                guard let group = groups[id], group.scheduled == bucket else { continue }
                if mayBeForwarding(group) {
                    forwarding.append((group.firstTime, id, bucket))
                } else {
                    ids.append((group.firstTime, id))
                }
            }
            ids.sort { $0 < $1 }
            for (_, id) in ids { judgeDue(id, bucket: bucket, now: now, second: second) }
        }
        forwarding.sort { ($0.0, $0.1) < ($1.0, $1.1) }
        for (_, id, bucket) in forwarding { judgeDue(id, bucket: bucket, now: now, second: second) }
        finishDuePass(now: now)
    }

    /// Whether a connection's client is an address that is itself sent requests: what it sends may be a request
    /// it was sent, forwarded (an L7 proxy, known or not).
    private func mayBeForwarding(_ group: ConnectionGroup) -> Bool {
        guard !served.isEmpty, let client = group.clientSide else { return false }
        return served[client.client.address] != nil
    }

    /// Looks at one connection whose time came: traces it, or the exchanges of it that are done, or waits.
    private func judgeDue(_ id: Int, bucket: Int64, now: Int64, second: Int64) {
        guard let group = groups[id], group.scheduled == bucket else { return }
        group.scheduled = nil
        if !group.dnsChecked, Clock.since(now, group.firstTime) > options.lookupSettle {
            claimLookup(group)
        }
        let quiet = Clock.since(now, group.lastActivity)
        // Traced as it stood while open, and nothing came since: nothing to judge until more comes or it closes.
        let judgedAsItStands = group.quietJudgedAt == group.lastActivity
        if group.open == 0, quiet > options.settle, group.dnsChecked, !holdsForInbound(group, quiet: quiet) {
            finalize(group, final: false)
        } else if quiet > options.openGroupTimeout, group.open > 0 {
            // A point has not closed it: its exchanges are traced now, and the connection is kept (not forgotten)
            // until its records close, however long that takes (a download streaming for an hour emits no record
            // until it ends), so that a response or a request after a long quiet is traced too, and nothing twice.
            // A connection without an exchange yet is traced whole when it closes: the flow stage may still hold a
            // request waiting for its response.
            if !judgedAsItStands {
                if group.quietJudgedAt == nil { statistics.timedOutConnections += 1 }
                group.quietJudgedAt = group.lastActivity
                group.nextExchangeDue = nil
                traceHeld(group, final: false, whole: false)
            }
            schedule(group, floor: second + 1)
        } else if quiet > options.openGroupTimeout {
            finalize(group, final: false)
        } else if group.open > 0, !judgedAsItStands, let live = liveWait(group), quiet >= live, group.dnsChecked {
            // Live: nothing can change these requests' verdicts any more (a response after this is not theirs to
            // report). The requests still waiting in the flow stage are judged with the rest, and the connection is
            // kept for what comes later: the next request on a keep-alive connection is traced too.
            if let pendingExchanges {
                for index in group.sightings.indices where !group.sightings[index].isFinal {
                    let known = Set(group.sightings[index].exchanges.map(\.index))
                    group.sightings[index].exchanges += pendingExchanges(group.sightings[index].record)
                        .filter { !known.contains($0.index) }
                }
            }
            group.quietJudgedAt = group.lastActivity
            group.nextExchangeDue = nil
            traceHeld(group, final: false)
            schedule(group, floor: second + 1)
        } else {
            group.nextExchangeDue = nil
            finalizeExchanges(of: group, now: now)
            schedule(group, floor: second + 1)
        }
    }

    /// The rest of a pass over what is due: retired connections, lookups and ICMP errors past their time, expiry.
    private func finishDuePass(now: Int64) {
        if !retired.isEmpty {
            let horizon = Clock.since(now, options.proxyHold)
            retired = retired.filter { $0.value.at >= horizon }
        }
        for lookup in dns.release(
            now: now,
            retention: Clock.plus(Clock.plus(options.dnsToConnectWindow, options.lookupSettle), 5_000_000_000)
        ) {
            queue(Assembly(lookup: lookup))
        }
        // ICMP errors are kept a minute.
        let icmpHorizon = Clock.since(now, 60_000_000_000)
        icmp.expire(before: icmpHorizon)
        if Clock.since(now, lastExpiry) >= 10_000_000_000 {
            lastExpiry = now
            // Onward exchanges matter until the inbound request they answer is traced: its proxy's join window
            // and the settle after it; a minute is well past both.
            onward.expire(before: Clock.since(now, max(60_000_000_000, options.proxyJoinWindow * 2)))
            let stale = Clock.since(now, 120_000_000_000)
            if served.count > 1024 { served = served.filter { $0.value >= stale } }
            // The flow stage gives up an idle connection after 5 minutes: its records cannot come later.
            let forget = Clock.since(now, 360_000_000_000)
            places.removeAll { _, place in
                if case .finished(let at) = place { return at < forget }
                return false
            }
        }
    }

    /// Live: how long a connection still open must be quiet before its requests are judged as they stand.
    private func liveWait(_ group: ConnectionGroup) -> Int64? {
        guard let live = options.liveness else { return nil }
        let answered = group.sightings.contains {
            $0.record.synAckTime != nil || $0.record.responderSummary.packets > 0
        }
        if !answered, group.sightings.contains(where: { $0.record.synTime != nil }) {
            return live.quiet(synTimes: group.sightings.flatMap(\.synTimes))
        }
        // The client closed or reset with no response begun: what it waited for is final.
        let clientGaveUp = group.sightings.contains { sighting in
            sighting.record.originatorSummary.fin != nil || sighting.record.originatorSummary.rstTime != nil
        }
        let responded = group.sightings.contains { $0.record.responderSummary.firstData != nil }
        if clientGaveUp, !responded { return options.settle }
        return live.responseTimeout
    }

    /// Ties a connection to the lookup that gave its client the destination, once, `settle` after its SYN (the DNS
    /// transactions are in by then, and the lookup need not be kept for as long as the connection lasts).
    private func claimLookup(_ group: ConnectionGroup) {
        guard !group.dnsChecked else { return }
        group.dnsChecked = true
        let sightings = group.sightings.filter { !$0.isReplyOnly && !$0.isStrayReset && $0.record.synTime != nil }
        guard !sightings.isEmpty else { return }
        let original = originalVariant(sightings)
        let client = sightings.first { $0.client == original.client && $0.server == original.server } ?? sightings[0]
        group.lookup = dns.claim(
            client: original.client.address,
            answering: original.server.address,
            before: topology.corrected(client.start, node: client.point.node),
            window: options.dnsToConnectWindow
        )
    }

    /// Traces the completed exchanges of a connection still open (a long keep-alive connection).
    private func finalizeExchanges(of group: ConnectionGroup, now: Int64) {
        guard group.sightings.contains(where: { !$0.exchanges.isEmpty }) else { return }
        let path = ordered(group)
        guard let client = path.first?.0 else { return }
        var traced: [HTTPExchange] = []
        defer { forget(traced, in: group, client: client) }
        for exchange in client.exchanges where exchange.isResponseComplete {
            let key = Self.key(of: exchange, at: client)
            guard !group.emitted.contains(key) else { continue }
            let end = topology.corrected(Self.end(of: exchange), node: client.point.node)
            guard Clock.since(now, end) > options.settle else {
                let due = Clock.plus(end, options.settle)
                group.nextExchangeDue = min(group.nextExchangeDue ?? due, due)
                continue
            }
            if let hold = inboundHold(exchange, client: client, end: end), Clock.since(now, end) < hold {
                // Looked at again once the wait is over (traced then, unless the inbound request claimed it).
                let due = Clock.plus(end, hold)
                group.nextExchangeDue = min(group.nextExchangeDue ?? due, due)
                continue
            }
            group.emitted.insert(key)
            queue(assemble(group: group, path: path, exchange: exchange))
            traced.append(exchange)
        }
    }

    /// The highest index of an exchange answered (its response begun) among `exchanges`: found once per connection
    /// judged, not once per exchange (300,000 pipelined requests on one connection).
    static func lastAnswered(_ exchanges: [HTTPExchange]) -> Int? {
        var last: Int?
        for exchange in exchanges where exchange.responseFirstByte != nil {
            last = max(last ?? exchange.index, exchange.index)
        }
        return last
    }

    /// Whether the exchange of `key` was traced already, or claimed as another trace's onward request (a proxy's).
    private func isTraced(_ key: ExchangeKey, in group: ConnectionGroup) -> Bool {
        group.emitted.contains(key) || onward.isConsumed(group: group.id, raw: key.raw, index: key.index)
    }

    /// An exchange's identity on its connection: the client's raw sequence number its request starts at, and its index.
    static func key(of exchange: HTTPExchange, at client: Sighting) -> ExchangeKey {
        ExchangeKey(raw: exchange.requestFirstByte.flatMap { client.clientRaw($0.offset) }, index: exchange.index)
    }

    /// Past the cap on exchanges held on one connection (a flood of pipelined requests): traces the oldest now, with
    /// what is known, down to seven eighths of the cap (counted). Views at other capture points that the client's side
    /// does not have are forgotten past it (counted too).
    private func trimExchanges(of group: ConnectionGroup) {
        let keep = options.maxExchangesPerConnection - options.maxExchangesPerConnection / 8
        let path = ordered(group)
        if let client = path.first?.0 {
            let oldest = client.exchanges.prefix(max(0, client.exchanges.count - keep))
            let answered = Self.lastAnswered(client.exchanges)
            for exchange in oldest {
                let key = Self.key(of: exchange, at: client)
                guard !isTraced(key, in: group) else { continue }
                group.emitted.insert(key)
                var assembly = assemble(group: group, path: path, exchange: exchange)
                assembly.lastAnsweredIndex = answered
                assembly.exchangeCapped = true
                queue(assembly)
            }
            statistics.evictedExchanges += oldest.count
            forget(Array(oldest), in: group, client: client)
        }
        // Views the client's side does not have (or no client's side at all): past the cap, forgotten.
        for position in group.sightings.indices where group.sightings[position].exchanges.count > keep {
            let excess = group.sightings[position].exchanges.count - keep
            group.sightings[position].exchanges.removeFirst(excess)
            statistics.evictedExchanges += excess
        }
    }

    /// Drops traced exchanges' views from a connection still open, so that a long keep-alive connection holds only
    /// the exchanges in progress (one pass over each point's exchanges, however many were traced).
    private func forget(_ traced: [HTTPExchange], in group: ConnectionGroup, client: Sighting) {
        guard !traced.isEmpty else { return }
        // A traced exchange's views: by the raw sequence number its request starts at where both know it, else by
        // its index.
        var raws = Set<UInt32>()
        var unnumbered = Set<Int>()
        var indexes = Set<Int>()
        for exchange in traced {
            indexes.insert(exchange.index)
            if let raw = exchange.requestFirstByte.flatMap({ client.clientRaw($0.offset) }) {
                raws.insert(raw)
            } else {
                unnumbered.insert(exchange.index)
            }
        }
        for position in group.sightings.indices {
            // Only the base is read while the list is edited: a copy of the sighting would share the list's buffer,
            // and the edit would copy the whole list.
            guard let base = group.sightings[position].record.originatorBase else {
                group.sightings[position].exchanges.removeAll { indexes.contains($0.index) }
                continue
            }
            group.sightings[position].exchanges.removeAll { candidate in
                if let first = candidate.requestFirstByte,
                    raws.contains(base &+ UInt32(truncatingIfNeeded: first.offset))
                {
                    return true
                }
                return unnumbered.contains(candidate.index)
            }
        }
        // A long keep-alive connection waits for its next request with nothing held: the room its earlier
        // exchanges took (a few hundred bytes each, for each point) is given back, not kept for the next.
        for position in group.sightings.indices where group.sightings[position].exchanges.isEmpty {
            group.sightings[position].exchanges = []
        }
    }

    /// How long after its end an exchange waits for the inbound request that caused it: one sent by a known proxy
    /// its join window, one sent by an address that had just been sent a request ``forwardHold``; nil for others.
    private func inboundHold(_ exchange: HTTPExchange, client: Sighting, end: Int64) -> Int64? {
        if directory.isProxy(client.client.address) { return options.proxyJoinWindow }
        let start = topology.corrected(exchange.requestFirstByte?.time ?? end, node: client.point.node)
        return mayForward(client.client.address, at: start) ? forwardHold : nil
    }

    /// How long what an address sends right after it was sent a request waits for the inbound request to claim it:
    /// ``CorrelateOptions/proxyHold`` live; from files, a tick past the settle time, so that the inbound request,
    /// due about when its onward one is, is judged first. A proxy's connection to its upstream is often reused
    /// (ingress-nginx keeps upstream connections alive) and so older than the inbound one: judged in opening order
    /// within a tick, its exchange was traced on its own before the inbound request could claim it.
    private var forwardHold: Int64 {
        max(options.proxyHold, Clock.plus(options.settle, options.tick))
    }

    /// Notes that `sighting`'s server was sent `exchange`'s request (reference clock).
    private func noteServed(_ sighting: Sighting, _ exchange: HTTPExchange) {
        guard let first = exchange.requestFirstByte else { return }
        noteServed(sighting.server.address, at: first.time, node: sighting.point.node)
    }

    /// Notes that `address` was sent a request's first bytes at `time` (capture time at `node`), within the
    /// directory's capacity of addresses.
    private func noteServed(_ address: IPAddress, at time: Int64, node: String?) {
        // One lookup (a keep-alive flood notes its server four times per connection).
        let corrected = topology.corrected(time, node: node)
        if let index = served.index(forKey: address) {
            if served.values[index] < corrected { served.values[index] = corrected }
        } else if served.count < ClusterDirectory.capacity {
            served[address] = corrected
        }
    }

    /// Whether `address` had been sent a request shortly before `time` (within a second): what it sends then may be
    /// that request, forwarded.
    private func mayForward(_ address: IPAddress, at time: Int64) -> Bool {
        guard let last = served[address] else { return false }
        return last <= Clock.plus(time, 1_000_000) && Clock.since(time, last) <= 1_000_000_000
    }

    /// Whether a closed connection from a client that may be forwarding waits a little longer for the inbound
    /// request that caused it (live: the settle time is shorter than a proxy's turn-around).
    private func holdsForInbound(_ group: ConnectionGroup, quiet: Int64) -> Bool {
        // Called once quiet passed the settle time: a hold no longer than it never holds.
        guard quiet < forwardHold, let client = group.clientSide else { return false }
        return mayForward(client.client.address, at: topology.corrected(client.start, node: client.point.node))
    }

    /// Traces every request of a connection and forgets it.
    private func finalize(_ group: ConnectionGroup, final: Bool) {
        groups[group.id] = nil
        heldSightings -= group.sightings.count
        if options.proxyHold > options.settle, !final { retired[group.id] = (group, watermark) }
        for sighting in group.sightings {
            // Records of a connection judged before it closed (live, or at a cap) are ignored when they come.
            if sighting.isFinal {
                places[sighting.record.id] = nil
            } else {
                places[sighting.record.id] = .finished(watermark)
            }
        }
        if let isn = group.clientISN { CandidateList.unnote(group.id, in: &byClientISN[isn]) }
        if let isn = group.serverISN {
            CandidateList.unnote(group.id, in: &byServerISN[isn])
            CandidateList.unnote(group.id, in: &repliesByServerISN[isn])
        }
        for sighting in group.sightings {
            if let key = MidstreamKey(sighting.record) { CandidateList.unnote(group.id, in: &byMidstream[key]) }
        }
        traceHeld(group, final: final)
    }

    /// Traces what a connection holds and has not traced yet: each exchange, or, when it never carried one, the
    /// connection itself once (or counts it, a piece given up).
    ///
    /// - Parameter whole: whether a connection without an exchange is traced (or counted) now.
    private func traceHeld(_ group: ConnectionGroup, final: Bool, whole: Bool = true) {
        // A reply caught half translated whose connection was never seen otherwise is not a request.
        if group.sightings.allSatisfy({ $0.isReplyOnly && $0.record.synAckTime != nil }) { return }
        if whole, group.emitted.isEmpty, !group.judgedWhole, isGivenUpPiece(group) {
            group.judgedWhole = true
            statistics.untracedPieces += 1
            return
        }
        let path = ordered(group)
        guard let client = path.first?.0 else { return }
        // DNS over TCP that opened is a transport of DNS transactions, not a request of its own.
        if client.server.port == 53, path.contains(where: { $0.0.record.synAckTime != nil }) { return }
        var any = !group.emitted.isEmpty || group.judgedWhole
        let answered = Self.lastAnswered(client.exchanges)
        // By position: the exchange is copied once, into its assembly (a loop variable was a copy of its own).
        for position in client.exchanges.indices {
            any = true
            let key = Self.key(of: client.exchanges[position], at: client)
            guard !isTraced(key, in: group) else { continue }
            group.emitted.insert(key)
            var assembly = assemble(group: group, path: path, exchange: client.exchanges[position], atEnd: final)
            assembly.lastAnsweredIndex = answered
            queue(assembly)
        }
        if !any, whole {
            group.judgedWhole = true
            queue(assemble(group: group, path: path, exchange: nil, atEnd: final))
        }
    }

    /// Whether a connection without a request (no exchange, or only responses) is a piece given up at a cap (by the
    /// flow stage or by this engine, or the continuation of a connection the flow stage gave up) that says nothing
    /// of its own: no reset, no ICMP error quoting it, no lookup claimed, and either no payload at
    /// all or no beginning (a middle piece, its start given up before it). Its outcome is not known and cannot be:
    /// what came after it is another piece or was not kept. Such pieces are counted
    /// (``CorrelateStatistics/untracedPieces``), not traced, so that a flood of connections costs what counting
    /// does; a piece with a request, a reset, an ICMP error or a handshake and data is traced as before.
    private func isGivenUpPiece(_ group: ConnectionGroup) -> Bool {
        // Given up: by the flow stage (its record says so, or the piece continues one it gave up), or here while a
        // capture point still held the connection open (a group of final records traced early is whole).
        guard
            (group.evicted && group.open > 0) || group.continuesGivenUp
                || group.sightings.contains(where: { $0.record.endReason == .evicted }),
            group.lookup == nil
        else { return false }
        var payload = false
        var beginning = false
        // Fields read in place (a record is ~400 bytes and six references).
        let sightings = group.sightings
        for index in sightings.indices {
            if sightings[index].record.originatorSummary.rstTime != nil
                || sightings[index].record.responderSummary.rstTime != nil
            {
                return false
            }
            if sightings[index].exchanges.contains(where: { $0.request != nil }) { return false }
            if sightings[index].record.originatorSummary.firstData != nil
                || sightings[index].record.responderSummary.firstData != nil
            {
                payload = true
            }
            if sightings[index].record.synTime != nil || sightings[index].record.synAckTime != nil { beginning = true }
        }
        if payload && beginning { return false }
        if icmp.isEmpty { return true }
        let tuples = group.sightings.map { TupleKey(client: $0.client, server: $0.server) }
        return !icmp.quotes(isn: group.clientISN, tuples: tuples)
    }

    /// Whether a record holds only the server's packets (a SYN-ACK, a response), no reset, and no request among the
    /// exchanges waiting for it.
    private func isServerOnly(_ record: ConnectionRecord) -> Bool {
        record.isServerOnly && !hasWaitingRequest(record.id)
    }

    /// Whether a request is among the exchanges that came before their connection's record (orphans).
    private func hasWaitingRequest(_ id: UInt64) -> Bool {
        !orphanExchanges.isEmpty && orphanExchanges[id]?.contains(where: { $0.request != nil }) == true
    }

    /// Whether the final record of a piece not taken yet, of a connection given up (by the flow stage, or begun
    /// mid-stream on a tuple it gave up), joins no connection here and holds what ``isGivenUpPiece(_:)`` counts: no
    /// request, no reset, no ICMP error quoting it, and not both a beginning and payload. The connection it would make
    /// on its own would be counted when judged; it is counted now, without making it.
    private func isLoneGivenUpPiece(_ record: ConnectionRecord) -> Bool {
        let beginning = record.synTime != nil || record.synAckTime != nil
        let payload = record.originatorSummary.firstData != nil || record.responderSummary.firstData != nil
        guard !(beginning && payload), record.originatorSummary.rstTime == nil,
            record.responderSummary.rstTime == nil,
            record.endReason == .evicted || (!beginning && givenUpTuples.contains(record))
        else { return false }
        if hasWaitingRequest(record.id) { return false }
        // The sighting (a copy of the record in a box of its own) is made only when a connection may take it: a flood
        // of given-up pieces mostly has none.
        let listed = candidates(for: record)
        if let listed, listed.contains(where: { groups[$0] != nil }) {
            let sighting = Sighting(
                record: record,
                isFinal: true,
                point: capturePoint(record.capturePoint),
                pointID: record.capturePoint
            )
            if findGroup(for: sighting, among: listed) != nil { return false }
        }
        return !isQuotedByICMP(record)
    }

    /// Whether a record of a connection not seen before holds no payload, no reset and no exchange, and no ICMP error
    /// kept quotes it (what ``isGivenUpPiece(_:)`` asks of a connection, for one record).
    private func isEmptyPiece(_ record: ConnectionRecord) -> Bool {
        guard record.originatorSummary.firstData == nil, record.responderSummary.firstData == nil,
            record.originatorSummary.rstTime == nil, record.responderSummary.rstTime == nil,
            orphanExchanges[record.id] == nil
        else { return false }
        return !isQuotedByICMP(record)
    }

    /// Whether an ICMP error kept quotes a record's connection: its originator's ISN, or its tuple either way round
    /// (a piece's originator may be its server).
    private func isQuotedByICMP(_ record: ConnectionRecord) -> Bool {
        if icmp.isEmpty { return false }
        let tuples = [
            TupleKey(client: record.originator, server: record.responder),
            TupleKey(client: record.responder, server: record.originator),
        ]
        return icmp.quotes(isn: record.originatorISN, tuples: tuples)
    }

    /// The ICMP errors kept that quote a connection: its client ISN, or any of its tuples along the path.
    private func quotingICMP(_ path: [(Sighting, OrderEvidence)]) -> [ICMPRecord] {
        guard let client = path.first?.0, !icmp.isEmpty else { return [] }
        let tuples = Set(path.map { TupleKey(client: $0.0.client, server: $0.0.server) })
        return icmp.quoting(isn: client.clientISN, tuples: tuples)
    }

    /// Whether an ICMP error quotes a TCP connection: its client's ISN, or one of its tuples.
    static func quotes(_ e: ICMPErrorEvent, isn: UInt32?, tuples: some Collection<TupleKey>) -> Bool {
        guard e.quotedProtocol == .tcp else { return false }
        if let isn, e.quotedTCPSequence == isn { return true }
        return tuples.contains(TupleKey(client: e.quotedSource, server: e.quotedDestination))
    }

    /// The sightings of a group in path order (hops), client side first; reply-only and RST-only sightings apart.
    func ordered(_ group: ConnectionGroup) -> [(Sighting, OrderEvidence)] {
        var main = group.sightings.filter { !$0.isReplyOnly && !$0.isStrayReset }
        // Replies caught half translated at a point where the client's packets were seen: the same hop.
        for reply in group.sightings where reply.isReplyOnly && !main.isEmpty {
            let atPoint = main.indices.filter { main[$0].pointID == reply.pointID }
            guard !atPoint.isEmpty else { continue }
            let target =
                atPoint.first { main[$0].server == reply.server || main[$0].client == reply.client } ?? atPoint[0]
            main[target] = main[target].merging(reply: reply)
        }
        let rest = main.isEmpty ? group.sightings.filter { !$0.isStrayReset } : main
        let chosen = rest.isEmpty ? group.sightings : rest
        let original = originalVariant(chosen)
        learnTranslations(chosen, original: original)
        let order = PathOrder(delayTolerance: options.delayTolerance, topology: topology)
        var path = order.order(chosen, original: original)
        if chosen.contains(where: { $0.record.synAckTime != nil || $0.record.responderSummary.packets > 0 }) {
            topology.notePath(path.map(\.0.pointID), target: original.server)
        }
        let firstNode = chosen.first?.point.node ?? ""
        if chosen.contains(where: { ($0.point.node ?? "") != firstNode }) {
            // Packets seen on two nodes bound the offset between their clocks; then the path is ordered again on the
            // corrected clocks (only the last rule, time, reads them).
            clocks.take(path.map(\.0))
            let offsets = clocks.offsets()
            if offsets != clockOffsets {
                clockOffsets = offsets
                let corrections = Dictionary(offsets.map { ($0.node, $0.offset) }, uniquingKeysWith: { a, _ in a })
                // Each connection adds samples; the order reads only the offsets, so it is taken again only when one
                // moved.
                if corrections != topology.offsets {
                    topology.offsets = corrections
                    path = order.order(chosen, original: original)
                }
            }
        }
        return path
    }

    /// The client's own view of a connection's addresses: the variant whose destination is a Service address, a
    /// NodePort or a name's answer; else the one with the highest TTL (before any router); else the one seen
    /// entering; else the earliest.
    func originalVariant(_ sightings: [Sighting]) -> (client: FlowEndpoint, server: FlowEndpoint) {
        if sightings.count == 1 { return (sightings[0].client, sightings[0].server) }
        var variants: [(client: FlowEndpoint, server: FlowEndpoint)] = []
        for s in sightings where !variants.contains(where: { $0.client == s.client && $0.server == s.server }) {
            variants.append((s.client, s.server))
        }
        guard variants.count > 1 else { return variants.first ?? (sightings[0].client, sightings[0].server) }
        if let named = variants.first(where: {
            directory.isServiceAddress($0.server.address) || directory.isNodePort($0.server)
                || dns.answered($0.server.address, for: $0.client.address)
        }) {
            return named
        }
        func ttl(_ variant: (client: FlowEndpoint, server: FlowEndpoint)) -> Int {
            sightings.filter { $0.client == variant.client && $0.server == variant.server }
                .compactMap { $0.record.originatorFirst.map { Int($0.ttl) } }.max() ?? 0
        }
        let byTTL = variants.sorted { ttl($0) > ttl($1) }
        if ttl(byTTL[0]) > ttl(byTTL[1]) { return byTTL[0] }
        if let entering = sightings.filter({ $0.direction == .inbound }).min(by: { $0.start < $1.start }) {
            return (entering.client, entering.server)
        }
        let first = sightings.min {
            topology.corrected($0.start, node: $0.point.node) < topology.corrected($1.start, node: $1.point.node)
        }!
        return (first.client, first.server)
    }

    // MARK: Assembling a request

    private func assemble(
        group: ConnectionGroup,
        path: [(Sighting, OrderEvidence)],
        exchange: HTTPExchange?,
        atEnd: Bool = false
    ) -> Assembly {
        let client = path[0].0
        var assembly = Assembly(
            path: path,
            strays: group.sightings.filter(\.isStrayReset),
            exchange: exchange,
            atEnd: atEnd
        )
        assembly.evicted = group.evicted
        assembly.continuesGivenUp = group.continuesGivenUp
        let connectionStart = topology.corrected(client.start, node: client.point.node)
        let isFirst =
            exchange.map { $0.index == 0 || client.record.synTime == nil && $0 == client.exchanges.first } ?? true
        assembly.isFirstOnConnection = isFirst
        assembly.start =
            isFirst
            ? connectionStart
            : topology.corrected(exchange?.requestFirstByte?.time ?? client.start, node: client.point.node)
        // The lookup that gave the client its destination.
        if isFirst, client.record.synTime != nil {
            claimLookup(group)
            if let lookup = group.lookup {
                assembly.dns = lookup
                assembly.start = min(assembly.start, lookup.start)
            }
        }
        // ICMP errors quoting this connection.
        assembly.icmp = quotingICMP(path)
        // Behind an L7 proxy: the onward exchange.
        if let exchange, let request = exchange.request {
            let serverSide = path[path.count - 1].0
            let hosts = [serverSide.server.address, client.server.address]
            let window = (
                topology.corrected(exchange.requestFirstByte?.time ?? client.start, node: client.point.node),
                topology.corrected(
                    exchange.responseFirstByte?.time ?? exchange.responseLastByte?.time ?? watermark,
                    node: client.point.node
                )
            )
            // From the proxy's own address; else from any address, with the same Host (a proxy on the node's
            // host network connects from whichever of the node's addresses routing picks), when it carries what a
            // proxy adds (X-Forwarded-For, X-Request-ID, traceparent): two pods' identical health checks, one sent
            // while the other waited, are two requests.
            let target = OnwardIndex.target(request.method, request.target)
            let match =
                onward.claim(
                    hosts: hosts,
                    method: request.method,
                    path: request.target,
                    requestID: request.requestID,
                    host: nil,
                    from: window.0,
                    to: window.1,
                    excluding: group.id,
                    notFrom: client.client.address,
                    notTo: hosts,
                    target: target
                )
                ?? onward.claim(
                    hosts: [OnwardIndex.anyClient],
                    method: request.method,
                    path: request.target,
                    requestID: request.requestID,
                    host: request.host,
                    from: window.0,
                    to: window.1,
                    excluding: group.id,
                    notFrom: client.client.address,
                    notTo: hosts,
                    forwardedOnly: true,
                    target: target
                )
            if let match, let upstream = groups[match.group] ?? retired[match.group]?.group {
                let upstreamPath = ordered(upstream)
                // The onward exchange as its client's side saw it, else as the first point that has it in (a
                // point's copy of the exchange comes out of the flow stage when that point saw it complete).
                let onwardClient = upstreamPath.first?.0
                let onwardExchange =
                    onwardClient?.exchange(startingAt: match.raw, index: match.index)
                    ?? upstreamPath.lazy.compactMap { $0.0.exchange(startingAt: match.raw, index: match.index) }.first
                if let onwardClient, let onwardExchange {
                    directory.learnProxy(onwardClient.client.address)
                    directory.learnProxy(serverSide.server.address)
                    assembly.upstream = Upstream(
                        path: upstreamPath,
                        exchange: onwardExchange,
                        byRequestID: match.byRequestID
                    )
                    upstream.emitted.insert(
                        ExchangeKey(
                            raw: onwardExchange.requestFirstByte.flatMap { onwardClient.clientRaw($0.offset) },
                            index: onwardExchange.index
                        )
                    )
                }
            }
        }
        return assembly
    }

    /// Judges an assembled request now (with what the directory knows now) and keeps the trace for its turn.
    private func queue(_ assembly: Assembly) {
        var diagnosis = Diagnosis(options: options, directory: directory, topology: topology, captureEnd: watermark)
        diagnosis.latestSeen = latestSeen
        let trace = diagnosis.trace(assembly)
        let slot = freeSlots.popLast() ?? held.count
        pending.append(
            Pending(
                start: trace.start,
                client: trace.client,
                slot: slot,
                failed: trace.verdict.kind.isFailure,
                hasRequest: trace.request != nil
            )
        )
        // Moved into its slot, not copied (its last use).
        if slot < held.count {
            held[slot] = consume trace
        } else {
            held.append(consume trace)
        }
        pendingSorted = false
    }

    // MARK: Releasing in start order

    /// The traces that start at or before `horizon`, in start order, with their index; past the cap on held
    /// traces, the earliest of the rest too (counted). With `holdRetries`, a failed request that its retry, starting
    /// within a second, could still fold into waits, and so does everything after it.
    private func release(upTo horizon: Int64, holdRetries: Bool, keep: Int? = nil) -> [RequestTrace] {
        guard !pending.isEmpty else { return [] }
        if !pendingSorted {
            // Requests starting at the same instant (microsecond captures) by client, so that the order, and the
            // indexes, do not depend on the order they were judged in.
            pending.sort { a, b in
                if a.start != b.start { return a.start < b.start }
                guard let left = a.client, let right = b.client else { return b.client != nil }
                return left < right
            }
            pendingSorted = true
        }
        var count = 0
        while count < pending.count, pending[count].start <= horizon { count += 1 }
        if holdRetries, horizon != .max {
            let retryHorizon = Clock.since(horizon, 1_000_000_000)
            if let wait = pending[0..<count].firstIndex(where: { $0.start > retryHorizon && $0.hasRequest && $0.failed }
            ) {
                count = wait
            }
        }
        let cap = keep ?? options.maxPendingTraces
        if horizon != .max, pending.count - count > cap {
            let extra = pending.count - count - cap
            statistics.evictedPending += extra
            count += extra
        }
        var traces: [RequestTrace] = []
        traces.reserveCapacity(count)
        for index in 0..<count { take(pending[index].slot, into: &traces) }
        pending.removeFirst(count)
        if horizon != .max, options.reorderWindow == 0, !pending.isEmpty {
            // Live, as soon as final: only a failure waits (a second) for the retry that would make it a finding.
            let retryHorizon = Clock.since(watermark, 1_000_000_000)
            var kept: [Pending] = []
            for entry in pending {
                if entry.failed && entry.start > retryHorizon {
                    kept.append(entry)
                } else {
                    take(entry.slot, into: &traces)
                }
            }
            pending = kept
        }
        guard !traces.isEmpty else { return [] }
        Self.foldRetries(&traces)
        for index in traces.indices {
            traces[index].index = nextIndex
            traces[index].clockOffsets = clockOffsets
            // Queries the flow stage gave up unanswered are requests given up too (they are traced no more).
            traces[index].evictedSoFar = statistics.evicted + statistics.evictedFlows + statistics.untracedQueries
            nextIndex += 1
        }
        statistics.traced += traces.count
        return traces
    }

    /// Moves a held trace out of its slot onto `traces` (the slot is used again).
    private func take(_ slot: Int, into traces: inout [RequestTrace]) {
        guard slot < held.count else { return }
        // Moved, not copied (a trace is ~570 bytes and a few dozen references).
        switch held[slot].take() {
        case .some(let trace):
            traces.append(consume trace)
            freeSlots.append(slot)
        case .none:
            break
        }
    }

    /// A client that sends a request on a keep-alive connection the server is closing gets no answer and sends it
    /// again on a new connection (curl, browsers and most HTTP libraries do). When the retry (same client, method,
    /// target and request id) follows within a second and completes, the failed attempt is a finding of the retry.
    /// Linear: failed attempts are looked up by what a retry repeats; the traces are changed in place.
    static func foldRetries(_ traces: inout [RequestTrace]) {
        // Only a failed attempt folds: a batch without one (the usual) has nothing to look up.
        guard traces.contains(where: { $0.verdict.kind.isFailure && $0.request != nil }) else { return }
        struct Key: Hashable {
            var client: IPAddress?
            var method: String
            var path: String
            var requestID: String?
        }
        var failed: [Key: [Int]] = [:]
        var folded = Set<Int>()
        for index in traces.indices {
            guard let request = traces[index].request else { continue }
            let key = Key(
                client: traces[index].client?.address,
                method: request.method,
                path: request.path,
                requestID: request.requestID
            )
            if traces[index].verdict.kind.isFailure {
                failed[key, default: []].append(index)
                continue
            }
            let start = traces[index].start
            guard let candidates = failed[key],
                let attempt = candidates.last(where: { i in
                    !folded.contains(i) && start >= traces[i].start
                        && Clock.since(start, traces[i].start) < 1_000_000_000
                })
            else { continue }
            folded.insert(attempt)
            let first = traces[attempt]
            traces[index].findings.append(
                Finding(
                    .retried,
                    "a first attempt from \(first.client.map(\.description) ?? "?") got no answer "
                        + "(\(first.verdict.kind.rawValue): \(first.verdict.sentence)); the client sent it again on a "
                        + "new connection"
                )
            )
        }
        guard !folded.isEmpty else { return }
        var kept = 0
        for index in traces.indices where !folded.contains(index) {
            if kept != index { traces.swapAt(kept, index) }
            kept += 1
        }
        traces.removeLast(traces.count - kept)
    }
}

/// The sightings of one TCP connection at every capture point that saw it.
///
/// A flood holds ``CorrelateOptions/maxOpenConnections`` of these: the fields are ordered so that the small ones share
/// padding, and the lookup (most connections have none) is boxed.
final class ConnectionGroup {
    let id: Int
    var sightings: [Sighting] = []
    /// The first sighting that is more than replies caught half translated: where the client is seen sending.
    var clientSide: Sighting? { sightings.first { !$0.isReplyOnly } }
    /// Sightings whose record is still provisional (the connection open there).
    var open = 0
    var lastActivity: Int64 = .min
    var firstTime: Int64
    /// Exchanges already traced.
    var emitted = ExchangeKeySet()
    /// The capture second the group is scheduled to be looked at (its bucket in the engine's wheel).
    var scheduled: Int64?
    /// When the earliest completed exchange not traced yet is due.
    var nextExchangeDue: Int64?
    /// The lookup found for the connection.
    var lookup: DNSLookup? {
        get { lookupBox?.lookup }
        set { lookupBox = newValue.map(LookupBox.init) }
    }
    private var lookupBox: LookupBox?
    var clientISN: UInt32?
    var serverISN: UInt32?
    /// Whether the lookup that led to the connection was looked for.
    var dnsChecked = false
    /// Traced early at the cap on open connections.
    var evicted = false
    /// Has a piece begun mid-stream on the tuple of a connection the flow stage gave up at its cap (its continuation).
    var continuesGivenUp = false
    /// Traced (or counted) as a connection without a request: never again.
    var judgedWhole = false
    /// The last activity when the connection was traced quiet with a point still open
    /// (``CorrelateOptions/openGroupTimeout``): it is kept for what comes later, and judged again only after more.
    var quietJudgedAt: Int64?

    private final class LookupBox {
        let lookup: DNSLookup
        init(_ lookup: DNSLookup) { self.lookup = lookup }
    }

    init(id: Int, firstTime: Int64) {
        self.id = id
        self.firstTime = firstTime
    }
}

/// The exchanges traced on a connection: the first inline, the others in a set. Most connections carry one
/// request, and a set of their own cost each of them an allocation and its hashing.
struct ExchangeKeySet {
    private var first: ExchangeKey?
    private var rest = Set<ExchangeKey>()

    var isEmpty: Bool { first == nil }

    func contains(_ key: ExchangeKey) -> Bool {
        first == key || (!rest.isEmpty && rest.contains(key))
    }

    mutating func insert(_ key: ExchangeKey) {
        if first == nil {
            first = key
        } else if first != key {
            rest.insert(key)
        }
    }
}

/// The tuples (capture point and both endpoints, either way round) of connections the flow stage gave up at its cap,
/// as hashes in a fixed table of 8-way buckets (a cache line each) where a newer one pushes the oldest of its bucket
/// out: a later piece of the same connection, begun mid-stream, is known as its continuation. Lossy on purpose and
/// deterministic (a fixed seed, not the per-process `Hasher`): a miss only means the piece is traced as any
/// connection begun mid-stream is.
struct GivenUpTuples {
    /// 2^17 buckets of 8 (8 MiB), made at the first connection given up.
    private static let bucketBits = 17
    private static let ways = 8
    private var table: WordTable?

    /// The flow table's key and hash (``ConnectionKey``: either direction the same), with a fixed seed so that what
    /// is recognised does not change from run to run; 0 is the empty slot.
    static func key(_ record: ConnectionRecord) -> UInt64 {
        key(capturePoint: record.capturePoint, record.originator, record.responder)
    }

    static func key(capturePoint: Int, _ a: FlowEndpoint, _ b: FlowEndpoint) -> UInt64 {
        let key = ConnectionKey(capturePoint: capturePoint, a, b).hash(seed: 0x6869_7474_6572_7570)
        return key == 0 ? 1 : key
    }

    private static func bucket(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: key >> UInt64(64 - bucketBits)) &* ways
    }

    mutating func insert(_ record: ConnectionRecord) {
        if table == nil { table = WordTable(count: Self.ways << Self.bucketBits) }
        guard let slots = table?.words else { return }
        let key = Self.key(record)
        let first = Self.bucket(key)
        var way = 0
        while way < Self.ways - 1, slots[first &+ way] != key { way &+= 1 }
        // The key to the front of its bucket; the ones before it move back one (the last one out when it is new).
        while way > 0 {
            slots[first &+ way] = slots[first &+ way &- 1]
            way &-= 1
        }
        slots[first] = key
    }

    func contains(_ record: ConnectionRecord) -> Bool {
        contains(capturePoint: record.capturePoint, record.originator, record.responder)
    }

    /// Whether the connection between `a` and `b` (either way round) at a capture point was given up.
    func contains(capturePoint: Int, _ a: FlowEndpoint, _ b: FlowEndpoint) -> Bool {
        guard let slots = table?.words else { return false }
        let key = Self.key(capturePoint: capturePoint, a, b)
        let first = Self.bucket(key)
        for way in 0..<Self.ways where slots[first &+ way] == key { return true }
        return false
    }
}

/// Where a flow record's connection stands in the engine.
private enum RecordPlace {
    /// Held in the connection group with this id.
    case group(Int)
    /// Judged before it closed at this record's capture point, at this watermark: its later records are ignored
    /// (forgotten with its final record, or six minutes on).
    case finished(Int64)
}

/// Groups by the capture second they are due in: buckets, and a min-heap of the buckets' seconds.
///
/// A group moved to a later second, or traced, leaves its old entry behind (skipped when its bucket comes up):
/// cheaper than finding it. Under a flood, capture time hardly moves, so those entries would pile up with every
/// connection seen in the last two minutes (the timeout of an open connection), not the ones open: ``compact(keeping:)``
/// drops them once they outnumber the live ones.
struct DueWheel {
    /// Each second's ids, by slot; a slot is reused once its second is popped.
    private var lists: [[Int]] = []
    private var slotOf: [Int64: Int] = [:]
    private var freeSlots: [Int] = []
    private var seconds = MinHeap<Int64>()
    /// The second inserted into last and its slot: a burst of connections is scheduled into one second, which then
    /// costs no hashing.
    private var lastSecond: Int64?
    private var lastSlot = 0
    /// Entries held, stale ones included.
    private(set) var count = 0

    mutating func insert(_ second: Int64, _ id: Int) {
        count += 1
        let slot: Int
        if second == lastSecond {
            slot = lastSlot
        } else if let known = slotOf[second] {
            slot = known
        } else {
            if let free = freeSlots.popLast() {
                slot = free
            } else {
                slot = lists.count
                lists.append([])
            }
            slotOf[second] = slot
            seconds.insert(second)
        }
        lastSecond = second
        lastSlot = slot
        lists[slot].append(id)
    }

    /// The earliest bucket due by `second`, removed.
    mutating func popDue(through second: Int64) -> (Int64, [Int])? {
        guard let first = seconds.min, first <= second else { return nil }
        seconds.removeMin()
        guard let slot = slotOf.removeValue(forKey: first) else { return (first, []) }
        if lastSecond == first { lastSecond = nil }
        var due: [Int] = []
        swap(&due, &lists[slot])
        freeSlots.append(slot)
        count -= due.count
        return (first, due)
    }

    /// Keeps only the entries `keep(second, id)` says are live, in their order; buckets left empty go.
    mutating func compact(keeping keep: (Int64, Int) -> Bool) {
        var kept = DueWheel()
        // In time order, so that the rebuilt wheel's slots do not depend on the dictionary's order.
        for (second, slot) in slotOf.sorted(by: { $0.key < $1.key }) {
            for id in lists[slot] where keep(second, id) { kept.insert(second, id) }
        }
        self = kept
    }
}

/// An exchange's identity on a connection: its request's first raw sequence number, else its index.
struct ExchangeKey: Hashable {
    var raw: UInt32?
    var index: Int

    /// One word through the hasher (the synthesized form fed the optional's tag and both fields).
    func hash(into hasher: inout Hasher) {
        let raw = self.raw.map { UInt64($0) | 1 << 32 } ?? 0
        hasher.combine(raw ^ UInt64(bitPattern: Int64(index)) &* 0x9E37_79B9_7F4A_7C15)
    }
}

/// A connection's addresses as seen at one point.
struct TupleKey: Hashable {
    var client: FlowEndpoint
    var server: FlowEndpoint
}

/// How sightings of a connection whose handshake was not captured find each other: the raw sequence numbers their
/// streams were anchored on (the first packet seen), which NAT never rewrites.
struct MidstreamKey: Hashable {
    var clientBase: UInt32
    var serverBase: UInt32

    init?(_ record: ConnectionRecord) {
        guard record.clientISN == nil, record.serverISN == nil, let c = record.originatorBase,
            let s = record.responderBase
        else { return nil }
        clientBase = c
        serverBase = s
    }
}

/// An ICMP error and where it was seen.
struct ICMPRecord {
    var event: ICMPErrorEvent
    var point: CapturePoint
}

/// The onward connection of an L7 proxy.
///
/// A class: most requests have none, and an assembly (copied as it is built and judged) would otherwise carry the
/// room for one inline, an exchange and a path, ~360 bytes.
final class Upstream {
    let path: [(Sighting, OrderEvidence)]
    let exchange: HTTPExchange
    let byRequestID: Bool

    init(path: [(Sighting, OrderEvidence)], exchange: HTTPExchange, byRequestID: Bool) {
        self.path = path
        self.exchange = exchange
        self.byRequestID = byRequestID
    }
}

/// Everything one request's diagnosis reads.
struct Assembly {
    var kind: RequestKind = .connection
    var path: [(Sighting, OrderEvidence)] = []
    var strays: [Sighting] = []
    var exchange: HTTPExchange?
    var upstream: Upstream?
    var dns: DNSLookup?
    var icmp: [ICMPRecord] = []
    var start: Int64 = 0
    var isFirstOnConnection = true
    /// Traced because the capture ended (not because it finished).
    var atEnd = false
    /// Traced early because the engine held too many connections (its packets after that are not in it).
    var evicted = false
    /// Traced early because its connection held too many exchanges (what came after it is not in it).
    var exchangeCapped = false
    /// A later piece of a connection the flow stage gave up (its beginning is not in it).
    var continuesGivenUp = false
    /// The highest index of an exchange answered on the client's connection, when the engine looked (a request with
    /// no answer and a later one answered was answered too: responses come in order).
    var lastAnsweredIndex: Int?

    init(path: [(Sighting, OrderEvidence)], strays: [Sighting], exchange: HTTPExchange?, atEnd: Bool) {
        self.path = path
        self.strays = strays
        self.exchange = exchange
        self.kind = exchange?.request != nil ? .http : .connection
        self.atEnd = atEnd
    }

    init(lookup: DNSLookup) {
        self.kind = .dns
        self.dns = lookup
        self.start = lookup.start
    }
}

/// A traced request waiting for its turn.
struct Pending {
    var start: Int64
    /// The trace's client: the order of traces that start at the same instant.
    var client: FlowEndpoint?
    /// Where the trace is held.
    var slot: Int
    /// Whether the trace failed (its retry may still fold it in).
    var failed: Bool
    /// Whether the trace has an HTTP request.
    var hasRequest: Bool
}

/// Exchanges by the sender's address, method and target, in time order: where an L7 proxy's onward request is found
/// for an inbound one (the proxy sends it from its own address, or its node's, between the inbound request's first
/// byte and the response's first byte).
///
/// Each exchange is stored once, in a slot, and listed under its method and target alone and, once another exchange
/// shares that list, under its sender too (a list of one answers for its sender by itself). The lists are keyed by a
/// hash of what they list (checked against the slot's own fields when claimed), and a list of one slot is held
/// inline: a keep-alive flood of distinct paths, 200,000 exchanges kept, cost 126 MB with a dictionary of string keys
/// holding an array of full entries per key, twice.
struct OnwardIndex {
    /// The fields are in this order so that the small ones fill the padding after an address (an index holds up to
    /// ``CorrelateOptions/maxOnwardExchanges`` of these).
    struct Entry {
        var time: Int64
        var group: Int
        var index: Int
        var requestID: String?
        var host: String?
        /// The onward request's sender as seen where it was indexed.
        var sender: IPAddress
        /// Whether the request carries what proxies add to what they forward (X-Forwarded-For, X-Request-ID,
        /// traceparent).
        var forwarded = false
        var consumed = false
        var raw: UInt32?
        /// The onward request's server as seen where it was indexed.
        var destination: IPAddress
    }

    /// The key of the index by method and target alone.
    static let anyClient = IPAddress(ipv6High: 0, low: 0)

    struct Match {
        var group: Int
        var raw: UInt32?
        var index: Int
        var byRequestID: Bool
    }

    /// An exchange and what it is listed by.
    private struct Stored {
        var method: String
        var path: String
        var entry: Entry
        /// Whether it is in its sender's list (every exchange of a list by target of two or more is).
        var bySender = false
    }

    /// The slots of one list, in time order.
    private enum Slots {
        case one(Int32)
        case many([Int32])
    }

    private var stored = ChunkedArray<Stored?>()
    /// Each slot's time, beside it (`.min` for a free slot): the searches and the expiry read times only, not the
    /// exchanges with their strings.
    private var times = ChunkedArray<Int64>()
    private var freeSlots: [Int32] = []
    private var lists: [Int: Slots] = [:]
    /// Whether any exchange listed carried what a proxy adds (X-Forwarded-For, X-Request-ID, traceparent): until one
    /// does, a search for forwarded exchanges only is skipped (most captures, and every flood, have none).
    private(set) var listedForwarded = false
    /// Entries held, two per exchange (by target, and by sender and target, whether that list is built or not).
    private(set) var count = 0
    /// The exchanges claimed, with their times (forgotten with them).
    private var consumed: [ConsumedKey: Int64] = [:]

    struct ConsumedKey: Hashable {
        var group: Int
        var raw: UInt32?
        var index: Int
    }

    /// The hash of a method and target, the part of a list's key that costs (the strings through the hasher): taken
    /// once per exchange listed or claimed, then mixed with each sender's address.
    /// The hash of a method and target that lists are keyed by (``claim(hosts:method:path:requestID:host:from:to:excluding:notFrom:notTo:forwardedOnly:target:)``
    /// takes it precomputed, for a caller that searches twice).
    static func target(_ method: String, _ path: String) -> Int {
        var hasher = Hasher()
        hasher.combine(method)
        hasher.combine(path)
        return hasher.finalize()
    }

    /// A list's key: the target's hash mixed with the sender's address (the dictionary hashes the key again, seeded;
    /// keys that collide share a list, and ``belongs(_:client:method:path:)`` tells their exchanges apart).
    private static func key(_ client: IPAddress, target: Int) -> Int {
        target ^ Int(truncatingIfNeeded: client.folded)
    }

    /// Whether the exchange in `slot` belongs in the list of `client` (or ``anyClient``), `method` and `path`: a list's
    /// key is a hash, so another's exchanges may share it.
    private func belongs(_ slot: Int32, client: IPAddress, method: String, path: String) -> Bool {
        guard let item = stored[Int(slot)] else { return false }
        return (client == Self.anyClient || item.entry.sender == client) && item.method == method && item.path == path
    }

    /// Lists an exchange by its method and target, and by its sender too (once: the same exchange again is ignored).
    mutating func insert(_ entry: Entry, method: String, path: String) {
        if entry.forwarded { listedForwarded = true }
        let target = Self.target(method, path)
        let anyKey = Self.key(Self.anyClient, target: target)
        if isListed(entry, method: method, path: path, key: anyKey) { return }
        let slot: Int32
        let item = Stored(method: method, path: path, entry: entry)
        if let free = freeSlots.popLast() {
            slot = free
            stored[Int(slot)] = item
            times[Int(slot)] = entry.time
        } else {
            slot = Int32(stored.count)
            stored.append(item)
            times.append(entry.time)
        }
        count += entry.sender == Self.anyClient ? 1 : 2
        let length = add(slot, time: entry.time, to: anyKey)
        guard length > 1, let list = lists[anyKey] else { return }
        // Shared: every exchange of the list is in its sender's list too (the first one joins it now).
        for other in length == 2 ? Self.array(list) : [slot] {
            guard let item = stored[Int(other)], !item.bySender else { continue }
            stored[Int(other)]?.bySender = true
            guard item.entry.sender != Self.anyClient else { continue }
            // Its own target (a list's key is a hash: another method and target may share it).
            let own = item.method == method && item.path == path ? target : Self.target(item.method, item.path)
            add(other, time: item.entry.time, to: Self.key(item.entry.sender, target: own))
        }
    }

    /// Whether the same exchange is in the list of `key` already: it has the same time, so only the entries of that time
    /// are compared (found by binary search: a capture whose clock steps back lists exchanges ahead of many later ones).
    private func isListed(_ entry: Entry, method: String, path: String, key: Int) -> Bool {
        guard let slots = lists[key] else { return false }
        let list = Self.array(slots)
        var position = list.partitionPoint { time(of: $0) < entry.time }
        while position < list.count, time(of: list[position]) == entry.time, let item = stored[Int(list[position])] {
            let other = item.entry
            if other.group == entry.group, other.raw == entry.raw, other.index == entry.index, item.method == method,
                item.path == path
            {
                return true
            }
            position += 1
        }
        return false
    }

    /// The time of the exchange in `slot` (`.min` for a free slot, which no list holds).
    private func time(of slot: Int32) -> Int64 { times[Int(slot)] }

    private static func array(_ slots: Slots) -> [Int32] {
        switch slots {
        case .one(let slot): [slot]
        case .many(let array): array
        }
    }

    /// Adds `slot` to a list, in time order (usually at its end), in place; returns the list's length.
    @discardableResult
    private mutating func add(_ slot: Int32, time: Int64, to key: Int) -> Int {
        var array: [Int32]
        switch lists.removeValue(forKey: key) {
        case nil:
            lists[key] = .one(slot)
            return 1
        case .one(let first):
            array = [first]
        case .many(let existing):
            // Moved out of the dictionary: appended in place, not copied.
            array = existing
        }
        // After the entries of the same time or earlier: at the end, unless the capture's clock stepped back.
        if let last = array.last, self.time(of: last) > time {
            array.insert(slot, at: array.partitionPoint { self.time(of: $0) <= time })
        } else {
            array.append(slot)
        }
        let length = array.count
        lists[key] = .many(array)
        return length
    }

    /// Under a flood of requests: forgets the earliest exchanges until `target` entries are left (about: entries of
    /// one instant go together). Returns how many were forgotten.
    mutating func shed(to target: Int) -> Int {
        guard count > target else { return 0 }
        // Each exchange counts once for each list it is in: its time once, the target halved.
        var held: [Int64] = []
        held.reserveCapacity(count / 2 + 1)
        for slot in times.indices {
            let time = times[slot]
            if time != .min || stored[slot] != nil { held.append(time) }
        }
        held.sort()
        let exchanges = (target + 1) / 2
        let before = count
        let cutoff = held[min(held.count - 1, max(0, held.count - exchanges))]
        expire(before: cutoff)
        if count == before { expire(before: Clock.plus(cutoff, 1)) }
        return before - count
    }

    /// The onward request for an inbound one: sent from one of `hosts` between `from` and `to`, same method and
    /// target, same X-Request-ID when both have one (preferred), else the first.
    mutating func claim(
        hosts: [IPAddress],
        method: String,
        path: String,
        requestID: String?,
        host hostHeader: String?,
        from: Int64,
        to: Int64,
        excluding group: Int,
        notFrom client: IPAddress,
        notTo servers: [IPAddress],
        forwardedOnly: Bool = false,
        target known: Int? = nil
    ) -> Match? {
        if forwardedOnly, !listedForwarded { return nil }
        var best: (slot: Int32, byID: Bool)?
        let target = known ?? Self.target(method, path)
        // Each host once, in the order given (one or two: a Set cost more than the search, and its order changed
        // from run to run).
        for (i, host) in hosts.enumerated() where !hosts[..<i].contains(host) {
            // A sender's own list; else the list by target when it is one exchange (which may be the sender's).
            var found = lists[Self.key(host, target: target)]
            if found == nil, host != Self.anyClient,
                case .one(let only)? = lists[Self.key(Self.anyClient, target: target)]
            {
                found = .one(only)
            }
            guard let slots = found else { continue }
            let list = Self.array(slots)
            var position = list.partitionPoint { time(of: $0) < from }
            var scanned = 0
            while position < list.count, time(of: list[position]) <= to, scanned < 256,
                let item = stored[Int(list[position])]
            {
                let entry = item.entry
                let slot = list[position]
                position += 1
                scanned += 1
                guard belongs(slot, client: host, method: method, path: path) else { continue }
                // A proxy's onward request comes from the proxy, never from the inbound request's own client, and goes
                // elsewhere than the inbound one (another client's request to the same server is not forwarded).
                guard !entry.consumed, entry.group != group, entry.sender != client,
                    !servers.contains(entry.destination), entry.forwarded || !forwardedOnly
                else { continue }
                if let requestID, let theirs = entry.requestID, requestID != theirs { continue }
                if let hostHeader, entry.host != hostHeader { continue }
                let byID = requestID != nil && requestID == entry.requestID
                if best == nil || (byID && !best!.byID) {
                    best = (slot, byID)
                }
                if byID { break }
            }
        }
        guard let best, let entry = stored[Int(best.slot)]?.entry else { return nil }
        // Consumed in both lists at once: they share the slot.
        stored[Int(best.slot)]?.entry.consumed = true
        consumed[ConsumedKey(group: entry.group, raw: entry.raw, index: entry.index)] = entry.time
        return Match(group: entry.group, raw: entry.raw, index: entry.index, byRequestID: best.byID)
    }

    func isConsumed(group: Int, raw: UInt32?, index: Int) -> Bool {
        consumed[ConsumedKey(group: group, raw: raw, index: index)] != nil
    }

    /// Forgets the exchanges sent before `time` (each list is in time order: a prefix goes), and their consumption.
    mutating func expire(before time: Int64) {
        var changed: [(key: Int, rest: [Int32])] = []
        for (key, slots) in lists {
            switch slots {
            case .one(let slot):
                if self.time(of: slot) < time { changed.append((key, [])) }
            case .many(let list):
                let gone = list.partitionPoint { self.time(of: $0) < time }
                if gone > 0 { changed.append((key, Array(list[gone...]))) }
            }
        }
        for (key, rest) in changed {
            switch rest.count {
            case 0: lists[key] = nil
            case 1: lists[key] = .one(rest[0])
            default: lists[key] = .many(rest)
            }
        }
        if !changed.isEmpty {
            for slot in times.indices where times[slot] < time {
                guard let item = stored[slot] else { continue }
                stored[slot] = nil
                times[slot] = .min
                freeSlots.append(Int32(slot))
                count -= item.entry.sender == Self.anyClient ? 1 : 2
            }
            if lists.isEmpty {
                stored.removeAll()
                times.removeAll()
                freeSlots = []
            }
        }
        if consumed.values.contains(where: { $0 < time }) { consumed = consumed.filter { $0.value >= time } }
    }
}
