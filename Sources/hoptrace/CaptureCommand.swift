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
    var duration: DurationArgument?

    @OptionGroup var rotation: RotationOptions

    @Option(
        name: .customLong("buffer-size"),
        help: ArgumentHelp("Kernel buffer per interface, in MiB.", valueName: "MiB")
    )
    var bufferSize: Int = 32

    @Flag(name: [.customShort("p"), .customLong("promiscuous")], help: "Put the interfaces in promiscuous mode.")
    var promiscuous = false

    @Option(
        name: [.customShort("Z"), .customLong("user")],
        help: ArgumentHelp(
            "Drop to this user once the interfaces and the first file are open (as tcpdump -Z).",
            valueName: "user"
        )
    )
    var user: String?

    @Flag(name: .customLong("no-status"), help: "No live status line on a terminal.")
    var noStatus = false

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
        if let duration, duration.nanoseconds <= 0 {
            throw ValidationError("--duration must be longer than 0, e.g. --duration 30s")
        }
        if !(1...4096).contains(bufferSize) {
            throw ValidationError("--buffer-size must be between 1 and 4096 MiB, got \(bufferSize)")
        }
        if output.isEmpty {
            throw ValidationError("-w needs a file name")
        }
        if output == "-" && rotation.rotation.rotates {
            throw ValidationError("cannot rotate standard output; give -w a file name")
        }
    }

    func run() throws {
        do {
            // Caught from before the interfaces are opened: a SIGTERM sent during the setup ends the capture cleanly
            // once it starts (see StopSignals).
            try StopSignals.install()
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
        let recorder = try RotatingRecorder(
            path: output,
            rotation: rotation.rotation,
            section: .currentHost(application: "hoptrace \(HoptraceVersion.string)")
        )
        if let user {
            try Self.dropPrivileges(to: user)
        }

        // SIGINT / SIGTERM: stop cleanly; handled on a dispatch queue, not in signal context.
        let triggers: StopTriggers
        do {
            triggers = try StopTriggers(stopping: source.stopHandle, after: duration)
        } catch {
            throw CaptureError(.io, error.message, source: "capture")
        }
        defer { triggers.cancel() }

        // The status line: on a terminal, at most once a second, drawn by the capturing thread (pcap_stats is not
        // thread-safe), also while the link is quiet.
        let status = StatusLine(enabled: !noStatus && isatty(2) != 0)
        source.onIdle = { [unowned source] in status.update(recorder, source, now: wallClockNanoseconds()) }

        let start = wallClockNanoseconds()
        var failure: CaptureError?
        do {
            while let packet = try source.next() {
                try recorder.record(packet, from: source, statistics: source.statistics)
                status.update(recorder, source, now: packet.timestamp)
                if let count, recorder.packets >= count {
                    break
                }
            }
        } catch {
            failure = error
        }
        source.stop()
        source.onIdle = nil
        status.clear()
        let statistics = source.statistics()
        // Statistics and the final flush even after a capture error, so the file is complete and valid.
        do {
            try recorder.finish(statistics: statistics, interfaces: source.interfaces, start: start)
        } catch {
            failure = failure ?? error
        }
        report(statistics, packets: recorder.packets, files: recorder.files)
        if let failure {
            throw failure
        }
    }

    /// Gives up root for `user` (its uid and gid, no supplementary groups), as `tcpdump -Z` does.
    static func dropPrivileges(to user: String) throws(CaptureError) {
        guard let entry = getpwnam(user) else {
            throw CaptureError(
                .permissionDenied,
                "no such user \(user) for -Z; `getent passwd` lists them",
                source: user
            )
        }
        let uid = entry.pointee.pw_uid
        let gid = entry.pointee.pw_gid
        if getuid() == 0 && setgroups(0, nil) != 0 || setgid(gid) != 0 || setuid(uid) != 0 {
            throw CaptureError(
                .permissionDenied,
                "cannot switch to user \(user) (-Z): \(String(cString: strerror(errno))); -Z needs root",
                source: user
            )
        }
    }

    private func report(_ statistics: [LiveSource.Statistics], packets: Int, files: [String]) {
        let target = files.count <= 1 ? output : "\(files.count) files (\(files[0]) ... \(files[files.count - 1]))"
        printError("\(packets) packet\(packets == 1 ? "" : "s") written to \(target)")
        for stats in statistics {
            printError(
                "\(stats.interface): \(stats.received) received by filter, \(stats.dropped) dropped by kernel"
                    + (stats.interfaceDropped > 0 ? ", \(stats.interfaceDropped) dropped by interface" : "")
            )
        }
    }
}

/// `--rotate-size`, `--rotate-seconds`, `--max-files`: a series of pcapng files instead of one (`hoptrace capture -w`,
/// `hoptrace agent -w`).
struct RotationOptions: ParsableArguments {
    @Option(
        name: .customLong("rotate-size"),
        help: ArgumentHelp("Start a new file after this size: 100MB, 512KB, 1GB.", valueName: "size")
    )
    var rotateSize: ByteSize?

    @Option(
        name: .customLong("rotate-seconds"),
        help: ArgumentHelp("Start a new file after this many seconds.", valueName: "n")
    )
    var rotateSeconds: Int?

    @Option(
        name: .customLong("max-files"),
        help: ArgumentHelp("With rotation, keep only the newest n files.", valueName: "n")
    )
    var maxFiles: Int?

    func validate() throws {
        if let rotateSeconds, rotateSeconds <= 0 {
            throw ValidationError("--rotate-seconds must be positive, got \(rotateSeconds)")
        }
        if let maxFiles, maxFiles <= 0 {
            throw ValidationError("--max-files must be positive, got \(maxFiles)")
        }
        if maxFiles != nil && rotateSize == nil && rotateSeconds == nil {
            throw ValidationError("--max-files needs --rotate-size or --rotate-seconds")
        }
    }

    /// The policy for ``RotatingRecorder``.
    var rotation: RotatingRecorder.Rotation {
        RotatingRecorder.Rotation(
            bytes: rotateSize?.bytes,
            nanoseconds: rotateSeconds.map { Int64($0) * 1_000_000_000 },
            maxFiles: maxFiles
        )
    }

    /// Whether any of the options was given.
    var given: Bool { rotateSize != nil || rotateSeconds != nil || maxFiles != nil }
}

/// A size on the command line: `100MB`, `512KB`, `1GB` (powers of 1000, as tcpdump's -C), `2MiB`, or bytes; at
/// least 4096.
struct ByteSize: ExpressibleByArgument, Sendable {
    var bytes: UInt64

    init?(argument: String) {
        let units: [(String, Double)] = [
            ("KIB", 1024), ("MIB", 1_048_576), ("GIB", 1_073_741_824), ("KB", 1e3), ("MB", 1e6), ("GB", 1e9),
            ("K", 1e3), ("M", 1e6), ("G", 1e9), ("B", 1),
        ]
        let upper = argument.uppercased()
        var number = Substring(argument)
        var scale = 1.0
        for (suffix, value) in units where upper.hasSuffix(suffix) {
            number = argument.dropLast(suffix.count)
            scale = value
            break
        }
        guard let value = Double(number), value * scale >= 4096, value * scale < 1e15 else {
            return nil
        }
        bytes = UInt64(value * scale)
    }
}

/// The live status line on standard error (packets, size, kernel drops, rate), redrawn in place.
private final class StatusLine {
    let enabled: Bool
    var lastDraw: Int64 = 0
    var lastPackets = 0
    var drawn = false

    init(enabled: Bool) {
        self.enabled = enabled
    }

    func update(_ recorder: RotatingRecorder, _ source: LiveSource, now: Int64) {
        guard enabled, now &- lastDraw >= 1_000_000_000 else { return }
        let seconds = lastDraw == 0 ? 1 : Double(now &- lastDraw) / 1e9
        let rate = Int(Double(recorder.packets - lastPackets) / max(seconds, 0.001))
        lastDraw = now
        lastPackets = recorder.packets
        let dropped = source.statistics().reduce(0) { $0 + $1.dropped }
        let kilobytes = recorder.bytes / 1000
        let size = kilobytes < 10_000 ? "\(kilobytes) kB" : "\(kilobytes / 1000) MB"
        writeStandardError("\r\u{1B}[K\(recorder.packets) packets, \(size), \(dropped) dropped, \(rate) pkt/s")
        drawn = true
    }

    func clear() {
        if drawn {
            writeStandardError("\r\u{1B}[K")
        }
    }
}

/// Writes one line to standard error.
func printError(_ line: String) {
    writeStandardError(line + "\n")
}

func writeStandardError(_ text: String) {
    let bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
        if n <= 0 { break }
        offset += n
    }
}
