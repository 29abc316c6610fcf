import HoptraceDecode
import Testing

@testable import HoptraceFlows

/// The DNS transaction table's matching and expiry, from hand-built messages, against a model computed in the test
/// from the schedule of messages (what each transaction's state is at each sweep).
struct DNSTransactionTableTests {
    static let client = IPAddress(10, 244, 0, 10)
    static let server = IPAddress(10, 96, 0, 10)

    /// A message: id, flags, one question (`name`, `type` class IN) and, for a response, one A record per address.
    static func message(id: UInt16, response: Bool, name: String, type: UInt16 = 1, addresses: [UInt32] = []) -> [UInt8]
    {
        let flags: UInt16 = response ? 0x8180 : 0x0100
        var bytes: [UInt8] = [
            UInt8(id >> 8), UInt8(id & 0xff), UInt8(flags >> 8), UInt8(flags & 0xff), 0, 1, 0, UInt8(addresses.count),
            0, 0, 0, 0,
        ]
        for label in name.split(separator: ".") {
            bytes.append(UInt8(label.utf8.count))
            bytes += Array(label.utf8)
        }
        bytes += [0, UInt8(type >> 8), UInt8(type & 0xff), 0, 1]
        for address in addresses {
            bytes += [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4]
            bytes += [
                UInt8(address >> 24), UInt8(address >> 16 & 0xff), UInt8(address >> 8 & 0xff), UInt8(address & 0xff),
            ]
        }
        return bytes
    }

    static func key(port: UInt16, id: UInt16) -> DNSTransactionKey {
        DNSTransactionKey(
            capturePoint: 0,
            transport: .udp,
            client: FlowEndpoint(address: client, port: port),
            server: FlowEndpoint(address: server, port: 53),
            id: id
        )
    }

    static func handle(
        _ table: inout DNSTransactionTable,
        _ bytes: [UInt8],
        key: DNSTransactionKey,
        time: Int64,
        emit: (DNSTransaction) -> Void = { _ in }
    ) throws {
        let message = try #require(bytes.withUnsafeBytes { DNSMessage(parsing: $0) })
        table.handle(message, key: key, time: time, connectionID: nil, emit: emit)
    }

    /// One lookup of the schedule: its query (if sent), response (if any), all at distinct times.
    struct Lookup {
        var port: UInt16
        var id: UInt16
        var queryTime: Int64?
        var responseTime: Int64?
        var retransmitTime: Int64?
        /// The time the table orders it by.
        var time: Int64 { queryTime ?? responseTime ?? 0 }
    }

    /// Hundreds of lookups on distinct keys, answered late, early, never, or seen only as a response, fed with the
    /// packet time sometimes going backwards, and swept every `interval` as the flow stage does: each sweep emits
    /// exactly the transactions the model says are due, in query-time order, and the end flushes the rest in order.
    @Test func expiryFollowsTheModelAcrossManyKeys() throws {
        let linger: Int64 = 2_000
        let timeout: Int64 = 10_000
        let interval: Int64 = 1_000
        var random: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int64) -> Int64 {
            random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int64((random >> 33) % UInt64(bound))
        }
        var lookups: [Lookup] = []
        for index in 0..<600 {
            // Distinct times: 16 per slot of 100, plus the index's low bits.
            let base = Int64(index) * 100 + 3
            var lookup = Lookup(port: UInt16(20_000 + index), id: UInt16(truncatingIfNeeded: index &* 7919))
            switch next(10) {
            case 0:  // a response whose query was not seen
                lookup.responseTime = base
            case 1, 2:  // never answered
                lookup.queryTime = base
            case 3:  // retransmitted, then answered
                let retransmit = base + 40 + next(40) * 100 + 1
                lookup.queryTime = base
                lookup.retransmitTime = retransmit
                lookup.responseTime = retransmit + 100 * (1 + next(30)) + 1
            default:  // answered after up to 5 000
                lookup.queryTime = base
                lookup.responseTime = base + 100 * (1 + next(50)) + 2
            }
            lookups.append(lookup)
        }
        // The feed: every message with its time, in time order with some neighbours swapped (time going back).
        enum Kind { case query, retransmit, response }
        var feed: [(time: Int64, kind: Kind, lookup: Int)] = []
        for (index, lookup) in lookups.enumerated() {
            if let time = lookup.queryTime { feed.append((time, .query, index)) }
            if let time = lookup.retransmitTime { feed.append((time, .retransmit, index)) }
            if let time = lookup.responseTime { feed.append((time, .response, index)) }
        }
        feed.sort { $0.time < $1.time }
        var position = 0
        while position + 1 < feed.count {
            if next(8) == 0 && feed[position].lookup != feed[position + 1].lookup {
                feed.swapAt(position, position + 1)
                position += 2
            } else {
                position += 1
            }
        }

        var table = DNSTransactionTable()
        var emitted: [Int] = []  // lookup indexes, in emission order
        var transactions: [DNSTransaction] = []
        var fedUpTo = 0
        var now: Int64 = 0
        var nextSweep = Int64.min
        func lookupIndex(_ transaction: DNSTransaction) -> Int { Int(transaction.client.port) - 20_000 }
        func sweep() {
            // The model: lookups not emitted yet whose fed messages make them due at `now`.
            let fed = Set(feed[0..<fedUpTo].map { "\($0.lookup) \($0.kind)" })
            let done = Set(emitted)
            var due: [Int] = []
            for (index, lookup) in lookups.enumerated() where !done.contains(index) {
                let hasQuery = fed.contains("\(index) query")
                let hasResponse = fed.contains("\(index) response")
                if hasResponse, let response = lookup.responseTime {
                    if now - response > linger { due.append(index) }
                } else if hasQuery, let query = lookup.queryTime {
                    if now - query > timeout { due.append(index) }
                }
            }
            due.sort { lookups[$0].time < lookups[$1].time }
            var got: [Int] = []
            table.expire(now: now, linger: linger, timeout: timeout) {
                got.append(lookupIndex($0))
                transactions.append($0)
            }
            #expect(got == due, "sweep at \(now)")
            emitted += got
        }
        for (offset, message) in feed.enumerated() {
            now = max(now, message.time)
            if now >= nextSweep {
                sweep()
                nextSweep = now + interval
            }
            let lookup = lookups[message.lookup]
            let key = Self.key(port: lookup.port, id: lookup.id)
            let bytes = Self.message(
                id: lookup.id,
                response: message.kind == .response,
                name: "svc\(message.lookup).ns.svc.cluster.local",
                addresses: message.kind == .response ? [0x0a60_0000 | UInt32(message.lookup)] : []
            )
            fedUpTo = offset  // the model sees messages fed before this one
            try Self.handle(&table, bytes, key: key, time: message.time) { _ in
                Issue.record("nothing is finished by a message on a distinct key")
            }
            fedUpTo = offset + 1
        }
        // A later sweep with no traffic, then the end.
        now += 2_500
        sweep()
        #expect(table.count == lookups.count - emitted.count)
        var flushed: [DNSTransaction] = []
        table.flush { flushed.append($0) }
        #expect(!flushed.isEmpty)
        #expect(flushed.map { lookups[lookupIndex($0)].time } == flushed.map { lookups[lookupIndex($0)].time }.sorted())
        #expect(table.count == 0)
        #expect((emitted + flushed.map(lookupIndex)).sorted() == Array(lookups.indices))

        // What each transaction says, against the schedule: first query time, response time, retransmissions.
        for transaction in transactions + flushed {
            let lookup = lookups[lookupIndex(transaction)]
            #expect(transaction.queryTime == lookup.queryTime)
            #expect(transaction.responseTime == lookup.responseTime)
            #expect(transaction.queryRetransmissions == (lookup.retransmitTime == nil ? 0 : 1))
            #expect(transaction.id == lookup.id)
            #expect(transaction.question?.name == "svc\(lookupIndex(transaction)).ns.svc.cluster.local")
        }
    }

    /// Two questions pending on one key (one id, A and AAAA), a retransmission, answers in the other order, and an
    /// id reused after the answer: the reuse finishes the answered transaction at once, and the sweep emits the rest
    /// in query order with their own latencies.
    @Test func oneKeyHoldsSeveralTransactionsInOrder() throws {
        var table = DNSTransactionTable()
        let key = Self.key(port: 40_000, id: 77)
        let name = "web.default.svc.cluster.local"
        var finished: [DNSTransaction] = []
        try Self.handle(&table, Self.message(id: 77, response: false, name: name, type: 1), key: key, time: 1_000)
        try Self.handle(&table, Self.message(id: 77, response: false, name: name, type: 28), key: key, time: 1_100)
        try Self.handle(&table, Self.message(id: 77, response: false, name: name, type: 1), key: key, time: 1_500)
        try Self.handle(
            &table,
            Self.message(id: 77, response: true, name: name, type: 28),
            key: key,
            time: 2_000
        )
        try Self.handle(
            &table,
            Self.message(id: 77, response: true, name: name, type: 1, addresses: [0x0a60_0001]),
            key: key,
            time: 2_200
        )
        // A duplicate of the AAAA response, counted.
        try Self.handle(&table, Self.message(id: 77, response: true, name: name, type: 28), key: key, time: 2_300)
        #expect(table.count == 2)
        // The A query again, after its answer: a new transaction, and the answered one is finished now.
        try Self.handle(&table, Self.message(id: 77, response: false, name: name, type: 1), key: key, time: 3_000) {
            finished.append($0)
        }
        #expect(finished.count == 1)
        #expect(finished.first?.question?.type == .a)
        #expect(finished.first?.latency == 1_200)
        #expect(finished.first?.queryRetransmissions == 1)
        #expect(finished.first?.answers.first?.data == .address(IPAddress(10, 96, 0, 1)))
        #expect(table.count == 2)

        // Nothing is due before the linger or timeout ends.
        var swept: [DNSTransaction] = []
        table.expire(now: 4_000, linger: 2_000, timeout: 10_000) { swept.append($0) }
        #expect(swept.isEmpty)
        // The AAAA transaction (answered at 2 000) lingers until 4 000; the new A query waits for its timeout.
        table.expire(now: 4_001, linger: 2_000, timeout: 10_000) { swept.append($0) }
        #expect(swept.map(\.question?.type) == [.aaaa])
        #expect(swept.first?.latency == 900)
        #expect(swept.first?.extraResponses == 1)
        table.expire(now: 13_000, linger: 2_000, timeout: 10_000) { swept.append($0) }
        #expect(swept.count == 1)
        table.expire(now: 13_001, linger: 2_000, timeout: 10_000) { swept.append($0) }
        #expect(swept.count == 2)
        #expect(swept.last?.question?.type == .a)
        #expect(swept.last?.queryTime == 3_000)
        #expect(swept.last?.responseTime == nil)
        #expect(table.count == 0)
    }
}
