import ArgumentParser
import HoptraceCapture

/// The capture files a command reads and the BPF filter on them, with tcpdump's habits: files as arguments or with
/// `-r` (repeatable), a filter with `-f EXPR` or, after `-r FILE`, as the trailing words
/// (`hoptrace flows -r capture.pcap tcp port 80`).
struct CaptureInputOptions: ParsableArguments {
    @Option(
        name: .customShort("r"),
        help: ArgumentHelp(
            "Read this capture file (pcap or pcapng, '-' for standard input); repeat for several, merged by time.",
            valueName: "file"
        )
    )
    var readFiles: [String] = []

    @Option(
        name: [.customShort("f"), .customLong("filter")],
        help: ArgumentHelp(
            "Only packets matching this BPF filter, in tcpdump's syntax (pcap-filter(7)), e.g. 'tcp port 80'.",
            valueName: "expr"
        )
    )
    var filter: String?

    @Argument(
        help: ArgumentHelp(
            "Capture files (several are merged by time); after -r FILE, the words of a BPF filter instead.",
            valueName: "file-or-filter"
        )
    )
    var arguments: [String] = []

    /// The files to read.
    var files: [String] { CaptureInput.files(arguments: arguments, readFiles: readFiles) }

    /// The filter expression, from `-f` or the trailing words; nil for none.
    var expression: String? { CaptureInput.expression(arguments: arguments, readFiles: readFiles, filter: filter) }

    func validate() throws {
        try CaptureInput.validate(arguments: arguments, readFiles: readFiles, filter: filter)
    }

    /// The filter, compiled (validated already).
    func packetFilter() throws -> PacketFilter? {
        try CaptureInput.packetFilter(expression)
    }
}

/// How the files and the filter are read from the options, shared with `trace` (whose `-f` is also its live filter).
enum CaptureInput {
    /// `-r` files when there are, else the arguments.
    static func files(arguments: [String], readFiles: [String]) -> [String] {
        readFiles.isEmpty ? arguments : readFiles
    }

    /// `-f`, else (with `-r`) the arguments joined by spaces.
    static func expression(arguments: [String], readFiles: [String], filter: String?) -> String? {
        if let filter { return filter }
        return readFiles.isEmpty || arguments.isEmpty ? nil : arguments.joined(separator: " ")
    }

    /// Checks that there is a file and at most one filter, and that libpcap compiles the filter.
    static func validate(arguments: [String], readFiles: [String], filter: String?, live: Bool = false) throws {
        if !live && files(arguments: arguments, readFiles: readFiles).isEmpty {
            throw ValidationError("give a capture file: as an argument (capture.pcapng) or with -r capture.pcapng")
        }
        if filter != nil && !readFiles.isEmpty && !arguments.isEmpty {
            throw ValidationError(
                "give the filter once: with -f, or as the words after -r FILE (repeat -r for several files)"
            )
        }
        if let expression = expression(arguments: arguments, readFiles: readFiles, filter: filter) {
            do {
                _ = try PacketFilter(expression)
            } catch {
                throw ValidationError(error.reason)
            }
        }
    }

    /// The compiled filter for `expression`, nil for none.
    static func packetFilter(_ expression: String?) throws -> PacketFilter? {
        guard let expression else { return nil }
        do {
            return try PacketFilter(expression)
        } catch {
            throw UsageFailure(error.reason)
        }
    }
}
