import ArgumentParser
import Foundation
import HoptraceCapture
import HoptraceCorrelate
import HoptraceDecode
import HoptraceFlows
import HoptraceKube
import HoptraceReport
import HoptraceStore

/// `hoptrace trace`: one request's path through the node, its verdict and where its time went.
struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Trace a request through the node: verdict, hops, and where the time went.",
        discussion: """
            With no selector, lists the requests found and traces the first failed one, else the slowest. \
            Interface names: pcapng files carry them; for `tcpdump -i any` captures (SLL2) pass the node's \
            `ip -j link` output with --links, or --ifname INDEX=NAME.

            Live (--live -i any, or -i IF ...): captures, decodes and correlates in one process and prints each \
            matching request once, as soon as its verdict is final: when it completes, is rejected or reset; a \
            breakpoint once the SYN (or data) retransmissions have stopped for a quiet period (3 s or more) or the \
            client gave up; no-response when the client closes, or after 10 s of silence. Ctrl-C, SIGTERM, \
            --duration or -c stops it; requests still open are then printed as they stand. Needs root or \
            CAP_NET_RAW; -Z drops to a user once the interfaces are open.
            """
    )

    @Argument(help: "pcap or pcapng files (several are merged by time); none with --live.")
    var files: [String] = []

    @Option(
        name: .customShort("r"),
        help: ArgumentHelp(
            "Read this capture file (repeat for several); the words after it are then a BPF filter, as for tcpdump.",
            valueName: "file"
        )
    )
    var readFiles: [String] = []

    @Flag(help: "Capture live (with -i) and print each matching request's trace as soon as it is final.")
    var live = false

    @OptionGroup(title: "Live capture (with --live)")
    var capture: LiveTraceOptions

    @Option(name: .customLong("request-id"), help: "Trace the request with this X-Request-ID.")
    var requestID: String?

    @Option(help: "Trace requests with this method and path prefix, e.g. 'GET /api'.")
    var http: String?

    @Option(help: "Trace requests from this client address (IP or IP:PORT, or NAMESPACE/POD with --k8s).")
    var client: String?

    @Option(help: "Trace requests to this Service, node port or destination (IP:PORT, or NAMESPACE/NAME with --k8s).")
    var service: String?

    @Option(help: "Trace the request with this index in the list.")
    var index: Int?

    @Flag(help: "Trace every request.")
    var all = false

    @Flag(help: "Write JSON lines following docs/trace.schema.json.")
    var json = false

    @Option(help: "Also write a self-contained HTML report to this file.")
    var html: String?

    @OptionGroup(title: "Interface names")
    var interfaceNames: InterfaceNameOptions

    @OptionGroup(title: "Several nodes")
    var nodes: NodeOptions

    @Option(help: "A completed request at least this long is examined for what made it slow (e.g. 200ms, 1s).")
    var slow: String = "200ms"

    @Option(help: "Colour: auto (on a terminal), always, never.")
    var color: ColorMode = .auto

    @OptionGroup(title: "Kubernetes names")
    var kube: KubeOptions

    @OptionGroup(title: "From the fleet's store (hoptrace agent)")
    var storeOptions: StoreOptions

    @Option(
        help: ArgumentHelp(
            "With --store: the rows of this last stretch of time (15m, 2h); 0 for every row.",
            valueName: "time"
        )
    )
    var since: DurationArgument?

    enum ColorMode: String, ExpressibleByArgument, CaseIterable {
        case auto, always, never
    }

    func validate() throws {
        if storeOptions.store != nil {
            // The rows are the input: no file, nothing live.
            if live { throw ValidationError("--store reads the fleet's rows; trace live without --store") }
            if let file = (files + readFiles + nodes.entries).first {
                throw ValidationError("--store reads no file (got \(file)); trace files without --store")
            }
        } else if since != nil {
            throw ValidationError("--since selects rows of the store: add --store http://HOST:8123")
        } else if live {
            try capture.validate(files: files + readFiles + nodes.entries, index: index, html: html, all: all)
        } else if !capture.interfaces.isEmpty {
            throw ValidationError("-i captures live: add --live (hoptrace trace --live -i any ...)")
        } else if files.isEmpty && readFiles.isEmpty && nodes.isEmpty {
            throw ValidationError("give at least one capture file, or trace live with --live -i any")
        } else {
            try CaptureInput.validate(
                arguments: files,
                readFiles: readFiles,
                filter: capture.filter,
                live: !nodes.isEmpty
            )
        }
        if !kube.isEnabled, let selector = [client, service].compactMap({ $0 }).first(where: { $0.contains("/") }) {
            throw ValidationError(
                "'\(selector)' is a Kubernetes name: add --k8s FILE (kubectl get ... -o json) or --kubectl, "
                    + "or select by address (IP or IP:PORT)"
            )
        }
        if DurationText.nanoseconds(slow) == nil {
            throw ValidationError("--slow '\(slow)' is not a duration; write e.g. 200ms, 1.5s, 800us")
        }
        if let http, http.split(separator: " ").count != 2 {
            throw ValidationError("--http takes 'METHOD /path', e.g. --http 'GET /api'")
        }
    }

    @Flag(help: "List every request found, one line each (with no selector; the summary is printed too).")
    var list = false

    @Flag(help: "Print hop tables at full width, however wide the terminal.")
    var wide = false

    func run() throws {
        if live {
            try runLive()
            return
        }
        let names = try interfaceNames.loadAll()
        let inputs = inputFiles.map { CaptureFileSpec(path: $0) } + (try nodes.specs())
        let filter = try CaptureInput.packetFilter(
            CaptureInput.expression(arguments: files, readFiles: readFiles, filter: capture.filter)
        )
        let directory = ClusterDirectory(state: try kube.load())
        var options = CorrelateOptions()
        options.slowThreshold = DurationText.nanoseconds(slow) ?? options.slowThreshold
        if let html {
            // Fail before the work, not after it.
            guard FileManager.default.createFile(atPath: html, contents: nil) else {
                throw CLIFailure("cannot write \(html); choose a writable path for --html")
            }
        }
        let useColor = color == .always || (color == .auto && Terminal.coloursByDefault && !json)
        let report = TextReport(color: useColor, width: wide ? nil : Self.terminalWidth())
        let out = BufferedOutput()
        defer { out.flush() }
        var summary = TraceSummary()
        var htmlTraces: [RequestTrace] = []
        let streaming = all || hasSelector
        var printedAny = false
        let progress = ProgressLine(paths: inputs.map(\.path), found: "requests", streamsToTerminal: streaming || list)
        defer { progress.clear() }
        var jsonLine = JSONWriter()
        let jsonNames = TraceJSON.NameCache()
        // The options as plain values, read once: through their property wrappers, the three reads cost ~2,000
        // instructions a trace.
        let (list, json, all, wantsHTML) = (self.list, self.json, self.all, self.html != nil)
        let emit: ([RequestTrace]) -> Void = { traces in
            // Each trace is read where it is (through the buffer: a loop variable, or an array subscript passed on,
            // copies every trace).
            traces.withUnsafeBufferPointer { traces in
                for index in traces.indices {
                    summary.add(traces[index])
                    if list, !json { out.line("  " + Self.oneLine(traces[index])) }
                    guard streaming, all || matches(traces[index]) else { continue }
                    if json {
                        TraceJSON.write(traces[index], to: out, using: &jsonLine, names: jsonNames)
                    } else {
                        if printedAny { out.write("\n") }
                        report.write(traces[index], to: out)
                    }
                    printedAny = true
                    if wantsHTML, htmlTraces.count < 10_000 { htmlTraces.append(traces[index]) }
                }
            }
        }
        var evicted = 0
        var capsNote = ""
        var flowError: CaptureError?
        var readingNotes: [String] = []
        defer {
            for note in readingNotes { FileHandle.standardError.write(Data(("hoptrace: " + note + "\n").utf8)) }
        }
        if storeOptions.store != nil {
            evicted = try traceStore(options: options, directory: directory, emit: emit)
        } else {
            let run: Correlator.Run
            do {
                run = try Correlator.trace(
                    inputs: inputs,
                    ifIndexNames: names.shared,
                    nodeIfIndexNames: names.perNode,
                    options: options,
                    directory: directory,
                    filter: filter,
                    progress: { packets, bytes in progress.update(packets: packets, bytes: bytes, found: summary.count)
                    },
                    emit: emit
                )
            } catch {
                throw CLIFailure(error.description)
            }
            // Everything either stage gave up: connections, DNS transactions, reassembly buffers and heads too.
            evicted = run.statistics.evicted + run.flows.flowStatistics.evicted
            capsNote = Self.capsNote(run.statistics, flows: run.flows.flowStatistics, options: options)
            flowError = run.flows.error
            readingNotes = run.flows.readingNotes
        }
        progress.clear()
        if !streaming {
            if json {
                if let chosen = summary.chosen {
                    out.line(TraceJSON.render(chosen, evicted: evicted))
                    htmlTraces = [chosen]
                }
            } else {
                if list { out.write("\n") }
                out.write(summary.render(evicted: evicted, capsNote: capsNote))
                if let chosen = summary.chosen {
                    out.write("\n")
                    report.write(chosen, to: out)
                    htmlTraces = [chosen]
                }
            }
        }
        if let html {
            let page = HTMLReport.render(
                htmlTraces,
                title: storeOptions.store
                    ?? inputs.map { ($0.path as NSString).lastPathComponent }.joined(separator: ", ")
            )
            do {
                try page.write(toFile: html, atomically: true, encoding: .utf8)
            } catch {
                throw CLIFailure("cannot write \(html): \(error.localizedDescription); choose a writable path")
            }
        }
        if streaming, evicted > 0 {
            // The summary says it otherwise; here the traces went out as found, so say it once at the end.
            out.flush()
            let note =
                capsNote.isEmpty ? "\(evicted) flows or requests were given up to stay within memory caps" : capsNote
            FileHandle.standardError.write(Data(("hoptrace: " + note + "\n").utf8))
        }
        if let error = flowError {
            throw CLIFailure(error.description + " (the requests above were traced from the packets before it)")
        }
        if streaming, !printedAny {
            throw CLIFailure(
                summary.count == 0
                    ? "no requests found in the capture"
                    : "no request matches the selector; run `hoptrace trace --list` on the same files to "
                        + "list the \(summary.count) found"
            )
        }
    }

    /// What the memory caps cost, by cap: connections given up by the flow stage and by the correlator (their traces
    /// carry the finding `evicted`), pieces and queries counted instead of traced, traces written before their turn,
    /// exchanges forgotten, DNS queries judged early or dropped.
    static func capsNote(_ statistics: CorrelateStatistics, flows: FlowStatistics, options: CorrelateOptions) -> String
    {
        let costs: [(count: Int, what: String)] = [
            (flows.evictedForCap, "connections given up by the flow stage (at its cap on open flows)"),
            (
                statistics.evictedConnections,
                "judged before they ended (at the cap of \(options.maxOpenConnections) open connections, "
                    + "or of \(options.maxHeldRecords) records they hold)"
            ),
            (
                statistics.untracedPieces,
                "pieces of connections given up with no request, reset or ICMP error in them counted, not traced"
            ),
            (statistics.untracedQueries, "DNS queries given up unanswered by the flow stage counted, not traced"),
            (
                statistics.evictedPending,
                "traces written before their turn in start order (at the cap of \(options.maxPendingTraces) held)"
            ),
            (
                statistics.shedExchanges,
                "HTTP exchanges forgotten before a proxy's inbound request could claim them (at the cap of "
                    + "\(options.maxOnwardExchanges) kept)"
            ),
            (
                statistics.evictedExchanges,
                "HTTP requests traced before their connection ended (at the cap of "
                    + "\(options.maxExchangesPerConnection) held on one connection)"
            ),
            (
                statistics.shedICMPErrors,
                "ICMP errors forgotten early (at the cap of \(options.maxICMPErrors) kept)"
            ),
            (
                statistics.shedQueries,
                "DNS queries judged or released early (at the cap of \(options.maxHeldQueries) held)"
            ),
            (statistics.evictedQueries, "DNS queries dropped (at the per-client cap)"),
            // The flow stage's other evictions, but the queries said above.
            (
                max(0, flows.evicted - flows.evictedForCap - statistics.untracedQueries),
                "DNS transactions, reassembly buffers or HTTP heads given up early"
            ),
        ]
        let parts = costs.filter { $0.count > 0 }.map { "\($0.count) \($0.what)" }
        // Said only when some trace can carry it: the caps on held traces, exchanges and queries flag none.
        let flagged = flows.evictedForCap > 0 || statistics.evictedConnections > 0 || statistics.evictedExchanges > 0
        return "memory caps reached: " + parts.joined(separator: "; ")
            + (flagged ? "; the traces of connections given up carry the finding \"evicted\"" : "")
    }

    /// `trace --store`: the rows of the last `--since` from every node, traced as the files they were made from;
    /// returns the requests given up to stay within caps.
    func traceStore(
        options: CorrelateOptions,
        directory: ClusterDirectory,
        emit: ([RequestTrace]) -> Void
    ) throws -> Int {
        let store = try storeOptions.open()
        let window = (since ?? DurationArgument(argument: "15m"))?.nanoseconds ?? 0
        let now = UInt64(clamping: wallClockNanoseconds())
        let start = window == 0 ? 0 : now - min(now, UInt64(window))
        do {
            let rows: [FlowRow]
            let selection = storeSelection
            if selection.isEmpty || index != nil || all || list {
                // The whole window: a choice among every request, or an index counted over them all.
                rows = try store.rows(since: start)
            } else {
                let (selected, report) = try store.rows(since: start, selecting: selection, options: options)
                rows = selected
                if let reason = report.wholeWindow {
                    printError("hoptrace: read every row of the window (\(reason))")
                } else {
                    printError(
                        "hoptrace: traced the \(report.rows) rows selected in the store for \(report.candidates) "
                            + "candidate records; request numbers count these requests only"
                    )
                }
            }
            // The agents' flow stages each held up to their own cap (not ``Correlator/correlatedConnections``): the
            // correlator holds as many, so that it never judges a connection before the agent's records of it end.
            var storeCorrelation = options
            storeCorrelation.maxOpenConnections = max(options.maxOpenConnections, FlowConfiguration().maxConnections)
            return try StoredFlows(rows: rows).trace(options: storeCorrelation, directory: directory, emit: emit)
                .evicted
        } catch let error as StoreError {
            throw CLIFailure(error.description)
        } catch {
            throw CLIFailure("\(error)")
        }
    }

    /// The selectors `trace --store` can choose rows by in SQL (addresses, method and path, request id); Kubernetes
    /// names select nothing there (the exact filter, ``matches(_:)``, still applies to every trace).
    var storeSelection: TraceSelection {
        var selection = TraceSelection()
        selection.requestID = requestID
        if let http {
            let parts = http.split(separator: " ", maxSplits: 1).map(String.init)
            if parts.count == 2 { (selection.method, selection.pathPrefix) = (parts[0], parts[1]) }
        }
        if let client, !client.contains("/") {
            if let endpoint = Self.endpoint(client) {
                (selection.clientAddress, selection.clientPort) = (endpoint.address, endpoint.port)
            } else if let address = IPAddress(client), address.description == client {
                selection.clientAddress = address
            }
        }
        if let service, !service.contains("/") { selection.service = Self.endpoint(service) }
        return selection
    }

    /// The files read: `-r` files, else the arguments.
    var inputFiles: [String] { CaptureInput.files(arguments: files, readFiles: readFiles) }

    /// Whether a selector (--request-id, --http, --client, --service, --index) was given.
    var hasSelector: Bool { requestID != nil || http != nil || client != nil || service != nil || index != nil }

    /// The width of the terminal on standard output, when it is one.
    static func terminalWidth() -> Int? {
        guard isatty(STDOUT_FILENO) != 0 else { return nil }
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }

    /// One line per request: index, time, what, mode, verdict, total and the Service's name.
    static func oneLine(_ trace: RequestTrace) -> String {
        let target =
            trace.service.flatMap { trace.name(of: $0) }.map { "  (\(TextReport.safe($0.description, limit: 120)))" }
            ?? ""
        let head = "#\(trace.index)  \(TimeFormat.timeOfDay(trace.start))  \(TextReport.title(trace))"
        return head + "  [\(trace.mode.rawValue)]  \(trace.verdict.kind.rawValue)  "
            + TimeFormat.duration(trace.timings.total) + target
    }

    func matches(_ trace: RequestTrace) -> Bool {
        if let index, trace.index != index { return false }
        if let requestID, trace.request?.requestID != requestID { return false }
        if let http {
            let parts = http.split(separator: " ", maxSplits: 1).map(String.init)
            guard let request = trace.request, request.method.uppercased() == parts[0].uppercased(),
                request.path.hasPrefix(parts[1])
            else { return false }
        }
        if let client {
            guard let seen = trace.client else { return false }
            if client.contains("/") {
                // A pod's NAMESPACE/NAME, with --k8s.
                guard let name = trace.name(ofAddress: seen.address), name.role == .pod,
                    name.object?.description == client
                else { return false }
            } else if let endpoint = Self.endpoint(client) {
                if seen != endpoint { return false }
            } else if seen.address.description != client {
                return false
            }
        }
        if let service {
            let endpoints = [trace.service, trace.server].compactMap { $0 }
            // An address and port (10.96.0.100:80) or, with --k8s, a Kubernetes name (default/web, default/web:80).
            let named = endpoints.compactMap { trace.name(of: $0) }.contains { name in
                guard let object = name.object else { return false }
                let text = object.description
                return text == service || (text + ":" + (name.port.map(String.init) ?? "")) == service
            }
            if !endpoints.map(\.description).contains(service) && !named { return false }
        }
        return true
    }

    /// `10.0.0.1:80` or `[fe80::1]:80`.
    static func endpoint(_ text: String) -> FlowEndpoint? {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard let address = IPAddress(host), address.isIPv4 || text.hasPrefix("[") else { return nil }
        return FlowEndpoint(address: address, port: port)
    }
}

/// What `hoptrace trace` prints without a selector: how many requests by verdict and by mode, the first failures and
/// the slowest, and which one it traces. Bounded: counts and two short lists, whatever the capture's size.
struct TraceSummary {
    var count = 0
    var byVerdict: [VerdictKind: Int] = [:]
    var byMode: [TraceMode: Int] = [:]
    var failures: [RequestTrace] = []
    /// The slowest of the requests that finished (an `incomplete` one's time is only what was seen of it).
    var slowest: [RequestTrace] = []
    /// The first `incomplete` requests: shown and chosen only when no request finished.
    var unfinished: [RequestTrace] = []
    static let shown = 10

    mutating func add(_ trace: RequestTrace) {
        count += 1
        byVerdict[trace.verdict.kind, default: 0] += 1
        byMode[trace.mode, default: 0] += 1
        if trace.verdict.kind.isFailure, failures.count < Self.shown { failures.append(trace) }
        if trace.verdict.kind == .incomplete {
            if unfinished.count < Self.shown { unfinished.append(trace) }
            return
        }
        if slowest.count < Self.shown || trace.timings.total > slowest[slowest.count - 1].timings.total {
            slowest.append(trace)
            slowest.sort { $0.timings.total > $1.timings.total }
            if slowest.count > Self.shown { slowest.removeLast() }
        }
    }

    /// The first failed request, else the slowest, else the first incomplete one.
    var chosen: RequestTrace? { failures.first ?? slowest.first ?? unfinished.first }

    func render(evicted: Int, capsNote: String = "") -> String {
        guard count > 0 else { return "no requests found in the capture\n" }
        var lines: [String] = []
        let verdicts = VerdictKind.allCases.compactMap { kind in byVerdict[kind].map { "\($0) \(kind.rawValue)" } }
        let modes = TraceMode.allCases.compactMap { mode in byMode[mode].map { "\($0) \(mode.rawValue)" } }
        lines.append(
            "\(count) request\(count == 1 ? "" : "s") found: \(verdicts.joined(separator: ", ")); by mode "
                + modes.joined(separator: ", ")
        )
        if evicted > 0 {
            lines.append(
                capsNote.isEmpty
                    ? "  (\(evicted) flows or requests were given up to stay within memory caps)" : "  (\(capsNote))"
            )
        }
        if !failures.isEmpty {
            let total = failures.count == Self.shown ? "first \(Self.shown)" : "\(failures.count)"
            lines.append("failures (\(total) of \(byVerdict.filter { $0.key.isFailure }.values.reduce(0, +))):")
            for trace in failures { lines.append("  " + TraceCommand.oneLine(trace)) }
        }
        if !slowest.isEmpty {
            lines.append("slowest:")
            for trace in slowest { lines.append("  " + TraceCommand.oneLine(trace)) }
        } else if !unfinished.isEmpty {
            let total = byVerdict[.incomplete] ?? 0
            lines.append(
                "incomplete (\(unfinished.count == Self.shown ? "first \(Self.shown)" : "\(total)") of \(total)):"
            )
            for trace in unfinished { lines.append("  " + TraceCommand.oneLine(trace)) }
        }
        if let chosen {
            let which =
                chosen.verdict.kind.isFailure
                ? "the first failed" : chosen.verdict.kind == .incomplete ? "the first incomplete" : "the slowest"
            lines.append(
                "tracing #\(chosen.index) (\(which)"
                    + "; select another with --index N, --http, --request-id, --client or --service; --all traces "
                    + "each, --list lists each)"
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
