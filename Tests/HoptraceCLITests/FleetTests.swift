import Dispatch
import Foundation
import HoptraceTestSupport
import Testing

/// The fleet as a user runs it, against a real ClickHouse of the test's own: `store init`, one `agent` per node
/// replaying that node's lab capture, and `trace --store` printing what `trace` prints for the same nodes' files;
/// the store stopped while an agent runs and started again loses no row; a spool too small for an outage drops rows
/// and says how many; a bad store is one line and a non-zero exit.
@Suite(
    "fleet: agent, store, trace --store",
    .serialized,
    .enabled(if: ClickHouseServer.unavailable == nil, "\(ClickHouseServer.unavailable ?? "")")
)
struct FleetTests {
    static var scenarios: [String] { Lab.scenarios.filter { !Lab.nodes($0).isEmpty } }

    /// `agent -r` of one node's `tcpdump -i any` file, named by its `ip link`.
    static func agent(
        _ scenario: String,
        node: String,
        url: String,
        database: String,
        extra: [String] = []
    ) throws -> Command.Result {
        try Command.hoptrace(
            [
                "agent", "-r", Lab.file(scenario, .tcpdumpAny, node: node).path, "--links",
                Lab.linksFile(scenario, node: node).path, "--node", node, "--store", url, "--database", database,
            ] + extra
        )
    }

    /// `trace` of both nodes' files, as the README shows it (the independent fact `trace --store` must equal).
    static func traceFiles(_ scenario: String, _ extra: [String]) throws -> Command.Result {
        var arguments = ["trace"]
        for node in Lab.nodes(scenario) {
            arguments += ["--node", "\(node)=\(Lab.file(scenario, .tcpdumpAny, node: node).path)"]
            arguments += ["--links", "\(node)=\(Lab.linksFile(scenario, node: node).path)"]
        }
        return try Command.hoptrace(arguments + extra)
    }

    /// `requests` or `flows` of both nodes' files.
    static func records(_ scenario: String, _ command: String) throws -> Command.Result {
        var arguments = [command]
        for node in Lab.nodes(scenario) {
            arguments += ["--node", "\(node)=\(Lab.file(scenario, .tcpdumpAny, node: node).path)"]
            arguments += ["--links", "\(node)=\(Lab.linksFile(scenario, node: node).path)"]
        }
        return try Command.hoptrace(arguments)
    }

    static func count(_ server: ClickHouseServer, _ database: String) throws -> Int {
        Int(try server.query("SELECT count() FROM \(database).flows").trimmingCharacters(in: .whitespacesAndNewlines))
            ?? -1
    }

    @Test("trace --store prints what trace prints for the nodes' files")
    func traceEqual() throws {
        let server = try ClickHouseServer()
        defer { server.stop() }
        for (index, scenario) in Self.scenarios.enumerated() {
            let database = "fleet\(index)"
            let initialized = try Command.hoptrace(["store", "init", "--store", server.url, "--database", database])
            #expect(initialized.status == 0, "\(initialized.stderr)")
            var made = 0
            for node in Lab.nodes(scenario) {
                let run = try Self.agent(scenario, node: node, url: server.url, database: database)
                #expect(run.status == 0, "\(scenario) \(node): \(run.stderr)")
                made += try #require(Self.rowsMade(run.stderr), "\(run.stderr)")
            }
            // The server's own count: every row the agents made arrived.
            #expect(try Self.count(server, database) == made, "\(scenario)")
            let nodes = try server.query("SELECT DISTINCT node FROM \(database).flows ORDER BY node FORMAT TSV")
            #expect(nodes == Lab.nodes(scenario).joined(separator: "\n") + "\n")
            for extra in [[], ["--all", "--json"]] {
                let files = try Self.traceFiles(scenario, extra)
                let stored = try Command.hoptrace(
                    ["trace", "--store", server.url, "--database", database, "--since", "0"] + extra
                )
                #expect(files.status == 0 && stored.status == 0, "\(scenario): \(stored.stderr)")
                #expect(!files.stdout.isEmpty)
                #expect(stored.stdout == files.stdout, "\(scenario) \(extra)")
            }
            // The records themselves: the same lines, in another order where a record is emitted when a
            // connection's linger or idle time has passed (a connection's record, an exchange cut by a gap): one
            // reader of both nodes' files notices it at either node's packets, an agent at its own node's.
            for command in ["requests", "flows"] {
                let files = try Self.records(scenario, command)
                let stored = try Command.hoptrace([
                    command, "--store", server.url, "--database", database, "--since", "0",
                ])
                #expect(files.status == 0 && stored.status == 0, "\(scenario): \(stored.stderr)")
                #expect(files.stdout.split(separator: "\n").count > 2)
                #expect(
                    stored.stdout.split(separator: "\n").sorted() == files.stdout.split(separator: "\n").sorted(),
                    "\(scenario) \(command)"
                )
            }
        }
    }

    /// `command --store` with each filter (chosen in SQL) prints the lines `command` prints for the nodes' files of
    /// `scenario` (sorted: see ``traceEqual()``).
    static func filteredEqual(_ command: String, _ scenario: String, _ filters: [[String]]) throws {
        let server = try ClickHouseServer()
        defer { server.stop() }
        #expect(try Command.hoptrace(["store", "init", "--store", server.url, "--database", "rq"]).status == 0)
        for node in Lab.nodes(scenario) {
            #expect(try Self.agent(scenario, node: node, url: server.url, database: "rq").status == 0)
        }
        for filter in filters {
            var arguments = [command]
            for node in Lab.nodes(scenario) {
                arguments += ["--node", "\(node)=\(Lab.file(scenario, .tcpdumpAny, node: node).path)"]
                arguments += ["--links", "\(node)=\(Lab.linksFile(scenario, node: node).path)"]
            }
            let files = try Command.hoptrace(arguments + filter)
            let stored = try Command.hoptrace(
                [command, "--store", server.url, "--database", "rq", "--since", "0"] + filter
            )
            #expect(files.status == 0 && stored.status == 0, "\(filter): \(stored.stderr)")
            // (Zeek's #open and #close lines carry the time of the run.)
            let lines = { (run: Command.Result) in
                run.stdout.split(separator: "\n").filter { !$0.hasPrefix("#open") && !$0.hasPrefix("#close") }.sorted()
            }
            #expect(filter.contains { $0.hasPrefix("no-such") } || lines(files).count > 1, "\(filter)")
            #expect(lines(stored) == lines(files), "\(command) \(filter)")
        }
    }

    @Test("requests --store with a filter (chosen in SQL) prints what requests prints for the nodes' files")
    func requestsFiltered() throws {
        try Self.filteredEqual(
            "requests",
            "xnode-ok",
            [
                ["--port", "53"], ["--status", "NOERROR"], ["--status", "2xx"], ["--status", "200"], ["--host", "web"],
                ["--host", "10.96.0.10"], ["--slower-than", "1ms"],
                ["--host", "WEB", "--port", "80", "--status", "2xx"],
                ["--host", "no-such-name"], ["--format", "tsv", "--port", "80"],
            ]
        )
    }

    @Test("flows --store with a filter (chosen in SQL) prints what flows prints for the nodes' files")
    func flowsFiltered() throws {
        // xnode-slow-underlay has ICMP errors (fragmentation needed, from 10.244.1.1) besides its connections.
        try Self.filteredEqual(
            "flows",
            "xnode-slow-underlay",
            [
                ["--port", "8080"], ["--host", "10.244.1.1"], ["--host", "10.244.0.10"], ["--status", "SF"],
                ["--slower-than", "10ms"], ["--host", "10.244.0.10", "--port", "8080", "--status", "sf"],
                ["--host", "no-such-name"],
            ]
        )
    }

    /// The rows an agent says it made (`..., N rows, ...` in its last line).
    static func rowsMade(_ stderr: String) -> Int? {
        guard let line = stderr.split(separator: "\n").last(where: { $0.contains(" packets, ") }) else { return nil }
        let words = line.split(separator: " ")
        guard let at = words.firstIndex(where: { $0.hasPrefix("rows") }), at > 0 else { return nil }
        return Int(words[at - 1])
    }

    @Test("the store stopped during an agent run and started again: every row arrives")
    func outage() throws {
        let server = try ClickHouseServer()
        defer { server.stop() }
        let scenario = "xnode-ok"
        let spool = server.directory.appendingPathComponent("spool").path
        #expect(try Command.hoptrace(["store", "init", "--store", server.url, "--database", "calm"]).status == 0)
        #expect(try Command.hoptrace(["store", "init", "--store", server.url, "--database", "outage"]).status == 0)
        // The same traffic with the store up all along: the count to meet.
        let calm = try Self.agent(scenario, node: "node-a", url: server.url, database: "calm")
        #expect(calm.status == 0, "\(calm.stderr)")
        let expected = try Self.count(server, "calm")
        #expect(expected > 0)

        server.terminate()
        let box = ResultBox()
        let done = DispatchSemaphore(value: 0)
        let url = server.url
        DispatchQueue.global().async {
            box.result = Result {
                try Self.agent(
                    scenario,
                    node: "node-a",
                    url: url,
                    database: "outage",
                    extra: ["--spool", spool, "--batch-rows", "100", "--drain-timeout", "60s"]
                )
            }
            done.signal()
        }
        // The agent has read the file and spooled its rows by now; the store comes back 5 s into the run.
        sleep(5)
        let spooled = (try? FileManager.default.contentsOfDirectory(atPath: spool)) ?? []
        #expect(!spooled.isEmpty, "nothing spooled while the store was away")
        try server.start()
        done.wait()
        let run = try #require(try box.result?.get())
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("cannot connect") && run.stderr.contains("store back"), "\(run.stderr)")
        #expect(try Self.count(server, "outage") == expected)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: spool)) ?? []).isEmpty)
        // The agent's own counters, in its stats table.
        let stats = try server.query("SELECT rows_made, rows_sent, rows_dropped FROM outage.agent_stats FORMAT TSV")
        #expect(stats == "\(expected)\t\(expected)\t0\n")
    }

    @Test("a spool too small for the outage: the rows dropped are counted and reported")
    func spoolCap() throws {
        let server = try ClickHouseServer()
        defer { server.stop() }
        let scenario = "xnode-ok"
        #expect(try Command.hoptrace(["store", "init", "--store", server.url, "--database", "calm"]).status == 0)
        let calm = try Self.agent(scenario, node: "node-b", url: server.url, database: "calm")
        #expect(calm.status == 0, "\(calm.stderr)")
        let expected = try Self.count(server, "calm")
        server.terminate()
        let spool = server.directory.appendingPathComponent("spool").path
        let run = try Self.agent(
            scenario,
            node: "node-b",
            url: server.url,
            database: "calm",
            extra: ["--spool", spool, "--spool-max", "100K", "--batch-rows", "20", "--drain-timeout", "1s"]
        )
        #expect(run.status == 1)
        let last = run.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasPrefix("hoptrace: ") && last.contains("rows were dropped"), "\(run.stderr)")
        let dropped = try #require(Int(last.dropFirst("hoptrace: ".count).split(separator: " ").first ?? ""))
        // What the spool holds (its files' lines) and what was dropped are all the rows.
        var kept = 0
        var bytes = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: spool) {
            let data = try Data(contentsOf: URL(fileURLWithPath: spool + "/" + name))
            kept += data.filter { $0 == 10 }.count
            bytes += data.count
        }
        #expect(dropped > 0 && kept > 0)
        #expect(bytes <= 100 << 10)
        #expect(dropped + kept == expected)
    }

    @Test(
        "live on lo: each request made during the run is traced from the store, and its packets are in the ring",
        .enabled(if: getuid() == 0, "live capture needs root")
    )
    func live() throws {
        let server = try ClickHouseServer()
        defer { server.stop() }
        #expect(try Command.hoptrace(["store", "init", "--store", server.url, "--database", "live"]).status == 0)
        let box = ResultBox()
        let done = DispatchSemaphore(value: 0)
        let ring = server.directory.appendingPathComponent("ring").path
        let arguments = [
            "agent", "-i", "lo", "-f", "tcp port \(server.httpPort)", "--duration", "6s", "--store", server.url,
            "--database", "live", "-w", ring + "/lo.pcapng", "--rotate-size", "1MB", "--max-files", "2",
        ]
        DispatchQueue.global().async {
            box.result = Result { try Command.hoptrace(arguments, environment: ["NODE_NAME": "live-node"]) }
            done.signal()
        }
        // The requests the test makes while the agent captures: the independent count.
        sleep(2)
        var made = 0
        for _ in 0..<5 {
            if ClickHouseServer.ping(port: server.httpPort) { made += 1 }
            usleep(200_000)
        }
        done.wait()
        let run = try #require(try box.result?.get())
        #expect(run.status == 0, "\(run.stderr)")
        #expect(made == 5)
        let nodes = try server.query("SELECT DISTINCT node FROM live.flows FORMAT TSV")
        #expect(nodes == "live-node\n")
        let traced = try Command.hoptrace([
            "trace", "--store", server.url, "--database", "live", "--since", "5m", "--http", "GET /ping", "--json",
        ])
        #expect(traced.status == 0, "\(traced.stderr)")
        #expect(traced.stdout.split(separator: "\n").count == made, "\(traced.stdout)")
        // The local ring, as tshark reads it: every request the test made, on lo.
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark") else { return }
        var pings = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: ring) {
            let read = try Command.run(
                "/usr/bin/tshark",
                [
                    "-r", ring + "/" + name, "-d", "tcp.port==\(server.httpPort),http", "-Y",
                    "http.request.uri == \"/ping\"", "-T", "fields", "-e", "frame.interface_name",
                ]
            )
            #expect(read.status == 0, "\(read.stderr)")
            let interfaces = read.stdout.split(separator: "\n")
            #expect(interfaces.allSatisfy { $0 == "lo" })
            pings += interfaces.count
        }
        #expect(pings == made)
    }

    /// tshark's fields of every packet of `file`, one line each: time, length on the wire, length kept, interface.
    static func packetLines(_ file: String) throws -> [Substring] {
        let run = try Command.run(
            "/usr/bin/tshark",
            [
                "-r", file, "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len", "-e",
                "frame.interface_name",
            ]
        )
        #expect(run.status == 0 && !run.stderr.contains("damaged"), "\(file): \(run.stderr)")
        return run.stdout.split(separator: "\n")
    }

    @Test(
        "agent -r -w: a ring of at most --max-files valid pcapng files, holding the last packets read, interfaces named",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark"), "needs tshark")
    )
    func ring() throws {
        let server = try ClickHouseServer()
        defer { server.stop() }
        #expect(try Command.hoptrace(["store", "init", "--store", server.url, "--database", "ring"]).status == 0)
        // A whole-node pcapng of nine named interfaces (hoptrace capture's, 179 kB), written into 16 kB files.
        let input = Lab.file("xnode-ok", .hoptrace, node: "node-a").path
        let directory = server.directory.appendingPathComponent("ring").path
        let run = try Command.hoptrace([
            "agent", "-r", input, "--node", "node-a", "--store", server.url, "--database", "ring", "-w",
            directory + "/node-a.pcapng", "--rotate-size", "16KB", "--max-files", "3",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(files.count == 3, "\(files)")
        #expect(files.allSatisfy { $0.hasPrefix("node-a-") && $0.hasSuffix(".pcapng") }, "\(files)")
        var kept: [Substring] = []
        for name in files {
            let path = directory + "/" + name
            let info = try Command.run("/usr/bin/capinfos", [path])
            #expect(info.status == 0, "\(name): \(info.stderr)")
            #expect(info.stdout.contains("pcapng") && info.stdout.contains("host node-a"), "\(info.stdout)")
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
            #expect(size < 16_000 + 2_000, "\(name): \(size) bytes")
            kept += try Self.packetLines(path)
        }
        // tshark's reading of the input: the files hold its last packets, in order, on the same interfaces.
        let read = try Self.packetLines(input)
        #expect(read.count == 1153)
        #expect(kept.count > 100 && kept.count < read.count, "\(kept.count) of \(read.count)")
        #expect(Array(read.suffix(kept.count)) == kept)
        let names = Set(kept.map { $0.split(separator: "\t").last ?? "" })
        #expect(names.isSuperset(of: ["eth0", "cni0", "flannel.1", "vethweba"]), "\(names)")
        // Without rotation the ring would be unbounded: refused.
        let unbounded = try Command.hoptrace([
            "agent", "-r", input, "--store", server.url, "-w", directory + "/x.pcapng", "--rotate-size", "1MB",
        ])
        #expect(unbounded.status != 0 && unbounded.stderr.contains("--max-files"), "\(unbounded.stderr)")
    }

    /// `agent_stats` of `database` as the server holds it, oldest first: the named columns of each row.
    static func stats(_ server: ClickHouseServer, _ database: String) throws -> [[String: UInt64]] {
        let columns = [
            "time", "periodic", "capture_time", "packets", "kernel_drops", "rows_made", "rows_sent",
            "rows_dropped",
        ]
        let text = try server.query(
            "SELECT \(columns.joined(separator: ", ")) FROM \(database).agent_stats ORDER BY time FORMAT TSV"
        )
        return text.split(separator: "\n").map { line in
            Dictionary(uniqueKeysWithValues: zip(columns, line.split(separator: "\t").map { UInt64($0) ?? 0 }))
        }
    }

    /// Every row's counts are at least the row before's.
    static func neverDecrease(_ rows: [[String: UInt64]]) -> Bool {
        zip(rows, rows.dropFirst()).allSatisfy { earlier, later in
            ["packets", "kernel_drops", "rows_made", "rows_sent", "rows_dropped"].allSatisfy {
                earlier[$0]! <= later[$0]!
            }
        }
    }

    @Test(
        "live on lo with --stats-interval 1s: a line and an agent_stats row each second, counters never decreasing",
        .enabled(if: getuid() == 0, "live capture needs root")
    )
    func liveStats() throws {
        let server = try ClickHouseServer()
        defer { server.stop() }
        #expect(try Command.hoptrace(["store", "init", "--store", server.url, "--database", "lstats"]).status == 0)
        let box = ResultBox()
        let done = DispatchSemaphore(value: 0)
        let arguments = [
            "agent", "-i", "lo", "-f", "tcp port \(server.httpPort)", "--duration", "3500ms", "--stats-interval", "1s",
            "--store", server.url, "--database", "lstats", "--node", "lo-node",
        ]
        DispatchQueue.global().async {
            box.result = Result { try Command.hoptrace(arguments) }
            done.signal()
        }
        for _ in 0..<10 {
            _ = ClickHouseServer.ping(port: server.httpPort)
            usleep(250_000)
        }
        done.wait()
        let run = try #require(try box.result?.get())
        #expect(run.status == 0, "\(run.stderr)")
        let rows = try Self.stats(server, "lstats")
        let periodic = rows.filter { $0["periodic"] == 1 }
        // 3.5 s of wall clock: a report after each second (the first may fall before the capture is under way).
        #expect((2...3).contains(periodic.count), "\(rows)")
        #expect(rows.last?["periodic"] == 0 && rows.count == periodic.count + 1, "\(rows)")
        #expect(Self.neverDecrease(rows), "\(rows)")
        for (earlier, later) in zip(periodic, periodic.dropFirst()) {
            #expect(later["time"]! - earlier["time"]! >= 900_000_000, "\(periodic)")
        }
        // The end's row: what the server holds.
        #expect(rows.last?["rows_sent"] == UInt64(try Self.count(server, "lstats")))
        #expect(periodic.allSatisfy { $0["packets"]! > 0 && $0["rows_made"]! > 0 }, "\(periodic)")
        // A line on standard error for each periodic row, with libpcap's drops (live).
        let lines = run.stderr.split(separator: "\n").filter {
            $0.hasPrefix("hoptrace agent lo-node: ") && $0.contains(" dropped by the kernel), ")
        }
        #expect(lines.count == periodic.count, "\(run.stderr)")
        #expect(lines.allSatisfy { $0.contains(" rows made, ") && $0.contains(" queued, ") && $0.contains(" spool") })
    }

    @Test("agent -r with --stats-interval 1s: reports by the capture's time, not the wall clock's")
    func replayStats() throws {
        let server = try ClickHouseServer()
        defer { server.stop() }
        #expect(try Command.hoptrace(["store", "init", "--store", server.url, "--database", "rstats"]).status == 0)
        let scenario = "xnode-drop-far"
        let run = try Self.agent(
            scenario,
            node: "node-a",
            url: server.url,
            database: "rstats",
            extra: [
                "--stats-interval", "1s",
            ]
        )
        #expect(run.status == 0, "\(run.stderr)")
        // The capture's first and last packet times, as capinfos reads them (3.78 s apart).
        let info = try Command.run(
            "/usr/bin/capinfos",
            ["-T", "-r", "-a", "-e", "-S", Lab.file(scenario, .tcpdumpAny, node: "node-a").path]
        )
        let times = info.stdout.split(separator: "\t").dropFirst().map {
            UInt64(((Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) * 1e6).rounded()) * 1000
        }
        let (first, last) = try (#require(times.first), #require(times.last))
        #expect(last > first)
        let rows = try Self.stats(server, "rstats")
        let periodic = rows.filter { $0["periodic"] == 1 }
        // A report after each second of capture time: the replay itself takes a fraction of a second.
        #expect((2...Int((last - first) / 1_000_000_000)).contains(periodic.count), "\(rows)")
        #expect(periodic.allSatisfy { first + 1_000_000_000 <= $0["capture_time"]! && $0["capture_time"]! <= last })
        for (earlier, later) in zip(periodic, periodic.dropFirst()) {
            #expect(later["capture_time"]! - earlier["capture_time"]! >= 1_000_000_000, "\(periodic)")
        }
        #expect(Self.neverDecrease(rows), "\(rows)")
        #expect(rows.last?["periodic"] == 0 && rows.last?["capture_time"] == last)
        let counted = try Command.run(
            "/usr/bin/capinfos",
            ["-c", "-M", Lab.file(scenario, .tcpdumpAny, node: "node-a").path]
        )
        let packets = counted.stdout.split(whereSeparator: \.isWhitespace).last.flatMap { UInt64($0) }
        #expect(packets != nil && rows.last?["packets"] == packets)
        let lines = run.stderr.split(separator: "\n").filter { $0.contains(" rows made, ") }
        #expect(lines.count == periodic.count, "\(run.stderr)")
    }

    @Test("a bad or absent store: one line naming the fix, non-zero exit")
    func badStore() throws {
        let closed = "http://127.0.0.1:\(try ClickHouseServer.freePortForTests())"
        let cases: [[String]] = [
            ["store", "init", "--store", "ftp://example"],
            ["store", "init", "--store", closed],
            ["trace", "--store", closed, "--since", "0"],
            ["requests", "--store", closed, "--since", "0"],
            ["packets", "--store", closed],
            ["flows", "--store", closed, "captures/xnode-ok/node-a/any.sll2.pcap"],
            ["trace", "--store", "http://127.0.0.1:8123", "--database", "x;y", "--since", "0"],
            ["agent", "-r", Lab.file("xnode-ok", .tcpdumpAny, node: "node-a").path, "--store", "http://h:0"],
        ]
        for arguments in cases {
            let run = try Command.hoptrace(arguments)
            #expect(run.status != 0, "\(arguments)")
            let lines = run.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("hoptrace: "), "\(arguments): \(run.stderr)")
        }
    }

    final class ResultBox: @unchecked Sendable {
        var result: Result<Command.Result, any Error>?
    }
}
