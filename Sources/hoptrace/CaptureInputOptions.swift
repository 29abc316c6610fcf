import ArgumentParser
import Foundation
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

    @OptionGroup(title: "Several nodes")
    var nodes: NodeOptions

    @OptionGroup(title: "From the fleet's store (hoptrace agent)")
    var store: StoreOptions

    @Option(
        help: ArgumentHelp(
            "With --store: the rows of this last stretch of time (15m, 2h); 0 for every row.",
            valueName: "time"
        )
    )
    var since: DurationArgument?

    /// The files to read without a node given (see ``specs()`` for every file).
    var files: [String] { CaptureInput.files(arguments: arguments, readFiles: readFiles) }

    /// Every file to read, with its node when `--node` gave one.
    func specs() throws -> [CaptureFileSpec] {
        files.map { CaptureFileSpec(path: $0) } + (try nodes.specs())
    }

    /// The filter expression, from `-f` or the trailing words; nil for none.
    var expression: String? { CaptureInput.expression(arguments: arguments, readFiles: readFiles, filter: filter) }

    func validate() throws {
        if store.store != nil {
            // The store's rows are the input.
            if let file = (arguments + readFiles + nodes.entries).first {
                throw ValidationError("--store reads no file (got \(file)); read files without --store")
            }
            if filter != nil {
                throw ValidationError("-f filters packets; the store holds records: use --host, --port")
            }
            return
        }
        if since != nil { throw ValidationError("--since selects rows of the store: add --store http://HOST:8123") }
        try CaptureInput.validate(arguments: arguments, readFiles: readFiles, filter: filter, live: !nodes.isEmpty)
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
    ///
    /// - Parameter live: no file is needed (a live capture, or files given with `--node`).
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

/// `--node NAME=PATH`: capture files of one node among several, so that each node's `eth0` and SLL2 indexes stay
/// its own. PATH is a file, or a directory whose capture files (`*.pcap`, `*.pcapng`, `*.cap`) are all that node's
/// (the per-interface files of `tcpdump -i IF -w IF.pcap`).
struct NodeOptions: ParsableArguments {
    @Option(
        name: .customLong("node"),
        help: ArgumentHelp(
            "Files of one node: NAME=FILE or NAME=DIRECTORY (its .pcap/.pcapng files); repeat for each node.",
            valueName: "name=path"
        )
    )
    var entries: [String] = []

    func validate() throws {
        for entry in entries { _ = try Self.parse(entry) }
    }

    /// `node-a=captures/a` → ("node-a", "captures/a").
    static func parse(_ entry: String) throws -> (node: String, path: String) {
        let parts = entry.split(separator: "=", maxSplits: 1)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw ValidationError("--node '\(entry)' is not NAME=PATH; e.g. --node node-a=node-a.pcap")
        }
        let node = String(parts[0])
        guard node.count <= 64, node.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw ValidationError("--node '\(node)': a node name is letters, digits, '-', '_' and '.'")
        }
        return (node, String(parts[1]))
    }

    /// Whether any file is given this way.
    var isEmpty: Bool { entries.isEmpty }

    /// The files, each with its node; a directory gives its capture files, sorted by name.
    func specs() throws -> [CaptureFileSpec] {
        var specs: [CaptureFileSpec] = []
        for entry in entries {
            let (node, path) = try Self.parse(entry)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw CLIFailure("\(path): no such file or directory (in --node \(entry))")
            }
            guard isDirectory.boolValue else {
                specs.append(CaptureFileSpec(path: path, node: node))
                continue
            }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            let files = names.filter { name in
                [".pcap", ".pcapng", ".cap"].contains { name.hasSuffix($0) }
            }.sorted()
            guard !files.isEmpty else {
                throw CLIFailure("\(path): no .pcap or .pcapng files in it (in --node \(entry))")
            }
            for file in files {
                let full = path.hasSuffix("/") ? path + file : path + "/" + file
                specs.append(CaptureFileSpec(path: full, node: node))
            }
        }
        return specs
    }
}
