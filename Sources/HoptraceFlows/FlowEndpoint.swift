import HoptraceCapture
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
            // Written in place: one small string, no appends.
            return String(unsafeUninitializedCapacity: Self.ipv4TextCapacity) { out in
                out.baseAddress.map { self.writeIPv4Description(to: $0) } ?? 0
            }
        }
        var text = "[" + self.address.description + "]"
        text += ":"
        text += String(self.port)
        return text
    }
}

extension FlowEndpoint {
    /// The most bytes ``writeIPv4Description(to:)`` writes: a dotted quad (15), `:` and a port (5).
    package static var ipv4TextCapacity: Int { 21 }

    /// Writes an IPv4 endpoint's `10.0.0.1:80` at `out` (room for ``ipv4TextCapacity`` bytes); returns the bytes
    /// written.
    package func writeIPv4Description(to out: UnsafeMutablePointer<UInt8>) -> Int {
        var written = self.address.writeIPv4Description(to: out)
        out[written] = UInt8(ascii: ":")
        written &+= 1
        return written &+ TimeFormat.writeDecimal(UInt64(self.port), to: out + written)
    }
}

extension FlowEndpoint: Codable {}
