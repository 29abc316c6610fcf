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

        func adding(_ position: Int) -> Positions {
            switch self {
            case .one(let earlier): return .many([earlier, position])
            case .many(var positions):
                positions.append(position)
                return .many(positions)
            }
        }

        /// Without its earliest position (`position`, when it is that); nil when none is left.
        func dropping(_ position: Int) -> Positions? {
            switch self {
            case .one(let only): return only == position ? nil : self
            case .many(var positions):
                guard positions.first == position else { return self }
                positions.removeFirst()
                return positions.count == 1 ? .one(positions[0]) : .many(positions)
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
        if let sequence = keys.sequence {
            bySequence[sequence] = bySequence[sequence].map { $0.adding(position) } ?? .one(position)
        }
        byTuple[keys.tuple] = byTuple[keys.tuple].map { $0.adding(position) } ?? .one(position)
    }

    private mutating func unlist(_ position: Int, _ event: ICMPErrorEvent) {
        guard let keys = Self.keys(event) else { return }
        if let sequence = keys.sequence, let positions = bySequence[sequence] {
            bySequence[sequence] = positions.dropping(position)
        }
        if let positions = byTuple[keys.tuple] { byTuple[keys.tuple] = positions.dropping(position) }
    }

    /// Forgets the `count` earliest errors.
    private mutating func dropFirst(_ count: Int) {
        for index in 0..<count { unlist(first + index, records[index].event) }
        records.removeFirst(count)
        first += count
    }

    /// Forgets the errors sent before `time`.
    mutating func expire(before time: Int64) {
        guard let oldest = records.first, oldest.event.time < time else { return }
        let prefix = records.prefix { $0.event.time < time }.count
        if !records[prefix...].contains(where: { $0.event.time < time }) {
            // In time order (the usual case): the earliest go, unlisted one by one.
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
