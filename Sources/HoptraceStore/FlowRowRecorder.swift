import HoptraceCapture
import HoptraceDecode
import HoptraceFlows

/// Turns one flow stage's records into rows, as an agent run does: numbered in emission order, stamped with the
/// capture time reached and with their capture point (its node, else the agent's).
public final class FlowRowRecorder {
    /// The agent's node (for capture points without one).
    public let node: String
    /// The run's id (its start time, ns).
    public let run: UInt64
    /// The flow stage's capture points.
    public let points: CapturePointTable
    /// Rows made so far.
    public private(set) var seq: UInt64 = 0
    /// The capture time reached (the latest packet time seen), ns.
    public private(set) var reached: Int64 = 0

    /// A recorder for the flow stage numbering its capture points in `points`.
    public init(node: String, run: UInt64, points: CapturePointTable) {
        self.node = node
        self.run = run
        self.points = points
    }

    /// Notes a packet's time, before the flow stage analyses the packet.
    public func note(time: Int64) {
        if time > self.reached { self.reached = time }
    }

    /// The row of `event`, or nil for a record that is not stored (segments).
    public func row(_ event: FlowEvent) -> FlowRow? {
        let id = Self.capturePointID(of: event)
        let point = id >= 0 && id < self.points.points.count ? self.points[id] : CapturePoint(name: "if?\(id)")
        guard let row = FlowRow(event, point: point, node: self.node, run: self.run, seq: self.seq, emitted: reached)
        else { return nil }
        self.seq += 1
        return row
    }

    /// The clock row for capture time `time` (the flow stage's clock, as it tells the correlator).
    public func clock(_ time: Int64) -> FlowRow {
        let row = FlowRow(clock: time, node: self.node, run: self.run, seq: self.seq)
        self.seq += 1
        return row
    }

    /// Reads capture files through the flow stage (configured by the caller: the correlator's settings) and hands
    /// each record's row to `sink`, as an agent would have written them.
    ///
    /// - Parameters:
    ///   - inputs: the files (of one node for one agent's rows; of several nodes for one reader of them all).
    ///   - pipeline: the flow stage's reader (interface names, configuration, filter).
    ///   - node: the node of capture points without one.
    ///   - run: the run id.
    ///   - sink: receives each row.
    /// - Returns: the flow stage's run.
    public static func record(
        inputs: [CaptureFileSpec],
        pipeline: FlowPipeline,
        node: String,
        run: UInt64,
        sink: @escaping (FlowRow) -> Void
    ) throws -> FlowPipeline.Result {
        let points = CapturePointTable()
        let recorder = FlowRowRecorder(node: node, run: run, points: points)
        let result = try pipeline.run(
            inputs: inputs,
            tap: { decoded, _ in recorder.note(time: decoded.timestamp) },
            capturePoints: points,
            clock: { time in sink(recorder.clock(time)) },
            sink: { event in
                if let row = recorder.row(event) { sink(row) }
            }
        )
        return result
    }

    /// The capture point id of a record.
    package static func capturePointID(of event: FlowEvent) -> Int {
        switch event {
        case .opened(let record), .connection(let record): return record.capturePoint
        case .http(let exchange): return exchange.capturePoint
        case .dns(let transaction): return transaction.capturePoint
        case .icmpError(let error): return error.capturePoint
        case .segment(let segment): return segment.capturePoint
        }
    }
}
