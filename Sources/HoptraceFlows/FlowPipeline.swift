import HoptraceCapture
import HoptraceDecode

/// Reads capture files through decode into a ``FlowAnalyzer``: the loop `flows`, `requests` and `trace` share.
public struct FlowPipeline {
    /// What a run read and where it stopped.
    public struct Result {
        /// Capture point names by id.
        public var capturePoints: [String]
        /// The flow stage's counters.
        public var flowStatistics: FlowStatistics
        /// Packets read from the files.
        public var packets: Int
        /// Time of the last packet read (ns since the epoch), 0 when none.
        public var lastTime: Int64
        /// The fault that stopped reading early (a truncated or corrupt file), after every packet before it was
        /// analysed and every open flow emitted.
        public var error: CaptureError?
        /// Packets the readers skipped because their time cannot be placed (after 2262, before 1677), and records
        /// whose sub-second field was out of range; worth a warning when not empty.
        public var timestampAnomalies = TimestampAnomalies()
        /// How often a packet's interface was past ``CapturePointTable/maxPoints`` and counted at a node's
        /// ``CapturePointTable/otherInterfaces`` point (0: never).
        public var capturePointsOverflowed = 0

        /// One line for each thing the reading counted rather than kept as it was, for standard error: packets whose
        /// time cannot be placed, sub-second fields out of range, interfaces past the cap on capture points.
        public var readingNotes: [String] {
            var notes: [String] = []
            let anomalies = self.timestampAnomalies
            let skipped = anomalies.unplaceablePackets
            if skipped > 0 {
                notes.append(
                    (skipped == 1
                        ? "1 packet skipped: its time does not" : "\(skipped) packets skipped: their time does not")
                        + " fit 64-bit nanoseconds (before 1677 or after 2262; a corrupt timestamp, if_tsresol or "
                        + "if_tsoffset)"
                )
            }
            let carried = anomalies.fractionOutOfRange
            if carried > 0 {
                notes.append(
                    (carried == 1 ? "1 packet" : "\(carried) packets")
                        + " with a sub-second time field out of range (a corrupt record): the excess was carried into "
                        + "the seconds"
                )
            }
            if self.capturePointsOverflowed > 0 {
                notes.append(
                    "more than \(CapturePointTable.maxPoints) capture points (interfaces): the packets of each "
                        + "interface past them are counted at one point per node, \"\(CapturePointTable.otherInterfaces)\""
                )
            }
            return notes
        }
    }

    /// SLL2 interface indexes to names (from `ip link` of the captured node, or the lab's truth file).
    public var ifIndexNames: [Int32: String]
    /// Per node, its SLL2 interface index names, when several nodes' captures are read (`--links node-a=FILE`).
    public var nodeIfIndexNames: [String: [Int32: String]] = [:]
    /// Limits of the flow stage.
    public var configuration: FlowConfiguration
    /// A BPF filter (`-f`): packets it rejects are read but not analysed. It is compiled for the link types of the
    /// files' first interfaces before anything is read.
    public var filter: PacketFilter?
    /// Asked after each packet when set: true ends the reading there, as if the files ended (`-c`).
    public var shouldStop: (() -> Bool)?
    /// Called every ``progressInterval`` packets with the packets and bytes read so far (for a progress line).
    public var progress: ((_ packets: Int, _ bytes: UInt64) -> Void)?
    /// Packets between two ``progress`` calls (a power of two).
    public static let progressInterval = 1 << 16

    /// A pipeline naming SLL2 interface indexes with `ifIndexNames`.
    public init(
        ifIndexNames: [Int32: String] = [:],
        configuration: FlowConfiguration = .init(),
        filter: PacketFilter? = nil
    ) {
        self.ifIndexNames = ifIndexNames
        self.configuration = configuration
        self.filter = filter
    }

    /// Opens every file (failing before anything is read when one cannot be opened, or when the filter cannot be
    /// compiled for a file's link type), merges them by time, and analyses every packet that passes the filter.
    ///
    /// - Parameters:
    ///   - paths: pcap or pcapng files.
    ///   - tap: sees each decoded packet and its capture point id before the analyzer does (borrowed: do not keep
    ///     the packet).
    ///   - sink: receives the flow records as they complete.
    public func run(
        paths: [String],
        tap: ((borrowing DecodedPacket, Int) -> Void)? = nil,
        sink: @escaping (FlowEvent) -> Void
    ) throws(CaptureError) -> Result {
        try self.run(paths: paths, tap: tap, capturePoints: CapturePointTable(), sink: sink)
    }

    /// ``run(paths:tap:sink:)`` with the caller's capture point table, to read names while records arrive.
    ///
    /// - Parameter clock: called with the capture time reached, after the packet that reached it was analysed,
    ///   at most once per second of capture time (for stages downstream that act on time, such as correlation).
    public func run(
        paths: [String],
        tap: ((borrowing DecodedPacket, Int) -> Void)? = nil,
        capturePoints: CapturePointTable,
        clock: ((Int64) -> Void)? = nil,
        sink: @escaping (FlowEvent) -> Void
    ) throws(CaptureError) -> Result {
        try self.run(
            inputs: paths.map { CaptureFileSpec(path: $0) },
            tap: tap,
            capturePoints: capturePoints,
            clock: clock,
            sink: sink
        )
    }

    /// ``run(paths:tap:capturePoints:clock:sink:)`` over files of one or several nodes (see ``CaptureSet`` for how
    /// each file's node is found).
    public func run(
        inputs: [CaptureFileSpec],
        tap: ((borrowing DecodedPacket, Int) -> Void)? = nil,
        capturePoints: CapturePointTable,
        clock: ((Int64) -> Void)? = nil,
        sink: @escaping (FlowEvent) -> Void
    ) throws(CaptureError) -> Result {
        let opened = try CaptureSet.open(inputs)
        if let filter {
            for interface in opened.source.interfaces { try filter.prepare(for: interface.linkType) }
        }
        return try self.run(source: opened.source, tap: tap, capturePoints: capturePoints, clock: clock, sink: sink)
    }

    /// ``run(inputs:tap:capturePoints:clock:sink:)`` over a source already open (a live capture; ``filter``, when
    /// set, must be prepared for the source's link types).
    public func run(
        source: any PacketSource,
        tap: ((borrowing DecodedPacket, Int) -> Void)? = nil,
        capturePoints: CapturePointTable,
        clock: ((Int64) -> Void)? = nil,
        sink: @escaping (FlowEvent) -> Void
    ) throws(CaptureError) -> Result {
        var source = source
        if let shouldStop { source = StoppingSource(source, shouldStop: shouldStop) }
        let filter = self.filter
        let decoder = PacketDecoder()
        let points = capturePoints
        if !ifIndexNames.isEmpty { points.setIfIndexNames(ifIndexNames) }
        for (node, names) in nodeIfIndexNames.sorted(by: { $0.key < $1.key }) {
            points.setIfIndexNames(names, node: node)
        }
        let analyzer = FlowAnalyzer(configuration: configuration, sink: sink)
        var counts = PacketLoopCounts()
        var failure: CaptureError?
        var nextTick = Int64.min
        let progress = self.progress
        var read = 0
        do {
            if tap != nil || clock != nil || progress != nil {
                try decoder.decodePackets(from: source, capturePoints: points, counts: &counts, filter: filter) {
                    decoded,
                    point in
                    tap?(decoded, point)
                    analyzer.process(decoded, capturePoint: point)
                    let time = decoded.timestamp
                    if let clock, time >= nextTick {
                        nextTick = time &+ 1_000_000_000
                        clock(time)
                    }
                    if let progress {
                        read &+= 1
                        if read & (Self.progressInterval - 1) == 0 { progress(read, source.bytesRead) }
                    }
                }
            } else {
                try decoder.decodePackets(from: source, capturePoints: points, counts: &counts, filter: filter) {
                    decoded,
                    point in
                    analyzer.process(decoded, capturePoint: point)
                }
            }
        } catch {
            failure = error
        }
        let packets = counts.packets
        let lastTime = counts.lastTime
        analyzer.finish()
        return Result(
            capturePoints: points.names,
            flowStatistics: analyzer.statistics,
            packets: packets,
            lastTime: lastTime,
            error: failure,
            timestampAnomalies: source.timestampAnomalies,
            capturePointsOverflowed: points.overflowed
        )
    }
}

/// A source that ends early: `next()` returns nil once `shouldStop` says so (asked before each packet).
final class StoppingSource: PacketSource {
    private let source: any PacketSource
    private let shouldStop: () -> Bool

    init(_ source: any PacketSource, shouldStop: @escaping () -> Bool) {
        self.source = source
        self.shouldStop = shouldStop
    }

    var interfaces: [InterfaceDescription] { self.source.interfaces }

    func next() throws(CaptureError) -> Packet? {
        self.shouldStop() ? nil : try self.source.next()
    }

    var timestampAnomalies: TimestampAnomalies { self.source.timestampAnomalies }
    var bytesRead: UInt64 { self.source.bytesRead }
}
