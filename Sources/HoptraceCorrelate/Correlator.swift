import HoptraceCapture
import HoptraceDecode
import HoptraceFlows

/// Correlation in one call: capture files (or flow records) in, traced requests out.
public enum Correlator {
    /// What a run over files read, beside the traces.
    public struct Run {
        /// The flow stage's run: capture points, counters, where reading stopped.
        public var flows: FlowPipeline.Result
        /// Correlation's counters.
        public var statistics: CorrelateStatistics
    }

    /// The flow stage's cap on open connections when its records are correlated: the default of
    /// ``trace(inputs:ifIndexNames:nodeIfIndexNames:options:flows:directory:filter:progress:emit:)`` and of
    /// ``LiveTracer``, half the flow stage's own (``FlowConfiguration/maxConnections``).
    ///
    /// A connection held costs the flow stage's state (~1.5 KiB) and its group in the correlator (~2 KiB: its records,
    /// exchanges and index entries), so that at this cap `trace` holds less than twice what `requests` does at the
    /// flow stage's own (500,000 keep-alive connections opened one after the other, each answered once: 2.7x with
    /// 100,000 held, 1.7x with 50,000). The correlator's own cap (``CorrelateOptions/maxOpenConnections``) is the
    /// same: it holds a group for each connection the flow stage holds, and for those closed a few seconds ago. A busy
    /// node's capture holds far fewer at once (the benchmark's scale-1 capture: under 30,000 connections in the
    /// correlator).
    public static let correlatedConnections = 50_000

    /// The flow stage's defaults with its cap at ``correlatedConnections``.
    public static var correlatedFlows: FlowConfiguration {
        var configuration = FlowConfiguration()
        configuration.maxConnections = correlatedConnections
        return configuration
    }

    /// The flow stage's settings correlation needs: open connections announced, unanswered DNS queries given up
    /// after the resolver's timeout.
    public static func flowConfiguration(_ base: FlowConfiguration = .init()) -> FlowConfiguration {
        var configuration = base
        configuration.emitOpened = true
        // An unanswered query is given up after the resolver's own timeout (glibc's default 5 s), so that a lookup's
        // queries are all in when the connection it led to is tied to it.
        configuration.dnsTimeout = min(configuration.dnsTimeout, 5_000_000_000)
        return configuration
    }

    /// Reads the files, stitches and judges every request, and hands the traces to `emit` as they become final (in
    /// start order, indexed), with memory bounded by what is open.
    ///
    /// - Parameters:
    ///   - files: pcap or pcapng files (several are merged by time).
    ///   - ifIndexNames: names for SLL2 interface indexes.
    ///   - options: correlation settings.
    ///   - directory: the cluster directory (declared state; it learns from the capture as it goes).
    ///   - filter: a BPF filter on the files' packets (`-f`), nil for every packet.
    ///   - emit: receives each batch of final traces.
    public static func trace(
        files: [String],
        ifIndexNames: [Int32: String] = [:],
        options: CorrelateOptions = .init(),
        directory: ClusterDirectory = ClusterDirectory(),
        filter: PacketFilter? = nil,
        emit: @escaping ([RequestTrace]) -> Void
    ) throws(CaptureError) -> Run {
        try trace(
            inputs: files.map { CaptureFileSpec(path: $0) },
            ifIndexNames: ifIndexNames,
            options: options,
            directory: directory,
            filter: filter,
            emit: emit
        )
    }

    /// ``trace(files:ifIndexNames:options:directory:filter:emit:)`` over the captures of one or several nodes (see
    /// ``CaptureSet`` for how each file's node is found).
    ///
    /// - Parameters:
    ///   - nodeIfIndexNames: per node, names for its SLL2 interface indexes.
    ///   - progress: called every ``FlowPipeline/progressInterval`` packets with the packets and bytes read.
    ///   - flows: the flow stage's settings (its caps; ``correlatedFlows`` by default), adjusted by
    ///     ``flowConfiguration(_:)``.
    public static func trace(
        inputs: [CaptureFileSpec],
        ifIndexNames: [Int32: String] = [:],
        nodeIfIndexNames: [String: [Int32: String]] = [:],
        options: CorrelateOptions = .init(),
        flows: FlowConfiguration = correlatedFlows,
        directory: ClusterDirectory = ClusterDirectory(),
        filter: PacketFilter? = nil,
        progress: ((_ packets: Int, _ bytes: UInt64) -> Void)? = nil,
        emit: @escaping ([RequestTrace]) -> Void
    ) throws(CaptureError) -> Run {
        let points = CapturePointTable()
        let engine = TraceEngine(options: options, directory: directory) { id in
            id >= 0 && id < points.points.count ? points[id] : CapturePoint(name: "if?\(id)")
        }
        var configuration = flowConfiguration(flows)
        // Files: a connection with only its client's bare packets so far is taken at its final record (or once it
        // holds more), so its provisional records are not asked for.
        // Pieces with only the server's packets are taken at their final record too (``TraceEngine``'s
        // `isServerOnly`), and connections where neither side has sent payload, a FIN or a reset at the record that
        // carries more (``ConnectionRecord/isQuiet``).
        if options.liveness == nil {
            configuration.emitBareOpened = false
            configuration.emitServerOnlyOpened = false
            configuration.emitQuietOpened = false
        }
        var pipeline = FlowPipeline(ifIndexNames: ifIndexNames, configuration: configuration, filter: filter)
        pipeline.nodeIfIndexNames = nodeIfIndexNames
        pipeline.progress = progress
        let result = try pipeline.run(
            inputs: inputs,
            capturePoints: points,
            clock: { now in
                let ready = engine.advance(to: now)
                if !ready.isEmpty { emit(ready) }
            },
            sink: { event in
                engine.take(event)
                if engine.isOverfull { emit(engine.releaseOverflow()) }
            }
        )
        engine.finish(emit)
        return Run(flows: result, statistics: engine.statistics)
    }

    /// Traces a capture's flow records already in memory (every record of the capture, in the order the flow stage
    /// emitted them).
    public static func trace(
        _ events: [FlowEvent],
        capturePoints: [CapturePoint],
        options: CorrelateOptions = .init(),
        directory: ClusterDirectory = ClusterDirectory()
    ) -> [RequestTrace] {
        let engine = TraceEngine(options: options, directory: directory) { id in
            id >= 0 && id < capturePoints.count ? capturePoints[id] : CapturePoint(name: "if?\(id)")
        }
        for event in events { engine.take(event) }
        return engine.finish()
    }
}
