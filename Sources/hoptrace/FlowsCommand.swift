import ArgumentParser
import Foundation
import HoptraceCapture
import HoptraceDecode
import HoptraceFlows
import HoptraceKube
import HoptraceReport

/// Options shared by `hoptrace flows` and `hoptrace requests`.
struct FlowCommandOptions: ParsableArguments {
    @OptionGroup var input: CaptureInputOptions

    @OptionGroup var output: RecordOutputOptions

    @Option(help: "Only records involving this IP address, HTTP Host or DNS name.")
    var host: String?

    @Option(help: "Only records with this port on either side.")
    var port: UInt16?

    @Option(
        name: .customLong("slower-than"),
        help: ArgumentHelp("Only records slower than this: 200ms, 1.5s, 800us.", valueName: "time")
    )
    var slowerThan: DurationArgument?

    @OptionGroup(title: "Interface names")
    var interfaceNames: InterfaceNameOptions

    @OptionGroup(title: "Kubernetes names")
    var kube: KubeOptions

    /// Runs the flow stage over the files and writes the records `select` takes from its events (with their capture
    /// point id) and `filter` keeps, through `writer`, at most `count` of them.
    ///
    /// Errors are one line on standard error and exit status 1 (2 for a filter libpcap cannot compile for a file's
    /// link type); records completed before a fault are printed first.
    func run<Writer: RecordWriter>(
        _ writer: Writer,
        count: Int?,
        select: @escaping (FlowEvent) -> (Writer.Record, Int)?,
        filter: @escaping (Writer.Record) -> Bool,
        names: @escaping (inout AddressNames, Writer.Record) -> [String: String]
    ) throws {
        var writer = writer
        var kubeNames = try kube.load().map(AddressNames.init)
        let ifIndexNames = try interfaceNames.load()
        let output = BufferedOutput()
        defer { output.flush() }
        let capturePoints = CapturePointTable()
        var pipeline = FlowPipeline(ifIndexNames: ifIndexNames, filter: try input.packetFilter())
        var printed = 0
        if let count { pipeline.shouldStop = { printed >= count } }
        // The header goes out once the files are open: before the first record, or at the end if there is none.
        var headerWritten = false
        var pointNames: [String] = []
        let result: FlowPipeline.Result
        do {
            result = try pipeline.run(paths: input.files, capturePoints: capturePoints) { event in
                guard let (record, point) = select(event), filter(record) else { return }
                if let count, printed >= count { return }
                if !headerWritten {
                    headerWritten = true
                    writer.writeHeader(to: &output.bytes)
                }
                // The names array is rebuilt only when a capture point was added, not per record.
                if capturePoints.points.count != pointNames.count { pointNames = capturePoints.names }
                let context = RecordContext(
                    capturePoint: point >= 0 && point < pointNames.count ? pointNames[point] : "cp\(point)",
                    names: kubeNames == nil ? [:] : names(&kubeNames!, record)
                )
                writer.write(record, context: context, to: &output.bytes)
                output.endRecord()
                printed += 1
            }
        } catch {
            throw error.code == .pcap ? UsageFailure(error.reason) as any Error : CLIFailure(error.description)
        }
        if !headerWritten { writer.writeHeader(to: &output.bytes) }
        writer.writeFooter(to: &output.bytes)
        if let failure = result.error {
            throw failure.code == .pcap ? UsageFailure(failure.reason) as any Error : CLIFailure(failure.description)
        }
    }
}

/// `hoptrace flows`: one line per TCP connection, in the spirit of Zeek's conn.log.
struct FlowsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flows",
        abstract: "List TCP connections per capture point, like Zeek's conn.log.",
        usage: """
            hoptrace flows [<options>] <file> ...
              hoptrace flows [<options>] -r <file> [-r <file> ...] [<filter words> ...]
            """,
        discussion: """
            One line per connection and capture point: start time, capture point, originator and responder as \
            seen there, duration, payload bytes each way, Zeek's conn_state and history, handshake RTT (SYN to \
            ACK) and retransmissions (originator/responder). --slower-than compares the duration. ICMP errors \
            quoting a packet (port unreachable, TTL exceeded) are listed too, marked ICMP.

            --format json writes one object per line (docs/connection.schema.json); --format tsv writes Zeek's \
            log format, whose columns zeek-cut selects by name.
            """
    )

    @OptionGroup var options: FlowCommandOptions

    @Option(
        help: ArgumentHelp(
            "Only connections in this Zeek state: " + RecordFilter.Status.connectionStates.joined(separator: ", ")
                + ".",
            valueName: "state"
        )
    )
    var status: String?

    @Option(
        name: [.customShort("c"), .customLong("count")],
        help: ArgumentHelp("Stop after printing this many records (connections and ICMP errors).", valueName: "n")
    )
    var count: Int?

    func validate() throws {
        if let status, RecordFilter.Status.connection(status) == nil {
            throw ValidationError(
                "--status '\(status)' is not a connection state; give one of "
                    + RecordFilter.Status.connectionStates.joined(separator: ", ")
            )
        }
        if let count, count <= 0 { throw ValidationError("-c must be a positive number of records, got \(count)") }
    }

    func run() throws {
        let filter = RecordFilter(
            host: options.host,
            port: options.port,
            status: status.flatMap(RecordFilter.Status.connection),
            slowerThan: options.slowerThan?.nanoseconds
        )
        let names = options.kube.isEnabled
        switch options.output.chosenFormat {
        case .text: try self.run(FlowTextWriter(style: options.output.style), filter)
        case .json: try self.run(FlowJSONWriter(), filter)
        case .tsv: try self.run(FlowTSVWriter(names: names), filter)
        }
    }

    private func run<Writer: RecordWriter>(_ writer: Writer, _ filter: RecordFilter) throws
    where Writer.Record == FlowRecord {
        try options.run(
            writer,
            count: count,
            select: { event in
                switch event {
                case .connection(let connection): return (.connection(connection), connection.capturePoint)
                case .icmpError(let icmp): return (.icmpError(icmp), icmp.capturePoint)
                case .http, .dns, .segment: return nil
                }
            },
            filter: { filter.matches($0) },
            names: { $0.names(of: $1) }
        )
    }
}
