import HoptraceCapture
import HoptraceStore

/// The agent's counters every `--stats-interval`: one line on standard error and one periodic `agent_stats` row
/// (sent in the background), timed by capture time for `-r` replays and by the wall clock for live capture; and the
/// row of the run's end.
final class AgentReporter {
    let node: String
    let run: UInt64
    /// Nanoseconds between two reports; 0: only the end's row.
    let interval: Int64
    let shipper: RowShipper
    let sender: AgentStatsSender
    /// The packets read, counted as they pass (set once the source is open).
    var counter: CountingSource?
    /// The kernel's drops so far (live capture), asked on the capturing thread.
    var kernelDrops: (() -> UInt64)?
    private var next: Int64?

    init(
        node: String,
        run: UInt64,
        interval: Int64,
        shipper: RowShipper,
        store: ClickHouseStore
    ) {
        self.node = node
        self.run = run
        self.interval = interval
        self.shipper = shipper
        self.sender = AgentStatsSender(store: store)
    }

    /// Reports when `now` (capture time, or the wall clock when live) is an interval past the last report (or past
    /// the first call).
    func tick(now: Int64) {
        guard interval > 0 else { return }
        guard let due = next else {
            next = now &+ interval
            return
        }
        guard now >= due else { return }
        next = now &+ interval
        // The batch being built counts as made and as waiting in memory (this is the thread that adds rows).
        var counters = shipper.snapshot
        counters.made += shipper.building
        counters.queuedRows += shipper.building
        let stats = row(periodic: true, counters: counters)
        printError(Self.line(stats, live: kernelDrops != nil))
        sender.send(stats)
    }

    /// The counters now, as a row.
    func row(periodic: Bool, counters: RowShipper.Counters) -> AgentStats {
        AgentStats(
            time: UInt64(clamping: wallClockNanoseconds()),
            node: node,
            run: run,
            periodic: periodic,
            captureTime: UInt64(clamping: counter?.newest ?? 0),
            packets: counter?.packets ?? 0,
            kernelDrops: kernelDrops?() ?? 0,
            counters: counters
        )
    }

    /// The periodic line: `hoptrace agent NODE: 5120 packets (0 dropped by the kernel), 310 rows made, 300 sent,
    /// 0 dropped, 10 queued, 0 bytes in the spool`.
    static func line(_ stats: AgentStats, live: Bool) -> String {
        "hoptrace agent \(stats.node): \(stats.packets) packets"
            + (live ? " (\(stats.kernelDrops) dropped by the kernel)" : "")
            + ", \(stats.rowsMade) rows made, \(stats.rowsSent) sent, \(stats.rowsDropped) dropped, "
            + "\(stats.queueRows) queued, \(stats.spoolBytes) bytes in the spool"
    }
}

/// A source that counts the packets it yields and keeps the newest one's time.
final class CountingSource: PacketSource {
    private let base: any PacketSource
    /// Packets yielded.
    private(set) var packets = 0
    /// The newest packet's time (ns), 0 before the first.
    private(set) var newest: Int64 = 0

    init(_ base: any PacketSource) {
        self.base = base
    }

    var interfaces: [InterfaceDescription] { base.interfaces }

    func next() throws(CaptureError) -> Packet? {
        guard let packet = try base.next() else { return nil }
        packets &+= 1
        if packet.timestamp > newest { newest = packet.timestamp }
        return packet
    }

    var timestampAnomalies: TimestampAnomalies { base.timestampAnomalies }
    var bytesRead: UInt64 { base.bytesRead }
}
