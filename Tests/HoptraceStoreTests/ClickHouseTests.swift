import Foundation
import HoptraceCapture
import HoptraceCorrelate
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
