import Dispatch
import Foundation

/// One row of an agent's counters in the `agent_stats` table: taken every `--stats-interval` while it runs
/// (``periodic``) and once at its end. Counts are since the run started, so they never decrease within a run; queue
/// and spool are what they hold at that moment.
public struct AgentStats: Sendable, Equatable {
    /// When the row was taken (wall clock, ns since the epoch).
    public var time: UInt64
    /// The node.
    public var node: String
    /// The agent run (its start, ns), as in its flow rows.
    public var run: UInt64
    /// Whether this is a periodic row (false: the row of the run's end).
    public var periodic: Bool
    /// The capture time reached: the newest packet's time (ns), 0 before the first.
    public var captureTime: UInt64
    /// Packets read.
    public var packets: Int
    /// Packets libpcap reported dropped by the kernel (live capture; 0 for files).
    public var kernelDrops: UInt64
    /// Rows made (handed to the shipper in batches).
    public var rowsMade: Int
    /// Rows the store took.
    public var rowsSent: Int
    /// Rows dropped: neither the queue nor the spool had room.
    public var rowsDropped: Int
    /// Bytes in the spool.
    public var spoolBytes: Int
    /// Rows waiting in the in-memory queue.
    public var queueRows: Int

    /// A row of these counters.
    public init(
        time: UInt64,
        node: String,
        run: UInt64,
        periodic: Bool,
        captureTime: UInt64,
        packets: Int,
        kernelDrops: UInt64,
        counters: RowShipper.Counters
    ) {
        self.time = time
        self.node = node
        self.run = run
        self.periodic = periodic
        self.captureTime = captureTime
        self.packets = packets
        self.kernelDrops = kernelDrops
        self.rowsMade = counters.made
        self.rowsSent = counters.sent
        self.rowsDropped = counters.dropped
        self.spoolBytes = counters.spoolBytes
        self.queueRows = counters.queuedRows
    }

    /// The row as one `JSONEachRow` line (newline included), the table's column names as keys.
    public var jsonLine: [UInt8] {
        struct Row: Encodable {
            var time: UInt64
            var node: String
            var run: UInt64
            var periodic: UInt8
            var capture_time: UInt64
            var packets: Int
            var kernel_drops: UInt64
            var rows_made: Int
            var rows_sent: Int
            var rows_dropped: Int
            var spool_bytes: Int
            var queue_rows: Int
        }
        let row = Row(
            time: time,
            node: node,
            run: run,
            periodic: periodic ? 1 : 0,
            capture_time: captureTime,
            packets: packets,
            kernel_drops: kernelDrops,
            rows_made: rowsMade,
            rows_sent: rowsSent,
            rows_dropped: rowsDropped,
            spool_bytes: spoolBytes,
            queue_rows: queueRows
        )
        return ((try? JSONEncoder().encode(row)).map(Array.init) ?? []) + [10]
    }
}

/// Sends ``AgentStats`` rows to the store from a queue of its own, so that the capturing thread never waits for
/// the store: rows that could not be sent (the store away) wait, up to ``maxWaiting`` (the oldest dropped past it),
/// and go with the next attempt.
public final class AgentStatsSender: @unchecked Sendable {
    // @unchecked: `waiting` and `inFlight` are guarded by `lock`; the store is a Sendable value.
    private let store: ClickHouseStore
    private let queue = DispatchQueue(label: "hoptrace-agent-stats")
    private let lock = NSLock()
    private var waiting: [AgentStats] = []
    private var inFlight = false
    /// Rows waiting at most.
    public let maxWaiting = 1_000

    /// A sender to `store`'s `agent_stats`.
    public init(store: ClickHouseStore) {
        self.store = store
    }

    /// Sends `row` (with any still waiting) in the background.
    public func send(_ row: AgentStats) {
        lock.lock()
        waiting.append(row)
        if waiting.count > maxWaiting { waiting.removeFirst(waiting.count - maxWaiting) }
        let start = !inFlight
        inFlight = true
        lock.unlock()
        if start { queue.async { self.flush() } }
    }

    /// Waits for the background sending, then sends `row` and every row still waiting; throws when the store does
    /// not take them.
    public func finish(_ row: AgentStats) throws(StoreError) {
        queue.sync {}
        lock.lock()
        waiting.append(row)
        let rows = waiting
        waiting = []
        lock.unlock()
        try store.insert(stats: rows)
    }

    private func flush() {
        lock.lock()
        let rows = waiting
        waiting = []
        lock.unlock()
        var failed = false
        do {
            try store.insert(stats: rows)
        } catch {
            failed = true
        }
        lock.lock()
        if failed { waiting = Array((rows + waiting).suffix(maxWaiting)) }
        // Rows added meanwhile go now; after a failure they wait for the next row's attempt.
        let again = !failed && !waiting.isEmpty
        inFlight = again
        lock.unlock()
        if again { queue.async { self.flush() } }
    }
}
