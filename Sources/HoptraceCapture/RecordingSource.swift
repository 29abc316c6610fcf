/// A source that also writes every packet it yields into a ``RotatingRecorder`` (a tee): the agent's local ring of
/// the node's packets, kept while the packets are analysed.
///
/// Packets are written as they are read, before anything downstream sees them, so the ring holds what was read up to
/// the newest packet. A write error (a full disk) stops the recording, not the source: ``failure`` holds it and the
/// packets keep coming.
public final class RecordingSource: PacketSource {
    private let base: any PacketSource
    /// The files written.
    public let recorder: RotatingRecorder
    private let filter: PacketFilter?
    private let statistics: () -> [LiveSource.Statistics]
    /// The write error that stopped the recording, nil while it records.
    public private(set) var failure: CaptureError?
    /// Called once, on the reading thread, when a write error stops the recording.
    public var onFailure: ((CaptureError) -> Void)?

    /// Records the packets of `base` into `recorder`.
    ///
    /// - Parameters:
    ///   - filter: when given, only the packets it matches are recorded (all are still yielded); it must be prepared
    ///     for the source's link types.
    ///   - statistics: the capture's counters, written into each file as it is closed (none for files).
    public init(
        _ base: any PacketSource,
        recorder: RotatingRecorder,
        filter: PacketFilter? = nil,
        statistics: @escaping () -> [LiveSource.Statistics] = { [] }
    ) {
        self.base = base
        self.recorder = recorder
        self.filter = filter
        self.statistics = statistics
    }

    /// The base source's interfaces.
    public var interfaces: [InterfaceDescription] { base.interfaces }

    /// The base source's next packet, recorded first.
    public func next() throws(CaptureError) -> Packet? {
        guard let packet = try base.next() else { return nil }
        if failure == nil {
            do {
                if try filter?.matches(packet) ?? true {
                    try recorder.record(packet, from: base, statistics: statistics)
                }
            } catch {
                failure = error
                onFailure?(error)
            }
        }
        return packet
    }

    /// Closes the current file with the capture's statistics; a write error then, or the one that stopped the
    /// recording, is thrown.
    public func finish(start: Int64) throws(CaptureError) {
        do {
            try recorder.finish(statistics: statistics(), interfaces: base.interfaces, start: start)
        } catch {
            failure = failure ?? error
        }
        if let failure { throw failure }
    }

    /// The base source's count.
    public var timestampAnomalies: TimestampAnomalies { base.timestampAnomalies }
    /// The base source's bytes.
    public var bytesRead: UInt64 { base.bytesRead }
}
