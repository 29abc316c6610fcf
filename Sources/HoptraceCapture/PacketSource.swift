/// Anything that yields packets in capture order: a live libpcap handle, a pcap or pcapng file, several of those
/// merged by timestamp.
public protocol PacketSource: AnyObject {
    /// The interfaces seen so far. Grows while a pcapng file is read (an Interface Description Block may appear
    /// between packets); an index, once given, never changes meaning.
    var interfaces: [InterfaceDescription] { get }

    /// The next packet, or `nil` at the end of the input.
    ///
    /// The returned packet's bytes are valid until the next call. A fault after some packets (a truncated file)
    /// is thrown only after every complete packet before it has been returned.
    func next() throws(CaptureError) -> Packet?

    /// Packets the source skipped or adjusted for their times (a file reader's count; zero for live sources).
    var timestampAnomalies: TimestampAnomalies { get }

    /// Bytes of input consumed so far (a file reader's position; zero for live sources), for progress reports.
    var bytesRead: UInt64 { get }
}

extension PacketSource {
    /// None: a source that cannot meet an odd time (a live capture) counts nothing.
    public var timestampAnomalies: TimestampAnomalies { TimestampAnomalies() }

    /// None: a source that is not a file reads no bytes of one.
    public var bytesRead: UInt64 { 0 }
}
