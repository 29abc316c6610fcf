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
        try withBufferedOutput { writer in
            var kubeNames = try options.addressNames()
            let header = {
                if !options.json { writer.line("#ts capture_point client server protocol request status latency") }
            }
            try options.run(header: header) { event, points in
                func point(_ id: Int) -> String { id < points.count ? points[id] : "cp\(id)" }
                switch event {
                case .dns(let transaction):
                    guard
                        options.hostMatches(
                            addresses: [transaction.client.address, transaction.server.address]
                                + transaction.answers.compactMap {
                                    if case .address(let address) = $0.data { return address } else { return nil }
                                },
                            names: [transaction.question?.name]
                        ),
                        options.portMatches([transaction.client.port, transaction.server.port]),
                        options.statusMatches(transaction.rcode?.description),
                        options.slowMatches(transaction.latency)
                    else { return }
                    let transport = transaction.transport == .tcp ? "TCP" : "UDP"
                    let names =
                        kubeNames?.names(of: [
                            (transaction.client.address.description, transaction.client.port, transport),
                            (transaction.server.address.description, transaction.server.port, transport),
                        ]) ?? [:]
                    if options.json {
                        writer.line(AddressNames.addNames(names, toJSONObject: event.jsonLine(capturePoints: points)))
                        return
                    }
                    let question = transaction.question.map { "\($0.type) \($0.name.isEmpty ? "." : $0.name)" } ?? "?"
                    var status = transaction.rcode?.description ?? "-"
                    if transaction.isTruncated { status += ",TC" }
                    if transaction.queryRetransmissions > 0 { status += ",retx=\(transaction.queryRetransmissions)" }
                    let fields = [
                        FlowTime.timestamp(transaction.queryTime ?? transaction.responseTime ?? 0),
                        point(transaction.capturePoint),
                        transaction.client.description,
                        transaction.server.description,
                        "DNS",
                        question,
                        status,
                        transaction.latency.map(FlowTime.human) ?? "-",
                    ]
                    writer.line(fields.joined(separator: " ") + AddressNames.comment(names))
                case .http(let exchange):
                    guard
                        options.hostMatches(
                            addresses: [exchange.client.address, exchange.server.address],
                            names: [exchange.request?.host]
                        ),
                        options.portMatches([exchange.client.port, exchange.server.port]),
                        options.statusMatches(exchange.response.map { String($0.status) }),
                        options.slowMatches(exchange.latency)
                    else { return }
                    let names =
                        kubeNames?.names(of: [
                            (exchange.client.address.description, exchange.client.port, "TCP"),
                            (exchange.server.address.description, exchange.server.port, "TCP"),
                        ]) ?? [:]
                    if options.json {
                        writer.line(AddressNames.addNames(names, toJSONObject: event.jsonLine(capturePoints: points)))
                        return
                    }
                    let request =
                        exchange.request.map { "\($0.method) \($0.host ?? "")\($0.target)" } ?? "? (request not seen)"
                    var status = exchange.response.map { String($0.status) } ?? "-"
                    if exchange.requestHasGap || exchange.responseHasGap { status += ",gap" }
                    let time = exchange.requestFirstByte?.time ?? exchange.responseFirstByte?.time ?? 0
                    let fields = [
                        FlowTime.timestamp(time),
                        point(exchange.capturePoint),
                        exchange.client.description,
                        exchange.server.description,
                        "HTTP",
                        request,
                        status,
                        exchange.latency.map(FlowTime.human) ?? "-",
                    ]
                    writer.line(fields.joined(separator: " ") + AddressNames.comment(names))
                case .connection, .icmpError, .segment:
                    return
                }
            }
        }
    }
}
