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
        "live on lo: each request made during the run is traced from the store",
        .enabled(if: getuid() == 0, "live capture needs root")
    )
    func live() throws {
        let server = try ClickHouseServer()
        defer { server.stop() }
        #expect(try Command.hoptrace(["store", "init", "--store", server.url, "--database", "live"]).status == 0)
        let box = ResultBox()
        let done = DispatchSemaphore(value: 0)
        let arguments = [
            "agent", "-i", "lo", "-f", "tcp port \(server.httpPort)", "--duration", "6s", "--store", server.url,
            "--database", "live",
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
