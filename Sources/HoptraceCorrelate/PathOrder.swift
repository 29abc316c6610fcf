import HoptraceCapture
import HoptraceDecode
import HoptraceFlows

/// Orders the sightings of one connection along its path, client side first, from causal evidence.
///
/// "The latest timestamp" is never a location: a bridge in promiscuous mode is handed a copy of every frame it
/// forwards after the frame left its egress port, and capture sockets disagree by microseconds. For each pair of
/// sightings the strongest evidence available decides which is nearer the client (`docs/path-order.md` gives the
/// reasons and the limits):
/// 1. **direction** flags on one node (In before Out; entering, a port before the bridge; leaving, the bridge first);
/// 2. **bridge**: a bridge goes between its port on the client's side and its port on the server's side (its own
///    copies of the frames it forwards are timestamped late);
/// 3. **two-way delay**: over client-to-server packets seen at both, min(t_B - t_A); over server-to-client ones,
///    min(t_A - t_B). Their sum is the sum of two one-way delays, positive when A is nearer the client, whatever the
///    offset between the two clocks;
/// 4. **TTL**: a router between the two decremented it;
/// 5. **translation**: the client's own addresses before translated ones;
/// 6. **link** ownership: the client's own link (where only its address lives) first, the server's last;
/// 7. **name** conventions of the interfaces (pod link, bridge, overlay, uplink) in the direction of travel;
/// 8. **time**, on the reference clock, when nothing else tells them apart.
/// The order is the ranking by pairwise wins (each pair decided by its strongest evidence).
struct PathOrder {
    /// Two-way delay sums within this many ns of zero decide nothing (timestamps are often microseconds).
    var delayTolerance: Int64 = 2_000
    let topology: Topology

    /// What ordering reads of a sighting, as plain values: one comparison for each pair of a connection's sightings
    /// copies two of these (a ``Sighting`` holds a dozen references, each retained and released by a copy).
    struct Entry {
        /// The sighting's position in the list given to ``order(_:original:)``.
        var index: Int
        var pointID: Int
        /// The capture point's node, numbered within this connection (nil, one node, is a number too).
        var node: Int
        var direction: PacketDirection
        var recordID: UInt64
        /// The TTL of the client's first packet there.
        var ttl: UInt8?
        /// 0 for the client's own addresses, 1 once translated.
        var stage: Int
        /// ``marks(_:)``: client-to-server and server-to-client.
        var forward: Marks
        var reverse: Marks
        var time: Int64
        /// What the interface's name says it is, and whether it is a bridge (by name, or by the connection crossing
        /// it both In and Out).
        var kind: PointKind
        var isBridge: Bool
        /// The one address the point's link belongs to (``Topology/home(of:)``).
        var home: IPAddress?
    }

    /// The sightings in path order, each with the evidence that placed it after the one before.
    func order(
        _ sightings: [Sighting],
        original: (client: FlowEndpoint, server: FlowEndpoint)
    ) -> [(
        Sighting, OrderEvidence
    )] {
        guard sightings.count > 1 else { return sightings.map { ($0, .first) } }
        // What the topology says of each point is read once per sighting, not once per pair compared: a connection
        // seen at hundreds of points (a hostile capture) costs its pairs' comparisons, not as many name parses.
        let bridges = Self.bridgesByDirection(sightings)
        var nodes: [String?: Int] = [:]
        // The order is a function of the sightings, not of the order their records came in (which the flow stage's
        // emission decides): the entries are taken by time on the reference clock, capture point and record.
        let entries = sightings.enumerated().map { index, sighting in
            let isOriginal = sighting.client == original.client && sighting.server == original.server
            let (forward, reverse) = Self.marks(sighting)
            let kind = topology.kind(of: sighting.point)
            let node: Int
            if let known = nodes[sighting.point.node] {
                node = known
            } else {
                node = nodes.count
                nodes[sighting.point.node] = node
            }
            return Entry(
                index: index,
                pointID: sighting.pointID,
                node: node,
                direction: sighting.direction,
                recordID: sighting.record.id,
                ttl: sighting.record.originatorFirst?.ttl,
                stage: isOriginal ? 0 : 1,
                forward: forward,
                reverse: reverse,
                time: topology.corrected(sighting.start, node: sighting.point.node),
                kind: kind,
                isBridge: bridges.contains(sighting.pointID) || kind == .bridge,
                home: topology.home(of: sighting.pointID)
            )
        }
        .sorted { a, b in
            if a.time != b.time { return a.time < b.time }
            if a.pointID != b.pointID { return a.pointID < b.pointID }
            return a.recordID < b.recordID
        }
        let ends = Ends(client: original.client.address, servers: Set(sightings.map(\.server.address)))
        let ports = bridgePorts(entries)
        let count = entries.count
        // decisions[i][j]: i before j, with the evidence that decided it.
        var decisions = [[(Bool, OrderEvidence)?]](
            repeating: [(Bool, OrderEvidence)?](repeating: nil, count: count),
            count: count
        )
        var score = [Double](repeating: 0, count: count)
        for i in 0..<count {
            for j in (i + 1)..<count {
                let decision =
                    bridgeDecision(i, j, entries: entries, ports: ports, ends: ends)
                    ?? compare(entries[i], entries[j], ends: ends)
                decisions[i][j] = decision
                decisions[j][i] = (!decision.0, decision.1)
                let weight = Self.weight(decision.1)
                if decision.0 { score[i] += weight } else { score[j] += weight }
            }
        }
        let ranked = (0..<count).sorted { a, b in
            if score[a] != score[b] { return score[a] > score[b] }
            return entries[a].time < entries[b].time
        }
        var result: [(Sighting, OrderEvidence)] = []
        for (position, index) in ranked.enumerated() {
            let evidence = position == 0 ? .first : (decisions[ranked[position - 1]][index]?.1 ?? .time)
            result.append((sightings[entries[index].index], evidence))
        }
        return result
    }

    /// For each bridge on the path (by entry index), the pod links of its node on the path: its ports.
    ///
    /// A bridge in promiscuous mode is handed its copy of a frame it forwards after the frame left the egress port,
    /// in both directions (2 to 13 µs later in the lab, on every writer; with br_netfilter the frames it routes back
    /// out are captured in step, those it bridges are not), so neither time nor two-way delays place it against its
    /// ports: the frame crossed it between the port on the client's side and the port on the server's side, whose
    /// own order the delays give.
    func bridgePorts(_ entries: [Entry]) -> [Int: [Int]] {
        var result: [Int: [Int]] = [:]
        for (index, entry) in entries.enumerated() {
            guard entry.isBridge else { continue }
            let ports = entries.indices.filter { other in
                let candidate = entries[other]
                return candidate.kind == .podLink && candidate.node == entry.node && candidate.pointID != entry.pointID
            }
            if !ports.isEmpty { result[index] = ports }
        }
        return result
    }

    /// The order of a bridge and one of its ports on the path: the port is before the bridge when it is on the
    /// client's side, that is before another port of the path (or, with one port, when it is the client's link).
    func bridgeDecision(
        _ i: Int,
        _ j: Int,
        entries: [Entry],
        ports: [Int: [Int]],
        ends: Ends
    ) -> (Bool, OrderEvidence)? {
        func portBefore(_ port: Int, bridge: Int) -> Bool? {
            // Directions on one node say it already (rule 1).
            guard let all = ports[bridge], all.contains(port),
                entries[port].direction == .unknown || entries[bridge].direction == .unknown
            else { return nil }
            let others = all.filter { other in
                other != port
                    && (entries[other].pointID != entries[port].pointID
                        || entries[other].stage != entries[port].stage)
            }
            if let other = others.first {
                return compare(entries[port], entries[other], ends: ends).0
            }
            let home = entries[port].home
            if home == ends.client { return true }
            if let home, ends.servers.contains(home) { return false }
            return nil
        }
        guard !ports.isEmpty else { return nil }
        if let before = portBefore(j, bridge: i) { return (!before, .bridge) }
        if let before = portBefore(i, bridge: j) { return (before, .bridge) }
        return nil
    }

    /// Strong evidence outweighs any number of weak decisions.
    static func weight(_ evidence: OrderEvidence) -> Double {
        switch evidence {
        case .direction, .delay, .ttl, .translation, .bridge: return 1_000
        case .link: return 30
        case .name: return 1
        case .time, .first: return 0.01
        }
    }

    /// The points that saw this connection both In and Out (a bridge routing it), by id.
    static func bridgesByDirection(_ sightings: [Sighting]) -> Set<Int> {
        var directions: [Int: Set<PacketDirection>] = [:]
        for sighting in sightings where sighting.direction != .unknown {
            directions[sighting.pointID, default: []].insert(sighting.direction)
        }
        return Set(directions.filter { $0.value.count > 1 }.keys)
    }

    /// The client's own address and the addresses the server had along the path.
    struct Ends {
        var client: IPAddress
        var servers: Set<IPAddress>
    }

    /// Whether `a` is nearer the client than `b`, and why.
    func compare(_ a: Entry, _ b: Entry, ends: Ends) -> (Bool, OrderEvidence) {
        let sameNode = a.node == b.node
        // 1. Directions on one node.
        if sameNode, a.direction != .unknown, b.direction != .unknown {
            if a.direction == .inbound && b.direction == .outbound { return (true, .direction) }
            if a.direction == .outbound && b.direction == .inbound { return (false, .direction) }
            if a.pointID == b.pointID {
                // The same point both ways is impossible with one direction; two variants on one point and
                // direction: the translated one is later.
                if a.stage != b.stage { return (a.stage < b.stage, .translation) }
            } else {
                let aBridge = a.isBridge
                let bBridge = b.isBridge
                if aBridge != bBridge {
                    // Entering (In): the port before the bridge. Leaving (Out): the bridge before the port.
                    let entering = a.direction == .inbound
                    return (entering ? bBridge : aBridge, .direction)
                }
            }
        }
        // 2. Two-way delay, when it says the same measured from either side. From `a`, the sum takes the least delay
        // each way; from `b`, the least of the negated ones, that is the most: when the two disagree in sign, some
        // packets were timestamped out of causal order (a bridge's late copies) and the delays decide nothing here.
        if let (sum, back) = delaySums(a, b), sum.magnitude > delayTolerance, back.magnitude > delayTolerance,
            (sum > 0) != (back > 0)
        {
            return (sum > 0, .delay)
        }
        // 3. TTL of the client's packets.
        if let ta = a.ttl, let tb = b.ttl, ta != tb {
            return (ta > tb, .ttl)
        }
        // 4. Translation stage.
        if a.stage != b.stage { return (a.stage < b.stage, .translation) }
        // 5. Link ownership: the client's own link first, the server's last.
        let aHome = a.home
        let bHome = b.home
        if aHome != bHome {
            if aHome == ends.client { return (true, .link) }
            if bHome == ends.client { return (false, .link) }
            if let aHome, ends.servers.contains(aHome) { return (false, .link) }
            if let bHome, ends.servers.contains(bHome) { return (true, .link) }
        }
        // 6. Names.
        if sameNode {
            let ra = Self.nameRank(a.kind, stage: a.stage)
            let rb = Self.nameRank(b.kind, stage: b.stage)
            if ra != rb { return (ra < rb, .name) }
        }
        // 7. Time on the reference clock.
        return (a.time <= b.time, .time)
    }

    /// Name classes in the usual direction of travel from a client: before translation the client's side (its
    /// link, the bridge, the uplink where an external client enters), after it the server's side.
    static func nameRank(_ kind: PointKind, stage: Int) -> Int {
        switch kind {
        case .podLink, .loopback: return stage == 0 ? 0 : 4
        case .uplink: return stage == 0 ? 1 : 3
        case .bridge: return 2
        case .overlay: return 3
        case .other: return 2
        }
    }

    /// The sum of the two one-way delays from `a` to `b` and back, measured from `a` and from `b` (each side takes
    /// the least delay each way it sees; see rule 2), when both saw packets both ways. One merge of the sorted marks
    /// each way.
    func delaySums(_ a: Entry, _ b: Entry) -> (fromA: Int64, fromB: Int64)? {
        guard let forward = Self.leastDelays(from: a.forward, to: b.forward),
            let reverse = Self.leastDelays(from: b.reverse, to: a.reverse)
        else { return nil }
        return (Clock.plus(forward.there, reverse.there), Clock.plus(forward.back, reverse.back))
    }

    /// Over the packets `x` and `y` both saw (the keys they share), the least of `y`'s time less `x`'s and the least
    /// of `x`'s less `y`'s; nil when they share none.
    static func leastDelays(from x: Marks, to y: Marks) -> (there: Int64, back: Int64)? {
        var there = Int64.max
        var back = Int64.max
        var found = false
        forEachCommon(x, y) { tx, ty in
            there = min(there, Clock.since(ty, tx))
            back = min(back, Clock.since(tx, ty))
            found = true
        }
        return found ? (there, back) : nil
    }

    /// A sighting's marks in one direction, sorted by key: two sightings' common packets are found by one merge, not
    /// by hashing each key (path order compares every pair of a connection's sightings, clock offsets every pair on
    /// two nodes).
    typealias Marks = [(key: UInt64, time: Int64)]

    /// Calls `body` with the two times of each packet both `x` and `y` saw (the keys they share), in key order.
    @inline(__always)
    static func forEachCommon(_ x: Marks, _ y: Marks, _ body: (_ tx: Int64, _ ty: Int64) -> Void) {
        var i = 0
        var j = 0
        while i < x.count, j < y.count {
            if x[i].key < y[j].key {
                i += 1
            } else if y[j].key < x[i].key {
                j += 1
            } else {
                body(x[i].time, y[j].time)
                i += 1
                j += 1
            }
        }
    }

    /// The packets of a sighting that another point can recognise, keyed by what identifies them (kind and raw
    /// sequence number, which NAT never rewrites), with their times: client-to-server and server-to-client.
    static func marks(_ s: Sighting) -> (forward: Marks, reverse: Marks) {
        // Room for every mark at once: 3 per direction and 2 per exchange.
        let exchanges = min(16, s.exchanges.count)
        var forward: Marks = []
        var reverse: Marks = []
        forward.reserveCapacity(3 + 2 * exchanges)
        reverse.reserveCapacity(3 + 2 * exchanges)
        func key(_ kind: UInt64, _ raw: UInt32?) -> UInt64? { raw.map { kind << 32 | UInt64($0) } }
        // Read in place (the record is shared storage: a local copy would copy its ~750 bytes).
        if let syn = s.record.synTime, let isn = s.record.originatorISN { forward.append((1 << 32 | UInt64(isn), syn)) }
        if let synAck = s.record.synAckTime, let isn = s.record.responderISN {
            reverse.append((2 << 32 | UInt64(isn), synAck))
        }
        if let ack = s.record.handshakeAckTime, let isn = s.record.responderISN {
            forward.append((3 << 32 | UInt64(isn), ack))
        }
        if let mark = s.record.originatorSummary.firstData, let k = key(4, s.clientRaw(mark.offset)) {
            forward.append((k, mark.time))
        }
        if let mark = s.record.originatorSummary.lastData, let k = key(5, s.clientRaw(mark.offset)) {
            forward.append((k, mark.time))
        }
        if let mark = s.record.originatorSummary.fin, let k = key(6, s.clientRaw(mark.offset)) {
            forward.append((k, mark.time))
        }
        if let mark = s.record.responderSummary.firstData, let k = key(4, s.serverRaw(mark.offset)) {
            reverse.append((k, mark.time))
        }
        if let mark = s.record.responderSummary.lastData, let k = key(5, s.serverRaw(mark.offset)) {
            reverse.append((k, mark.time))
        }
        if let mark = s.record.responderSummary.fin, let k = key(6, s.serverRaw(mark.offset)) {
            reverse.append((k, mark.time))
        }
        // Each exchange's four marks read in place (no copy of an exchange, nor a retain).
        for position in 0..<exchanges {
            if let mark = s.exchanges[position].requestFirstByte, let k = key(7, s.clientRaw(mark.offset)) {
                forward.append((k, mark.time))
            }
            if let mark = s.exchanges[position].requestLastByte, let k = key(8, s.clientRaw(mark.offset)) {
                forward.append((k, mark.time))
            }
            if let mark = s.exchanges[position].responseFirstByte, let k = key(7, s.serverRaw(mark.offset)) {
                reverse.append((k, mark.time))
            }
            if let mark = s.exchanges[position].responseLastByte, let k = key(8, s.serverRaw(mark.offset)) {
                reverse.append((k, mark.time))
            }
        }
        settle(&forward)
        settle(&reverse)
        return (forward, reverse)
    }

    /// Sorts marks by key and keeps, of those sharing a key, the one added last (a later mark of one key replaces
    /// the earlier). An insertion sort: a sighting has a few marks (at most 38), mostly in order already, and it is
    /// stable, which the rule needs.
    static func settle(_ marks: inout Marks) {
        guard marks.count > 1 else { return }
        for i in 1..<marks.count {
            let item = marks[i]
            var j = i
            while j > 0, marks[j - 1].key > item.key {
                marks[j] = marks[j - 1]
                j -= 1
            }
            marks[j] = item
        }
        // Of a run of one key, the last stands (stable: the last added).
        var kept = 0
        for i in marks.indices {
            if i + 1 < marks.count, marks[i + 1].key == marks[i].key { continue }
            marks[kept] = marks[i]
            kept += 1
        }
        marks.removeLast(marks.count - kept)
    }
}
