import Foundation
import HoptraceTestSupport
import Testing

/// Every record of every corpus capture, as `packets`, `flows` and `requests` write them: the JSON lines
/// against the committed schemas (python-jsonschema, an independent validator), the TSV against Zeek's documented
/// format (the test's own reader, `ZeekLog`), times against tshark's.
@Suite("record formats")
struct RecordFormatTests {
    /// The corpus captures.
    static let captures: [String] = Repository.corpusCaptures.map { Repository.corpusFile($0) }

    static let kinds = [("packets", "packet"), ("flows", "connection"), ("requests", "request")]

    /// Validates every line of `files` against `docs/<schema>.schema.json`; returns the number of records and the
    /// validator's complaints.
    static func validate(_ files: [String], schema: String) throws -> (records: Int, invalid: Int, message: String) {
        let script = """
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[1]))
            jsonschema.Draft202012Validator.check_schema(schema)
            validator = jsonschema.Draft202012Validator(schema)
            records = invalid = 0
            for path in sys.argv[2:]:
                for number, line in enumerate(open(path, encoding="utf-8")):
                    records += 1
                    errors = list(validator.iter_errors(json.loads(line)))
                    if errors:
                        invalid += 1
                        if invalid <= 3: print(path, number + 1, errors[0].message[:200], file=sys.stderr)
            print(records, invalid)
            """
        let schemaPath = Repository.root.appendingPathComponent("docs/\(schema).schema.json").path
        let run = try Command.run("/usr/bin/env", ["python3", "-c", script, schemaPath] + files)
        let numbers = run.stdout.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        guard numbers.count == 2 else { return (0, -1, run.stderr) }
        return (numbers[0], numbers[1], run.stderr)
    }

    @Test("Every JSON record of every capture follows its schema", arguments: Self.kinds)
    func jsonFollowsTheSchema(command: String, schema: String) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hoptrace-schema-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var files: [String] = []
        var lines = 0
        for (index, capture) in Self.captures.enumerated() {
            let run = try Command.hoptrace([command, "--format", "json", capture])
            guard !run.stdout.isEmpty else { continue }
            for line in run.stdout.split(separator: "\n") {
                // Foundation's parser reads every line as one object.
                #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any], "\(capture)")
                lines += 1
            }
            let file = directory.appendingPathComponent("\(index).jsonl").path
            try run.stdout.write(toFile: file, atomically: false, encoding: .utf8)
            files.append(file)
        }
        let result = try Self.validate(files, schema: schema)
        #expect(result.records == lines && lines > 50, "\(result.message)")
        #expect(result.invalid == 0, "\(result.message)")

        // The schema can fail: an unknown key, a duration as text.
        let bad = directory.appendingPathComponent("bad.jsonl").path
        try "{\"type\":\"dns\",\"latency\":\"1ms\",\"extra\":1}\n{\"time\":1}\n".write(
            toFile: bad,
            atomically: false,
            encoding: .utf8
        )
        #expect(try Self.validate([bad], schema: schema).invalid == 2)
    }

    @Test("JSON instants: the RFC 3339 string and the nanoseconds name the same instant, tshark's frame time")
    func instantsAgree() throws {
        let file = Repository.corpusFile("tcpdump/tcp-handshake-nano.pcap")
        let run = try Command.hoptrace(["packets", "--json", file])
        let tshark = try Command.run("/usr/bin/tshark", ["-r", file, "-T", "fields", "-e", "frame.time_epoch"])
        let theirs = tshark.stdout.split(separator: "\n").map { String($0) }
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        var ours: [String] = []
        for line in run.stdout.split(separator: "\n") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let text = try #require(object["time"] as? String)
            let ns = try #require(object["timeNs"] as? Int)
            // Whole seconds by Foundation's ISO 8601 parser, the nine decimals as written.
            let parts = text.dropLast().split(separator: ".")
            let date = try #require(formatter.date(from: String(parts[0]) + "Z"))
            #expect(Int(date.timeIntervalSince1970) == ns / 1_000_000_000)
            #expect(Int(parts[1]) == ns % 1_000_000_000 && parts[1].count == 9)
            ours.append("\(ns / 1_000_000_000).\(String(format: "%09d", ns % 1_000_000_000))")
        }
        #expect(!ours.isEmpty && ours == theirs)
    }

    @Test("TSV follows Zeek's format; zeek-cut's selection by #fields names works", arguments: Self.kinds)
    func tsvFollowsZeeksFormat(command: String, schema: String) throws {
        var rows = 0
        for (index, capture) in Self.captures.enumerated() {
            let run = try Command.hoptrace([command, "--format", "tsv", capture])
            if run.stdout.isEmpty { continue }
            let log = try ZeekLog(run.stdout)
            #expect(log.header("path") == command)
            #expect(log.header("close") != nil || run.status != 0, "\(capture)")
            for stamp in [log.header("open"), log.header("close")].compactMap({ $0 }) {
                #expect(stamp.range(of: #"^\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}$"#, options: .regularExpression) != nil)
            }
            for row in log.rows {
                rows += 1
                for (name, type) in zip(log.fields, log.types) {
                    guard let value = log.value(name, in: row) else { continue }
                    switch type {
                    case "time", "interval": #expect(Double(value) != nil, "\(name) \(value)")
                    case "count": #expect(UInt64(value) != nil, "\(name) \(value)")
                    case "port": #expect(UInt16(value) != nil, "\(name) \(value)")
                    case "bool": #expect(value == "T" || value == "F", "\(name) \(value)")
                    case "addr": #expect(value.contains(".") || value.contains(":"), "\(name) \(value)")
                    default: break
                    }
                }
            }
            // One row per record the text output has (every fourth capture: each run is a process).
            if index % 4 == 0 {
                let text = try Command.hoptrace([command, capture])
                let records = text.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }.count
                #expect(log.rows.count == records, "\(capture)")
            }
        }
        #expect(rows > 50)
    }

    @Test("packets TSV times are tshark's frame times, selected by name as zeek-cut would")
    func tsvTimesAreTsharks() throws {
        let file = Repository.corpusFile("tcpdump/tcp-handshake-nano.pcap")
        let log = try ZeekLog(try Command.hoptrace(["packets", "--format", "tsv", file]).stdout)
        let tshark = try Command.run("/usr/bin/tshark", ["-r", file, "-T", "fields", "-e", "frame.time_epoch"])
        #expect(log.cut(["time"]) == tshark.stdout.split(separator: "\n").map(String.init))
    }
}
