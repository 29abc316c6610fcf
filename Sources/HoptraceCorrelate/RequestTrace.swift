import HoptraceCapture
import HoptraceDecode
import HoptraceFlows
import HoptraceKube

/// The address translation a hop applied, compared with the hop before it.
public enum Translation: String, Sendable, Hashable, CaseIterable {
    /// Nothing rewritten.
    case none
    /// Destination rewritten (kube-proxy's Service DNAT).
    case dnat
    /// Source rewritten (MASQUERADE, SNAT).
    case snat
    /// Both.
    case dnatSnat = "dnat+snat"
    /// A new connection by an L7 proxy.
    case l7Proxy = "l7-proxy"
}

/// How a hop's place in the path was established, strongest evidence first (`docs/path-order.md` gives the rules).
public enum OrderEvidence: String, Sendable, Hashable, CaseIterable {
    /// The first hop, or the only one.
    case first
    /// Packet directions the capture recorded (In before Out on one node).
    case direction
    /// Two-way delays between this capture point and the one before it (their sum is positive whatever the clocks).
    case delay
    /// A bridge and its ports: the bridge between the port on the client's side and the port on the server's side
    /// (its own copies of the frames it forwards are timestamped after they left either port).
    case bridge
    /// Addresses before a translation come before addresses after it.
    case translation
    /// The TTL fell between the two points (a router between them).
    case ttl
    /// Link ownership: the client's own link first, the server's last.
    case link
    /// Interface naming conventions only.
    case name
    /// Capture time only (nothing else told the two points apart).
    case time
}

/// A tunnel a hop's packets were carried in.
public struct Encapsulation: Sendable, Hashable, CustomStringConvertible {
    /// `VXLAN vni 1`, `Geneve vni 2`, `IPIP`.
    public var kind: String
    /// The outer source and destination addresses.
    public var outerSource: IPAddress
    /// The outer destination.
    public var outerDestination: IPAddress

    /// An encapsulation.
    public init(kind: String, outerSource: IPAddress, outerDestination: IPAddress) {
        self.kind = kind
        self.outerSource = outerSource
        self.outerDestination = outerDestination
    }

    /// `VXLAN vni 1, 192.168.60.11 → 192.168.60.12`.
    public var description: String { "\(kind), \(outerSource) → \(outerDestination)" }
}

/// One capture point on the request's path, in causal order (client side first).
public struct Hop: Sendable, Hashable {
    /// The capture point.
    public var point: CapturePoint
    /// Directions the request's packets had there (`In`, `Out`, both on a bridge), as the capture recorded them.
    public var directions: [PacketDirection]
    /// Addresses of the client-to-server packets as they left this capture point.
    public var source: FlowEndpoint
    /// Destination of the client-to-server packets as they left this capture point.
    public var destination: FlowEndpoint
    /// Translation relative to the previous hop (`none` for the first).
    public var translation: Translation
    /// The tunnel the packets were carried in here, if any.
    public var encapsulation: Encapsulation?
    /// How this hop's place after the previous one was established.
    public var evidence: OrderEvidence
    /// Which connection of the request (0 the client's, 1 behind an L7 proxy).
    public var connection: Int
    /// When the connection's first packet (the SYN when seen) was seen here, on the first node's clock.
    public var firstSeen: Int64
    /// SYN forwarding delay from the previous hop of the same connection, in ns (one-way; never negative).
    public var synDelay: Int64?
    /// How long the request's bytes took to cross from the previous hop to this one (its last byte), in ns.
    public var requestDelay: Int64?
    /// How long the response's bytes took to cross from this hop to the previous one (its last byte), in ns.
    public var responseDelay: Int64?
    /// SYN to SYN-ACK as seen here, in ns.
    public var handshakeRTT: Int64?
    /// SYNs seen here (more than 1: retransmitted).
    public var synCount: Int
    /// Retransmitted data segments seen here, both ways (copies of one packet are not counted).
    public var retransmissions: Int
    /// Whether the request's bytes (its first byte, or the SYN for a connection) were seen here.
    public var sawRequest: Bool
    /// Whether the response's bytes (or the SYN-ACK for a connection) were seen here.
    public var sawResponse: Bool

    /// A hop.
    public init(
        point: CapturePoint,
        directions: [PacketDirection],
        source: FlowEndpoint,
        destination: FlowEndpoint,
        translation: Translation = .none,
        encapsulation: Encapsulation? = nil,
        evidence: OrderEvidence = .first,
        connection: Int = 0,
        firstSeen: Int64,
        synDelay: Int64? = nil,
        requestDelay: Int64? = nil,
        responseDelay: Int64? = nil,
        handshakeRTT: Int64? = nil,
        synCount: Int = 0,
        retransmissions: Int = 0,
        sawRequest: Bool = true,
        sawResponse: Bool = false
    ) {
        self.point = point
        self.directions = directions
        self.source = source
        self.destination = destination
        self.translation = translation
        self.encapsulation = encapsulation
        self.evidence = evidence
        self.connection = connection
        self.firstSeen = firstSeen
        self.synDelay = synDelay
        self.requestDelay = requestDelay
        self.responseDelay = responseDelay
        self.handshakeRTT = handshakeRTT
        self.synCount = synCount
        self.retransmissions = retransmissions
        self.sawRequest = sawRequest
        self.sawResponse = sawResponse
    }
}

/// One DNS query of a lookup, deduplicated across capture points (timed at the one nearest the client).
public struct DNSQuery: Sendable, Hashable {
    /// The DNS message id.
    public var id: UInt16
    /// The question name, lower-cased, without the trailing dot.
    public var name: String
    /// The question type.
    public var type: DNSRecordType
    /// The response code, when answered.
    public var rcode: DNSResponseCode?
    /// Addresses answered (A and AAAA records).
    public var addresses: [IPAddress]
    /// Records of the asked type in the answer (A, AAAA, SRV, ... and a CNAME chain ending in them).
    public var answeredRecords: Int
    /// When the query was first sent.
    public var queryTime: Int64
    /// When the response arrived, when it did.
    public var responseTime: Int64?
    /// How many times it was sent.
    public var sent: Int
    /// The querier and the server it asked, as the querier saw them.
    public var client: FlowEndpoint
    /// The server as the querier addressed it.
    public var server: FlowEndpoint
    /// UDP or TCP.
    public var transport: DNSTransport
    /// The capture points that saw it, nearest the client first.
    public var seenAt: [CapturePoint]

    /// Query to response, ns.
    public var duration: Int64? { responseTime.map { Self.difference($0, queryTime) } }

    /// Whether this query succeeded for its type: NOERROR with records of the asked type.
    public var succeeded: Bool { rcode == .noError && answeredRecords > 0 }

    /// Whether this is a NODATA answer (NOERROR without records of the asked type).
    public var isNoData: Bool { rcode == .noError && answeredRecords == 0 }

    /// `a - b`, saturating.
    static func difference(_ a: Int64, _ b: Int64) -> Int64 {
        let (value, overflow) = a.subtractingReportingOverflow(b)
        return overflow ? (a < b ? .min : .max) : value
    }

    /// A query.
    public init(
        id: UInt16 = 0,
        name: String,
        type: DNSRecordType,
        rcode: DNSResponseCode?,
        addresses: [IPAddress],
        answeredRecords: Int,
        queryTime: Int64,
        responseTime: Int64?,
        sent: Int,
        client: FlowEndpoint,
        server: FlowEndpoint,
        transport: DNSTransport,
        seenAt: [CapturePoint]
    ) {
        self.id = id
        self.name = name
        self.type = type
        self.rcode = rcode
        self.addresses = addresses
        self.answeredRecords = answeredRecords
        self.queryTime = queryTime
        self.responseTime = responseTime
        self.sent = sent
        self.client = client
        self.server = server
        self.transport = transport
        self.seenAt = seenAt
    }
}

/// How a lookup ended.
public enum LookupOutcome: String, Sendable, Hashable, CaseIterable {
    /// An answer of the asked type.
    case resolved
    /// Every name tried was NXDOMAIN.
    case nxdomain
    /// The name exists but has no record of the asked type (NOERROR without answers), for every type asked.
    case noData = "nodata"
    /// The server failed (SERVFAIL).
    case servfail
    /// The server refused (REFUSED).
    case refused
    /// No answer to the last query.
    case timeout
    /// Some other response code.
    case failed
}

/// One resolver invocation: the queries one client sent for one name's search-list walk, in order.
public struct DNSLookup: Sendable, Hashable {
    /// The name that resolved, else the last name tried.
    public var name: String
    /// The queries, in the order they were sent.
    public var queries: [DNSQuery]
    /// How it ended.
    public var outcome: LookupOutcome
    /// The address the answer gave (the first A/AAAA of the name that resolved).
    public var answer: IPAddress?
    /// First query sent.
    public var start: Int64
    /// The answer used (or the last response, or the last query's timeout).
    public var end: Int64

    /// Start to end, ns.
    public var duration: Int64 { DNSQuery.difference(end, start) }

    /// A lookup.
    public init(
        name: String,
        queries: [DNSQuery],
        outcome: LookupOutcome,
        answer: IPAddress?,
        start: Int64,
        end: Int64
    ) {
        self.name = name
        self.queries = queries
        self.outcome = outcome
        self.answer = answer
        self.start = start
        self.end = end
    }
}

/// Where the time went, as the client saw it. Every phase is an interval at the client's capture point, and they add
/// up to `total` exactly. Nanoseconds; nil where the phase did not happen.
public struct Timings: Sendable, Hashable {
    /// From the first DNS query to the answer used.
    public var dns: Int64?
    /// SYN to SYN-ACK at the client (or, when the connection never opened, the first SYN to the end).
    public var connect: Int64?
    /// Request first to last byte.
    public var request: Int64?
    /// At the server's nearest capture point: request last byte to response first byte.
    public var server: Int64?
    /// The rest of the wait for the response's first byte: the path there and back.
    public var network: Int64?
    /// Response first to last byte.
    public var response: Int64?
    /// Gaps at the client between phases (e.g. between the DNS answer and the SYN).
    public var client: Int64?
    /// The whole request as the client saw it.
    public var total: Int64

    /// Timings.
    public init(
        dns: Int64? = nil,
        connect: Int64? = nil,
        request: Int64? = nil,
        server: Int64? = nil,
        network: Int64? = nil,
        response: Int64? = nil,
        client: Int64? = nil,
        total: Int64
    ) {
        self.dns = dns
        self.connect = connect
        self.request = request
        self.server = server
        self.network = network
        self.response = response
        self.client = client
        self.total = total
    }

    /// The phases that happened, in the order they happen.
    public var phases: [(name: String, value: Int64)] {
        [
            ("dns", dns), ("client", client), ("connect", connect), ("request", request), ("network", network),
            ("server", server), ("response", response),
        ].compactMap { name, value in value.map { (name, $0) } }
    }
}

/// The HTTP request itself, as the client-side sighting describes it.
public struct RequestSummary: Sendable, Hashable {
    /// The method (bounded by the flow stage).
    public var method: String
    /// The request target.
    public var path: String
    /// The Host header.
    public var host: String?
    /// The X-Request-ID header (or the onward one behind a proxy that set it).
    public var requestID: String?
    /// The final response status.
    public var status: Int?
    /// Whether a head was longer than the parser keeps.
    public var headTruncated: Bool

    /// A summary.
    public init(
        method: String,
        path: String,
        host: String? = nil,
        requestID: String? = nil,
        status: Int? = nil,
        headTruncated: Bool = false
    ) {
        self.method = method
        self.path = path
        self.host = host
        self.requestID = requestID
        self.status = status
        self.headTruncated = headTruncated
    }
}

/// A clock correction applied to one node's capture points.
public struct ClockOffset: Sendable, Hashable {
    /// The node whose times were corrected.
    public var node: String
    /// The node whose clock is the reference.
    public var reference: String
    /// Subtracted from the node's times, ns (positive: its clock is ahead).
    public var offset: Int64
    /// Half the two-way delay the estimate rests on: the true offset is within ± this, ns.
    public var uncertainty: Int64
    /// Segment pairs the estimate used.
    public var samples: Int

    /// An offset.
    public init(node: String, reference: String, offset: Int64, uncertainty: Int64, samples: Int) {
        self.node = node
        self.reference = reference
        self.offset = offset
        self.uncertainty = uncertainty
        self.samples = samples
    }
}

/// What kind of request a trace is about.
public enum RequestKind: String, Sendable, Hashable, CaseIterable {
    /// An HTTP/1.x exchange.
    case http
    /// A TCP connection without a recognised request (not HTTP, nothing sent, or it never opened).
    case connection
    /// A name lookup that led to no connection.
    case dns
}

/// One request, traced end to end: the answer of `hoptrace trace`.
public struct RequestTrace: Sendable, Hashable {
    /// The trace's fields, on the heap and shared between copies until one changes (copy on write): a trace is
    /// ~570 bytes and a few dozen references, and it is handed from the correlator to the writers by value.
    @usableFromInline var storage: CopyOnWrite<Fields>

    /// What a trace holds (compared and hashed as the trace).
    @usableFromInline struct Fields: Hashable, Sendable {
        @usableFromInline var index: Int
        @usableFromInline var kind: RequestKind
        @usableFromInline var mode: TraceMode
        @usableFromInline var verdict: Verdict
        @usableFromInline var findings: [Finding]
        @usableFromInline var request: RequestSummary?
        @usableFromInline var client: FlowEndpoint?
        @usableFromInline var service: FlowEndpoint?
        @usableFromInline var server: FlowEndpoint?
        @usableFromInline var dns: DNSLookup?
        @usableFromInline var hops: [Hop]
        @usableFromInline var timings: Timings
        @usableFromInline var start: Int64
        @usableFromInline var end: Int64
        @usableFromInline var names: [String: AddressName]
        @usableFromInline var clockOffsets: [ClockOffset]
        @usableFromInline var evictedSoFar: Int = 0
    }

    /// Position in the capture's list of requests (0-based, in start order).
    @inlinable public var index: Int {
        _read { yield self.storage.fields.index }
        _modify { yield &self.storage.fields.index }
    }

    /// What the request is.
    @inlinable public var kind: RequestKind {
        _read { yield self.storage.fields.kind }
        _modify { yield &self.storage.fields.kind }
    }

    /// How it reached its server.
    @inlinable public var mode: TraceMode {
        _read { yield self.storage.fields.mode }
        _modify { yield &self.storage.fields.mode }
    }

    /// What happened, in one sentence.
    @inlinable public var verdict: Verdict {
        _read { yield self.storage.fields.verdict }
        _modify { yield &self.storage.fields.verdict }
    }

    /// What else is worth knowing.
    @inlinable public var findings: [Finding] {
        _read { yield self.storage.fields.findings }
        _modify { yield &self.storage.fields.findings }
    }

    /// The HTTP request, when one was seen.
    @inlinable public var request: RequestSummary? {
        _read { yield self.storage.fields.request }
        _modify { yield &self.storage.fields.request }
    }

    /// The client, as it saw itself.
    @inlinable public var client: FlowEndpoint? {
        _read { yield self.storage.fields.client }
        _modify { yield &self.storage.fields.client }
    }

    /// The address the client connected to (Service, NodePort, proxy or the server itself).
    @inlinable public var service: FlowEndpoint? {
        _read { yield self.storage.fields.service }
        _modify { yield &self.storage.fields.service }
    }

    /// The server that answered (or should have), as its nearest capture point saw it.
    @inlinable public var server: FlowEndpoint? {
        _read { yield self.storage.fields.server }
        _modify { yield &self.storage.fields.server }
    }

    /// The name lookup before the request, when one was tied to it.
    @inlinable public var dns: DNSLookup? {
        _read { yield self.storage.fields.dns }
        _modify { yield &self.storage.fields.dns }
    }

    /// The capture points on the path, in causal order.
    @inlinable public var hops: [Hop] {
        _read { yield self.storage.fields.hops }
        _modify { yield &self.storage.fields.hops }
    }

    /// Where the time went.
    @inlinable public var timings: Timings {
        _read { yield self.storage.fields.timings }
        _modify { yield &self.storage.fields.timings }
    }

    /// When the request started (its first DNS query, SYN or request byte) and ended, on the first node's clock.
    @inlinable public var start: Int64 {
        _read { yield self.storage.fields.start }
        _modify { yield &self.storage.fields.start }
    }

    /// When it ended.
    @inlinable public var end: Int64 {
        _read { yield self.storage.fields.end }
        _modify { yield &self.storage.fields.end }
    }

    /// Names of the addresses in this trace, declared (cluster state) or learned from the capture: keyed by address
    /// (`10.244.0.5`) or address and port (`10.96.0.20:80`).
    @inlinable public var names: [String: AddressName] {
        _read { yield self.storage.fields.names }
        _modify { yield &self.storage.fields.names }
    }

    /// Clock corrections applied to capture points of other nodes.
    @inlinable public var clockOffsets: [ClockOffset] {
        _read { yield self.storage.fields.clockOffsets }
        _modify { yield &self.storage.fields.clockOffsets }
    }

    /// Connections, flows or requests given up to stay within memory caps in the run up to when this trace was
    /// released (a running count: a trace written as it is found cannot know the run's total).
    @inlinable public var evictedSoFar: Int {
        _read { yield self.storage.fields.evictedSoFar }
        _modify { yield &self.storage.fields.evictedSoFar }
    }

    /// A trace.
    public init(
        index: Int = 0,
        kind: RequestKind,
        mode: TraceMode,
        verdict: Verdict,
        findings: [Finding] = [],
        request: RequestSummary? = nil,
        client: FlowEndpoint? = nil,
        service: FlowEndpoint? = nil,
        server: FlowEndpoint? = nil,
        dns: DNSLookup? = nil,
        hops: [Hop] = [],
        timings: Timings,
        start: Int64,
        end: Int64,
        names: [String: AddressName] = [:],
        clockOffsets: [ClockOffset] = []
    ) {
        self.storage = CopyOnWrite(
            Fields(
                index: index,
                kind: kind,
                mode: mode,
                verdict: verdict,
                findings: findings,
                request: request,
                client: client,
                service: service,
                server: server,
                dns: dns,
                hops: hops,
                timings: timings,
                start: start,
                end: end,
                names: names,
                clockOffsets: clockOffsets,
                evictedSoFar: 0
            )
        )
    }

    /// The name of an endpoint: its address and port's (a Service port), else its address's.
    public func name(of endpoint: FlowEndpoint) -> AddressName? {
        names[endpoint.description] ?? names[endpoint.address.description]
    }

    /// The name of an address alone.
    public func name(ofAddress address: IPAddress) -> AddressName? {
        names[address.description]
    }
}
