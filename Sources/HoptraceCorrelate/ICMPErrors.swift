import HoptraceDecode
import HoptraceFlows

/// The ICMP errors kept (a minute of them, at most a cap), found by what they quote: the TCP sequence number and the
/// tuple of the packet they answer. Every connection asks which errors quote it; a scan of all kept errors made an
/// ICMP flood cost its errors times its connections (80,000 errors among 4,000 connections: 15 s).
struct ICMPErrors {
    /// The errors, in the order they came.
    private(set) var records: [ICMPRecord] = []
    /// Positions in ``records`` of the errors quoting TCP, by quoted sequence number and by quoted tuple.
    private var bySequence: [UInt32: [Int]] = [:]
    private var byTuple: [TupleKey: [Int]] = [:]

    var isEmpty: Bool { records.isEmpty }
    var count: Int { records.count }

    mutating func append(_ record: ICMPRecord) {
        records.append(record)
        index(records.count - 1)
    }

    private mutating func index(_ position: Int) {
        let event = records[position].event
        guard event.quotedProtocol == .tcp else { return }
        if let sequence = event.quotedTCPSequence { bySequence[sequence, default: []].append(position) }
        byTuple[TupleKey(client: event.quotedSource, server: event.quotedDestination), default: []].append(position)
    }

    private mutating func reindex() {
        bySequence.removeAll(keepingCapacity: true)
        byTuple.removeAll(keepingCapacity: true)
        for position in records.indices { index(position) }
    }

    /// Forgets the errors sent before `time`.
    mutating func expire(before time: Int64) {
        guard let first = records.first, first.event.time < time else { return }
        records.removeAll { $0.event.time < time }
        reindex()
    }

    /// Forgets the earliest errors kept until `count` are left; returns how many went.
    mutating func shed(to count: Int) -> Int {
        let excess = records.count - max(0, count)
        guard excess > 0 else { return 0 }
        records.removeFirst(excess)
        reindex()
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

    private func candidates(isn: UInt32?, tuples: some Collection<TupleKey>) -> [Int] {
        guard !records.isEmpty else { return [] }
        var positions: [Int] = []
        if let isn { positions += bySequence[isn] ?? [] }
        for tuple in tuples { positions += byTuple[tuple] ?? [] }
        guard !positions.isEmpty else { return [] }
        // Each once, in order, and checked with the one rule (the indexes only narrow the search).
        return Set(positions).sorted().filter { TraceEngine.quotes(records[$0].event, isn: isn, tuples: tuples) }
    }
}
