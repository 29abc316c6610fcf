import HoptraceDecode
import HoptraceFlows

/// Estimates the offsets between nodes' clocks from packets seen on two nodes, without trusting either clock.
///
/// A packet that travels from a capture point on node X to one on node Y arrives after it left: with `Δ` the offset of
/// Y's clock against X's, `t_Y - t_X = d + Δ ≥ Δ`, so every such packet bounds `Δ` from above; a packet travelling
/// from Y to X bounds it from below (`Δ ≥ t_Y - t_X`). Which way a packet travelled comes from the path order (client
/// to server for the client's packets), which two-way delays give whatever the clocks say. The smallest upper and the
/// largest lower bound over every packet seen on both nodes enclose the offset: the estimate is their middle, the
/// uncertainty half their distance (half the smallest round trip between the two nodes).
struct ClockOffsetEstimator {
    /// The bounds of one node pair's offset (`second` against `first`, names in order).
    struct Bounds {
        var upper: Int64 = .max
        var lower: Int64 = .min
        var samples = 0
    }

    private(set) var bounds: [NodePair: Bounds] = [:]

    struct NodePair: Hashable {
        var first: String
        var second: String
    }

    /// Takes the packets of one connection's sightings, in path order (client side first).
    mutating func take(_ path: [Sighting]) {
        guard path.count > 1, Set(path.map { $0.point.node ?? "" }).count > 1 else { return }
        let marks = path.map(PathOrder.marks)
        for i in 0..<path.count {
            for j in (i + 1)..<path.count {
                guard let a = path[i].point.node, let b = path[j].point.node, a != b else { continue }
                // Client-to-server packets travelled from i to j: t_j - t_i ≥ Δ(j against i).
                var upper: Int64 = .max
                var lower: Int64 = .min
                var samples = 0
                PathOrder.forEachCommon(marks[i].forward, marks[j].forward) { ti, tj in
                    upper = min(upper, Clock.since(tj, ti))
                    samples += 1
                }
                PathOrder.forEachCommon(marks[i].reverse, marks[j].reverse) { ti, tj in
                    lower = max(lower, Clock.since(tj, ti))
                    samples += 1
                }
                guard samples > 0 else { continue }
                // As the offset of the later name against the earlier one.
                let pair = a < b ? NodePair(first: a, second: b) : NodePair(first: b, second: a)
                var entry = bounds[pair] ?? Bounds()
                if a < b {
                    entry.upper = min(entry.upper, upper)
                    entry.lower = max(entry.lower, lower)
                } else {
                    if lower != .min { entry.upper = min(entry.upper, Clock.since(0, lower)) }
                    if upper != .max { entry.lower = max(entry.lower, Clock.since(0, upper)) }
                }
                entry.samples += samples
                bounds[pair] = entry
            }
        }
    }

    /// The offsets of every node reachable from the reference (the first node by name), against it.
    func offsets() -> [ClockOffset] {
        var nodes = Set<String>()
        for pair in bounds.keys {
            nodes.insert(pair.first)
            nodes.insert(pair.second)
        }
        guard let reference = nodes.min() else { return [] }
        // Each node's pairs, in the order of the pairs by name (sorted once: this runs for every connection seen on
        // two nodes or more, and a capture of sixty nodes has 1,770 pairs).
        var pairsOf: [String: [(other: String, sign: Int64, entry: Bounds)]] = [:]
        for (pair, entry) in bounds.sorted(by: { ($0.key.first, $0.key.second) < ($1.key.first, $1.key.second) }) {
            pairsOf[pair.first, default: []].append((pair.second, 1, entry))
            pairsOf[pair.second, default: []].append((pair.first, -1, entry))
        }
        // Breadth-first from the reference: each node's offset through the pair that reaches it.
        var known: [String: (offset: Int64, uncertainty: Int64, samples: Int)] = [reference: (0, 0, 0)]
        var queue = [reference]
        var next = 0
        while next < queue.count {
            let node = queue[next]
            next += 1
            for (other, sign, entry) in pairsOf[node] ?? [] {
                guard known[other] == nil, let estimate = Self.estimate(entry) else { continue }
                let base = known[node]!
                known[other] = (
                    sign > 0 ? Clock.plus(base.offset, estimate.offset) : Clock.since(base.offset, estimate.offset),
                    Clock.plus(base.uncertainty, estimate.uncertainty),
                    entry.samples
                )
                queue.append(other)
            }
        }
        return known.filter { $0.key != reference }.sorted { $0.key < $1.key }.map { node, value in
            ClockOffset(
                node: node,
                reference: reference,
                offset: value.offset,
                uncertainty: value.uncertainty,
                samples: value.samples
            )
        }
    }

    /// The middle of the bounds and half their width; one-sided bounds give the bound itself with no stated
    /// uncertainty beyond it.
    static func estimate(_ bounds: Bounds) -> (offset: Int64, uncertainty: Int64)? {
        switch (bounds.upper == .max, bounds.lower == .min) {
        case (true, true): return nil
        case (false, true): return (bounds.upper, 0)
        case (true, false): return (bounds.lower, 0)
        case (false, false):
            let middle = bounds.lower / 2 + bounds.upper / 2
            let half = abs(bounds.upper / 2 - bounds.lower / 2)
            return (middle, half)
        }
    }
}
