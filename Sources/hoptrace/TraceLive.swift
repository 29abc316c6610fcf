import ArgumentParser
import Dispatch
import Foundation
import HoptraceCapture
import HoptraceCorrelate
import HoptraceDecode
import HoptraceFlows
import HoptraceKube
import HoptraceReport

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The options of `hoptrace trace --live`.
struct LiveTraceOptions: ParsableArguments {
    @Option(
        name: [.customShort("i"), .customLong("interface")],
        help: ArgumentHelp("With --live: an interface to capture on; repeat for several, or `any`.", valueName: "iface")
    )
    var interfaces: [String] = []

    @Option(
        name: [.customShort("f"), .customLong("filter")],
        help: ArgumentHelp(
            "Only packets matching this BPF filter (files or --live), e.g. 'tcp port 80 or udp port 53'.",
            valueName: "expr"
        )
    )
    var filter: String?

    @Option(
        name: .customLong("duration"),
        help: ArgumentHelp("With --live: stop after this long (30s, 5m, 1h).", valueName: "time")
    )
    var duration: DurationArgument?

    @Option(
        name: [.customShort("c"), .customLong("count")],
        help: ArgumentHelp("With --live: stop after this many matching requests are traced.", valueName: "n")
    )
    var count: Int?

    @Option(
        name: [.customShort("w"), .customLong("write")],
        help: ArgumentHelp("With --live: also record the packets into this pcapng file.", valueName: "file")
    )
    var output: String?

    @Option(
        name: [.customShort("Z"), .customLong("user")],
        help: ArgumentHelp("With --live: drop to this user once the interfaces and -w are open.", valueName: "user")
    )
    var user: String?

    @Option(
        name: .customLong("buffer-size"),
        help: ArgumentHelp("With --live: kernel buffer per interface, in MiB.", valueName: "MiB")
    )
    var bufferSize: Int = 64

    @Option(
        name: .customLong("quiet"),
        help: ArgumentHelp(
            "With --live: least silence after an unanswered SYN or request before its breakpoint is printed.",
            valueName: "time"
        )
    )
    var quiet: String = "3s"

    func validate(files: [String], index: Int?, html: String?, all: Bool) throws {
        if !files.isEmpty {
            throw ValidationError("--live reads no file (got \(files[0])); replay a file without --live")
        }
        if interfaces.isEmpty {
            throw ValidationError("--live needs an interface: -i any, or -i IF (repeat it); `ip link` lists them")
        }
        if index != nil {
            throw ValidationError(
                "--index numbers the requests of a file; live, select with --http, --request-id, "
                    + "--client or --service"
            )
        }
        if html != nil {
            throw ValidationError(
                "--html is for files; record with -w FILE.pcapng and run `hoptrace trace FILE --html`"
            )
        }
        if let count, count <= 0 {
            throw ValidationError("-c must be a positive number of requests, got \(count)")
        }
        if !(1...4096).contains(bufferSize) {
            throw ValidationError("--buffer-size must be between 1 and 4096 MiB, got \(bufferSize)")
        }
        if let output, output.isEmpty || output == "-" {
            throw ValidationError("-w needs a file name (standard output carries the traces)")
        }
        if DurationText.nanoseconds(quiet) == nil {
            throw ValidationError("--quiet '\(quiet)' is not a duration; write e.g. 3s, 1500ms")
        }
        if let duration, duration.nanoseconds <= 0 {
            throw ValidationError("--duration must be longer than 0, e.g. --duration 30s")
        }
    }
}

extension TraceCommand {
    /// `trace --live`: capture, correlate and print each matching request once its verdict is final.
    func runLive() throws {
        // Caught from before the interfaces are opened: a SIGTERM sent during the setup ends the run cleanly once the
        // capture starts (see StopSignals).
        try StopSignals.install()
        let source: LiveSource
        do {
            source = try LiveSource(
                interfaces: capture.interfaces,
                options: LiveSource.Options(bufferSize: capture.bufferSize << 20, filter: capture.filter)
            )
        } catch {
            throw CLIFailure(error.description)
        }
        var recorder: RotatingRecorder?
        if let path = capture.output {
            do {
                recorder = try RotatingRecorder(
                    path: path,
                    section: .currentHost(application: "hoptrace \(HoptraceVersion.string)")
                )
            } catch {
                throw CLIFailure(error.description)
            }
        }
        if let user = capture.user {
            do {
                try CaptureCommand.dropPrivileges(to: user)
            } catch {
                throw CLIFailure(error.description)
            }
        }
        let cluster = try kube.load()

        // SIGINT / SIGTERM / --duration: stop the capture; handled on a dispatch queue, not in signal context.
        let triggers = try StopTriggers(stopping: source.stopHandle, after: capture.duration)
        defer { triggers.cancel() }

        var options = LiveTracer.Options()
        options.correlate.slowThreshold = DurationText.nanoseconds(slow) ?? options.correlate.slowThreshold
        options.quietPeriod = DurationText.nanoseconds(capture.quiet) ?? options.quietPeriod
        options.maxQuietPeriod = max(options.maxQuietPeriod, options.quietPeriod)
        let tracer = LiveTracer(
            options: options,
            directory: ClusterDirectory(state: cluster),
            interfaceName: Self.interfaceName
        )
        let printer = LivePrinter(command: self, cluster: cluster)

        let names = capture.interfaces.joined(separator: ", ")
        printError(
            "hoptrace: tracing live on \(names)"
                + (capture.filter.map { " (filter: \($0))" } ?? "")
                + (capture.output.map { ", recording to \($0)" } ?? "") + "; Ctrl-C to stop"
        )
        source.onIdle = { [unowned source] in
            printer.print(tracer.poll(now: wallClockNanoseconds()))
            if let count = capture.count, printer.printed >= count { source.stop() }
        }
        let start = wallClockNanoseconds()
        var failure: CaptureError?
        do {
            while let packet = try source.next() {
                try recorder?.record(packet, from: source, statistics: source.statistics)
                tracer.process(packet, interfaces: source.interfaces)
                printer.print(tracer.poll(now: wallClockNanoseconds()))
                if let count = capture.count, printer.printed >= count { break }
            }
        } catch {
            failure = error
        }
        source.stop()
        source.onIdle = nil
        if capture.count.map({ printer.printed < $0 }) ?? true {
            printer.print(tracer.finish(now: wallClockNanoseconds()))
        }
        let statistics = source.statistics()
        if let recorder {
            do {
                try recorder.finish(statistics: statistics, interfaces: source.interfaces, start: start)
            } catch {
                failure = failure ?? error
            }
        }
        let packets = tracer.statistics.packets
        printError(
            "\(packets) packet\(packets == 1 ? "" : "s") seen, \(printer.printed) matching request"
                + "\(printer.printed == 1 ? "" : "s") traced (\(tracer.statistics.traced) in all)"
                + (recorder.map { ", \($0.packets) packets written to \($0.files.last ?? "")" } ?? "")
        )
        for stats in statistics {
            printError(
                "\(stats.interface): \(stats.received) received by filter, \(stats.dropped) dropped by kernel"
                    + (stats.interfaceDropped > 0 ? ", \(stats.interfaceDropped) dropped by interface" : "")
            )
        }
        if let failure {
            throw CLIFailure(failure.description)
        }
    }

    /// The name of a Linux interface index on this host, for SLL2 packets from `-i any`.
    static func interfaceName(_ index: Int32) -> String? {
        guard index > 0 else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
        guard if_indextoname(UInt32(index), &buffer) != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Prints the traces a live run selects, as they become final: text blocks or JSON lines, straight to standard
/// output (unbuffered, so a pipe sees each one at once).
final class LivePrinter {
    let command: TraceCommand
    let cluster: ClusterState?
    let report: TextReport
    private(set) var printed = 0

    init(command: TraceCommand, cluster: ClusterState?) {
        self.command = command
        self.cluster = cluster
        let useColor =
            command.color == .always || (command.color == .auto && Terminal.coloursByDefault && !command.json)
        self.report = TextReport(color: useColor)
    }

    func print(_ traces: [RequestTrace]) {
        guard !traces.isEmpty else { return }
        let all = command.all || !command.hasSelector
        let out = BufferedOutput()
        defer { out.flush() }
        for trace in traces where all || command.matches(trace) {
            if let count = command.capture.count, printed >= count { return }
            printed += 1
            if command.json {
                out.write(TraceJSON.render(trace) + "\n")
            } else {
                report.write(trace, to: out)
                out.write("\n")
            }
        }
    }
}
