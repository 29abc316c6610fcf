/// A point in one direction of a TCP stream: a relative sequence number and the time the segment carrying it was
/// captured.
public struct StreamMark: Hashable, Sendable {
    /// Sequence number relative to the sender's initial sequence number (the first data byte is 1). When the SYN was
    /// not seen, relative to the first sequence number seen minus one (``ConnectionRecord/originatorISN`` is then
    /// nil).
    public var offset: UInt64
    /// Capture time, nanoseconds since the Unix epoch.
    public var time: Int64

    /// Makes a mark.
    public init(offset: UInt64, time: Int64) {
        self.offset = offset
        self.time = time
    }
}

extension StreamMark: Codable {}
