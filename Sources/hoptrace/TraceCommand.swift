import ArgumentParser
import Foundation
import HoptraceCapture
import HoptraceCorrelate
import HoptraceFlows
import HoptraceKube
import HoptraceReport

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

    @Option(help: "A completed request at least this long is examined for what made it slow (e.g. 200ms, 1s).")
    var slow: String = "200ms"

    @Option(help: "Colour: auto (on a terminal), always, never.")
    var color: ColorMode = .auto

    @OptionGroup(title: "Kubernetes names")
    var kube: KubeOptions

    enum ColorMode: String, ExpressibleByArgument, CaseIterable {
        case auto, always, never
    }

    func validate() throws {
        if live {
            try capture.validate(files: files + readFiles, index: index, html: html, all: all)
        } else if !capture.interfaces.isEmpty {
            throw ValidationError("-i captures live: add --live (hoptrace trace --live -i any ...)")
        } else if files.isEmpty && readFiles.isEmpty {
            throw ValidationError("give at least one capture file, or trace live with --live -i any")
        } else {
            try CaptureInput.validate(arguments: files, readFiles: readFiles, filter: capture.filter)
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

    func run() throws {
        if live {
            try runLive()
            return
        }
        let names = try interfaceNames.load()
        let cluster = try kube.load()

        let filter = try CaptureInput.packetFilter(
            CaptureInput.expression(arguments: files, readFiles: readFiles, filter: capture.filter)
        )
        let collector = ObservationCollector()
        let result: FlowPipeline.Result
        do {
            result = try FlowPipeline(ifIndexNames: names, filter: filter).run(
                paths: inputFiles,
                tap: { packet, point in collector.tap(packet, capturePoint: point) },
                sink: collector.collect
            )
        } catch {
            throw CLIFailure(error.description)
        }
        let observations = collector.observations(capturePoints: result.capturePoints, captureEnd: result.lastTime)
        var options = CorrelateOptions()
        options.slowThreshold = DurationText.nanoseconds(slow) ?? options.slowThreshold
        var traces = Correlator(options: options).trace(observations)
        if let cluster { KubeAnnotator.annotate(&traces, state: cluster) }

        let selected = select(traces)
        let useColor = color == .always || (color == .auto && Terminal.coloursByDefault && !json)
        let out = BufferedOutput()
        defer { out.flush() }
        if json {
            for trace in selected.traces { out.write(TraceJSON.render(trace) + "\n") }
        } else {
            if let listing = selected.listing { out.write(listing + "\n") }
            let report = TextReport(color: useColor)
            out.write(
                selected.traces.map(report.render).joined(separator: "\n\n") + (selected.traces.isEmpty ? "" : "\n")
            )
        }
        if let html {
            let page = HTMLReport.render(
                selected.traces,
                title: inputFiles.map { ($0 as NSString).lastPathComponent }.joined(separator: ", ")
            )
            do {
                try page.write(toFile: html, atomically: true, encoding: .utf8)
            } catch {
                throw CLIFailure("cannot write \(html): \(error.localizedDescription); choose a writable path")
            }
        }
        if let error = result.error {
            throw CLIFailure(error.description + " (the requests above were traced from the packets before it)")
        }
        if selected.traces.isEmpty, selected.listing == nil {
            throw CLIFailure(
                "no request matches the selector; run `hoptrace trace \(inputFiles.joined(separator: " "))` to list them"
            )
        }
    }

    /// The files read: `-r` files, else the arguments.
    var inputFiles: [String] { CaptureInput.files(arguments: files, readFiles: readFiles) }

    /// Whether a selector (--request-id, --http, --client, --service, --index) was given.
    var hasSelector: Bool { requestID != nil || http != nil || client != nil || service != nil || index != nil }

    /// The traces to print and, without a selector, the list of requests found.
    func select(_ traces: [RequestTrace]) -> (traces: [RequestTrace], listing: String?) {
        if all { return (traces, nil) }
        if hasSelector {
            return (traces.filter(matches), nil)
        }
        guard !traces.isEmpty else { return ([], "no requests found in the capture") }
        var lines = ["\(traces.count) request\(traces.count == 1 ? "" : "s") found:"]
        for trace in traces {
            lines.append("  " + Self.oneLine(trace))
        }
        let chosen = traces.first { $0.verdict.kind.isFailure } ?? traces.max { $0.timings.total < $1.timings.total }!
        lines.append(
            "tracing #\(chosen.index) (\(chosen.verdict.kind.isFailure ? "the first failed" : "the slowest")"
                + "; select another with --index N, --http, --request-id, --client or --service; --all traces each)"
        )
        lines.append("")
        return ([chosen], lines.joined(separator: "\n"))
    }

    static func oneLine(_ trace: RequestTrace) -> String {
        let what: String
        if let request = trace.request {
            what = "\(TextReport.safe(request.method, limit: 16)) \(TextReport.safe(request.path, limit: 60))"
        } else if let dns = trace.dns, trace.hops.isEmpty {
            what = "DNS \(TextReport.safe(dns.name, limit: 60))"
        } else {
            what = "TCP \(trace.service.map(\.description) ?? "?")"
        }
        let target = trace.service.flatMap { trace.name(of: $0) }.map { "  (\(TextReport.safe($0, limit: 120)))" } ?? ""
        return "#\(trace.index)  \(TimeFormat.timeOfDay(trace.start))  \(what)  [\(trace.mode.rawValue)]  "
            + "\(trace.verdict.kind.rawValue)  \(TimeFormat.duration(trace.timings.total))" + target
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
                if trace.name(ofAddress: seen.host) != "pod \(client)" { return false }
            } else if client.contains(":") && !client.hasPrefix("[") && client.filter({ $0 == ":" }).count == 1 {
                if seen.description != client { return false }
            } else if seen.host != client {
                return false
            }
        }
        if let service {
            let endpoints = [trace.service, trace.server].compactMap { $0 }
            // An address (10.96.0.100:80) or, with --k8s, a Kubernetes name (default/web, default/web:80).
            let named = endpoints.compactMap { trace.name(of: $0) }.contains { name in
                name.split(separator: " ").dropFirst().first.map {
                    $0 == service || $0.hasPrefix(service + ":")
                } == true
            }
            if !endpoints.map(\.description).contains(service) && !named { return false }
        }
        return true
    }
}
