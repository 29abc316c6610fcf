import ArgumentParser
import Dispatch
import Foundation
import HoptraceCapture
import HoptraceCorrelate
import HoptraceDecode
import HoptraceFlows
import HoptraceStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `hoptrace agent`: one node's capture reduced to flow rows and shipped to the fleet's ClickHouse.
struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Capture on this node and ship its flow records to ClickHouse, for hoptrace trace --store.",
        discussion: """
            Captures (-i any, or -i IF ...), decodes and reduces the packets to the records correlation needs (one \
            per connection per interface, HTTP exchanges, DNS transactions, ICMP errors), and inserts them in \
            batches (--batch-rows, or --batch-interval) into the store's flows table (hoptrace store init creates \
            it). While the store cannot be reached, batches wait in memory (--queue-rows), then in --spool (capped \
            by --spool-max), and are sent oldest first when it is back; rows that fit nowhere are dropped and \
            counted. -r FILE replays a capture file instead (with --links for tcpdump -i any files). Ctrl-C or \
            SIGTERM stops it; it then waits up to --drain-timeout for the store to take what is queued. With -w, the \
            node's packets are also kept in a local ring of pcapng files (--rotate-size or --rotate-seconds, and \
            --max-files), so that a traced request's packets can be fetched later.
            """
    )

    @Option(
        name: [.customShort("i"), .customLong("interface")],
        help: ArgumentHelp("An interface to capture on; repeat for several, or `any`.", valueName: "iface")
    )
    var interfaces: [String] = []

    @Option(
        name: .customShort("r"),
        help: ArgumentHelp("Replay this capture file of the node instead of capturing (repeatable).", valueName: "file")
    )
    var readFiles: [String] = []

    @Option(
        name: [.customShort("f"), .customLong("filter")],
        help: ArgumentHelp("Only packets matching this BPF filter, e.g. 'tcp or udp port 53'.", valueName: "expr")
    )
    var filter: String?

    @Option(help: ArgumentHelp("This node's name (else $NODE_NAME, else the host name).", valueName: "name"))
    var node: String?

    @OptionGroup(title: "Store")
    var store: StoreOptions

    @Option(
        name: [.customShort("w"), .customLong("write")],
        help: ArgumentHelp(
            "Also keep the packets in a ring of pcapng files: DIR/NAME.pcapng gives DIR/NAME-00000.pcapng, ...",
            valueName: "file"
        )
    )
    var ring: String?

    @OptionGroup(title: "Local ring (with -w)")
    var rotation: RotationOptions

    @OptionGroup(title: "Interface names (with -r)")
    var interfaceNames: InterfaceNameOptions

    @Option(help: "Rows per insert, at most.")
    var batchRows: Int = 10_000

    @Option(help: ArgumentHelp("Longest a row waits for its batch (1s, 500ms).", valueName: "time"))
    var batchInterval: DurationArgument = DurationArgument(argument: "1s")!

    @Option(help: "Rows held in memory while the store is slow or away, at most.")
    var queueRows: Int = 100_000

    @Option(help: ArgumentHelp("Keep batches here while the store is away (none: only memory).", valueName: "dir"))
    var spool: String?

    @Option(help: ArgumentHelp("The spool's size cap (bytes, or with K, M, G).", valueName: "size"))
    var spoolMax: String = "1G"

    @Option(help: ArgumentHelp("At the end, how long to wait for the store to take what is queued.", valueName: "time"))
    var drainTimeout: DurationArgument = DurationArgument(argument: "30s")!

    @Option(help: ArgumentHelp("Stop after this long (30s, 5m).", valueName: "time"))
    var duration: DurationArgument?

    @Option(
        help: ArgumentHelp(
            "Every this long (of capture time with -r), the agent's counters on standard error and in agent_stats "
                + "(0: only the end's row).",
            valueName: "time"
        )
    )
    var statsInterval: DurationArgument = DurationArgument(argument: "60s")!

    @Option(
        name: .customLong("buffer-size"),
        help: ArgumentHelp("Kernel buffer per interface, in MiB.", valueName: "MiB")
    )
    var bufferSize: Int = 64

    func validate() throws {
        if store.store == nil { throw ValidationError("give the store: --store http://HOST:8123") }
        if interfaces.isEmpty == readFiles.isEmpty {
            throw ValidationError("capture with -i any (or -i IF), or replay a file with -r FILE: one of the two")
        }
        if batchRows <= 0 || queueRows < 0 {
            throw ValidationError("--batch-rows must be positive, --queue-rows 0 or more")
        }
        if Self.bytes(spoolMax) == nil {
            throw ValidationError("--spool-max '\(spoolMax)' is not a size; e.g. 512M, 2G")
        }
        if !(1...4096).contains(bufferSize) { throw ValidationError("--buffer-size must be between 1 and 4096 MiB") }
        if let ring {
            if ring.isEmpty || ring == "-" || ring.hasSuffix("/") {
                throw ValidationError("-w needs a file name, e.g. -w /var/lib/hoptrace/ring/node.pcapng")
            }
            if !rotation.rotation.rotates || rotation.maxFiles == nil {
                throw ValidationError(
                    "the local ring is bounded: give -w with --rotate-size (or --rotate-seconds) and --max-files"
                )
            }
        } else if rotation.given {
            throw ValidationError("--rotate-size, --rotate-seconds and --max-files are for the local ring: add -w FILE")
        }
        if let node = node ?? ProcessInfo.processInfo.environment["NODE_NAME"], node.isEmpty || node.count > 253 {
            throw ValidationError("--node must be a name of 1 to 253 characters")
        }
    }

    /// `512M`, `2G`, `1000`: bytes.
    static func bytes(_ text: String) -> Int? {
        let scales: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        var number = Substring(text)
        var scale = 1
        if let last = text.uppercased().last, let value = scales[last] {
            number = number.dropLast()
            scale = value
        }
        guard let value = Int(number), value >= 0, value <= Int.max / scale else { return nil }
        return value * scale
    }

    /// The node's name: `--node`, else `$NODE_NAME` (the downward API), else the host name.
    var nodeName: String {
        if let node { return node }
        if let name = ProcessInfo.processInfo.environment["NODE_NAME"], !name.isEmpty { return name }
        return ProcessInfo.processInfo.hostName
    }

    func run() throws {
        // A live agent catches SIGINT and SIGTERM from here on, so that one sent while it connects to the store and
        // opens the interfaces still ends it cleanly (see StopSignals).
        if readFiles.isEmpty { try StopSignals.install() }
        let node = nodeName
        let store = try self.store.open(timeout: 10)
        var options = RowShipper.Options()
        options.batchRows = batchRows
        options.batchInterval = Double(batchInterval.nanoseconds) / 1e9
        options.queueRows = queueRows
        // A replay waits for the store rather than drop what it read faster than the store takes it.
        options.waitForRoom = !readFiles.isEmpty
        options.spoolDirectory = spool
        options.spoolMaxBytes = Self.bytes(spoolMax) ?? options.spoolMaxBytes
        let shipper: RowShipper
        do {
            shipper = try RowShipper(store: store, options: options) { printError("hoptrace agent: \($0)") }
        } catch {
            throw CLIFailure(error.description)
        }
        shipper.start()
        let run = UInt64(clamping: wallClockNanoseconds())
        let points = CapturePointTable()
        let recorder = FlowRowRecorder(node: node, run: run, points: points)
        let sink: (FlowRow) -> Void = { row in
            shipper.add(row)
        }
        var pipeline = FlowPipeline(configuration: Correlator.flowConfiguration())
        let reporter = AgentReporter(
            node: node,
            run: run,
            interval: statsInterval.nanoseconds,
            shipper: shipper,
            store: store
        )
        let started = Date()
        var packets = 0
        var readError: CaptureError?
        var kernelDrops: UInt64 = 0
        var tee: RecordingSource?
        do {
            if !readFiles.isEmpty {
                let names = try interfaceNames.loadAll()
                pipeline.ifIndexNames = names.shared
                let filter = try CaptureInput.packetFilter(filter)
                pipeline.filter = filter
                let opened = try CaptureSet.open(readFiles.map { CaptureFileSpec(path: $0, node: node) })
                if let filter {
                    for interface in opened.source.interfaces { try filter.prepare(for: interface.linkType) }
                }
                tee = try openRing(opened.source, node: node, filter: filter)
                let counting = CountingSource(tee ?? opened.source)
                reporter.counter = counting
                let result = try pipeline.run(
                    source: counting,
                    tap: { decoded, _ in recorder.note(time: decoded.timestamp) },
                    capturePoints: points,
                    // A replay's reports come every interval of capture time.
                    clock: { time in
                        sink(recorder.clock(time))
                        reporter.tick(now: time)
                    },
                    sink: { event in
                        if let row = recorder.row(event) { sink(row) }
                    }
                )
                packets = result.packets
                readError = result.error
            } else {
                (packets, kernelDrops) = try captureLive(
                    pipeline: pipeline,
                    points: points,
                    recorder: recorder,
                    shipper: shipper,
                    reporter: reporter,
                    sink: sink,
                    tee: &tee
                )
            }
        } catch let error as CaptureError {
            readError = error
        }
        var ringError: CaptureError?
        do {
            try tee?.finish(start: Int64(clamping: run))
        } catch {
            ringError = error
        }
        let counters = shipper.finish(drainTimeout: Double(drainTimeout.nanoseconds) / 1e9)
        let seconds = max(Date().timeIntervalSince(started), 1e-3)
        let drops = kernelDrops
        reporter.kernelDrops = readFiles.isEmpty ? { drops } : nil
        var end = reporter.row(periodic: false, counters: counters)
        end.packets = packets
        try? reporter.sender.finish(end)
        let unsent = counters.spoolRows
        printError(
            "hoptrace agent \(node): \(packets) packets, \(counters.made) rows, \(counters.sent) sent to "
                + "\(store.client.url) in \(String(format: "%.2f", seconds)) s "
                + "(\(Int(Double(counters.sent) / seconds)) rows/s), \(counters.dropped) dropped, \(unsent) left in "
                + "the spool (\(counters.spoolBytes) bytes)"
                + (kernelDrops > 0 ? ", \(kernelDrops) dropped by kernel" : "")
        )
        if let files = tee?.recorder.files, let first = files.first, let last = files.last {
            printError(
                "hoptrace agent \(node): local ring of \(files.count) file\(files.count == 1 ? "" : "s") ("
                    + (files.count == 1 ? first : "\(first) ... \(last)") + ")"
            )
        }
        if let ringError { throw CLIFailure("local ring (-w): \(ringError.description)") }
        if let readError { throw CLIFailure(readError.description) }
        if counters.dropped > 0 {
            throw CLIFailure(
                "\(counters.dropped) rows were dropped: give the spool more room (--spool-max) or the store more time"
            )
        }
        if unsent > 0 {
            throw CLIFailure(
                "\(unsent) rows wait in \(spool ?? "the spool") for the store: the next agent run sends them first"
            )
        }
    }

    /// The live capture loop: until SIGINT, SIGTERM or --duration; returns packets and kernel drops.
    func captureLive(
        pipeline: FlowPipeline,
        points: CapturePointTable,
        recorder: FlowRowRecorder,
        shipper: RowShipper,
        reporter: AgentReporter,
        sink: @escaping (FlowRow) -> Void,
        tee: inout RecordingSource?
    ) throws -> (Int, UInt64) {
        let source: LiveSource
        do {
            source = try LiveSource(
                interfaces: interfaces,
                options: LiveSource.Options(bufferSize: bufferSize << 20, filter: filter)
            )
        } catch {
            throw CLIFailure(error.description)
        }
        tee = try openRing(source, node: recorder.node, filter: nil, statistics: { source.statistics() })
        var pipeline = pipeline
        pipeline.ifIndexNames = Self.hostInterfaceNames()
        let triggers = try StopTriggers(stopping: source.stopHandle, after: duration)
        defer { triggers.cancel() }
        printError(
            "hoptrace agent \(recorder.node): capturing on \(interfaces.joined(separator: ", "))"
                + (filter.map { " (filter: \($0))" } ?? "") + ", shipping to \(store.store ?? "")"
                + (ring.map { ", keeping the packets in \($0) (rotated)" } ?? "") + "; Ctrl-C to stop"
        )
        // A live capture's reports come every interval of the wall clock, also while the link is quiet; libpcap's
        // counters are read on this (the capturing) thread.
        let counting = CountingSource(tee ?? source)
        reporter.counter = counting
        reporter.kernelDrops = { source.statistics().reduce(UInt64(0)) { $0 + UInt64($1.dropped) } }
        reporter.tick(now: wallClockNanoseconds())
        source.onIdle = {
            shipper.tick()
            reporter.tick(now: wallClockNanoseconds())
        }
        let result = try pipeline.run(
            source: counting,
            tap: { decoded, _ in recorder.note(time: decoded.timestamp) },
            capturePoints: points,
            clock: { time in
                sink(recorder.clock(time))
                reporter.tick(now: wallClockNanoseconds())
            },
            sink: { event in
                if let row = recorder.row(event) { sink(row) }
            }
        )
        source.stop()
        source.onIdle = nil
        let drops = source.statistics().reduce(UInt64(0)) { $0 + UInt64($1.dropped) }
        if let error = result.error { throw error }
        return (result.packets, drops)
    }

    /// With `-w`: `source` teed into the local ring (its directory created), the node's name in each file's section
    /// header (as `hoptrace capture` writes the host's), so that `trace` reading the ring knows the node.
    func openRing(
        _ source: any PacketSource,
        node: String,
        filter: PacketFilter?,
        statistics: @escaping () -> [LiveSource.Statistics] = { [] }
    ) throws -> RecordingSource? {
        guard let ring else { return nil }
        var section = PcapngWriter.SectionInfo.currentHost(application: "hoptrace \(HoptraceVersion.string)")
        section.comment = "host \(node)"
        let directory = (ring as NSString).deletingLastPathComponent
        do {
            if !directory.isEmpty {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
        } catch {
            throw CLIFailure("cannot create \(directory) for -w: \(error.localizedDescription)")
        }
        do {
            let recorder = try RotatingRecorder(path: ring, rotation: rotation.rotation, section: section)
            let tee = RecordingSource(source, recorder: recorder, filter: filter, statistics: statistics)
            tee.onFailure = { printError("hoptrace agent \(node): the local ring stopped: \($0.description)") }
            return tee
        } catch {
            throw CLIFailure(error.description)
        }
    }

    /// This host's interface names by index, for `-i any` (SLL2) packets.
    static func hostInterfaceNames() -> [Int32: String] {
        var names: [Int32: String] = [:]
        guard let list = if_nameindex() else { return names }
        defer { if_freenameindex(list) }
        var entry = list
        while entry.pointee.if_index != 0 {
            if let name = entry.pointee.if_name { names[Int32(entry.pointee.if_index)] = String(cString: name) }
            entry += 1
        }
        return names
    }
}
