/// A packet as a source yields it: metadata plus the captured bytes, borrowed.
///
/// `bytes` points into the source's own buffer and is valid only until the next call to
/// ``PacketSource/next()`` on the same source (or until the source is released). Decode it in place; copy only what
/// must outlive the call.
public struct Packet {
    /// Capture time in nanoseconds since the Unix epoch.
    public var timestamp: Int64
    /// Index into the source's ``PacketSource/interfaces``.
    public var interfaceID: Int
    /// Direction, when the source records it.
    public var direction: PacketDirection
    /// The link-layer header type of `bytes`.
    public var linkType: LinkType
    /// The packet's length on the wire; `bytes.count` is less when the snapshot length cut it.
    public var originalLength: Int
    /// The captured bytes, borrowed from the source.
    public var bytes: UnsafeRawBufferPointer

    @inlinable
    /// Creates a value with these fields.
    public init(
        timestamp: Int64,
        interfaceID: Int,
        direction: PacketDirection,
        linkType: LinkType,
        originalLength: Int,
        bytes: UnsafeRawBufferPointer
    ) {
        self.timestamp = timestamp
        self.interfaceID = interfaceID
        self.direction = direction
        self.linkType = linkType
        self.originalLength = originalLength
        self.bytes = bytes
    }
}
