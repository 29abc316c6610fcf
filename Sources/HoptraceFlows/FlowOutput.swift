/// The shared side of the flow stage that connections report into: the sink, the DNS table and the counters.
final class FlowOutput {
    let sink: (FlowEvent) -> Void
    // Unchecked exclusivity (see TCPConnection): the counters are bumped on every packet; single-threaded.
    // Unchecked too: the table's callbacks emit to the sink, which never reaches the table (as for the flow table).
    @exclusivity(unchecked) var dns = DNSTransactionTable()
    @exclusivity(unchecked) var statistics = FlowStatistics()

    let configuration: FlowConfiguration

    init(configuration: FlowConfiguration, sink: @escaping (FlowEvent) -> Void) {
        self.configuration = configuration
        self.sink = sink
    }

    func emit(_ event: FlowEvent) {
        switch event {
        case .connection, .opened: break
        case .http(let exchange): self.count(exchange)
        case .dns: self.statistics.dnsTransactions += 1
        case .icmpError: self.statistics.icmpErrors += 1
        case .segment: break
        }
        self.sink(event)
    }

    /// Counts an HTTP exchange (emitted, or done when exchanges are not emitted).
    func count(_ exchange: borrowing HTTPExchange) {
        self.statistics.httpExchanges += 1
        if exchange.request?.isTruncated == true { self.statistics.truncatedHeads += 1 }
        if exchange.response?.isTruncated == true { self.statistics.truncatedHeads += 1 }
    }

    /// A DNS message from UDP or from a TCP connection.
    func dnsMessage(
        _ bytes: UnsafeRawBufferPointer,
        time: Int64,
        capturePoint: Int,
        transport: DNSTransport,
        source: FlowEndpoint,
        destination: FlowEndpoint,
        connectionID: UInt64?
    ) {
        guard let message = DNSMessage(parsing: bytes) else {
            self.statistics.dnsUnparsable += 1
            return
        }
        self.statistics.dnsMessages += 1
        let key = DNSTransactionKey(
            capturePoint: capturePoint,
            transport: transport,
            client: message.isResponse ? destination : source,
            server: message.isResponse ? source : destination,
            id: message.id
        )
        self.dns.handle(message, key: key, time: time, connectionID: connectionID) { self.emit(.dns($0)) }
        // Over the cap: the oldest pending transactions go, marked and counted.
        while self.dns.count > max(self.configuration.maxDNSTransactions, 0),
            self.dns.evictOldest(emit: { self.emit(.dns($0)) })
        {
            self.statistics.evictedDNSTransactions += 1
        }
    }

    /// A DNS message reassembled from a TCP connection.
    func dnsMessage(_ bytes: UnsafeRawBufferPointer, time: Int64, connection: TCPConnection, fromOriginator: Bool) {
        self.dnsMessage(
            bytes,
            time: time,
            capturePoint: connection.capturePoint,
            transport: .tcp,
            source: fromOriginator ? connection.originator : connection.responder,
            destination: fromOriginator ? connection.responder : connection.originator,
            connectionID: connection.id
        )
    }
}
