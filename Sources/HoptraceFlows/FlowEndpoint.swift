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
        if self.address.isIPv4 {
            // Written in place: the dotted quad (15 bytes at most), `:` and the port (5 digits at most).
            let port = self.port
            return String(unsafeUninitializedCapacity: 21) { out in
                guard let base = out.baseAddress else { return 0 }
                var at = self.address.writeIPv4Description(to: base)
                out[at] = UInt8(ascii: ":")
                at += 1
                var digits = 1
                var rest = port / 10
                while rest > 0 {
                    digits += 1
                    rest /= 10
                }
                var value = port
                for index in stride(from: at + digits - 1, through: at, by: -1) {
                    out[index] = UInt8(truncatingIfNeeded: 0x30 + value % 10)
                    value /= 10
                }
                return at + digits
            }
        }
        var text = "[" + self.address.description + "]"
        text += ":"
        text += String(self.port)
        return text
    }
}

extension FlowEndpoint: Codable {}
