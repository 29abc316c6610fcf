import HoptraceDecode
import HoptraceFlows

/// The ICMP errors kept (a minute of them, at most a cap), found by what they quote: the TCP sequence number and the
/// tuple of the packet they answer. Every connection asks which errors quote it; a scan of all kept errors made an
/// ICMP flood cost its errors times its connections (80,000 errors among 4,000 connections: 15 s).
///
/// The indexes hold each error's position in arrival order (``records`` holds the ones from ``first`` on), so that
/// forgetting the earliest errors unlists just those, not the whole index rebuilt; a key quoted once (most of a
/// flood's) holds its position inline, not in an array of its own.
struct ICMPErrors {
    /// The errors, in the order they came: `records[i]` is at position `first + i`.
    private(set) var records: [ICMPRecord] = []
    private var first = 0
    /// Positions of the errors quoting TCP, by quoted sequence number and by quoted tuple, each list in order.
    private var bySequence: [UInt32: Positions] = [:]
    private var byTuple: [TupleKey: Positions] = [:]

    /// One position, or several in order.
    private enum Positions {
        case one(Int)
        case many([Int])

        var all: [Int] {
            switch self {
            case .one(let position): [position]
            case .many(let positions): positions
            }
        }

        /// Appends `position` to a list, in place (a key many errors quote, a refused SYN retried, is appended to
        /// without copying its list).
        static func add(_ position: Int, to positions: inout Positions?) {
            switch positions {
            case nil: positions = .one(position)
            case .one(let earlier)?: positions = .many([earlier, position])
            case .many(var list)?:
                // Out of the slot first, so that the list is uniquely held and grows where it is.
                positions = nil
                list.append(position)
                positions = .many(list)
            }
        }

        /// Removes the positions below `end` (a prefix: a list is in order), in place; nil when none is left. Once a
        /// key's prefix is cut, asking again for the same `end` finds nothing to cut.
        static func drop(below end: Int, from positions: inout Positions?) {
            switch positions {
            case nil: return
            case .one(let position)?:
                if position < end { positions = nil }
            case .many(var list)?:
                var cut = 0
                while cut < list.count && list[cut] < end { cut += 1 }
                guard cut > 0 else { return }
                positions = nil
                list.removeFirst(cut)
                if list.count > 1 {
                    positions = .many(list)
                } else if let only = list.first {
                    positions = .one(only)
                }
            }
        }
    }

    var isEmpty: Bool { records.isEmpty }
    var count: Int { records.count }

    mutating func append(_ record: ICMPRecord) {
        records.append(record)
        list(first + records.count - 1, record.event)
    }

    private static func keys(_ event: ICMPErrorEvent) -> (sequence: UInt32?, tuple: TupleKey)? {
        guard event.quotedProtocol == .tcp else { return nil }
        return (event.quotedTCPSequence, TupleKey(client: event.quotedSource, server: event.quotedDestination))
    }

    private mutating func list(_ position: Int, _ event: ICMPErrorEvent) {
        guard let keys = Self.keys(event) else { return }
        if let sequence = keys.sequence { Positions.add(position, to: &bySequence[sequence]) }
        Positions.add(position, to: &byTuple[keys.tuple])
    }

    /// Forgets the `count` earliest errors: each is the earliest left in its lists, so each list loses a prefix, cut
    /// the first time one of its errors is met (a key quoted by half the errors kept is one cut, the other meetings
    /// a look at its first position); no table of counts per key is built.
    private mutating func dropFirst(_ count: Int) {
        let end = first + count
        for record in records.prefix(count) {
            guard let keys = Self.keys(record.event) else { continue }
            if let sequence = keys.sequence { Positions.drop(below: end, from: &bySequence[sequence]) }
            Positions.drop(below: end, from: &byTuple[keys.tuple])
        }
        records.removeFirst(count)
        first += count
    }

    /// Forgets the errors sent before `time`.
    mutating func expire(before time: Int64) {
        guard let oldest = records.first, oldest.event.time < time else { return }
        let prefix = records.prefix { $0.event.time < time }.count
        if !records[prefix...].contains(where: { $0.event.time < time }) {
            // In time order (the usual case): the earliest go, each list cut once.
            dropFirst(prefix)
            return
        }
        // A clock that stepped back: the old ones are not all first; the index is rebuilt.
        records.removeAll { $0.event.time < time }
        bySequence.removeAll(keepingCapacity: true)
        byTuple.removeAll(keepingCapacity: true)
        first = 0
        for (position, record) in records.enumerated() { list(position, record.event) }
    }

    /// Forgets the earliest errors kept until `count` are left; returns how many went.
    mutating func shed(to count: Int) -> Int {
        let excess = records.count - max(0, count)
        guard excess > 0 else { return 0 }
        dropFirst(excess)
        return excess
    }

    /// The errors that quote a TCP connection (its client's ISN, or one of its tuples), in the order they came.
    func quoting(isn: UInt32?, tuples: some Collection<TupleKey>) -> [ICMPRecord] {
        candidates(isn: isn, tuples: tuples).map { records[$0] }
    }

    /// Whether an error kept quotes the TCP connection.
    func quotes(isn: UInt32?, tuples: some Collection<TupleKey>) -> Bool {
        !candidates(isn: isn, tuples: tuples).isEmpty
    }

    /// Indexes in ``records``.
    private func candidates(isn: UInt32?, tuples: some Collection<TupleKey>) -> [Int] {
        guard !records.isEmpty else { return [] }
        var positions: [Int] = []
        if let isn, let listed = bySequence[isn] { positions += listed.all }
        for tuple in tuples { if let listed = byTuple[tuple] { positions += listed.all } }
        guard !positions.isEmpty else { return [] }
        // Each once, in order, and checked with the one rule (the indexes only narrow the search).
        return Set(positions).sorted().map { $0 - first }.filter {
            TraceEngine.quotes(records[$0].event, isn: isn, tuples: tuples)
        }
    }
}
