import HoptraceCorrelate
import HoptraceDecode
import HoptraceFlows

/// Rows of one or several agent runs turned back into the flow stage's output: its records and its clock, in
/// emission order, capture points numbered in order of first appearance, connection ids made unique across runs
/// (each run numbers its connections from 0). ``trace(options:directory:emit:)`` feeds them to the correlator as
/// `Correlator.trace(inputs:)` feeds it while reading the files.
public struct StoredFlows {
    /// One step of the flow stage's output.
    public enum Item: Hashable, Sendable {
        /// A record.
        case event(FlowEvent)
        /// The capture time reached (ns).
        case clock(Int64)
    }

    /// The records and clock steps, in the order the flow stage emitted them (across runs: by emission time).
    public var items: [Item]
    /// The capture points by id (``FlowEvent``s' `capturePoint`).
    public var capturePoints: [CapturePoint]

    /// The records alone, in order.
    public var events: [FlowEvent] {
        self.items.compactMap { item in
            if case .event(let event) = item { return event }
            return nil
        }
    }

    /// Orders and decodes `rows` (in any order, as a store returns them).
    ///
    /// - Throws: ``FlowRow/Malformed`` for a row that does not decode.
    public init(rows: [FlowRow]) throws(FlowRow.Malformed) {
        let ordered = rows.sorted { a, b in
            (a.emitted, a.run, a.seq, a.node) < (b.emitted, b.run, b.seq, b.node)
        }
        var pointIDs: [CapturePoint: Int] = [:]
        var points: [CapturePoint] = []
        var connectionIDs: [ConnectionKey: UInt64] = [:]
        var items: [Item] = []
        items.reserveCapacity(ordered.count)
        func connection(_ id: UInt64, of row: FlowRow) -> UInt64 {
            let key = ConnectionKey(node: row.node, run: row.run, id: id)
            if let known = connectionIDs[key] { return known }
            let new = UInt64(connectionIDs.count)
            connectionIDs[key] = new
            return new
        }
        for row in ordered {
            if row.kind == FlowRow.Kind.clock.rawValue {
                _ = try row.flowEvent(capturePoint: 0)  // Its version checked.
                items.append(.clock(Int64(clamping: row.time)))
                continue
            }
            let point = row.capturePoint
            let pointID: Int
            if let known = pointIDs[point] {
                pointID = known
            } else {
                pointID = points.count
                pointIDs[point] = pointID
                points.append(point)
            }
            switch try row.flowEvent(capturePoint: pointID) {
            case .opened(var record):
                record.id = connection(record.id, of: row)
                items.append(.event(.opened(record)))
            case .connection(var record):
                record.id = connection(record.id, of: row)
                items.append(.event(.connection(record)))
            case .http(var exchange):
                exchange.connectionID = connection(exchange.connectionID, of: row)
                items.append(.event(.http(exchange)))
            case .dns(var transaction):
                transaction.connectionID = transaction.connectionID.map { connection($0, of: row) }
                items.append(.event(.dns(transaction)))
            case .icmpError(var error):
                error.connectionID = error.connectionID.map { connection($0, of: row) }
                items.append(.event(.icmpError(error)))
            case .segment(let segment):
                items.append(.event(.segment(segment)))
            case nil:
                break
            }
        }
        self.items = items
        self.capturePoints = points
    }

    /// Stitches and judges every request, handing the traces to `emit` as they become final (in start order,
    /// indexed), as `Correlator.trace(inputs:)` does reading the files the rows were made from.
    ///
    /// - Returns: correlation's counters.
    @discardableResult
    public func trace(
        options: CorrelateOptions = .init(),
        directory: ClusterDirectory = ClusterDirectory(),
        emit: ([RequestTrace]) -> Void
    ) -> CorrelateStatistics {
        let points = self.capturePoints
        let engine = TraceEngine(options: options, directory: directory) { id in
            id >= 0 && id < points.count ? points[id] : CapturePoint(name: "if?\(id)")
        }
        for item in self.items {
            switch item {
            case .event(let event):
                engine.take(event)
                if engine.isOverfull { emit(engine.releaseOverflow()) }
            case .clock(let time):
                let ready = engine.advance(to: time)
                if !ready.isEmpty { emit(ready) }
            }
        }
        engine.finish(emit)
        return engine.statistics
    }

    private struct ConnectionKey: Hashable {
        var node: String
        var run: UInt64
        var id: UInt64
    }
}
