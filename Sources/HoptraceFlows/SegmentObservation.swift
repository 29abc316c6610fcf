import HoptraceCapture
import HoptraceDecode

/// One TCP segment as seen at one capture point, with its sequence numbers made relative to the connection's ISNs:
/// what correlation groups across capture points, since NAT rewrites addresses and ports but never sequence numbers.
///
/// Emitted (as ``FlowEvent/segment(_:)``) only when ``FlowConfiguration/emitSegments`` is on, right after the segment
/// was processed. Holds no references: emitting one does not allocate.
public struct SegmentObservation: Hashable, Sendable {
    /// The ``ConnectionRecord/id`` of the connection at this capture point.
    public var connectionID: UInt64
    /// The capture point (index into the caller's ``CapturePointTable``).
    public var capturePoint: Int
    /// Capture time, nanoseconds since the Unix epoch.
    public var time: Int64
    /// The direction the capture point recorded, if any.
    public var direction: PacketDirection
    /// Source as seen here.
    public var source: FlowEndpoint
    /// Destination as seen here.
    public var destination: FlowEndpoint
    /// Whether the originator (client) sent it.
    public var fromOriginator: Bool
    /// Sequence number relative to the sender's ISN (0 for the SYN; see ``StreamMark/offset``).
    public var relativeSeq: UInt64
    /// Acknowledgment number relative to the other side's ISN, when ACK is set and that side was seen.
    public var relativeAck: UInt64?
    /// The raw sequence number.
    public var seq: UInt32
    /// The raw acknowledgment number.
    public var ack: UInt32
    /// Payload length on the wire.
    public var length: Int
    /// TCP flags.
    public var flags: TCPFlags
    /// IPv4 identification (or IPv6 fragment id; 0 when none).
    public var ipID: UInt32
    /// FNV-1a 64 of the first ``SegmentObservation/hashedBytes`` captured payload bytes (0 when there are none).
    public var payloadHash: UInt64
    /// How the segment relates to its stream (retransmission, out of order, ...).
    public var kind: SegmentKind

    /// How many payload bytes the hash covers at most.
    public static let hashedBytes = 256

    /// FNV-1a 64 over at most ``hashedBytes`` bytes.
    @inlinable
    package static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        if bytes.isEmpty { return 0 }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for index in 0..<min(bytes.count, hashedBytes) {
            hash = (hash ^ UInt64(bytes[index])) &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
