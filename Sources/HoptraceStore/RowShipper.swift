import Foundation

/// Carries an agent's rows to the store without losing any silently: rows are batched (by count and by time),
/// batches wait in a bounded in-memory queue for the one sender thread; while the store cannot take them they go to
/// a spool directory (capped in bytes), replayed oldest first when it is back (and by the next run, if this one
/// ends first). A batch that fits neither the queue nor the spool is dropped, and its rows counted.
public final class RowShipper: @unchecked Sendable {
    /// Limits.
    public struct Options: Sendable {
        /// Rows per insert, at most.
        public var batchRows = 10_000
        /// Seconds a batch may wait for more rows before it is sent.
        public var batchInterval = 1.0
        /// Rows the in-memory queue holds, at most.
        public var queueRows = 100_000
        /// The spool directory, nil for none (rows past the queue are then dropped while the store is away).
        public var spoolDirectory: String?
        /// Bytes the spool holds, at most.
        public var spoolMaxBytes = 1 << 30
        /// Seconds between attempts while the store is away.
        public var retryInterval = 1.0
        /// Whether a full queue makes ``add(_:)`` wait while the store is up, instead of spooling or dropping: for a
        /// replay, which reads a file faster than a store inserts (nothing is lost for being fast). While the store
        /// is away, batches go to the spool (or are dropped) as in a live capture, which cannot wait.
        public var waitForRoom = false

        /// The defaults.
        public init() {}
    }

    /// What happened to the rows so far.
    public struct Counters: Sendable, Equatable {
        /// Rows handed to ``add(_:)``.
        public var made = 0
        /// Rows the store took.
        public var sent = 0
        /// Rows dropped: neither the queue nor the spool had room.
        public var dropped = 0
        /// Rows written to the spool (in all).
        public var spooled = 0
        /// Rows in the spool now.
        public var spoolRows = 0
        /// Bytes in the spool now.
        public var spoolBytes = 0
        /// Rows in the queue now.
        public var queuedRows = 0
        /// Inserts that failed.
        public var failures = 0

        /// All zero.
        public init() {}
    }

    private struct Batch {
        var body: [UInt8]
        var rows: Int
    }

    private struct SpoolFile {
        var path: String
        var rows: Int
        var bytes: Int
    }

    private let store: ClickHouseStore
    private let options: Options
    private let log: @Sendable (String) -> Void
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var queue: [Batch] = []
    private var spool: [SpoolFile] = []
    private var nextSpool = 0
    private var counters = Counters()
    private var stopping = false
    private var deadline = Date.distantFuture
    private var down = false
    private var senderDone = false
    // The producer's own (one thread adds rows).
    private var current: [UInt8] = []
    private var currentRows = 0
    private var currentStart = Date()

    /// A shipper to `store`; rows left in the spool directory by an earlier run are queued first.
    ///
    /// - Parameter log: receives one line at each change (store away, back, rows dropped).
    public init(store: ClickHouseStore, options: Options, log: @escaping @Sendable (String) -> Void) throws(StoreError)
    {
        self.store = store
        self.options = options
        self.log = log
        if let directory = options.spoolDirectory {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                let names = try FileManager.default.contentsOfDirectory(atPath: directory)
                    .filter { $0.hasSuffix(".jsonl") }.sorted()
                for name in names {
                    let path = directory + "/" + name
                    let data = try Data(contentsOf: URL(fileURLWithPath: path))
                    let rows = data.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
                    spool.append(SpoolFile(path: path, rows: rows, bytes: data.count))
                    counters.spoolRows += rows
                    counters.spoolBytes += data.count
                    nextSpool = max(nextSpool, (Int(name.dropLast(".jsonl".count)) ?? 0) + 1)
                }
            } catch {
                throw StoreError(
                    "spool directory \(directory): \(error.localizedDescription): choose a writable --spool"
                )
            }
            if !spool.isEmpty {
                log("\(counters.spoolRows) rows spooled by an earlier run: sending them first")
            }
        }
    }

    /// Starts the sender thread.
    public func start() {
        let thread = Thread { [self] in self.send() }
        thread.name = "hoptrace-shipper"
        thread.start()
    }

    /// Adds a row (from one producer thread); a full batch, or one older than the batch interval, is queued.
    public func add(_ row: FlowRow) {
        if currentRows == 0 { currentStart = Date() }
        row.appendJSONLine(to: &current)
        currentRows += 1
        if currentRows >= options.batchRows { flush() } else { tick() }
    }

    /// Queues the batch in progress if it is older than the batch interval (call it when idle, too).
    public func tick() {
        if currentRows > 0, Date().timeIntervalSince(currentStart) >= options.batchInterval { flush() }
    }

    /// Queues the batch in progress.
    public func flush() {
        guard currentRows > 0 else { return }
        let batch = Batch(body: current, rows: currentRows)
        current = []
        currentRows = 0
        condition.lock()
        counters.made += batch.rows
        if options.waitForRoom {
            // Until the sender makes room (a batch larger than the queue goes in alone), or the store goes away.
            while !down, !senderDone, counters.queuedRows > 0, counters.queuedRows + batch.rows > options.queueRows {
                condition.wait()
            }
        }
        let room = counters.queuedRows + batch.rows <= options.queueRows
        if (down && options.spoolDirectory != nil) || !room {
            // The store is away (or slower than the capture): to the spool, in order behind what is there.
            spill(batch)
        } else {
            queue.append(batch)
            counters.queuedRows += batch.rows
        }
        condition.signal()
        condition.unlock()
    }

    /// Rows in the batch being built, not yet counted in ``Counters/made`` (read it on the thread that adds rows).
    public var building: Int { currentRows }

    /// The counters now.
    public var snapshot: Counters {
        condition.lock()
        defer { condition.unlock() }
        return counters
    }

    /// Queues the last batch, waits until the store has everything or `drainTimeout` seconds passed, and stops the
    /// sender. Rows still queued then are spooled (the next run sends them), or counted dropped without a spool.
    public func finish(drainTimeout: Double) -> Counters {
        flush()
        condition.lock()
        stopping = true
        deadline = Date().addingTimeInterval(drainTimeout)
        condition.broadcast()
        while !senderDone { condition.wait() }
        for batch in queue { spill(batch) }
        queue = []
        counters.queuedRows = 0
        let result = counters
        condition.unlock()
        return result
    }

    /// Must hold the lock.
    private func spill(_ batch: Batch) {
        guard let directory = options.spoolDirectory, counters.spoolBytes + batch.body.count <= options.spoolMaxBytes
        else {
            counters.dropped += batch.rows
            let reason = options.spoolDirectory == nil ? "no --spool" : "spool full (\(counters.spoolBytes) bytes)"
            log("store away and \(reason): dropped \(batch.rows) rows (\(counters.dropped) in all)")
            return
        }
        let path = directory + "/" + String(format: "%016d", nextSpool) + ".jsonl"
        nextSpool += 1
        guard FileManager.default.createFile(atPath: path, contents: Data(batch.body)) else {
            counters.dropped += batch.rows
            log("cannot write \(path): dropped \(batch.rows) rows (\(counters.dropped) in all)")
            return
        }
        spool.append(SpoolFile(path: path, rows: batch.rows, bytes: batch.body.count))
        counters.spooled += batch.rows
        counters.spoolRows += batch.rows
        counters.spoolBytes += batch.body.count
    }

    /// The sender thread: the spool first (oldest file first), then the queue; on failure, everything queued goes to
    /// the spool and the store is tried again after the retry interval.
    private func send() {
        condition.lock()
        while true {
            while !stopping && queue.isEmpty && spool.isEmpty { condition.wait() }
            if queue.isEmpty && spool.isEmpty { break }
            if stopping && Date() >= deadline { break }
            var body: [UInt8]
            let rows: Int
            let file = spool.first
            if let file {
                condition.unlock()
                let data = FileManager.default.contents(atPath: file.path)
                condition.lock()
                guard let data else {
                    spool.removeFirst()
                    counters.spoolRows -= file.rows
                    counters.spoolBytes -= file.bytes
                    counters.dropped += file.rows
                    log("spool file \(file.path) vanished: \(file.rows) rows lost")
                    continue
                }
                body = [UInt8](data)
                rows = file.rows
            } else {
                let batch = queue.removeFirst()
                counters.queuedRows -= batch.rows
                body = batch.body
                rows = batch.rows
            }
            condition.unlock()
            var failure: StoreError?
            do {
                try store.insert(body: body, table: "flows")
            } catch {
                failure = error
            }
            condition.lock()
            if let failure {
                counters.failures += 1
                if !down {
                    down = true
                    log("\(failure.description); keeping the rows until it is back")
                    condition.broadcast()  // a producer waiting for room spools instead
                }
                if file == nil {
                    let batch = Batch(body: body, rows: rows)
                    if options.spoolDirectory != nil {
                        spill(batch)
                    } else {
                        // No spool: the batch waits at the head of the queue (the queue's cap applies to new ones).
                        queue.insert(batch, at: 0)
                        counters.queuedRows += rows
                    }
                }
                if options.spoolDirectory != nil {
                    for batch in queue { spill(batch) }
                    queue = []
                    counters.queuedRows = 0
                }
                _ = condition.wait(until: min(deadline, Date().addingTimeInterval(options.retryInterval)))
                continue
            }
            if down {
                down = false
                log("store back: sending \(counters.spoolRows) spooled rows")
            }
            counters.sent += rows
            // A producer may wait for room (``Options/waitForRoom``).
            condition.broadcast()
            if let file {
                try? FileManager.default.removeItem(atPath: file.path)
                spool.removeFirst()
                counters.spoolRows -= file.rows
                counters.spoolBytes -= file.bytes
            }
        }
        senderDone = true
        condition.broadcast()
        condition.unlock()
    }
}
