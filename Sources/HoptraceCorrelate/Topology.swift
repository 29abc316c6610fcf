import HoptraceDecode
import HoptraceFlows

/// What a capture point is, from its name (the last tie-breaker of path order) or from `ip -j link` when given.
public enum PointKind: String, Sendable, Hashable, CaseIterable {
    /// A pod's link: veth*, cali*, lxc*, tap*, a per-pod interface.
    case podLink
    /// A bridge: cni0, cbr0, docker0, br-*, virbr*.
    case bridge
    /// An overlay device: flannel.1, vxlan*, cilium_vxlan, genev*, tunl0, vxlan.calico.
    case overlay
    /// A node's uplink: eth*, ens*, enp*, eno*, bond*, wl*.
    case uplink
    /// The loopback interface.
    case loopback
    /// Anything else.
    case other

    /// The kind a conventional interface name suggests.
    public static func guess(_ name: String) -> PointKind {
        let lower = name.lowercased()
        func has(_ prefixes: [String]) -> Bool { prefixes.contains { lower.hasPrefix($0) } }
        if lower == "lo" { return .loopback }
        if has(["veth", "cali", "lxc", "tap", "gke", "eni", "azv", "vnet", "pod"]) { return .podLink }
        if has(["cni", "cbr", "docker", "br-", "br", "virbr", "kube-bridge", "weave"]) { return .bridge }
        if has(["flannel", "vxlan", "cilium_vxlan", "cilium_geneve", "genev", "tunl", "ipip", "wireguard", "wg"]) {
            return .overlay
        }
        if has(["eth", "ens", "enp", "eno", "bond", "wl", "em", "p1p", "ib"]) { return .uplink }
        return .other
    }
}

/// What the capture taught about its capture points, learned as correlation goes: which address lives behind which
/// point (a pod's link carries one pod's address only), which points are shared (a bridge or an uplink sees many),
/// and each point's kind.
final class Topology {
    /// Per capture point id: the addresses every connection seen there involved (nil: none seen yet; empty: shared).
    private var common: [Int: Set<IPAddress>] = [:]
    /// Per capture point id: the connections (groups) seen there, up to a few.
    private var connections: [Int: Set<Int>] = [:]
    /// Per capture point id that lists its few connections: its common addresses (see ``note(point:capturePoint:group:_:_:)``).
    private var settled: [Int: [IPAddress]] = [:]
    /// Capture points that saw one connection in two forms (before and after a translation, or a router's TTL
    /// decrement): a bridge or a router, never one pod's link.
    private var routers: Set<Int> = []
    /// Kinds from `ip -j link` (by interface name) when given.
    var declaredKinds: [String: PointKind] = [:] {
        didSet {
            bridgesByNode = [:]
            for id in points.keys.sorted() { noteBridge(id) }
        }
    }
    /// Kinds guessed from names so far (each name's guess is the same every time).
    private var guessedKinds: [String: PointKind] = [:]
    /// Per node, the clock correction subtracted from its times.
    var offsets: [String: Int64] = [:]

    /// The capture points by id, as noted.
    private var points: [Int: CapturePoint] = [:]

    /// The ids of the capture points noted, by capture point (the least id of equal ones).
    private var ids: [CapturePoint: Int] = [:]
    /// Per address, the points whose connections all involved that address alone at some time (sorted ids): the
    /// points that may be its home (``home(of:)`` says whether each still is).
    private var homeCandidates: [IPAddress: [Int]] = [:]
    /// Per node, the ids of its bridges (sorted).
    private var bridgesByNode: [String?: [Int]] = [:]

    /// The capture point with this id, once noted.
    func point(_ id: Int) -> CapturePoint? { points[id] }

    /// The id of a capture point, once noted.
    func id(of point: CapturePoint) -> Int? { ids[point] }

    /// The first capture point other than `excluded` that `address` lives behind (its link; ``home(of:)``), by id,
    /// found without listing them all: a capture may hold
    /// thousands of points behind which one address lives (a server every point's connections went to), and a trace
    /// asks for each. A candidate whose connections no longer have only that address in common never will again,
    /// and is dropped from the list on the way.
    func firstHome(of address: IPAddress, excluding excluded: Int) -> Int? {
        guard homeCandidates[address] != nil else { return nil }
        var found: Int?
        // Scanned in place (the list is not copied); the stale ones met on the way are dropped as the prefix read is
        // compacted, so that each costs one look, not one in every later scan.
        Self.scan(&homeCandidates[address, default: []]) { id in
            guard common[id] == [address] else { return .drop }
            if id != excluded, home(of: id) == address {
                found = id
                return .stop
            }
            return .keep
        }
        return found
    }

    private enum ScanStep { case keep, drop, stop }

    /// Reads `list` in order until `step` says stop, removing what it says to drop from the part read.
    private static func scan(_ list: inout [Int], _ step: (Int) -> ScanStep) {
        var write = 0
        var read = 0
        while read < list.count {
            let id = list[read]
            read += 1
            let next = step(id)
            if next == .drop { continue }
            list[write] = id
            write += 1
            if next == .stop { break }
        }
        // The part read, compacted; the rest as it was.
        if write < read { list.removeSubrange(write..<read) }
    }

    /// Keeps `list` sorted with `id` in it (ids come mostly in increasing order: appended).
    private static func insert(_ id: Int, into list: inout [Int]) {
        if let last = list.last, last >= id {
            let at = list.partitionPoint { $0 < id }
            if at < list.count, list[at] == id { return }
            list.insert(id, at: at)
        } else {
            list.append(id)
        }
    }

    /// Notes a point's id the first time it is seen.
    private func notePoint(_ point: Int, _ capturePoint: CapturePoint) {
        points[point] = capturePoint
        if let known = ids[capturePoint] {
            if point < known { ids[capturePoint] = point }
        } else {
            ids[capturePoint] = point
        }
        noteBridge(point)
    }

    /// Lists `point` among its node's bridges when it is one.
    private func noteBridge(_ point: Int) {
        guard let capturePoint = points[point], kind(of: capturePoint) == .bridge else { return }
        Self.insert(point, into: &bridgesByNode[capturePoint.node, default: []])
    }

    /// Notes that `point`'s connections have one address in common (a candidate home for it).
    private func noteCommon(_ point: Int, _ addresses: Set<IPAddress>) {
        guard addresses.count == 1, let address = addresses.first else { return }
        Self.insert(point, into: &homeCandidates[address, default: []])
    }

    /// Notes a connection (`group`) seen at `point` between addresses `a` and `b`.
    func note(point: Int, capturePoint: CapturePoint, group: Int, _ a: IPAddress, _ b: IPAddress) {
        // Once a point lists its few connections, only a connection without one of its common addresses teaches
        // anything: a node's stream of connections to one server costs one lookup each.
        if let common = settled[point], common.allSatisfy({ $0 == a || $0 == b }) { return }
        if points[point] == nil { notePoint(point, capturePoint) }
        if let current = common[point] {
            // A shared point (empty) stays shared: nothing to build for each connection there.
            if !current.isEmpty, !current.allSatisfy({ $0 == a || $0 == b }) {
                let narrowed = current.filter { $0 == a || $0 == b }
                common[point] = narrowed
                noteCommon(point, narrowed)
            }
        } else {
            common[point] = [a, b]
            noteCommon(point, [a, b])
        }
        if (connections[point]?.count ?? 0) < 8 {
            connections[point, default: []].insert(group)
        } else if let current = common[point] {
            settled[point] = Array(current)
        }
    }

    /// Per capture point id and original destination, the point an answered connection to it crossed next.
    private var successors: [Successor: Int] = [:]

    struct Successor: Hashable {
        var point: Int
        var target: FlowEndpoint
    }

    /// Notes the path of a connection that was answered: each point's successor toward `target` (the client's
    /// original destination), for where an unanswered one to the same destination should have appeared next.
    func notePath(_ points: [Int], target: FlowEndpoint) {
        guard successors.count < 1 << 16 else { return }
        for (here, next) in zip(points, points.dropFirst()) where here != next {
            successors[Successor(point: here, target: target)] = next
        }
    }

    /// The one bridge (by name, or declared) of `node` among the points seen, by id; nil when it has none or
    /// several.
    func soleBridge(on node: String?) -> Int? {
        guard let bridges = bridgesByNode[node], bridges.count == 1 else { return nil }
        return bridges[0]
    }

    /// Where answered connections to `target` went after `point`, if one was seen.
    func successor(of point: Int, toward target: FlowEndpoint) -> Int? {
        successors[Successor(point: point, target: target)]
    }

    /// Notes that `point` saw one connection in two forms (a bridge or router).
    func noteRouter(_ point: Int) {
        routers.insert(point)
    }

    /// The address that lives behind `point`: every connection seen there (two or more) involved that one address,
    /// the point never saw a connection in two forms, and its name is not a bridge's, an overlay's or an uplink's.
    func home(of point: Int) -> IPAddress? {
        guard let set = common[point], set.count == 1, (connections[point]?.count ?? 0) >= 2,
            !routers.contains(point)
        else { return nil }
        if let capturePoint = points[point] {
            switch kind(of: capturePoint) {
            case .bridge, .overlay, .uplink: return nil
            case .podLink, .loopback, .other: break
            }
        }
        return set.first
    }

    /// Whether `point` carries traffic of many addresses (a bridge or an uplink).
    func isShared(_ point: Int) -> Bool {
        common[point]?.isEmpty ?? false
    }

    /// The kind of a capture point: declared by `--links`, else guessed from its name.
    func kind(of point: CapturePoint) -> PointKind {
        if let kind = declaredKinds[point.name] ?? guessedKinds[point.name] { return kind }
        let kind = PointKind.guess(point.name)
        // A capture has a few interface names (bounded by its interfaces, not its packets).
        if guessedKinds.count < 4_096 { guessedKinds[point.name] = kind }
        return kind
    }

    /// A time of `node`'s clock on the reference clock.
    func corrected(_ time: Int64, node: String?) -> Int64 {
        guard let node, let offset = offsets[node], offset != 0 else { return time }
        return Clock.since(time, offset)
    }
}
