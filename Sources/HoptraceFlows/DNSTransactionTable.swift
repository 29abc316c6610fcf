// Matching DNS queries with responses at each capture point.
//
// A transaction is keyed by capture point, transport, client and server address and port, and DNS id; the question
// (name, type, class) must agree too when both messages carry it. A query that repeats a pending transaction is a
// retransmission. An answered transaction lingers briefly so that duplicate responses are counted, not reported as
// responses without a query; an unanswered one is emitted after the timeout, both by packet time.

struct DNSTransactionKey: Hashable {
    var capturePoint: Int
    var transport: DNSTransport
    var client: FlowEndpoint
    var server: FlowEndpoint
    var id: UInt16
}

struct DNSTransactionTable {
    private(set) var pending: [DNSTransactionKey: [DNSTransaction]] = [:]
    private(set) var count = 0

    /// One message. Returns transactions that are finished by it (a query reusing an answered id).
    mutating func handle(
        _ message: DNSMessage,
        key: DNSTransactionKey,
        time: Int64,
        connectionID: UInt64?,
        emit: (DNSTransaction) -> Void
    ) {
        var list = self.pending.removeValue(forKey: key) ?? []
        let matching = list.firstIndex { transaction in
            guard let question = transaction.question, let asked = message.question else { return true }
            return question == asked
        }
        if !message.isResponse {
            if let index = matching {
                if list[index].responseTime == nil && list[index].queryTime != nil {
                    list[index].queryRetransmissions += 1
                    self.pending[key] = list
                    return
                }
                // The id is reused after an answer (or after a response without query): a new transaction.
                emit(list.remove(at: index))
                self.count -= 1
            }
            var transaction = Self.transaction(key, message, connectionID)
            transaction.queryTime = time
            list.append(transaction)
            self.count += 1
        } else if let index = matching, list[index].responseTime == nil {
            Self.fill(&list[index], with: message, time: time)
        } else if let index = matching {
            list[index].extraResponses += 1
        } else {
            var transaction = Self.transaction(key, message, connectionID)
            Self.fill(&transaction, with: message, time: time)
            list.append(transaction)
            self.count += 1
        }
        self.pending[key] = list
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

    private static func fill(_ transaction: inout DNSTransaction, with message: DNSMessage, time: Int64) {
        transaction.responseTime = time
        transaction.rcode = message.rcode
        transaction.answers = message.answers
        transaction.isTruncated = message.isTruncated
        transaction.isAuthoritative = message.isAuthoritative
        if transaction.question == nil { transaction.question = message.question }
    }

    /// Emits answered transactions older than `linger` and unanswered ones older than `timeout`.
    mutating func expire(now: Int64, linger: Int64, timeout: Int64, emit: (DNSTransaction) -> Void) {
        var expiredKeys: [DNSTransactionKey] = []
        for (key, list) in self.pending {
            if list.contains(where: { Self.isExpired($0, now: now, linger: linger, timeout: timeout) }) {
                expiredKeys.append(key)
            }
        }
        // Emitted in time order, not in the dictionary's (per-process random) order, so output is reproducible.
        var expired: [DNSTransaction] = []
        for key in expiredKeys {
            guard var list = self.pending.removeValue(forKey: key) else { continue }
            list.removeAll { transaction in
                guard Self.isExpired(transaction, now: now, linger: linger, timeout: timeout) else { return false }
                expired.append(transaction)
                self.count -= 1
                return true
            }
            if !list.isEmpty { self.pending[key] = list }
        }
        expired.sort { ($0.queryTime ?? $0.responseTime ?? 0) < ($1.queryTime ?? $1.responseTime ?? 0) }
        for transaction in expired { emit(transaction) }
    }

    private static func isExpired(_ transaction: DNSTransaction, now: Int64, linger: Int64, timeout: Int64) -> Bool {
        if let response = transaction.responseTime { return now - response > linger }
        if let query = transaction.queryTime { return now - query > timeout }
        return true
    }

    /// Every pending transaction (answered ones still lingering and unanswered ones), without removing them.
    var all: [DNSTransaction] { self.pending.values.flatMap { $0 } }

    /// Emits everything (end of input), oldest first.
    mutating func flush(emit: (DNSTransaction) -> Void) {
        var all = self.pending.values.flatMap { $0 }
        all.sort { ($0.queryTime ?? $0.responseTime ?? 0) < ($1.queryTime ?? $1.responseTime ?? 0) }
        for transaction in all { emit(transaction) }
        self.pending.removeAll()
        self.count = 0
    }
}
