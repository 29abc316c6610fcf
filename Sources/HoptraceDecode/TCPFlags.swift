/// The TCP flags byte (RFC 9293; ECE and CWR from RFC 3168).
public struct TCPFlags: OptionSet, Hashable, Sendable, CustomStringConvertible {
    /// The flags byte (byte 13 of the TCP header).
    public var rawValue: UInt8

    /// Flags from the header byte.
    @inlinable
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// No more data from sender.
    public static let fin = TCPFlags(rawValue: 0x01)
    /// Synchronize sequence numbers.
    public static let syn = TCPFlags(rawValue: 0x02)
    /// Reset the connection.
    public static let rst = TCPFlags(rawValue: 0x04)
    /// Push.
    public static let psh = TCPFlags(rawValue: 0x08)
    /// The acknowledgment field is significant.
    public static let ack = TCPFlags(rawValue: 0x10)
    /// The urgent pointer is significant.
    public static let urg = TCPFlags(rawValue: 0x20)
    /// ECN echo.
    public static let ece = TCPFlags(rawValue: 0x40)
    /// Congestion window reduced.
    public static let cwr = TCPFlags(rawValue: 0x80)

    /// As tcpdump prints them: `S`, `S.`, `P.`, `F.`, `R`, `R.`, `none`.
    public var description: String {
        if self.rawValue == 0 { return "none" }
        var text = ""
        if self.contains(.fin) { text += "F" }
        if self.contains(.syn) { text += "S" }
        if self.contains(.rst) { text += "R" }
        if self.contains(.psh) { text += "P" }
        if self.contains(.ack) { text += "." }
        if self.contains(.urg) { text += "U" }
        if self.contains(.ece) { text += "E" }
        if self.contains(.cwr) { text += "W" }
        return text
    }
}
