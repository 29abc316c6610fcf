import HoptraceDecode

/// One end of a transport connection as seen at a capture point: address and port.
public struct FlowEndpoint: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The IP address.
    public var address: IPAddress
    /// The TCP or UDP port.
    public var port: UInt16

    /// Makes an endpoint.
    @inlinable
    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// Orders by address, then port.
    public static func < (lhs: FlowEndpoint, rhs: FlowEndpoint) -> Bool {
        lhs.address == rhs.address ? lhs.port < rhs.port : lhs.address < rhs.address
    }

    /// "10.0.0.1:80" or "[fe80::1]:80".
    public var description: String {
        var text = self.address.isIPv4 ? self.address.description : "[" + self.address.description + "]"
        text += ":"
        text += String(self.port)
        return text
    }
}

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
