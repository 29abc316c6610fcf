import Foundation
import HoptraceCapture
import HoptraceFlows
import HoptraceTestSupport

/// The public capture corpus and the tshark oracle.
enum Corpus {
    /// The package root: the nearest folder above this file holding Package.swift.
    static let packageRoot: URL = {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while directory.path != "/" {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
                return directory
            }
            directory = directory.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    /// `Tests/Corpus` in the repository.
    static let root: URL = {
        Repository.corpus
    }()

    /// Every pcap and pcapng file of the corpus, relative to its root, sorted.
    static let captureFiles: [String] = {
        guard let enumerator = FileManager.default.enumerator(atPath: root.path) else { return [] }
        var files: [String] = []
        while let path = enumerator.nextObject() as? String {
            if path.hasSuffix(".pcap") || path.hasSuffix(".pcapng") { files.append(path) }
        }
        return files.sorted()
    }()

    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    /// Runs tshark on a corpus file and returns its field rows (tab-separated fields, one row per line).
    static func tshark(
        _ relative: String,
        filter: String?,
        fields: [String],
        options: [String] = []
    ) throws
        -> [[String]]
    {
        var arguments = ["-r", path(relative), "-T", "fields"] + options
        if let filter { arguments += ["-Y", filter] }
        for field in fields { arguments += ["-e", field] }
        return try tshark(arguments: arguments)
    }

    /// The flow stage's records for a corpus file (and the read error, if the file has one).
    static func analyze(_ relative: String, configuration: FlowConfiguration = .forOracle) -> FlowRecords {
        analyzeFile(path(relative), configuration: configuration)
    }

    /// The flow stage's records for a file.
    static func analyzeFile(_ path: String, configuration: FlowConfiguration = .forOracle) -> FlowRecords {
        var records = FlowRecords()
        let box = FlowHarness.Box()
        do {
            let result = try FlowPipeline(configuration: configuration).run(paths: [path]) { box.events.append($0) }
            records.error = result.error
            records.capturePoints = result.capturePoints
        } catch {
            records.error = error
        }
        records.events = box.events
        return records
    }

    /// Runs tshark with these arguments; its standard output as field rows.
    static func tshark(arguments: [String]) throws -> [[String]] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/tshark")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true).map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
    }
}

/// The lab's bundled captures: `captures/` at the package root (or `$HOPTRACE_CAPTURES`).
enum LabCaptures {
    static let root: URL = Lab.root

    /// The capture files (`<scenario>/hoptrace.pcapng` and `<scenario>/any.sll2.pcap` of the first lab's
    /// scenarios, relative to `root`), sorted; empty until the lab's captures are there.
    static let files: [String] = Lab.legacyScenarios.flatMap { scenario in
        [Lab.Writer.tcpdumpAny, .hoptrace].map { "\(scenario)/\($0.rawValue)" }
    }.sorted()

    /// The truth file of a capture listed in `files`.
    static func truth(of file: String) -> URL {
        Lab.truthFile(String(file.split(separator: "/").first ?? ""))
    }
}

/// Everything the flow stage emitted for one input.
struct FlowRecords {
    var events: [FlowEvent] = []
    var error: CaptureError?
    var capturePoints: [String] = []

    /// Only the records of the capture point named `name`.
    func at(_ name: String) -> FlowRecords {
        var copy = self
        copy.events = self.events.filter { event in
            let point: Int
            switch event {
            case .connection(let record), .opened(let record): point = record.capturePoint
            case .http(let exchange): point = exchange.capturePoint
            case .dns(let transaction): point = transaction.capturePoint
            case .icmpError(let event): point = event.capturePoint
            case .segment(let segment): point = segment.capturePoint
            }
            return point < self.capturePoints.count && self.capturePoints[point] == name
        }
        return copy
    }

    var connections: [ConnectionRecord] {
        self.events.compactMap { if case .connection(let record) = $0 { return record } else { return nil } }
    }
    var exchanges: [HTTPExchange] {
        self.events.compactMap { if case .http(let exchange) = $0 { return exchange } else { return nil } }
    }
    var dns: [DNSTransaction] {
        self.events.compactMap { if case .dns(let transaction) = $0 { return transaction } else { return nil } }
    }
}

extension FlowConfiguration {
    /// tshark never times a connection out; neither does the analyzer compared with it.
    static var forOracle: FlowConfiguration {
        var configuration = FlowConfiguration()
        configuration.idleTimeout = Int64.max / 4
        return configuration
    }
}

/// Seconds as tshark prints them ("0.070248000", "1362692527.009775000") to nanoseconds.
func nanoseconds(_ text: String) -> Int64? {
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count <= 2, let whole = Int64(parts[0]) else { return nil }
    var fraction: Int64 = 0
    if parts.count == 2 {
        let digits = String(parts[1].prefix(9))
        guard let value = Int64(digits.isEmpty ? "0" : digits) else { return nil }
        fraction = value
        for _ in digits.count..<9 { fraction *= 10 }
    }
    return whole * 1_000_000_000 + fraction
}
