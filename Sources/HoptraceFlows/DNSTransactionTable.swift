// Matching DNS queries with responses at each capture point.
//
// A transaction is keyed by capture point, transport, client and server address and port, and DNS id; the question
// (name, type, class) must agree too when both messages carry it. A query that repeats a pending transaction is a
// retransmission. An answered transaction lingers briefly so that duplicate responses are counted, not reported as
// responses without a query; an unanswered one is emitted after the timeout, both by packet time.
//
// Storage: transactions live in a slab of slots, mutated in place. A dictionary maps each key to the first slot of
// its transactions, chained through the slots in arrival order (almost always one). Deadline queues find what
// expires without scanning the table: one first-in-first-out queue for unanswered transactions (query time plus
// timeout) and one for answered ones (response time plus linger), each in deadline order as long as packet times
// do not go backwards; a deadline earlier than its queue's last goes to a min-heap instead. A transaction's deadline
// moves once (from the timeout to the linger), so a queue may hold a stale entry for it, skipped when taken (lazy
// deletion: the slot's generation or deadline no longer match).

struct DNSTransactionKey: Hashable {
    var capturePoint: Int
    var transport: DNSTransport
    var client: FlowEndpoint
    var server: FlowEndpoint
    var id: UInt16

    /// Hashes the fields in five words (equal keys have equal words; the fields are few and fixed).
    func hash(into hasher: inout Hasher) {
        hasher.combine(self.client.address.high)
        hasher.combine(self.client.address.low)
        hasher.combine(self.server.address.high)
        hasher.combine(self.server.address.low)
        var packed = UInt64(self.id) | UInt64(self.client.port) << 16 | UInt64(self.server.port) << 32
        packed |= UInt64(self.transport == .tcp ? 1 : 0) << 48
        packed |= UInt64(self.client.address.isIPv4 ? 1 : 0) << 49 | UInt64(self.server.address.isIPv4 ? 1 : 0) << 50
        packed ^= UInt64(truncatingIfNeeded: self.capturePoint) << 51
        hasher.combine(packed)
    }
}

struct DNSTransactionTable {
    /// A slot's bookkeeping, kept apart from its transaction and trivially copyable: the sweep reads and writes only
    /// these, without touching (or copying) the transactions.
    private struct Slot {
        /// The key the transaction is filed under.
        var key: DNSTransactionKey
        /// The transaction's query time, else its response time: the order it is emitted in.
        var time: Int64
        /// When the transaction expires: it does once the sweep's `now` is past this.
        var deadline: Int64 = .min
        /// Creation order, to break ties between equal times.
        var sequence: UInt64
        /// The next slot of the same key, or -1.
        var next: Int32 = -1
        /// Bumped each time the slot is freed, so that queue entries of an earlier occupant are recognised.
        var generation: UInt32 = 0
    }

    /// A queue entry: the slot's deadline when it was queued.
    private struct Deadline {
        var time: Int64
        var slot: Int32
        var generation: UInt32
    }

    /// The transactions by slot; nil for a free slot.
    private var transactions: [DNSTransaction?] = []
    /// The bookkeeping by slot.
    private var slots: [Slot] = []
    private var freeSlots: [Int32] = []
    /// The first slot of each key's chain.
    private var heads = SlotIndex()
    /// Deadlines of unanswered transactions (query time plus timeout), in arrival order.
    private var unansweredQueue = DeadlineQueue()
    /// Deadlines of answered transactions (response time plus linger), in arrival order.
    private var answeredQueue = DeadlineQueue()
    /// Deadlines that arrived out of order (packet time going backwards).
    private var lateQueue = DeadlineHeap()
    private var nextSequence: UInt64 = 0
    /// Reused between sweeps: (time, sequence, slot) of what expires.
    private var expiring: [(time: Int64, sequence: UInt64, slot: Int32)] = []
    /// The linger and timeout the queued deadlines were computed with.
    private var linger: Int64 = 0
    private var timeout: Int64 = 0
    private var limitsKnown = false

    /// Transactions pending (answered ones still lingering and unanswered ones).
    private(set) var count = 0

    init() {}

    /// One message. Calls `emit` with transactions finished by it (a query reusing an answered id).
    mutating func handle(
        _ message: DNSMessage,
        key: DNSTransactionKey,
        time: Int64,
        connectionID: UInt64?,
        emit: (DNSTransaction) -> Void
    ) {
        var matching: Int32 = -1
        var previous: Int32 = -1
        var tail: Int32 = -1
        let hash = key.hashValue
        var index = self.heads.find(hash: hash) { self.slots[Int($0)].key == key }?.slot ?? -1
        // The transactions are read through a buffer pointer: a borrow, no copy of the transaction.
        self.transactions.withUnsafeBufferPointer { transactions in
            while index >= 0 {
                if matching < 0 {
                    let agrees: Bool
                    if let question = transactions[Int(index)]?.question, let asked = message.question {
                        agrees = question == asked
                    } else {
                        agrees = true
                    }
                    if agrees { matching = index } else { previous = index }
                }
                tail = index
                index = self.slots[Int(index)].next
            }
        }
        let found = Int(matching)
        if !message.isResponse {
            if matching >= 0 {
                let (responseTime, queryTime) = self.transactions.withUnsafeBufferPointer {
                    ($0[found]?.responseTime, $0[found]?.queryTime)
                }
                if responseTime == nil && queryTime != nil {
                    self.transactions[found]?.queryRetransmissions += 1
                    return
                }
                // The id is reused after an answer (or after a response without query): a new transaction.
                self.unlink(matching, previous: previous, key: key)
                if tail == matching { tail = previous }
                if let finished = self.release(matching) { emit(finished) }
            }
            var transaction = Self.transaction(key, message, connectionID)
            transaction.queryTime = time
            self.insert(transaction, key: key, hash: hash, time: time, answered: false, after: tail)
        } else if matching >= 0 {
            let answered = self.transactions.withUnsafeBufferPointer { $0[found]?.responseTime != nil }
            if !answered {
                self.transactions[found]?.fill(with: message, time: time)
                self.requeue(matching, responseTime: time, queryTime: nil)
            } else {
                self.transactions[found]?.extraResponses += 1
            }
        } else {
            var transaction = Self.transaction(key, message, connectionID)
            transaction.fill(with: message, time: time)
            self.insert(transaction, key: key, hash: hash, time: time, answered: true, after: tail)
        }
    }

    private static func transaction(
        _ key: DNSTransactionKey,
        _ message: DNSMessage,
        _ connectionID: UInt64?
    )
        -> DNSTransaction
    {
        var transaction = DNSTransaction(
            capturePoint: key.capturePoint,
            transport: key.transport,
            client: key.client,
            server: key.server,
            id: key.id
        )
        transaction.question = message.question
        transaction.connectionID = connectionID
        return transaction
    }

    /// Files a new transaction under `key` (whose hash value is `hash`), after slot `tail` (-1: as the key's first);
    /// `time` is its query time (its response time when `answered`, a response without query).
    private mutating func insert(
        _ transaction: consuming DNSTransaction,
        key: DNSTransactionKey,
        hash: Int,
        time: Int64,
        answered: Bool,
        after tail: Int32
    ) {
        let slot: Int32
        let bookkeeping = Slot(key: key, time: time, sequence: self.nextSequence)
        self.nextSequence += 1
        if let reused = self.freeSlots.popLast() {
            slot = reused
            let generation = self.slots[Int(slot)].generation
            self.slots[Int(slot)] = bookkeeping
            self.slots[Int(slot)].generation = generation
            self.transactions[Int(slot)] = transaction
        } else {
            slot = Int32(truncatingIfNeeded: self.slots.count)
            self.slots.append(bookkeeping)
            self.transactions.append(transaction)
        }
        if tail >= 0 {
            self.slots[Int(tail)].next = slot
        } else {
            self.heads.insert(slot, hash: hash)
        }
        self.count += 1
        self.requeue(slot, responseTime: answered ? time : nil, queryTime: answered ? nil : time)
    }

    /// Takes slot `slot` out of its key's chain; `previous` is the slot before it (-1: it is the first).
    private mutating func unlink(_ slot: Int32, previous: Int32, key: DNSTransactionKey) {
        let next = self.slots[Int(slot)].next
        self.slots[Int(slot)].next = -1
        if previous >= 0 {
            self.slots[Int(previous)].next = next
        } else if let entry = self.heads.find(hash: key.hashValue, where: { $0 == slot }) {
            if next >= 0 {
                self.heads.update(at: entry.position, to: next)
            } else {
                self.heads.remove(at: entry.position)
            }
        }
    }

    /// Takes slot `slot` out of its key's chain, finding the slot before it (one dictionary lookup).
    private mutating func unlink(_ slot: Int32) {
        let key = self.slots[Int(slot)].key
        guard let entry = self.heads.find(hash: key.hashValue, where: { self.slots[Int($0)].key == key }) else {
            return
        }
        var previous: Int32 = -1
        var index = entry.slot
        while index >= 0 && index != slot {
            previous = index
            index = self.slots[Int(index)].next
        }
        guard index == slot else { return }
        let next = self.slots[Int(slot)].next
        self.slots[Int(slot)].next = -1
        if previous >= 0 {
            self.slots[Int(previous)].next = next
        } else if next >= 0 {
            self.heads.update(at: entry.position, to: next)
        } else {
            self.heads.remove(at: entry.position)
        }
    }

    /// Frees an unlinked slot and returns its transaction.
    private mutating func release(_ slot: Int32) -> DNSTransaction? {
        let transaction = self.transactions[Int(slot)].take()
        self.slots[Int(slot)].generation &+= 1
        self.slots[Int(slot)].deadline = .min
        self.freeSlots.append(slot)
        self.count -= 1
        return transaction
    }

    /// Queues the slot's deadline (again, when it changed) for the limits in use: from its response time if
    /// answered, else from its query time.
    private mutating func requeue(_ slot: Int32, responseTime: Int64?, queryTime: Int64?) {
        guard self.limitsKnown else { return }
        let index = Int(slot)
        let time = Self.deadline(
            responseTime: responseTime,
            queryTime: queryTime,
            linger: self.linger,
            timeout: self.timeout
        )
        self.slots[index].deadline = time
        let entry = Deadline(time: time, slot: slot, generation: self.slots[index].generation)
        if responseTime != nil {
            if !self.answeredQueue.append(entry) { self.lateQueue.push(entry) }
        } else {
            if !self.unansweredQueue.append(entry) { self.lateQueue.push(entry) }
        }
    }

    /// The time after which a transaction is expired: `now - response > linger` or `now - query > timeout` is
    /// `now > deadline` (saturating instead of overflowing).
    private static func deadline(responseTime: Int64?, queryTime: Int64?, linger: Int64, timeout: Int64) -> Int64 {
        func plus(_ time: Int64, _ delta: Int64) -> Int64 {
            let (sum, overflow) = time.addingReportingOverflow(delta)
            return overflow ? (delta > 0 ? .max : .min) : sum
        }
        if let response = responseTime { return plus(response, linger) }
        if let query = queryTime { return plus(query, timeout) }
        return .min
    }

    /// Rebuilds the queues for other limits (the first sweep, or a caller changing them).
    private mutating func setLimits(linger: Int64, timeout: Int64) {
        self.linger = linger
        self.timeout = timeout
        self.limitsKnown = true
        self.unansweredQueue.removeAll()
        self.answeredQueue.removeAll()
        self.lateQueue.removeAll()
        for index in self.transactions.indices {
            guard let times = self.transactions[index].map({ ($0.responseTime, $0.queryTime) }) else { continue }
            self.requeue(Int32(truncatingIfNeeded: index), responseTime: times.0, queryTime: times.1)
        }
    }

    /// Emits answered transactions older than `linger` and unanswered ones older than `timeout`, in query time
    /// order (response time for a response without query; creation order between equal times).
    ///
    /// The cost is in what expires (plus a queue step each), not in what is pending.
    mutating func expire(now: Int64, linger: Int64, timeout: Int64, emit: (DNSTransaction) -> Void) {
        if now == .max && linger == 0 && timeout == 0 {
            // Everything goes (the table is over its cap): no need for the queues.
            self.flush(emit: emit)
            return
        }
        if !self.limitsKnown || linger != self.linger || timeout != self.timeout {
            self.setLimits(linger: linger, timeout: timeout)
        }
        self.expiring.removeAll(keepingCapacity: true)
        while let first = self.unansweredQueue.first, first.time < now {
            self.unansweredQueue.removeFirst()
            self.take(first)
        }
        while let first = self.answeredQueue.first, first.time < now {
            self.answeredQueue.removeFirst()
            self.take(first)
        }
        while let first = self.lateQueue.first, first.time < now {
            self.lateQueue.removeFirst()
            self.take(first)
        }
        guard !self.expiring.isEmpty else { return }
        // Emitted in time order, not in the queues' (deadline) order, so output follows the queries.
        self.expiring.sort { ($0.time, $0.sequence) < ($1.time, $1.sequence) }
        var expiring = self.expiring
        self.expiring = []
        for entry in expiring {
            if let transaction = self.release(entry.slot) { emit(transaction) }
        }
        expiring.removeAll(keepingCapacity: true)
        self.expiring = expiring
    }

    /// Unlinks the slot of a due queue entry and notes it in `expiring`, unless the entry is stale (the slot was
    /// freed or its deadline moved).
    private mutating func take(_ entry: Deadline) {
        let index = Int(entry.slot)
        guard self.slots[index].generation == entry.generation, self.slots[index].deadline == entry.time else {
            return
        }
        self.slots[index].deadline = .max  // not taken twice in this sweep
        self.expiring.append((self.slots[index].time, self.slots[index].sequence, entry.slot))
        self.unlink(entry.slot)
    }

    /// Removes the transaction due to expire first (the oldest, as the deadlines go: answered ones linger less than
    /// unanswered ones wait) and hands it to `emit` marked ``DNSTransaction/isEvicted``; false when none is pending.
    /// O(log n) amortised: the deadline queues are in order.
    @discardableResult
    mutating func evictOldest(emit: (DNSTransaction) -> Void) -> Bool {
        guard self.count > 0 else { return false }
        if self.limitsKnown {
            // The front of each queue, stale entries (freed slots, moved deadlines) dropped on the way.
            func isLive(_ entry: Deadline) -> Bool {
                let slot = self.slots[Int(entry.slot)]
                return slot.generation == entry.generation && slot.deadline == entry.time
            }
            while let first = self.unansweredQueue.first, !isLive(first) { self.unansweredQueue.removeFirst() }
            while let first = self.answeredQueue.first, !isLive(first) { self.answeredQueue.removeFirst() }
            while let first = self.lateQueue.first, !isLive(first) { self.lateQueue.removeFirst() }
            var chosen: Deadline? = nil
            var queue = 0
            for (index, candidate) in [self.unansweredQueue.first, self.answeredQueue.first, self.lateQueue.first]
                .enumerated()
            {
                guard let candidate else { continue }
                if let current = chosen, current.time <= candidate.time { continue }
                chosen = candidate
                queue = index
            }
            if let chosen {
                switch queue {
                case 0: self.unansweredQueue.removeFirst()
                case 1: self.answeredQueue.removeFirst()
                default: self.lateQueue.removeFirst()
                }
                self.unlink(chosen.slot)
                if var transaction = self.release(chosen.slot) {
                    transaction.isEvicted = true
                    emit(transaction)
                }
                return true
            }
        }
        // No deadlines queued yet (no sweep has run): the first created.
        guard
            let oldest = self.transactions.indices.filter({ self.transactions[$0] != nil })
                .min(by: { self.slots[$0].sequence < self.slots[$1].sequence })
        else { return false }
        let slot = Int32(truncatingIfNeeded: oldest)
        self.unlink(slot)
        if var transaction = self.release(slot) {
            transaction.isEvicted = true
            emit(transaction)
        }
        return true
    }

    /// Every pending transaction (answered ones still lingering and unanswered ones), without removing them, in
    /// creation order.
    var all: [DNSTransaction] {
        self.transactions.indices.filter { self.transactions[$0] != nil }
            .sorted { self.slots[$0].sequence < self.slots[$1].sequence }
            .compactMap { self.transactions[$0] }
    }

    /// Emits everything (end of input), oldest first.
    mutating func flush(emit: (DNSTransaction) -> Void) {
        var order: [(time: Int64, sequence: UInt64, slot: Int)] = []
        order.reserveCapacity(self.count)
        for index in self.transactions.indices where self.transactions[index] != nil {
            order.append((self.slots[index].time, self.slots[index].sequence, index))
        }
        order.sort { ($0.time, $0.sequence) < ($1.time, $1.sequence) }
        var transactions = self.transactions
        self.transactions.removeAll()
        self.slots.removeAll()
        self.freeSlots.removeAll()
        self.heads.removeAll()
        self.unansweredQueue.removeAll()
        self.answeredQueue.removeAll()
        self.lateQueue.removeAll()
        self.count = 0
        for entry in order {
            if let transaction = transactions[entry.slot].take() { emit(transaction) }
        }
    }

    /// A first-in-first-out queue of deadlines that only takes them in order.
    private struct DeadlineQueue {
        private var entries: [Deadline] = []
        private var start = 0

        var first: Deadline? { self.start < self.entries.count ? self.entries[self.start] : nil }

        mutating func removeAll() {
            self.entries.removeAll(keepingCapacity: true)
            self.start = 0
        }

        /// Appends `entry` if it is not earlier than the last one; false (and nothing done) if it is.
        mutating func append(_ entry: Deadline) -> Bool {
            if let last = self.entries.last, self.start < self.entries.count, entry.time < last.time { return false }
            self.entries.append(entry)
            return true
        }

        mutating func removeFirst() {
            self.start += 1
            if self.start == self.entries.count {
                self.removeAll()
            } else if self.start >= 4096 && self.start * 2 >= self.entries.count {
                self.entries.removeFirst(self.start)
                self.start = 0
            }
        }
    }

    /// A binary min-heap of deadlines.
    private struct DeadlineHeap {
        private var entries: [Deadline] = []

        var first: Deadline? { self.entries.first }

        mutating func removeAll() { self.entries.removeAll(keepingCapacity: true) }

        mutating func push(_ entry: Deadline) {
            self.entries.append(entry)
            var child = self.entries.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard entry.time < self.entries[parent].time else { break }
                self.entries[child] = self.entries[parent]
                child = parent
            }
            self.entries[child] = entry
        }

        mutating func removeFirst() {
            guard let last = self.entries.popLast() else { return }
            guard !self.entries.isEmpty else { return }
            let count = self.entries.count
            var parent = 0
            while true {
                var child = 2 * parent + 1
                guard child < count else { break }
                if child + 1 < count && self.entries[child + 1].time < self.entries[child].time { child += 1 }
                guard self.entries[child].time < last.time else { break }
                self.entries[parent] = self.entries[child]
                parent = child
            }
            self.entries[parent] = last
        }
    }
}

extension DNSTransaction {
    /// Takes the response's time, rcode, answers and flags (and its question, when the query was not seen).
    fileprivate mutating func fill(with message: DNSMessage, time: Int64) {
        self.responseTime = time
        self.rcode = message.rcode
        self.answers = message.answers
        self.isTruncated = message.isTruncated
        self.isAuthoritative = message.isAuthoritative
        if self.question == nil { self.question = message.question }
    }
}
