import HoptraceCapture

/// The transport a DNS message travelled on.
public enum DNSTransport: String, Hashable, Sendable {
    /// UDP datagrams.
    case udp
    /// Length-prefixed messages on a TCP connection.
    case tcp
}

/// One DNS query and its response (or its absence), as seen at one capture point.
public struct DNSTransaction: Hashable, Sendable {
    /// The capture point (index into the caller's ``CapturePointTable``).
    public var capturePoint: Int
    /// UDP or TCP.
    public var transport: DNSTransport
    /// The querier as seen at the capture point.
    public var client: FlowEndpoint
    /// The server as seen at the capture point.
    public var server: FlowEndpoint
    /// The DNS id.
    public var id: UInt16
    /// The question (from the query, else the response).
    public var question: DNSQuestion?
    /// When the (first) query was captured; nil for a response whose query was not seen.
    public var queryTime: Int64?
    /// When the (first) response was captured; nil when unanswered.
    public var responseTime: Int64?
    /// The response code, when answered.
    public var rcode: DNSResponseCode?
    /// The answer section of the response.
    public var answers: [DNSResourceRecord]
    /// How many times the query was sent again (same id, question and addresses) before the response.
    public var queryRetransmissions: Int
    /// Responses after the first one (duplicates, or a second answer to the same query).
    public var extraResponses: Int
    /// Whether the response had TC (truncated) set.
    public var isTruncated: Bool
    /// Whether the response was authoritative.
    public var isAuthoritative: Bool
    /// The transaction id of the connection for DNS over TCP (``ConnectionRecord/id``), else nil.
    public var connectionID: UInt64?
    /// Whether it was emitted early to keep the table under ``FlowConfiguration/maxDNSTransactions`` (its
    /// response, if any, may come later and then appear as a response without a query): not "unanswered".
    public var isEvicted: Bool

    /// A transaction with only its identity known.
    public init(capturePoint: Int, transport: DNSTransport, client: FlowEndpoint, server: FlowEndpoint, id: UInt16) {
        self.capturePoint = capturePoint
        self.transport = transport
        self.client = client
        self.server = server
        self.id = id
        self.question = nil
        self.queryTime = nil
        self.responseTime = nil
        self.rcode = nil
        self.answers = []
        self.queryRetransmissions = 0
        self.extraResponses = 0
        self.isTruncated = false
        self.isAuthoritative = false
        self.connectionID = nil
        self.isEvicted = false
    }

    /// Response time minus (first) query time, nanoseconds: what tshark reports as `dns.time`.
    public var latency: Int64? {
        guard let query = self.queryTime, let response = self.responseTime else { return nil }
        return TimeFormat.difference(response, query)
    }
}

extension DNSTransport: Codable {}

extension DNSTransaction: Codable {}
