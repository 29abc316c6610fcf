import HoptraceCapture
import HoptraceFlows

/// An address and port as seen at one capture point.
public struct Endpoint: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The IP address in its usual text form (`10.96.0.10`, `fd00::1`).
    public var host: String
    /// The TCP or UDP port; 0 where there is none.
    public var port: UInt16

    public init(_ host: String, _ port: UInt16) {
        self.host = host
        self.port = port
    }

    public var description: String {
        let isIPv6 = host.utf8.contains(UInt8(ascii: ":"))
        var text = ""
        text.reserveCapacity(host.utf8.count + 8)
        if isIPv6 { text += "[" }
        text += host
        text += isIPv6 ? "]:" : ":"
        text += String(port)
        return text
    }

    public static func < (lhs: Endpoint, rhs: Endpoint) -> Bool {
        (lhs.host, lhs.port) < (rhs.host, rhs.port)
    }
}

/// One HTTP request/response exchange as seen on one TCP connection at one capture point.
public struct HTTPSighting: Sendable, Hashable {
    /// Request method (`GET`), bounded and sanitized by the flows stage.
    public var method: String
    /// Request target (`/api?x=1`).
    public var path: String
    /// The Host header, if any.
    public var host: String?
    /// The X-Request-ID header, if any.
    public var requestID: String?
    /// Response status code, when a response was seen.
    public var status: Int?
    /// Time of the request's first and last byte here (ns since the epoch).
    public var requestFirst: Int64
    public var requestLast: Int64
    /// Time of the response's first and last byte here, when seen.
    public var responseFirst: Int64?
    public var responseLast: Int64?
    /// Whether the response was complete (its declared length, or chunked end, was seen).
    public var responseComplete: Bool

    public init(
        method: String,
        path: String,
        host: String? = nil,
        requestID: String? = nil,
        status: Int? = nil,
        requestFirst: Int64,
        requestLast: Int64,
        responseFirst: Int64? = nil,
        responseLast: Int64? = nil,
        responseComplete: Bool = false
    ) {
        self.method = method
        self.path = path
        self.host = host
        self.requestID = requestID
        self.status = status
        self.requestFirst = requestFirst
        self.requestLast = requestLast
        self.responseFirst = responseFirst
        self.responseLast = responseLast
        self.responseComplete = responseComplete
    }
}

/// A TCP reset as seen at one capture point.
public struct ResetSighting: Sendable, Hashable {
    /// When the RST was seen.
    public var time: Int64
    /// Whether the connection's client (the SYN's sender) sent it.
    public var fromClient: Bool
    /// The RST's raw sequence and acknowledgment numbers.
    public var seq: UInt32
    public var ack: UInt32

    public init(time: Int64, fromClient: Bool, seq: UInt32, ack: UInt32) {
        self.time = time
        self.fromClient = fromClient
        self.seq = seq
        self.ack = ack
    }
}

/// One TCP connection as seen at one capture point: what the flows stage knows of it there.
///
/// The same connection seen at several capture points gives several sightings, with different addresses where NAT
/// rewrote them but the same initial sequence numbers: the stitcher joins them on those.
public struct TCPSighting: Sendable, Hashable {
    /// The capture point's name (`cni0`, `eth0`, `if7`).
    public var capturePoint: String
    /// Direction of the client-to-server packets at this capture point, where the source records it.
    public var clientDirection: PacketDirection
    /// The connection's client (the SYN's sender) and server, with the addresses as seen here.
    public var client: Endpoint
    public var server: Endpoint
    /// Initial sequence numbers, when the SYN (client) and SYN-ACK (server) were seen.
    public var clientISN: UInt32?
    public var serverISN: UInt32?
    /// First SYN time and how many SYNs were seen (more than one: retransmitted).
    public var synTime: Int64?
    public var synCount: Int
    /// First SYN-ACK time and count.
    public var synAckTime: Int64?
    public var synAckCount: Int
    /// The handshake's final ACK.
    public var ackTime: Int64?
    /// First and last payload byte each way.
    public var clientDataFirst: Int64?
    public var clientDataLast: Int64?
    public var serverDataFirst: Int64?
    public var serverDataLast: Int64?
    /// Payload bytes each way.
    public var clientBytes: Int
    public var serverBytes: Int
    /// Retransmitted segments each way (SYN retransmissions not included).
    public var clientRetransmissions: Int
    public var serverRetransmissions: Int
    /// FIN times each way.
    public var clientFinTime: Int64?
    public var serverFinTime: Int64?
    /// The first RST seen, if any.
    public var reset: ResetSighting?
    /// The HTTP exchanges on this connection, in order.
    public var exchanges: [HTTPSighting]
    /// First and last packet of this sighting.
    public var firstTime: Int64
    public var lastTime: Int64

    public init(
        capturePoint: String,
        clientDirection: PacketDirection = .unknown,
        client: Endpoint,
        server: Endpoint,
        clientISN: UInt32? = nil,
        serverISN: UInt32? = nil,
        synTime: Int64? = nil,
        synCount: Int = 0,
        synAckTime: Int64? = nil,
        synAckCount: Int = 0,
        ackTime: Int64? = nil,
        clientDataFirst: Int64? = nil,
        clientDataLast: Int64? = nil,
        serverDataFirst: Int64? = nil,
        serverDataLast: Int64? = nil,
        clientBytes: Int = 0,
        serverBytes: Int = 0,
        clientRetransmissions: Int = 0,
        serverRetransmissions: Int = 0,
        clientFinTime: Int64? = nil,
        serverFinTime: Int64? = nil,
        reset: ResetSighting? = nil,
        exchanges: [HTTPSighting] = [],
        firstTime: Int64,
        lastTime: Int64
    ) {
        self.capturePoint = capturePoint
        self.clientDirection = clientDirection
        self.client = client
        self.server = server
        self.clientISN = clientISN
        self.serverISN = serverISN
        self.synTime = synTime
        self.synCount = synCount
        self.synAckTime = synAckTime
        self.synAckCount = synAckCount
        self.ackTime = ackTime
        self.clientDataFirst = clientDataFirst
        self.clientDataLast = clientDataLast
        self.serverDataFirst = serverDataFirst
        self.serverDataLast = serverDataLast
        self.clientBytes = clientBytes
        self.serverBytes = serverBytes
        self.clientRetransmissions = clientRetransmissions
        self.serverRetransmissions = serverRetransmissions
        self.clientFinTime = clientFinTime
        self.serverFinTime = serverFinTime
        self.reset = reset
        self.exchanges = exchanges
        self.firstTime = firstTime
        self.lastTime = lastTime
    }

    /// The client ISN this sighting belongs to: from the SYN, or for a connection seen only as an RST answering a
    /// SYN, the RST's acknowledgment number minus one.
    public var stitchKey: UInt32? {
        if let clientISN { return clientISN }
        if let reset, !reset.fromClient, synTime == nil, synAckTime == nil { return reset.ack &- 1 }
        return nil
    }
}

/// One DNS query and its answer as seen at one capture point.
public struct DNSSighting: Sendable, Hashable {
    public var capturePoint: String
    public var client: Endpoint
    public var server: Endpoint
    /// The DNS message id.
    public var id: UInt16
    /// The question name (lower-cased, no trailing dot) and type (`A`, `AAAA`).
    public var name: String
    public var type: String
    /// First query time; how many times the query was sent.
    public var queryTime: Int64
    public var queryCount: Int
    /// Response time and rcode (`NOERROR`, `NXDOMAIN`, `SERVFAIL`, `REFUSED`), when answered.
    public var responseTime: Int64?
    public var rcode: String?
    /// A and AAAA answers (addresses), CNAME targets excluded.
    public var addresses: [String]

    public init(
        capturePoint: String,
        client: Endpoint,
        server: Endpoint,
        id: UInt16,
        name: String,
        type: String,
        queryTime: Int64,
        queryCount: Int = 1,
        responseTime: Int64? = nil,
        rcode: String? = nil,
        addresses: [String] = []
    ) {
        self.capturePoint = capturePoint
        self.client = client
        self.server = server
        self.id = id
        self.name = name
        self.type = type
        self.queryTime = queryTime
        self.queryCount = queryCount
        self.responseTime = responseTime
        self.rcode = rcode
        self.addresses = addresses
    }
}

/// An ICMP error (destination unreachable, time exceeded, ...) quoting a TCP or UDP packet.
public struct ICMPSighting: Sendable, Hashable {
    public var capturePoint: String
    public var time: Int64
    /// Who sent the ICMP message, and to whom.
    public var sender: String
    public var receiver: String
    /// ICMP type and code, and a name for them (`port-unreachable`).
    public var type: UInt8
    public var code: UInt8
    public var name: String
    /// The quoted packet's addresses and, for TCP, its sequence number.
    public var quotedSource: Endpoint
    public var quotedDestination: Endpoint
    public var quotedProtocol: UInt8
    public var quotedSeq: UInt32?

    public init(
        capturePoint: String,
        time: Int64,
        sender: String,
        receiver: String,
        type: UInt8,
        code: UInt8,
        name: String,
        quotedSource: Endpoint,
        quotedDestination: Endpoint,
        quotedProtocol: UInt8,
        quotedSeq: UInt32?
    ) {
        self.capturePoint = capturePoint
        self.time = time
        self.sender = sender
        self.receiver = receiver
        self.type = type
        self.code = code
        self.name = name
        self.quotedSource = quotedSource
        self.quotedDestination = quotedDestination
        self.quotedProtocol = quotedProtocol
        self.quotedSeq = quotedSeq
    }
}

/// Everything the flows stage saw in a capture, as the correlator's input.
public struct Observations: Sendable {
    public var tcp: [TCPSighting]
    public var dns: [DNSSighting]
    public var icmp: [ICMPSighting]
    /// The time of the last packet of the capture (a request still open then was cut by the capture's end).
    public var captureEnd: Int64

    public init(tcp: [TCPSighting] = [], dns: [DNSSighting] = [], icmp: [ICMPSighting] = [], captureEnd: Int64 = 0) {
        self.tcp = tcp
        self.dns = dns
        self.icmp = icmp
        self.captureEnd = captureEnd
    }
}
