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

extension FlowEndpoint: Codable {}
