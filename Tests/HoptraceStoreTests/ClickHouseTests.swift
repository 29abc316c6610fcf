import Foundation
import HoptraceCapture
import HoptraceCorrelate
import HoptraceDecode
import HoptraceFlows
import HoptraceReport
import HoptraceStore
import HoptraceTestSupport
import Testing

/// The store against a real ClickHouse (Debian's 18.16, a server of the test's own): the schema is created, rows
/// inserted are all counted by the server, read back and traced they give the trace of the capture files; a bad
/// address or a stopped server is a one-line error.
@Suite(
    "store: ClickHouse",
    .serialized,
    .enabled(if: ClickHouseServer.unavailable == nil, "\(ClickHouseServer.unavailable ?? "")")
)
struct ClickHouseTests {
    @Test("store init creates the tables; rows in, the same rows and the same traces out")
    func roundTrip() throws {
        let server = try ClickHouseServer()
        defer { server.stop() }
        let store = try ClickHouseStore(url: server.url, database: "hoptrace_test")
        let (version, _) = try store.initialize(retentionDays: 7)
        #expect(version.hasPrefix("18.") || version.split(separator: ".").count >= 3)
        // The server's own answer: both tables exist.
        let tables = try store.execute(
            "SELECT name FROM system.tables WHERE database = 'hoptrace_test' ORDER BY name FORMAT TSV"
        )
        #expect(tables == "agent_stats\nflows\n")
        // Again: nothing to do, no error.
        try store.initialize(retentionDays: 7)

        for scenario in Lab.scenarios.filter({ !Lab.nodes($0).isEmpty }) {
            try store.execute("TRUNCATE TABLE hoptrace_test.flows")
            let inputs = RoundTripTests.inputs(scenario)
            var rows: [FlowRow] = []
            for (index, input) in inputs.enumerated() {
                rows += try RoundTripTests.rows([input], node: input.node ?? "", run: 100 + UInt64(index))
            }
            try store.insert(rows)
            #expect(try store.count() == rows.count, "\(scenario)")
            for node in Lab.nodes(scenario) {
                #expect(try store.count(node: node) == rows.filter { $0.node == node }.count)
            }
            let back = try store.rows(since: 0)
            #expect(Set(back) == Set(rows), "\(scenario)")
            var traces: [RequestTrace] = []
            try StoredFlows(rows: back).trace { traces += $0 }
            #expect(traces.map { TraceJSON.render($0) } == (try RoundTripTests.direct(inputs)), "\(scenario)")
        }
    }

    @Test("a replay faster than the store waits for room: a queue of one batch, 30 batches, none dropped")
    func replayWaitsForRoom() throws {
        let server = try ClickHouseServer()
        defer { server.stop() }
        let store = try ClickHouseStore(url: server.url, database: "hoptrace_wait")
        try store.initialize(retentionDays: 7)
        let inputs = RoundTripTests.inputs("keepalive-many")
        let rows = try RoundTripTests.rows(Array(inputs.prefix(1)), node: "n1", run: 7)
        try #require(rows.count >= 60)
        var options = RowShipper.Options()
        options.batchRows = max(1, rows.count / 30)
        options.queueRows = options.batchRows
        options.waitForRoom = true
        let shipper = try RowShipper(store: store, options: options) { _ in }
        shipper.start()
        for row in rows { shipper.add(row) }
        let counters = shipper.finish(drainTimeout: 60)
        #expect(counters.dropped == 0)
        #expect(counters.spooled == 0)
        #expect(counters.sent == rows.count)
        // The server's own count.
        #expect(try store.count() == rows.count)
    }

    @Test("text that would break a query is escaped")
    func escaping() throws {
        let server = try ClickHouseServer()
        defer { server.stop() }
        let store = try ClickHouseStore(url: server.url, database: "hoptrace_test")
        try store.initialize(retentionDays: nil)
        #expect(try store.count(node: "x' OR 1=1 --\\") == 0)
        let echoed = try store.execute("SELECT '\(ClickHouseStore.quoted("a'b\\c\nd"))' FORMAT TSV")
        #expect(echoed == "a\\'b\\\\c\\nd\n")  // TSV's own escaping of the server's value a'b\c<newline>d.
    }

    @Test("a stopped store, a bad address, a missing table: one line naming the fix")
    func errors() throws {
        #expect(throws: StoreError.self) { try ClickHouseStore(url: "https://h:8123") }
        #expect(throws: StoreError.self) { try ClickHouseStore(url: "http://h:99999") }
        #expect(throws: StoreError.self) { try ClickHouseStore(url: "http://h:8123", database: "a;DROP") }
        let server = try ClickHouseServer()
        defer { server.stop() }
        let store = try ClickHouseStore(url: server.url, database: "absent", timeout: 5)
        do {
            _ = try store.rows(since: 0)
            Issue.record("a missing table read")
        } catch {
            #expect(!error.isUnreachable && error.description.contains("store init"), "\(error)")
        }
        server.terminate()
        do {
            _ = try store.count()
            Issue.record("a stopped server answered")
        } catch {
            #expect(error.isUnreachable && !error.description.contains("\n"), "\(error)")
        }
    }
}

/// `trace --store` with a selector: the rows are chosen in SQL (candidates, then their connections on every node
/// and the context the correlator needs), and tracing them gives the selected traces of the capture files.
@Suite(
    "store: selection in SQL",
    .serialized,
    .enabled(if: ClickHouseServer.unavailable == nil, "\(ClickHouseServer.unavailable ?? "")")
)
struct SelectionTests {
    /// The traces of `rows` that `select` keeps, as JSON objects without their index (which counts the traces of
    /// the rows read).
    static func traces(_ rows: [FlowRow], _ select: (RequestTrace) -> Bool) throws -> [[String: Any]] {
        var traces: [RequestTrace] = []
        try StoredFlows(rows: rows).trace { traces += $0.filter(select) }
        return try traces.map { try Self.object(TraceJSON.render($0)) }
    }

    static func object(_ line: String) throws -> [String: Any] {
        var object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        object["index"] = nil
        return object
    }

    static func same(_ a: Any?, _ b: Any?) -> Bool {
        guard let a, let b else { return a == nil && b == nil }
        return NSDictionary(dictionary: ["v": a]).isEqual(to: ["v": b])
    }

    @Test("each request selected by method and path traces as in the files, from far fewer rows")
    func selectedEqualsFiles() throws {
        let server = try ClickHouseServer()
        defer { server.stop() }
        let store = try ClickHouseStore(url: server.url, database: "selection")
        try store.initialize(retentionDays: nil)
        var checked = 0
        for scenario in Lab.scenarios {
            try store.execute("TRUNCATE TABLE selection.flows")
            let inputs = RoundTripTests.inputs(scenario)
            let twoNodes = !Lab.nodes(scenario).isEmpty
            var rows: [FlowRow] = []
            for (index, input) in inputs.enumerated() {
                // One agent per node (one node: its points unnamed, as the files' trace shows them).
                rows += try RoundTripTests.rows(
                    [input],
                    node: twoNodes ? input.node ?? "" : "",
                    run: 100 + UInt64(index)
                )
            }
            try store.insert(rows)
            // The independent fact: the traces of the capture files themselves.
            let files = try RoundTripTests.direct(inputs).map(Self.object)
            let requests = Set(
                files.compactMap { $0["request"] as? [String: Any] }.compactMap { request -> String? in
                    guard let method = request["method"] as? String, let path = request["path"] as? String else {
                        return nil
                    }
                    return method + " " + path
                }
            )
            #expect(!requests.isEmpty, "\(scenario)")
            // The scenario's own requests and one of the lab's background ones (the rest are alike).
            let chosen =
                requests.sorted().filter { !$0.contains(" /bg/") } + requests.sorted().filter { $0.hasSuffix("/bg/2") }
            for request in chosen {
                let parts = request.split(separator: " ", maxSplits: 1).map(String.init)
                let keep: (String?, String?) -> Bool = { method, path in
                    method?.uppercased() == parts[0].uppercased() && (path ?? "").hasPrefix(parts[1])
                }
                let wanted = files.filter { trace in
                    let request = trace["request"] as? [String: Any]
                    return keep(request?["method"] as? String, request?["path"] as? String)
                }
                let (selected, report) = try store.rows(
                    since: 0,
                    selecting: TraceSelection(method: parts[0], pathPrefix: parts[1])
                )
                #expect(report.wholeWindow == nil && report.candidates > 0)
                #expect(report.rows == selected.count && selected.count <= rows.count)
                let got = try Self.traces(selected) { keep($0.request?.method, $0.request?.path) }
                #expect(got.count == wanted.count, "\(scenario) \(request)")
                // Every field but the request number (which counts the requests read): on two nodes too, the
                // clock offsets and the times they correct, from the same samples as the files'.
                for (a, b) in zip(wanted, got) {
                    #expect(Self.same(a, b), "\(scenario) \(request)")
                }
                checked += 1
            }
        }
        #expect(checked > 40)
    }

    @Test("a selective query reads the candidate's rows, not the window's thousands")
    func fewRowsRead() throws {
        let server = try ClickHouseServer()
        defer { server.stop() }
        let store = try ClickHouseStore(url: server.url, database: "selection")
        try store.initialize(retentionDays: nil)
        let scenario = "xnode-ok"
        let inputs = RoundTripTests.inputs(scenario)
        var rows: [FlowRow] = []
        for (index, input) in inputs.enumerated() {
            rows += try RoundTripTests.rows([input], node: input.node ?? "", run: 100 + UInt64(index))
        }
        try store.insert(rows)
        let selection = TraceSelection(method: "GET", pathPrefix: "/xnode-ok")
        let (alone, _) = try store.rows(since: 0, selecting: selection)
        // 20,000 unrelated exchanges in the same seconds: other paths, clients, servers and ISNs (hand-built rows).
        let template = try #require(rows.first { $0.kind == "http" })
        var noise: [FlowRow] = []
        for k in 0..<20_000 {
            var row = template
            (row.node, row.run, row.seq) = ("node-z", 9, UInt64(k))
            row.clientISN = 0x4000_0000 + UInt32(k)
            row.serverISN = 0x6000_0000 + UInt32(k)
            row.client = "10.250.\(k / 250 % 250).\(k % 250 + 1)"
            row.server = "10.251.0.1"
            row.target = "/noise/\(k)"
            row.requestID = ""
            noise.append(row)
        }
        try store.insert(noise)
        let total = try store.count()
        #expect(total == rows.count + noise.count)
        let (selected, report) = try store.rows(since: 0, selecting: selection)
        #expect(Set(selected) == Set(alone))
        #expect(!selected.contains { $0.node == "node-z" })
        #expect(report.rows <= rows.count && report.rows * 10 < total, "\(report)")
        // The server's own count of what the candidate query returned: the request's exchanges, one per point.
        let sightings = try store.execute(
            "SELECT count() FROM selection.flows WHERE kind = 'http' AND target = '/xnode-ok' FORMAT TSV"
        )
        #expect(report.candidates == Int(sightings.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    @Test("hostile selector text is a value, never SQL")
    func hostileText() throws {
        let server = try ClickHouseServer()
        defer { server.stop() }
        let store = try ClickHouseStore(url: server.url, database: "selection")
        try store.initialize(retentionDays: nil)
        let template = try #require(
            try RoundTripTests.rows(RoundTripTests.inputs("direct-ok"), run: 1).first {
                $0.kind == "http"
            }
        )
        let hostile = [
            "/a'b", "/a\\'b", "/a\\", "/a\0b", "/a\nb", "/a\rb\tc", "/'); DROP TABLE selection.flows; --", "/é💥",
            "/a\\nb", "/\u{1}\u{7f}", "/\u{8}\u{c}\u{2028}\u{2029}",
        ]
        var rows: [FlowRow] = []
        for (k, target) in hostile.enumerated() {
            var row = template
            row.seq = UInt64(k)
            row.clientISN = 1_000 + UInt32(k)
            row.target = target
            row.requestID = target
            rows.append(row)
        }
        try store.insert(rows)
        for (k, target) in hostile.enumerated() {
            // The literal reads back as the same bytes.
            let echoed = try store.execute("SELECT hex(\(ClickHouseStore.literal(target))) FORMAT TSV")
            let hex = target.utf8.map { String(format: "%02X", $0) }.joined()
            #expect(echoed == hex + "\n", "\(target.debugDescription)")
            for selection in [
                TraceSelection(method: "get", pathPrefix: target), TraceSelection(requestID: target),
            ] {
                let (_, report) = try store.rows(since: 0, selecting: selection)
                // Exactly the rows whose target starts with it (hand-counted from the list).
                let expected = hostile.filter {
                    selection.requestID != nil ? $0 == target : $0.utf8.starts(with: target.utf8)
                }.count
                #expect(report.candidates == expected, "\(k) \(target.debugDescription)")
            }
        }
        #expect(try store.count() == hostile.count)
        // The rows' JSON lines (every escape JSONWriter writes) read back as the same text.
        #expect(Set(try store.rows(since: 0).map(\.target)) == Set(hostile))
    }

    @Test("store init adds the selection columns to a table of row format 1, whose rows still read")
    func formatOne() throws {
        let server = try ClickHouseServer()
        defer { server.stop() }
        let store = try ClickHouseStore(url: server.url, database: "old")
        try store.execute("CREATE DATABASE old")
        // The table as hoptrace's first row format made it (docs/clickhouse.sql before format 2).
        try store.execute(
            """
            CREATE TABLE old.flows (version UInt8, node String, run UInt64, seq UInt64, emitted UInt64, point String,
            if_index Int32, kind String, time UInt64, client String, client_port UInt16, server String,
            server_port UInt16, client_isn UInt32, server_isn UInt32, event String)
            ENGINE = MergeTree PARTITION BY toDate(intDiv(emitted, 1000000000)) ORDER BY (client_isn, server_isn, time)
            """
        )
        let rows = try RoundTripTests.rows(RoundTripTests.inputs("clusterip-ok"), run: 5)
        // Format-1 lines: the row without the selection columns.
        var body: [UInt8] = []
        for row in rows {
            var line: [UInt8] = []
            var old = row
            old.version = 1
            old.appendJSONLine(to: &line)
            var object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
            for column in ClickHouseStore.selectionColumns { object[column.name] = nil }
            body += try JSONSerialization.data(withJSONObject: object) + [10]
        }
        try store.insert(body: body, table: "flows")
        #expect(throws: StoreError.self) { try store.rows(since: 0) }
        #expect(try store.missingColumnStatements().count == ClickHouseStore.selectionColumns.count)
        try store.initialize(retentionDays: nil)
        #expect(try store.missingColumnStatements().isEmpty)
        let back = try store.rows(since: 0)
        #expect(
            back.count == rows.count && back.allSatisfy { $0.version == 1 && $0.method.isEmpty && $0.latency == -1 }
        )
        #expect(try store.oldRows(since: 0) == rows.count)
        let (all, report) = try store.rows(since: 0, selecting: TraceSelection(method: "GET", pathPrefix: "/"))
        #expect(report.wholeWindow != nil && all.count == rows.count)
        var traces: [RequestTrace] = []
        try StoredFlows(rows: back).trace { traces += $0 }
        #expect(
            traces.map { TraceJSON.render($0) } == (try RoundTripTests.direct(RoundTripTests.inputs("clusterip-ok")))
        )
    }

    @Test("an agent_stats table of before the periodic rows takes a new agent's row, and store init adds its columns")
    func statsBeforePeriodic() throws {
        let server = try ClickHouseServer()
        defer { server.stop() }
        let store = try ClickHouseStore(url: server.url, database: "old")
        try store.execute("CREATE DATABASE old")
        // The table as the first agents made it (docs/clickhouse.sql before the periodic rows).
        try store.execute(
            """
            CREATE TABLE old.agent_stats (time UInt64, node String, run UInt64, packets UInt64, rows_made UInt64,
            rows_sent UInt64, rows_dropped UInt64, spool_bytes UInt64)
            ENGINE = MergeTree PARTITION BY toDate(intDiv(time, 1000000000)) ORDER BY (node, time)
            """
        )
        var counters = RowShipper.Counters()
        counters.made = 7
        counters.sent = 5
        counters.queuedRows = 2
        let row = AgentStats(
            time: 1_000_000_000,
            node: "n",
            run: 1,
            periodic: true,
            captureTime: 900_000_000,
            packets: 40,
            kernelDrops: 3,
            counters: counters
        )
        try store.insert(stats: [row])
        #expect(
            try server.query("SELECT packets, rows_made, rows_sent FROM old.agent_stats FORMAT TSV") == "40\t7\t5\n"
        )
        #expect(try store.missingColumnStatements().count == ClickHouseStore.statsColumns.count)
        try store.initialize(retentionDays: nil)
        #expect(try store.missingColumnStatements().isEmpty)
        try store.insert(stats: [row])
        let columns = "periodic, capture_time, kernel_drops, queue_rows"
        #expect(
            try server.query("SELECT \(columns) FROM old.agent_stats ORDER BY periodic FORMAT TSV")
                == "0\t0\t0\t0\n1\t900000000\t3\t2\n"
        )
    }

    /// A selection made in SQL against the filter itself, on the rows of one agent per node of `scenario` and 20,000
    /// rows like `template` (one of them) that no case keeps (`noise` makes the k-th one): for each case the rows
    /// selected are of `kinds` and hold no noise row (all of them when the case keeps `everything`), and every
    /// record of the scenario the filter keeps (`keeps`) is among them. Returns the store, for more checks.
    static func checkSelections<Case>(
        _ scenario: String,
        kinds: Set<String>,
        template: (FlowRow) -> Bool,
        noise: (inout FlowRow, Int) -> Void,
        cases: [Case],
        everything: (Case) -> Bool,
        select: (ClickHouseStore, Case) throws -> (rows: [FlowRow], report: SelectionReport),
        keeps: (Case, FlowEvent) -> Bool
    ) throws {
        let server = try ClickHouseServer()
        defer { server.stop() }
        let store = try ClickHouseStore(url: server.url, database: "sel")
        try store.initialize(retentionDays: nil)
        var rows: [FlowRow] = []
        for (index, input) in RoundTripTests.inputs(scenario).enumerated() {
            rows += try RoundTripTests.rows([input], node: input.node ?? "", run: 100 + UInt64(index))
        }
        try store.insert(rows)
        let found = rows.first(where: template)
        let first = try #require(found)
        let others = (0..<20_000).map { k in
            var row = first
            (row.node, row.run, row.seq) = ("node-z", 9, UInt64(k))
            noise(&row, k)
            return row
        }
        try store.insert(others)
        let total = try store.count()
        #expect(total == rows.count + others.count)
        for selection in cases {
            let (selected, report) = try select(store, selection)
            #expect(report.wholeWindow == nil && report.rows == selected.count)
            #expect(selected.allSatisfy { kinds.contains($0.kind) })
            if everything(selection) {
                // No filter: every record of the kinds, the 20,000 too, and no other row.
                #expect(selected.count == rows.filter { kinds.contains($0.kind) }.count + others.count)
            } else {
                #expect(!selected.contains { $0.node == "node-z" }, "\(selection)")
                #expect(report.rows * 50 < total, "\(selection): \(report.rows) of \(total)")
            }
            // The filter itself, on every row of the window: each record it keeps is among the rows selected.
            let chosen = Set(selected.map { "\($0.node)/\($0.run)/\($0.seq)" })
            var kept = 0
            for row in rows where kinds.contains(row.kind) {
                guard let event = try row.flowEvent(capturePoint: 0), keeps(selection, event) else { continue }
                kept += 1
                #expect(chosen.contains("\(row.node)/\(row.run)/\(row.seq)"), "\(selection): \(row.kind) \(row.seq)")
            }
            // (A case no record passes selects nothing.)
            #expect(kept <= selected.count && (kept > 0 || selected.isEmpty), "\(selection)")
        }
        #expect(try store.count() == total)
    }

    @Test("requests' selection: every HTTP and DNS row a filter keeps, none of 20,000 others")
    func requestSelection() throws {
        let dnsServer = try #require(IPAddress("10.96.0.10"))
        let cases: [(RecordFilter, RequestSelection)] = [
            (RecordFilter(), RequestSelection()),
            (RecordFilter(port: 53), RequestSelection(port: 53)),
            (RecordFilter(status: .rcode("NOERROR")), RequestSelection(status: .rcode("NOERROR"))),
            (RecordFilter(status: .httpClass(2)), RequestSelection(status: .httpClass(2))),
            (RecordFilter(status: .http(200)), RequestSelection(status: .http(200))),
            (RecordFilter(host: "web"), RequestSelection(host: .name("web"))),
            (RecordFilter(host: "WEB.default"), RequestSelection(host: .name("WEB.default"))),
            (RecordFilter(host: "10.96.0.10"), RequestSelection(host: .address(dnsServer))),
            (RecordFilter(slowerThan: 1_000_000), RequestSelection(slowerThan: 1_000_000)),
            (
                RecordFilter(host: "web", port: 80, status: .httpClass(2)),
                RequestSelection(host: .name("web"), port: 80, status: .httpClass(2))
            ),
            // Hostile text is a value: nothing matches, nothing breaks.
            (RecordFilter(host: "x') OR 1=1 --"), RequestSelection(host: .name("x') OR 1=1 --"))),
        ]
        try Self.checkSelections(
            "xnode-ok",
            kinds: ["http", "dns"],
            template: { $0.kind == "http" },
            // Exchanges no filter above keeps: other clients, server, port, Host, a 503 answered in 1 ns.
            noise: { (row: inout FlowRow, k: Int) in
                row.client = "10.250.\(k / 250 % 250).\(k % 250 + 1)"
                (row.server, row.clientPort, row.serverPort) = ("10.251.0.1", 40_000, 9_999)
                (row.host, row.status, row.latency) = ("noise.example", 503, 1)
            },
            cases: cases,
            everything: { $0.1 == RequestSelection() },
            select: { (store: ClickHouseStore, selection: (RecordFilter, RequestSelection)) in
                try store.rows(since: 0, selecting: selection.1)
            },
            keeps: { (selection: (RecordFilter, RequestSelection), event: FlowEvent) -> Bool in
                switch event {
                case .http(let exchange): return selection.0.matches(RequestRecord.http(exchange))
                case .dns(let transaction): return selection.0.matches(RequestRecord.dns(transaction))
                default: return false
                }
            }
        )
    }

    @Test("flows' selection: every connection and ICMP row a filter keeps, none of 20,000 others")
    func flowSelection() throws {
        let sender = try #require(IPAddress("10.244.1.1"))
        let client = try #require(IPAddress("10.244.0.10"))
        let cases: [(RecordFilter, FlowSelection)] = [
            (RecordFilter(), FlowSelection()),
            (RecordFilter(port: 8080), FlowSelection(port: 8080)),
            (RecordFilter(host: "10.244.1.1"), FlowSelection(host: .address(sender))),
            (RecordFilter(host: "10.244.0.10"), FlowSelection(host: .address(client))),
            (RecordFilter(host: "web"), FlowSelection(host: .name)),
            (RecordFilter(status: .connectionState("SF")), FlowSelection(connectionState: "SF")),
            (RecordFilter(status: .connectionState("S0")), FlowSelection(connectionState: "S0")),
            (RecordFilter(slowerThan: 100_000_000), FlowSelection(slowerThan: 100_000_000)),
            (
                RecordFilter(host: "10.244.0.10", port: 8080, status: .connectionState("SF"), slowerThan: 1_000),
                FlowSelection(host: .address(client), port: 8080, connectionState: "SF", slowerThan: 1_000)
            ),
            (RecordFilter(status: .connectionState("x') OR 1=1 --")), FlowSelection(connectionState: "x') OR 1=1 --")),
        ]
        try Self.checkSelections(
            "xnode-slow-underlay",
            kinds: ["connection", "icmp"],
            template: { $0.kind == "connection" },
            // Connections no filter above keeps: other addresses and ports, in state REJ, 1 ns long.
            noise: { (row: inout FlowRow, k: Int) in
                row.client = "10.250.\(k / 250 % 250).\(k % 250 + 1)"
                (row.server, row.clientPort, row.serverPort) = ("10.251.0.1", 40_000, 9_999)
                for state in RecordFilter.Status.connectionStates {
                    row.event = row.event.replacingOccurrences(of: "\"state\":\"\(state)\"", with: "\"state\":\"REJ\"")
                }
                // (The first endTime key is the one read; the old value is left to an unknown key.)
                row.event = row.event.replacingOccurrences(
                    of: "\"endTime\":",
                    with: "\"endTime\":\(row.time + 1),\"x\":"
                )
            },
            cases: cases,
            everything: { $0.1 == FlowSelection() },
            select: { (store: ClickHouseStore, selection: (RecordFilter, FlowSelection)) in
                try store.rows(since: 0, selecting: selection.1)
            },
            keeps: { (selection: (RecordFilter, FlowSelection), event: FlowEvent) -> Bool in
                switch event {
                case .connection(let connection): return selection.0.matches(FlowRecord.connection(connection))
                case .icmpError(let error): return selection.0.matches(FlowRecord.icmpError(error))
                default: return false
                }
            }
        )
    }
}
