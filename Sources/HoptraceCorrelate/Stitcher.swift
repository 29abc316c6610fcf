/// One TCP connection, stitched across the capture points that saw it.
///
/// NAT rewrites addresses and ports but never sequence numbers: sightings with the same client ISN (and, where both
/// saw it, the same server ISN) are the same connection. `path` is in causal order from the client to the server.
public struct StitchedConnection: Sendable, Hashable {
    /// The sightings of the connection's client-to-server packets, client side first.
    public var path: [TCPSighting]
    /// Sightings that only hold an RST answering the SYN (seen with other addresses than the connection's own at
    /// that capture point, e.g. a reply leaking un-NATed).
    public var strayResets: [TCPSighting]

    /// The client-side sighting (first in causal order).
    public var clientSide: TCPSighting { path[0] }
    /// The server-side sighting (last in causal order).
    public var serverSide: TCPSighting { path[path.count - 1] }

    /// The earliest time anything of this connection was seen.
    public var start: Int64 {
        path.lazy.map { $0.synTime ?? $0.firstTime }.min() ?? 0
    }
}

/// Groups TCP sightings into connections and orders each connection's capture points by causality.
public enum Stitcher {
    /// Sightings further apart than this are never the same connection, whatever their ISNs.
    public static let sameConnectionWindow: Int64 = 60_000_000_000

    /// Stitches sightings into connections.
    ///
    /// - Parameters:
    ///   - sightings: every TCP sighting of the capture, at every capture point.
    ///   - resolvedAddresses: addresses some DNS answer gave; a connection to one of them shows its pre-NAT
    ///     addresses (the name resolved to the Service, not the pod).
    /// - Returns: connections ordered by start time.
    public static func stitch(_ sightings: [TCPSighting], resolvedAddresses: Set<String> = []) -> [StitchedConnection] {
        var groups: [[TCPSighting]] = []
        var byKey: [UInt32: [Int]] = [:]
        for sighting in sightings.sorted(by: { ($0.synTime ?? $0.firstTime) < ($1.synTime ?? $1.firstTime) }) {
            guard let key = sighting.stitchKey else {
                // Without an ISN a sighting can only stand alone; a lone reply or reset is not a request.
                if !isReplyOnly(sighting), !isStrayReset(sighting) { groups.append([sighting]) }
                continue
            }
            var joined = false
            for index in byKey[key, default: []] where belongs(sighting, to: groups[index]) {
                groups[index].append(sighting)
                joined = true
                break
            }
            if !joined {
                byKey[key, default: []].append(groups.count)
                groups.append([sighting])
            }
        }
        var connections: [StitchedConnection] = []
        for group in groups {
            let main = group.filter { !isStrayReset($0) && !isReplyOnly($0) }
            let stray = group.filter { isStrayReset($0) }
            guard !main.isEmpty else {
                // No sighting of the client's packets: the connection itself was not seen (only resets answering
                // it), or the capture began mid-connection and only the server spoke. Keep what there is as the path;
                // a connection's path is never empty.
                let rest = stray.isEmpty ? group : stray
                connections.append(
                    StitchedConnection(path: order(rest, resolvedAddresses: resolvedAddresses), strayResets: [])
                )
                continue
            }
            connections.append(
                StitchedConnection(path: order(main, resolvedAddresses: resolvedAddresses), strayResets: stray)
            )
        }
        return connections.sorted { $0.start < $1.start }
    }

    /// Whether `sighting` is part of the connection `group` (same server ISN where both know it, close in time).
    static func belongs(_ sighting: TCPSighting, to group: [TCPSighting]) -> Bool {
        for other in group {
            let t1 = sighting.synTime ?? sighting.firstTime
            let t2 = other.synTime ?? other.firstTime
            if abs(t1 - t2) > sameConnectionWindow { return false }
            if let a = sighting.serverISN, let b = other.serverISN, a != b { return false }
        }
        return true
    }

    /// A sighting holding nothing but an RST that answers a SYN seen elsewhere.
    static func isStrayReset(_ sighting: TCPSighting) -> Bool {
        sighting.clientISN == nil && sighting.synAckTime == nil && sighting.reset != nil && sighting.clientBytes == 0
            && sighting.serverBytes == 0
    }

    /// A sighting of only the server's packets (SYN-ACK, response) with addresses the client's packets never had
    /// there: a reply caught half translated (on a bridge, MASQUERADE undone and DNAT not yet). Not a hop of the
    /// request's path.
    static func isReplyOnly(_ sighting: TCPSighting) -> Bool {
        sighting.synTime == nil && sighting.clientBytes == 0 && (sighting.synAckTime != nil || sighting.serverBytes > 0)
    }

    /// Orders one connection's sightings along its path, client side first.
    ///
    /// Raw timestamps from different capture sockets can disagree by microseconds (a post-DNAT copy stamped before
    /// the pre-DNAT one), so the order comes from causality first:
    /// 1. addresses before translation come before addresses after it (the variant the client used: the one a DNS
    ///    answer named, else the one seen entering the node, else the one seen first);
    /// 2. a packet is received (In) before it is sent (Out);
    /// 3. entering, a bridge port comes before the bridge; leaving, the bridge before its port (the bridge is the
    ///    capture point that sees the connection both ways);
    /// 4. then time.
    static func order(_ sightings: [TCPSighting], resolvedAddresses: Set<String>) -> [TCPSighting] {
        guard sightings.count > 1 else { return sightings }
        let original = originalVariant(of: sightings, resolvedAddresses: resolvedAddresses)
        var pointCount: [String: Int] = [:]
        for sighting in sightings { pointCount[sighting.capturePoint, default: 0] += 1 }
        func rank(_ s: TCPSighting) -> (Int, Int, Int, Int64) {
            let stage = (s.client == original.client && s.server == original.server) ? 0 : 1
            let direction: Int
            switch s.clientDirection {
            case .inbound: direction = 0
            case .unknown: direction = 1
            case .outbound: direction = 2
            }
            let isBridge = pointCount[s.capturePoint, default: 0] > 1
            let bridgeRank: Int
            switch s.clientDirection {
            case .inbound: bridgeRank = isBridge ? 1 : 0
            case .outbound: bridgeRank = isBridge ? 0 : 1
            case .unknown: bridgeRank = 0
            }
            return (stage, direction, bridgeRank, s.synTime ?? s.firstTime)
        }
        return sightings.map { ($0, rank($0)) }.sorted { $0.1 < $1.1 }.map(\.0)
    }

    /// The client's own view of the connection's addresses.
    static func originalVariant(
        of sightings: [TCPSighting],
        resolvedAddresses: Set<String>
    ) -> (client: Endpoint, server: Endpoint) {
        if let named = sightings.first(where: { resolvedAddresses.contains($0.server.host) }) {
            return (named.client, named.server)
        }
        let byTime = sightings.sorted { ($0.synTime ?? $0.firstTime) < ($1.synTime ?? $1.firstTime) }
        if let entering = byTime.first(where: { $0.clientDirection == .inbound }) {
            return (entering.client, entering.server)
        }
        return (byTime[0].client, byTime[0].server)
    }

    /// Collapses a connection's ordered sightings into hops: consecutive sightings on one capture point (a bridge
    /// seen In and Out) become one hop. A hop's translation compares the addresses leaving it with those leaving
    /// the hop before it (for the first hop, with those entering it).
    static func hops(of connection: StitchedConnection, index: Int) -> [Hop] {
        var hops: [Hop] = []
        var entering: [(client: Endpoint, server: Endpoint)] = []
        var previous: TCPSighting?
        for sighting in connection.path {
            defer { previous = sighting }
            let retransmissions = sighting.clientRetransmissions + sighting.serverRetransmissions
            if var last = hops.last, last.capturePoint == sighting.capturePoint {
                if !last.directions.contains(sighting.clientDirection) {
                    last.directions.append(sighting.clientDirection)
                }
                last.src = sighting.client
                last.dst = sighting.server
                last.synCount = max(last.synCount, sighting.synCount)
                last.retransmissions = max(last.retransmissions, retransmissions)
                hops[hops.count - 1] = last
                continue
            }
            var hop = Hop(
                capturePoint: sighting.capturePoint,
                directions: [sighting.clientDirection],
                src: sighting.client,
                dst: sighting.server,
                translation: .none,
                firstSeen: sighting.synTime ?? sighting.firstTime,
                connection: index,
                handshakeRTT: sighting.synTime.flatMap { syn in sighting.synAckTime.map { $0 - syn } },
                synCount: sighting.synCount,
                retransmissions: retransmissions
            )
            if let previous {
                if let a = previous.synTime, let b = sighting.synTime {
                    hop.synDelay = max(0, b - a)
                    hop.clockNoise = b < a
                }
                if let a = previous.clientDataFirst, let b = sighting.clientDataFirst {
                    hop.dataDelay = max(0, b - a)
                    hop.clockNoise = hop.clockNoise || b < a
                }
            }
            hops.append(hop)
            entering.append((sighting.client, sighting.server))
        }
        for i in hops.indices {
            let before = i == 0 ? entering[0] : (hops[i - 1].src, hops[i - 1].dst)
            hops[i].translation = translation(from: before, to: (hops[i].src, hops[i].dst))
        }
        return hops
    }

    /// The translation between two views of one connection's client-to-server addresses.
    static func translation(
        from a: (client: Endpoint, server: Endpoint),
        to b: (client: Endpoint, server: Endpoint)
    ) -> Translation {
        let dnat = a.server != b.server
        let snat = a.client != b.client
        switch (dnat, snat) {
        case (true, true): return .dnatSnat
        case (true, false): return .dnat
        case (false, true): return .snat
        case (false, false): return .none
        }
    }
}
