import ArgumentParser
import HoptraceFlows
import HoptraceReport

/// `hoptrace requests`: one line per DNS query and per HTTP request.
struct RequestsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "requests",
        abstract: "List DNS queries and HTTP requests per capture point, with status and latency.",
        usage: """
            hoptrace requests [<options>] <file> ...
            hoptrace requests [<options>] -r <file> ... [<filter words> ...]
            """,
        discussion: """
            One line per DNS transaction and per HTTP exchange: time, capture point, client and server as seen \
            there, the query (DNS type and name) or request (method, Host and path), the rcode or status, and the \
            latency (DNS: query to response; HTTP: request last byte to response last byte, as tshark's \
            http.time). "-" marks what was not seen (no response, a lost request).

            --format json writes one object per line (docs/request.schema.json); --format tsv writes Zeek's log \
            format, whose columns zeek-cut selects by name.
            """
    )

    @OptionGroup var options: FlowCommandOptions

    @Option(
        help: ArgumentHelp(
            "Only requests with this status: an HTTP status (404) or class (5xx), or a DNS rcode (NXDOMAIN).",
            valueName: "status"
        )
    )
    var status: String?

    @Option(
        name: [.customShort("c"), .customLong("count")],
        help: ArgumentHelp("Stop after printing this many records (DNS queries and HTTP requests).", valueName: "n")
    )
    var count: Int?

    func validate() throws {
        if let status, RecordFilter.Status.request(status) == nil {
            throw ValidationError(
                "--status '\(status)' is not a request status; give an HTTP status (404), a class (1xx-5xx) or a "
                    + "DNS rcode (" + RecordFilter.Status.rcodes.joined(separator: ", ") + ")"
            )
        }
        if let count, count <= 0 { throw ValidationError("-c must be a positive number of records, got \(count)") }
    }

    func run() throws {
        let filter = RecordFilter(
            host: options.host,
            port: options.port,
            status: status.flatMap(RecordFilter.Status.request),
            slowerThan: options.slowerThan?.nanoseconds
        )
        let names = options.kube.isEnabled
        switch options.output.chosenFormat {
        case .text: try self.run(RequestTextWriter(style: options.output.style), filter)
        case .json: try self.run(RequestJSONWriter(), filter)
        case .tsv: try self.run(RequestTSVWriter(names: names), filter)
        }
    }

    private func run<Writer: RecordWriter>(_ writer: Writer, _ filter: RecordFilter) throws
    where Writer.Record == RequestRecord {
        try options.run(RequestRecords.self, writer, filter: filter, count: count)
    }
}
