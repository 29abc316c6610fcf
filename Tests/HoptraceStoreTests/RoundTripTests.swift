import Foundation
import HoptraceCapture
import HoptraceCorrelate
import HoptraceDecode
import HoptraceFlows
import HoptraceReport
import HoptraceStore
import HoptraceTestSupport
import Testing

/// The row format is faithful: every record of every lab capture written as a row, sent through the store's own
/// text form (a JSONEachRow line) and read back is the same record; and tracing the rows gives the trace of the
/// capture files themselves (`Correlator.trace(inputs:)`, the independent fact), for one node and for two nodes
/// whether one reader or one agent per node wrote the rows.
@Suite("store: rows round-trip")
struct RoundTripTests {
    static var scenarios: [String] { Lab.scenarios }

    /// The hoptrace pcapng of each node (the host each names is its node), with the node's `ip link` names.
    static func inputs(_ scenario: String) -> [CaptureFileSpec] {
        let nodes = Lab.nodes(scenario)
        if nodes.isEmpty { return [CaptureFileSpec(path: Lab.file(scenario, .hoptrace).path, node: "node-1")] }
        return nodes.map { CaptureFileSpec(path: Lab.file(scenario, .hoptrace, node: $0).path, node: $0) }
    }

    /// The traces of the files, as `hoptrace trace --json` writes them.
    static func direct(_ inputs: [CaptureFileSpec]) throws -> [String] {
        var traces: [RequestTrace] = []
        let run = try Correlator.trace(inputs: inputs) { traces += $0 }
        #expect(run.flows.error == nil)
        return traces.map { TraceJSON.render($0) }
    }

    /// Rows of `inputs` as one flow stage reading them all writes them.
    static func rows(_ inputs: [CaptureFileSpec], node: String = "", run: UInt64) throws -> [FlowRow] {
        var rows: [FlowRow] = []
        let pipeline = FlowPipeline(configuration: Correlator.flowConfiguration())
        _ = try FlowRowRecorder.record(inputs: inputs, pipeline: pipeline, node: node, run: run) { rows.append($0) }
        return rows
    }

    /// Each row as the JSONEachRow line the agent writes, and back.
    static func throughText(_ rows: [FlowRow]) throws -> [FlowRow] {
        let decoder = JSONDecoder()
        return try rows.map { row in
            var line: [UInt8] = []
            row.appendJSONLine(to: &line)
            #expect(line.last == 10 && line.filter { $0 == 10 }.count == 1)
            return try decoder.decode(FlowRow.self, from: Data(line))
        }
    }

    static func traced(_ rows: [FlowRow]) throws -> [String] {
        var traces: [RequestTrace] = []
        try StoredFlows(rows: rows.shuffled()).trace { traces += $0 }
        return traces.map { TraceJSON.render($0) }
    }

    @Test("every record reads back equal", arguments: scenarios)
    func recordsReadBackEqual(scenario: String) throws {
        let points = CapturePointTable()
        var events: [FlowEvent] = []
        let pipeline = FlowPipeline(configuration: Correlator.flowConfiguration())
        _ = try pipeline.run(inputs: Self.inputs(scenario), capturePoints: points) { events.append($0) }
        #expect(!events.isEmpty)
        let recorder = FlowRowRecorder(node: "", run: 1, points: points)
        for event in events {
            let id = FlowRowRecorder.capturePointID(of: event)
            let row = try #require(recorder.row(event))
            let back = try #require(try Self.throughText([row]).first)
            #expect(try back.flowEvent(capturePoint: id) == event)
            #expect(back.capturePoint == points[id])
        }
    }

    @Test("tracing the rows is tracing the files", arguments: scenarios)
    func traceEqual(scenario: String) throws {
        let inputs = Self.inputs(scenario)
        let direct = try Self.direct(inputs)
        #expect(!direct.isEmpty)
        let rows = try Self.throughText(Self.rows(inputs, run: 7))
        #expect(try Self.traced(rows) == direct)
    }

    @Test(
        "one agent per node: the rows of both traced together",
        arguments: scenarios.filter { !Lab.nodes($0).isEmpty }
    )
    func agentsPerNode(scenario: String) throws {
        let inputs = Self.inputs(scenario)
        let direct = try Self.direct(inputs)
        var rows: [FlowRow] = []
        for (index, input) in inputs.enumerated() {
            rows += try Self.rows([input], node: input.node ?? "", run: 1_000 + UInt64(index))
        }
        #expect(Set(rows.map(\.node)) == Set(Lab.nodes(scenario)))
        #expect(try Self.traced(Self.throughText(rows)) == direct)
    }

    @Test("a row of another version or kind is refused with a reason")
    func malformed() throws {
        let point = CapturePoint(name: "eth0", node: "node-a")
        let icmp = ICMPErrorEvent(
            capturePoint: 0,
            time: 1,
            sender: IPAddress(10, 0, 0, 1),
            destination: IPAddress(10, 0, 0, 2),
            type: 3,
            code: 3,
            isV6: false,
            quotedSource: FlowEndpoint(address: IPAddress(10, 0, 0, 2), port: 5),
            quotedDestination: FlowEndpoint(address: IPAddress(10, 0, 0, 3), port: 80),
            quotedProtocol: .tcp,
            quotedTCPSequence: 9
        )
        let row = try #require(FlowRow(.icmpError(icmp), point: point, seq: 0, emitted: 1))
        #expect(row.clientISN == 9 && row.client == "10.0.0.2" && row.serverPort == 80 && row.kind == "icmp")
        // Text that JSON must escape survives the agent's line.
        var hostile = row
        hostile.node = "a\"b\\c\n\u{1}\u{7f}é/💥"
        hostile.point = "\t"
        #expect(try Self.throughText([hostile]) == [hostile])
        var other = row
        other.version = 3
        #expect(throws: FlowRow.Malformed.self) { try other.flowEvent(capturePoint: 0) }
        other = row
        other.kind = "segment"
        #expect(throws: FlowRow.Malformed.self) { try other.flowEvent(capturePoint: 0) }
        other = row
        other.event = "{\"time\":1}"
        #expect(throws: FlowRow.Malformed.self) { try other.flowEvent(capturePoint: 0) }
    }
}
