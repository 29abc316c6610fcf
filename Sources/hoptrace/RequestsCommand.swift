import ArgumentParser
import HoptraceFlows
import HoptraceReport

/// `hoptrace requests`: one line per DNS query and per HTTP request.
struct RequestsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "requests",
        abstract: "List DNS queries and HTTP requests per capture point, with status and latency.",
        discussion: """
            One line per DNS transaction and per HTTP exchange: time, capture point, client and server as seen \
            there, the query (DNS type and name) or request (method, Host and path), the rcode or status, and the \
            latency (DNS: query to response; HTTP: request last byte to response last byte, as tshark's http.time). \
            "-" marks what was not seen (no response, a lost request).
            """
    )

    @OptionGroup var options: FlowCommandOptions

    func run() throws {
        let options = self.options
        let filter = options.filter
        try withBufferedOutput { writer in
            var kubeNames = try options.addressNames()
            let header = {
                if !filter.json { writer.line("#ts capture_point client server protocol request status latency") }
            }
            try options.run(header: header) { event, points in
                switch event {
                case .dns(let transaction):
                    guard
                        filter.matches(
                            transaction.client,
                            transaction.server,
                            addresses: transaction.answers.compactMap {
                                if case .address(let address) = $0.data { return address } else { return nil }
                            },
                            names: [transaction.question?.name],
                            status: transaction.rcode?.description,
                            latency: transaction.latency
                        )
                    else { return }
                    let transport = transaction.transport == .tcp ? "TCP" : "UDP"
                    let names =
                        kubeNames?.names(of: transaction.client, transaction.server, transport: transport) ?? [:]
                    writer.recordLine(event, json: filter.json, capturePoints: points, names: names) {
                        Self.write(
                            transaction,
                            point: capturePointName(transaction.capturePoint, in: points),
                            to: writer
                        )
                    }
                case .http(let exchange):
                    guard
                        filter.matches(
                            exchange.client,
                            exchange.server,
                            names: [exchange.request?.host],
                            status: exchange.response.map { String($0.status) },
                            latency: exchange.latency
                        )
                    else { return }
                    let names = kubeNames?.names(of: exchange.client, exchange.server, transport: "TCP") ?? [:]
                    writer.recordLine(event, json: filter.json, capturePoints: points, names: names) {
                        Self.write(exchange, point: capturePointName(exchange.capturePoint, in: points), to: writer)
                    }
                case .connection, .icmpError, .segment:
                    return
                }
            }
        }
    }

    /// A DNS line up to its latency (no names comment, no newline), piece by piece into the writer's bytes: this
    /// runs once per query.
    private static func write(_ transaction: DNSTransaction, point: String, to writer: BufferedOutput) {
        writer.appendRecordStart(
            transaction.queryTime ?? transaction.responseTime ?? 0,
            point: point,
            transaction.client,
            transaction.server
        )
        writer.append(" DNS ")
        if let question = transaction.question {
            writer.append(question.type.description)
            writer.append(byte: UInt8(ascii: " "))
            if question.name.isEmpty {
                writer.append(byte: UInt8(ascii: "."))
            } else {
                writer.append(question.name)
            }
        } else {
            writer.append(byte: UInt8(ascii: "?"))
        }
        writer.append(byte: UInt8(ascii: " "))
        if let rcode = transaction.rcode {
            writer.append(rcode.description)
        } else {
            writer.append(byte: UInt8(ascii: "-"))
        }
        if transaction.isTruncated { writer.append(",TC") }
        if transaction.queryRetransmissions > 0 {
            writer.append(",retx=")
            writer.append(decimal: transaction.queryRetransmissions)
        }
        writer.append(byte: UInt8(ascii: " "))
        if let latency = transaction.latency {
            writer.appendHuman(latency)
        } else {
            writer.append(byte: UInt8(ascii: "-"))
        }
    }

    /// An HTTP line up to its latency (no names comment, no newline), piece by piece into the writer's bytes: this
    /// runs once per request.
    private static func write(_ exchange: HTTPExchange, point: String, to writer: BufferedOutput) {
        writer.appendRecordStart(
            exchange.requestFirstByte?.time ?? exchange.responseFirstByte?.time ?? 0,
            point: point,
            exchange.client,
            exchange.server
        )
        writer.append(" HTTP ")
        if let request = exchange.request {
            writer.append(request.method)
            writer.append(byte: UInt8(ascii: " "))
            if let host = request.host { writer.append(host) }
            writer.append(request.target)
        } else {
            writer.append("? (request not seen)")
        }
        writer.append(byte: UInt8(ascii: " "))
        if let response = exchange.response {
            writer.append(decimal: response.status)
        } else {
            writer.append(byte: UInt8(ascii: "-"))
        }
        if exchange.requestHasGap || exchange.responseHasGap { writer.append(",gap") }
        writer.append(byte: UInt8(ascii: " "))
        if let latency = exchange.latency {
            writer.appendHuman(latency)
        } else {
            writer.append(byte: UInt8(ascii: "-"))
        }
    }
}
