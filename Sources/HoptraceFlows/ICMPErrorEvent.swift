import HoptraceDecode

/// An ICMP or ICMPv6 error (destination unreachable, time exceeded, ...) and the packet it quotes.
public struct ICMPErrorEvent: Hashable, Sendable {
    /// The capture point (index into the caller's ``CapturePointTable``).
    public var capturePoint: Int
    /// Capture time, nanoseconds since the Unix epoch.
    public var time: Int64
    /// Who sent the ICMP message (its outer source address).
    public var sender: IPAddress
    /// Its outer destination address (the quoted packet's sender, as seen here).
    public var destination: IPAddress
    /// ICMP type.
    public var type: UInt8
    /// ICMP code.
    public var code: UInt8
    /// Whether this is ICMPv6.
    public var isV6: Bool
    /// The quoted packet's source address and port (the original sender, as the ICMP sender saw it).
    public var quotedSource: FlowEndpoint
    /// The quoted packet's destination address and port.
    public var quotedDestination: FlowEndpoint
    /// The quoted packet's IP protocol.
    public var quotedProtocol: IPProtocol
    /// The quoted TCP sequence number (for a rejected SYN, the client's ISN).
    public var quotedTCPSequence: UInt32?
    /// The ``ConnectionRecord/id`` of the TCP connection at this capture point the quote matches, if any.
    public var connectionID: UInt64?

    /// Makes an event.
    public init(
        capturePoint: Int,
        time: Int64,
        sender: IPAddress,
        destination: IPAddress,
        type: UInt8,
        code: UInt8,
        isV6: Bool,
        quotedSource: FlowEndpoint,
        quotedDestination: FlowEndpoint,
        quotedProtocol: IPProtocol,
        quotedTCPSequence: UInt32?,
        connectionID: UInt64? = nil
    ) {
        self.capturePoint = capturePoint
        self.time = time
        self.sender = sender
        self.destination = destination
        self.type = type
        self.code = code
        self.isV6 = isV6
        self.quotedSource = quotedSource
        self.quotedDestination = quotedDestination
        self.quotedProtocol = quotedProtocol
        self.quotedTCPSequence = quotedTCPSequence
        self.connectionID = connectionID
    }

    /// Whether this is a destination/port unreachable (ICMPv4 type 3, ICMPv6 type 1).
    public var isUnreachable: Bool { self.isV6 ? self.type == 1 : self.type == 3 }

    /// "port-unreachable", "host-unreachable", "ttl-exceeded", ... or "type T code C".
    public var kind: String {
        if self.isV6 {
            switch (self.type, self.code) {
            case (1, 4): return "port-unreachable"
            case (1, 1): return "admin-prohibited"
            case (1, 3): return "address-unreachable"
            case (1, _): return "unreachable"
            case (2, _): return "packet-too-big"
            case (3, _): return "hop-limit-exceeded"
            default: return "type \(self.type) code \(self.code)"
            }
        }
        switch (self.type, self.code) {
        case (3, 0): return "net-unreachable"
        case (3, 1): return "host-unreachable"
        case (3, 3): return "port-unreachable"
        case (3, 4): return "fragmentation-needed"
        case (3, 9), (3, 10), (3, 13): return "admin-prohibited"
        case (3, _): return "unreachable"
        case (11, _): return "ttl-exceeded"
        default: return "type \(self.type) code \(self.code)"
        }
    }
}

extension ICMPErrorEvent: Codable {}
