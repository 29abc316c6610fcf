import ArgumentParser
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
                func point(_ id: Int) -> String { id < points.count ? points[id] : "cp\(id)" }
                switch event {
                case .dns(let transaction):
                    guard
                        filter.hostMatches(
                            addresses: [transaction.client.address, transaction.server.address]
                                + transaction.answers.compactMap {
                                    if case .address(let address) = $0.data { return address } else { return nil }
                                },
                            names: [transaction.question?.name]
                        ),
                        filter.portMatches([transaction.client.port, transaction.server.port]),
                        filter.statusMatches(transaction.rcode?.description),
                        filter.slowMatches(transaction.latency)
                    else { return }
                    let transport = transaction.transport == .tcp ? "TCP" : "UDP"
                    let names =
                        kubeNames?.names(of: [
                            (transaction.client.address.description, transaction.client.port, transport),
                            (transaction.server.address.description, transaction.server.port, transport),
                        ]) ?? [:]
                    if filter.json {
                        writer.line(AddressNames.addNames(names, toJSONObject: event.jsonLine(capturePoints: points)))
                        return
                    }
                    let question = transaction.question.map { "\($0.type) \($0.name.isEmpty ? "." : $0.name)" } ?? "?"
                    var status = transaction.rcode?.description ?? "-"
                    if transaction.isTruncated { status += ",TC" }
                    if transaction.queryRetransmissions > 0 { status += ",retx=\(transaction.queryRetransmissions)" }
                    writer.appendTimestamp(transaction.queryTime ?? transaction.responseTime ?? 0)
                    writer.append(" ")
                    writer.append(point(transaction.capturePoint))
                    writer.append(" ")
                    writer.append(transaction.client)
                    writer.append(" ")
                    writer.append(transaction.server)
                    writer.append(" DNS ")
                    writer.append(question)
                    writer.append(" ")
                    writer.append(status)
                    writer.append(" ")
                    writer.append(transaction.latency.map(FlowTime.human) ?? "-")
                    writer.append(AddressNames.comment(names))
                    writer.endLine()
                case .http(let exchange):
                    guard
                        filter.hostMatches(
                            addresses: [exchange.client.address, exchange.server.address],
                            names: [exchange.request?.host]
                        ),
                        filter.portMatches([exchange.client.port, exchange.server.port]),
                        filter.statusMatches(exchange.response.map { String($0.status) }),
                        filter.slowMatches(exchange.latency)
                    else { return }
                    let names =
                        kubeNames?.names(of: [
                            (exchange.client.address.description, exchange.client.port, "TCP"),
                            (exchange.server.address.description, exchange.server.port, "TCP"),
                        ]) ?? [:]
                    if filter.json {
                        writer.line(AddressNames.addNames(names, toJSONObject: event.jsonLine(capturePoints: points)))
                        return
                    }
                    // Appended piece by piece to the writer's bytes: this runs once per request.
                    writer.appendTimestamp(exchange.requestFirstByte?.time ?? exchange.responseFirstByte?.time ?? 0)
                    writer.append(" ")
                    writer.append(point(exchange.capturePoint))
                    writer.append(" ")
                    writer.append(exchange.client)
                    writer.append(" ")
                    writer.append(exchange.server)
                    writer.append(" HTTP ")
                    if let request = exchange.request {
                        writer.append(request.method)
                        writer.append(" ")
                        writer.append(request.host ?? "")
                        writer.append(request.target)
                    } else {
                        writer.append("? (request not seen)")
                    }
                    writer.append(" ")
                    if let response = exchange.response {
                        writer.append(decimal: response.status)
                    } else {
                        writer.append("-")
                    }
                    if exchange.requestHasGap || exchange.responseHasGap { writer.append(",gap") }
                    writer.append(" ")
                    writer.append(exchange.latency.map(FlowTime.human) ?? "-")
                    writer.append(AddressNames.comment(names))
                    writer.endLine()
                case .connection, .icmpError, .segment:
                    return
                }
            }
        }
    }
}
