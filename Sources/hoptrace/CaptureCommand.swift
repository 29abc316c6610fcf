import ArgumentParser
import Dispatch
import HoptraceCapture

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `hoptrace capture`: live capture on one or more interfaces into a pcapng file.
struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Capture packets on one or more interfaces into a pcapng file.",
        discussion: """
            Writes pcapng with one interface block per interface (real names even with -i any), nanosecond \
            timestamps, the packet direction, the host name in the section header and the kernel drop counts in \
            statistics blocks. Stops on Ctrl-C or SIGTERM, after -c packets or after --duration, flushing \
            everything; prints the drop counts on exit. Needs root or CAP_NET_RAW.
            """
    )

    @Option(
        name: [.customShort("i"), .customLong("interface")],
        help: ArgumentHelp("An interface to capture on; repeat for several, or `any`.", valueName: "iface")
    )
    var interfaces: [String] = []

    @Option(
        name: [.customShort("f"), .customLong("filter")],
        help: ArgumentHelp(
            "A BPF filter (pcap-filter(7) syntax), e.g. 'tcp port 80 or udp port 53'.",
            valueName: "expr"
        )
    )
    var filter: String?

    @Option(
        name: [.customShort("s"), .customLong("snaplen")],
        help: ArgumentHelp("Bytes kept of each packet (1-262144).", valueName: "bytes")
    )
    var snapLength: Int = 262_144

    @Option(
        name: [.customShort("w"), .customLong("write")],
        help: ArgumentHelp("The pcapng file to write (`-` for standard output).", valueName: "file")
    )
    var output: String

    @Option(
        name: [.customShort("c"), .customLong("count")],
        help: ArgumentHelp("Stop after this many packets.", valueName: "n")
    )
    var count: Int?

    @Option(
        name: .customLong("duration"),
        help: ArgumentHelp("Stop after this long: 30s, 5m, 1h, 500ms.", valueName: "time")
    )
    var duration: CaptureDuration?

    @Option(
        name: .customLong("buffer-size"),
        help: ArgumentHelp("Kernel buffer per interface, in MiB.", valueName: "MiB")
    )
    var bufferSize: Int = 8

    @Flag(name: [.customShort("p"), .customLong("promiscuous")], help: "Put the interfaces in promiscuous mode.")
    var promiscuous = false

    func validate() throws {
        if interfaces.isEmpty {
            throw ValidationError("name an interface with -i (repeat it, or use -i any); `ip link` lists them")
        }
        if !(1...262_144).contains(snapLength) {
            throw ValidationError("-s must be between 1 and 262144 bytes, got \(snapLength)")
        }
        if let count, count <= 0 {
            throw ValidationError("-c must be a positive number of packets, got \(count)")
        }
        if !(1...4096).contains(bufferSize) {
            throw ValidationError("--buffer-size must be between 1 and 4096 MiB, got \(bufferSize)")
        }
        if output.isEmpty {
            throw ValidationError("-w needs a file name")
        }
    }

    func run() throws {
        do {
            try capture()
        } catch {
            printError("hoptrace: \(error)")
            throw ExitCode(1)
        }
    }

    private func capture() throws(CaptureError) {
        let options = LiveSource.Options(
            snapLength: snapLength,
            bufferSize: bufferSize << 20,
            filter: filter,
            promiscuous: promiscuous
        )
        // Open the interfaces before creating the file: a typo in -i leaves no empty file behind.
        let source = try LiveSource(interfaces: interfaces, options: options)
        let writer = try PcapngWriter(
            path: output,
            section: .currentHost(application: "hoptrace \(HoptraceVersion.string)")
        )
        let recorder = CaptureRecorder(writer: writer)

        // SIGINT / SIGTERM: stop cleanly; handled on a dispatch queue, not in signal context.
        let stopHandle = source.stopHandle
        signal(SIGPIPE, SIG_IGN)
        var signalSources: [any DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let signalSource = DispatchSource.makeSignalSource(signal: number, queue: .global())
            signalSource.setEventHandler { stopHandle.stop() }
            signalSource.resume()
            signalSources.append(signalSource)
        }
        var timer: (any DispatchSourceTimer)?
        if let duration {
            let t = DispatchSource.makeTimerSource(queue: .global())
            t.schedule(deadline: .now() + .nanoseconds(Int(clamping: duration.nanoseconds)))
            t.setEventHandler { stopHandle.stop() }
            t.resume()
            timer = t
        }
        defer {
            timer?.cancel()
            for signalSource in signalSources { signalSource.cancel() }
        }

        let start = wallClockNanoseconds()
        var failure: CaptureError?
        do {
            while let packet = try source.next() {
                try recorder.record(packet, from: source)
                if let count, recorder.packets >= count {
                    break
                }
            }
        } catch {
            failure = error
        }
        source.stop()
        let statistics = source.statistics()
        // Statistics and the final flush even after a capture error, so the file is complete and valid.
        do {
            try recorder.writeStatistics(
                statistics,
                interfaces: source.interfaces,
                start: start,
                end: wallClockNanoseconds()
            )
            try writer.close()
        } catch {
            failure = failure ?? error
        }
        report(statistics, packets: recorder.packets)
        if let failure {
            throw failure
        }
    }

    private func report(_ statistics: [LiveSource.Statistics], packets: Int) {
        printError("\(packets) packet\(packets == 1 ? "" : "s") written to \(output)")
        for stats in statistics {
            printError(
                "\(stats.interface): \(stats.received) received by filter, \(stats.dropped) dropped by kernel"
                    + (stats.interfaceDropped > 0 ? ", \(stats.interfaceDropped) dropped by interface" : "")
            )
        }
    }
}

/// A duration on the command line: `30s`, `5m`, `1h`, `500ms`, or a bare number of seconds.
struct CaptureDuration: ExpressibleByArgument, Sendable {
    var nanoseconds: Int64

    init?(argument: String) {
        let units: [(String, Double)] = [("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9)]
        var number = Substring(argument)
        var scale = 1e9
        for (suffix, value) in units where argument.hasSuffix(suffix) {
            number = argument.dropLast(suffix.count)
            scale = value
            break
        }
        guard let value = Double(number), value > 0, value * scale < 1e18 else {
            return nil
        }
        nanoseconds = Int64(value * scale)
    }
}

/// Writes one line to standard error.
private func printError(_ line: String) {
    var text = line
    text.append("\n")
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
        if n <= 0 { break }
        offset += n
    }
}
