import ArgumentParser
import Foundation
import HoptraceCapture
import HoptraceDecode
import HoptraceFlows
import HoptraceKube
import HoptraceReport
import HoptraceStore

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

    /// Runs the flow stage over the files and writes the records of kind `Kind` that `filter` keeps through
    /// `writer`, at most `count` of them.
    ///
    /// Errors are one line on standard error and exit status 1 (2 for a filter libpcap cannot compile for a file's
    /// link type); records completed before a fault are printed first.
    func run<Kind: FlowRecordKind, Writer: RecordWriter>(
        _ kind: Kind.Type,
        _ writer: Writer,
        filter: RecordFilter,
        count: Int?
    ) throws where Writer.Record == Kind.Record {
        let printer = RecordPrinter<Kind, Writer>(
            writer: writer,
            filter: filter,
            count: count,
            names: try kube.load().map(AddressNames.init)
        )
        if input.store.store != nil {
            try runStore(printer)
            return
        }
        let ifIndexNames = try interfaceNames.loadAll()
        var pipeline = FlowPipeline(ifIndexNames: ifIndexNames.shared, filter: try input.packetFilter())
        pipeline.configuration.emitHTTP = Kind.takesHTTP
        pipeline.nodeIfIndexNames = ifIndexNames.perNode
        if count != nil { pipeline.shouldStop = { printer.isDone } }
        let specs = try input.specs()
        let progress = ProgressLine(paths: specs.map(\.path), found: "records", streamsToTerminal: true)
        pipeline.progress = { packets, bytes in progress.update(packets: packets, bytes: bytes, found: printer.printed)
        }
        let result: FlowPipeline.Result
        do {
            defer { progress.clear() }
            result = try pipeline.run(inputs: specs, capturePoints: printer.capturePoints) { printer.take($0) }
        } catch {
            throw error.code == .pcap ? UsageFailure(error.reason) as any Error : CLIFailure(error.description)
        }
        printer.finish()
        for note in result.readingNotes { FileHandle.standardError.write(Data(("hoptrace: " + note + "\n").utf8)) }
        if let failure = result.error {
            throw failure.code == .pcap ? UsageFailure(failure.reason) as any Error : CLIFailure(failure.description)
        }
    }
}

extension FlowCommandOptions {
    /// The records of every node's rows of the last `--since`, in the order the agents emitted them.
    func runStore<Kind: FlowRecordKind, Writer: RecordWriter>(_ printer: RecordPrinter<Kind, Writer>) throws {
        let store = try input.store.open()
        let window = (input.since ?? DurationArgument(argument: "15m"))?.nanoseconds ?? 0
        let now = UInt64(clamping: wallClockNanoseconds())
        let start = window == 0 ? 0 : now - min(now, UInt64(window))
        do {
            let stored = try StoredFlows(rows: Kind.storeRows(store, since: start, filter: printer.filter))
            printer.fixedPointNames = stored.capturePoints.map(\.description)
            for event in stored.events {
                printer.take(event)
                if printer.isDone { break }
            }
        } catch let error as StoreError {
            throw CLIFailure(error.description)
        } catch {
            throw CLIFailure("\(error)")
        }
        printer.finish()
    }
}

/// How a command takes its records from the flow stage's events.
protocol FlowRecordKind {
    /// The record kind.
    associatedtype Record
    /// Whether the kind's records include HTTP exchanges (without them, the flow stage does not build them).
    static var takesHTTP: Bool { get }
    /// Calls `body` with the record in `event` and its capture point id, when the event is of this kind.
    static func take(_ event: FlowEvent, _ body: (Record, Int) -> Void)
    /// Whether `record` passes `filter`.
    static func matches(_ record: Record, _ filter: RecordFilter) -> Bool
    /// The cluster's names for the record's addresses.
    static func names(of record: Record, in names: inout AddressNames) -> [String: String]
    /// The store's rows emitted since `since` that may hold records `filter` keeps (a superset, in any order).
    static func storeRows(_ store: ClickHouseStore, since: UInt64, filter: RecordFilter) throws -> [FlowRow]
}

/// `flows`: connections and ICMP errors.
enum ConnectionRecords: FlowRecordKind {
    static let takesHTTP = false

    static func take(_ event: FlowEvent, _ body: (FlowRecord, Int) -> Void) {
        switch event {
        case .connection(let connection): body(.connection(connection), connection.capturePoint)
        case .icmpError(let icmp): body(.icmpError(icmp), icmp.capturePoint)
        case .http, .dns, .segment, .opened: return
        }
    }

    static func matches(_ record: FlowRecord, _ filter: RecordFilter) -> Bool { filter.matches(record) }

    static func names(of record: FlowRecord, in names: inout AddressNames) -> [String: String] {
        names.names(of: record)
    }

    /// The connection and ICMP rows the filter may keep, chosen in SQL (``FlowSelection``).
    static func storeRows(_ store: ClickHouseStore, since: UInt64, filter: RecordFilter) throws -> [FlowRow] {
        try store.rows(since: since, selecting: selection(filter)).rows
    }

    /// `filter` as a selection in SQL.
    static func selection(_ filter: RecordFilter) -> FlowSelection {
        var selection = FlowSelection(port: filter.port, slowerThan: filter.slowerThan)
        if let host = filter.host { selection.host = IPAddress(host).map(FlowSelection.Host.address) ?? .name }
        if case .connectionState(let state) = filter.status { selection.connectionState = state }
        return selection
    }
}

/// `requests`: DNS transactions and HTTP exchanges.
enum RequestRecords: FlowRecordKind {
    static let takesHTTP = true

    static func take(_ event: FlowEvent, _ body: (RequestRecord, Int) -> Void) {
        switch event {
        case .dns(let transaction): body(.dns(transaction), transaction.capturePoint)
        case .http(let exchange): body(.http(exchange), exchange.capturePoint)
        case .connection, .icmpError, .segment, .opened: return
        }
    }

    static func matches(_ record: RequestRecord, _ filter: RecordFilter) -> Bool { filter.matches(record) }

    static func names(of record: RequestRecord, in names: inout AddressNames) -> [String: String] {
        names.names(of: record)
    }

    /// The HTTP and DNS rows the filter may keep, chosen in SQL (``RequestSelection``).
    static func storeRows(_ store: ClickHouseStore, since: UInt64, filter: RecordFilter) throws -> [FlowRow] {
        try store.rows(since: since, selecting: selection(filter)).rows
    }

    /// `filter` as a selection in SQL.
    static func selection(_ filter: RecordFilter) -> RequestSelection {
        var selection = RequestSelection(port: filter.port, slowerThan: filter.slowerThan)
        if let host = filter.host {
            selection.host = IPAddress(host).map(RequestSelection.Host.address) ?? .name(host)
        }
        switch filter.status {
        case .http(let code): selection.status = .http(code)
        case .httpClass(let digit): selection.status = .httpClass(digit)
        case .rcode(let rcode): selection.status = .rcode(rcode)
        case .connectionState, nil: break
        }
        return selection
    }
}

/// Writes the records of one kind as the flow stage emits them: filter, header before the first, capture point
/// names, cluster names, the count.
///
/// Its state is touched by the one thread running the pipeline, once per record: `@exclusivity(unchecked)` spares
/// a dynamic exclusivity check on each access.
final class RecordPrinter<Kind: FlowRecordKind, Writer: RecordWriter> where Writer.Record == Kind.Record {
    let output = BufferedOutput()
    let capturePoints = CapturePointTable()
    let filter: RecordFilter
    let count: Int?
    @exclusivity(unchecked) var writer: Writer
    @exclusivity(unchecked) var names: AddressNames?
    @exclusivity(unchecked) var printed = 0
    @exclusivity(unchecked) var headerWritten = false
    /// Capture point names by id, extended when a capture point is added (rebuilt when one was renamed).
    @exclusivity(unchecked) var pointNames: [String] = []
    /// The table's ``CapturePointTable/renames`` when ``pointNames`` was last rebuilt.
    @exclusivity(unchecked) var pointRenames = 0
    /// Capture point names by id when the records come from the store (not from `capturePoints`).
    var fixedPointNames: [String]? {
        didSet { self.pointNames = self.fixedPointNames ?? [] }
    }

    init(writer: Writer, filter: RecordFilter, count: Int?, names: AddressNames?) {
        self.writer = writer
        self.filter = filter
        self.count = count
        self.names = names
    }

    /// Whether `count` records were printed.
    var isDone: Bool { self.count.map { self.printed >= $0 } ?? false }

    /// Writes the event's record, if it is one of this kind and passes the filter.
    func take(_ event: FlowEvent) {
        Kind.take(event) { record, point in self.write(record, capturePoint: point) }
    }

    private func write(_ record: Kind.Record, capturePoint point: Int) {
        guard Kind.matches(record, self.filter), !self.isDone else { return }
        if !self.headerWritten {
            self.headerWritten = true
            self.writer.writeHeader(to: self.output)
        }
        if self.fixedPointNames == nil {
            // The names of new points only (a capture may name a point in every packet), all of them after a rename.
            if self.capturePoints.renames != self.pointRenames {
                self.pointRenames = self.capturePoints.renames
                self.pointNames = self.capturePoints.names
            }
            while self.pointNames.count < self.capturePoints.points.count {
                self.pointNames.append(self.capturePoints[self.pointNames.count].description)
            }
        }
        let context = RecordContext(
            capturePoint: point >= 0 && point < self.pointNames.count ? self.pointNames[point] : "cp\(point)",
            names: self.names == nil ? [:] : Kind.names(of: record, in: &self.names!)
        )
        self.writer.write(record, context: context, to: self.output)
        self.output.endRecord()
        self.printed += 1
    }

    /// The header (when no record came), the footer, and everything out.
    func finish() {
        if !self.headerWritten { self.writer.writeHeader(to: self.output) }
        self.writer.writeFooter(to: self.output)
        self.output.flush()
    }
}

/// `hoptrace flows`: one line per TCP connection, in the spirit of Zeek's conn.log.
struct FlowsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flows",
        abstract: "List TCP connections per capture point, like Zeek's conn.log.",
        usage: """
            hoptrace flows [<options>] <file> ...
            hoptrace flows [<options>] -r <file> ... [<filter words> ...]
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
        try options.run(ConnectionRecords.self, writer, filter: filter, count: count)
    }
}
