import HoptraceCapture

/// How the request reached its server.
public enum TraceMode: String, Sendable, Hashable, CaseIterable {
    /// To a Service's ClusterIP, DNATed by kube-proxy to a pod.
    case clusterip
    /// To a node's address and a NodePort, DNATed (and usually MASQUERADEd) to a pod.
    case nodeport
    /// Through an L7 proxy (an ingress controller) that opened a new connection onward.
    case ingress
    /// Straight to the server's own address, no translation seen.
    case direct
}

/// The kind of a verdict, in the words a user expects.
public enum VerdictKind: String, Sendable, Hashable, CaseIterable {
    /// The request completed.
    case ok
    /// The name did not resolve: NXDOMAIN, SERVFAIL or no answer.
    case dnsFailure = "dns-failure"
    /// An ICMP error rejected the connection (e.g. a Service without endpoints).
    case rejected
    /// The request's bytes stopped being seen at some capture point.
    case breakpoint
    /// A TCP reset ended the request before it completed.
    case reset
    /// The server received the request and never answered.
    case noResponse = "no-response"
    /// The request completed but one part of the path or the server held most of its time.
    case slow

    /// Whether this verdict is a failure (the request did not complete).
    public var isFailure: Bool {
        switch self {
        case .ok, .slow: return false
        default: return true
        }
    }
}

/// The conclusion about one request.
public struct Verdict: Sendable, Hashable {
    public var kind: VerdictKind
    /// One sentence for a human.
    public var detail: String
    /// The capture point (or element: `server`, `dns`) where the verdict is located, if any.
    public var hop: String?
    /// For a breakpoint: the capture point where the bytes should have appeared next, when known.
    public var nextHop: String?

    public init(kind: VerdictKind, detail: String, hop: String? = nil, nextHop: String? = nil) {
        self.kind = kind
        self.detail = detail
        self.hop = hop
        self.nextHop = nextHop
    }
}

/// Something worth knowing beside the verdict.
public struct Finding: Sendable, Hashable {
    /// A stable identifier (`unnatted-reply`, `reset-after-response`, `syn-retransmitted`, `dns-search-walk`).
    public var kind: String
    public var detail: String

    public init(kind: String, detail: String) {
        self.kind = kind
        self.detail = detail
    }
}

/// The address translation a hop applied, compared with the hop before it.
public enum Translation: String, Sendable, Hashable {
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

/// One capture point on the request's path, in causal order.
public struct Hop: Sendable, Hashable {
    /// The capture point's name.
    public var capturePoint: String
    /// Directions the request's packets had there (`In`, `Out`, both on a bridge).
    public var directions: [PacketDirection]
    /// Addresses of the client-to-server packets as they left this capture point.
    public var src: Endpoint
    public var dst: Endpoint
    /// Translation relative to the previous hop (`none` for the first).
    public var translation: Translation
    /// When the connection's first packet (the SYN when seen) was seen here.
    public var firstSeen: Int64
    /// Which connection of the request (0, or 1 behind an L7 proxy).
    public var connection: Int
    /// SYN forwarding delay from the previous hop of the same connection, in ns (clamped at 0).
    public var synDelay: Int64?
    /// First request byte's forwarding delay from the previous hop, in ns (clamped at 0).
    public var dataDelay: Int64?
    /// Whether a raw timestamp here was earlier than at the previous hop (clock noise between capture sockets).
    public var clockNoise: Bool
    /// SYN to SYN-ACK as seen here, in ns.
    public var handshakeRTT: Int64?
    /// SYNs seen here (more than 1: retransmitted).
    public var synCount: Int
    /// Retransmitted data segments seen here, both ways.
    public var retransmissions: Int

    public init(
        capturePoint: String,
        directions: [PacketDirection],
        src: Endpoint,
        dst: Endpoint,
        translation: Translation,
        firstSeen: Int64,
        connection: Int,
        synDelay: Int64? = nil,
        dataDelay: Int64? = nil,
        clockNoise: Bool = false,
        handshakeRTT: Int64? = nil,
        synCount: Int = 0,
        retransmissions: Int = 0
    ) {
        self.capturePoint = capturePoint
        self.directions = directions
        self.src = src
        self.dst = dst
        self.translation = translation
        self.firstSeen = firstSeen
        self.connection = connection
        self.synDelay = synDelay
        self.dataDelay = dataDelay
        self.clockNoise = clockNoise
        self.handshakeRTT = handshakeRTT
        self.synCount = synCount
        self.retransmissions = retransmissions
    }
}

/// One DNS query of a resolution, deduplicated across capture points (timed at the one nearest the client).
public struct DNSQueryTrace: Sendable, Hashable {
    public var name: String
    public var type: String
    public var rcode: String?
    public var addresses: [String]
    public var queryTime: Int64
    public var responseTime: Int64?
    public var queryCount: Int
    public var client: Endpoint
    public var server: Endpoint
    /// The capture points that saw this query, nearest the client first (by the time they saw it).
    public var seenAt: [String] = []

    public var duration: Int64? { responseTime.map { $0 - queryTime } }

    public init(
        name: String,
        type: String,
        rcode: String?,
        addresses: [String],
        queryTime: Int64,
        responseTime: Int64?,
        queryCount: Int,
        client: Endpoint,
        server: Endpoint
    ) {
        self.name = name
        self.type = type
        self.rcode = rcode
        self.addresses = addresses
        self.queryTime = queryTime
        self.responseTime = responseTime
        self.queryCount = queryCount
        self.client = client
        self.server = server
    }
}

/// The name resolution before a request: the whole search-list walk.
public struct DNSResolution: Sendable, Hashable {
    /// The name as the client asked for it at the end of the walk (the one that answered, or the last tried).
    public var name: String
    public var queries: [DNSQueryTrace]
    /// The address the client used, when resolved.
    public var answer: String?
    /// NOERROR, NXDOMAIN, SERVFAIL, timeout.
    public var outcome: String
    public var start: Int64
    public var end: Int64

    public var duration: Int64 { end - start }

    public init(name: String, queries: [DNSQueryTrace], answer: String?, outcome: String, start: Int64, end: Int64) {
        self.name = name
        self.queries = queries
        self.answer = answer
        self.outcome = outcome
        self.start = start
        self.end = end
    }
}

/// Where the time went, as the client saw it. Every phase is a contiguous interval at the client's capture point;
/// they add up to `total`. Nanoseconds; `nil` where the phase did not happen.
public struct Timings: Sendable, Hashable {
    /// From the first DNS query to the answer used.
    public var dns: Int64?
    /// SYN to the handshake's end (the SYN-ACK at the client).
    public var connect: Int64?
    /// Request first to last byte.
    public var request: Int64?
    /// At the server's capture point: request last byte to response first byte.
    public var server: Int64?
    /// The rest of the wait for the response's first byte: the path there and back.
    public var network: Int64?
    /// Response first to last byte.
    public var response: Int64?
    /// Gaps at the client between phases (e.g. between the DNS answer and the SYN).
    public var client: Int64?
    /// The whole request as the client saw it.
    public var total: Int64

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
}

/// The request itself, as its first HTTP sighting describes it.
public struct RequestSummary: Sendable, Hashable {
    public var method: String
    public var path: String
    public var host: String?
    public var requestID: String?
    public var status: Int?

    public init(method: String, path: String, host: String?, requestID: String?, status: Int?) {
        self.method = method
        self.path = path
        self.host = host
        self.requestID = requestID
        self.status = status
    }
}

/// One request, traced end to end: the answer of `hoptrace trace`.
public struct RequestTrace: Sendable, Hashable {
    /// Position in the capture's list of requests (0-based, by start time).
    public var index: Int
    public var mode: TraceMode
    public var verdict: Verdict
    public var findings: [Finding]
    /// The HTTP request, when one was seen.
    public var request: RequestSummary?
    /// The client, the address it connected to (Service, NodePort or proxy), and the server that answered.
    public var client: Endpoint?
    public var service: Endpoint?
    public var server: Endpoint?
    public var dns: DNSResolution?
    public var hops: [Hop]
    public var timings: Timings
    /// When the request started (its first DNS query or SYN) and ended, as seen at the client.
    public var start: Int64
    public var end: Int64
    /// Names of the addresses in this trace, from outside the capture (Kubernetes objects): keyed by address
    /// (`10.244.0.5`) or address and port (`10.96.0.20:80`), valued like `pod default/web-7d4b9` or
    /// `service default/web:80`. Empty when no cluster state was given.
    public var names: [String: String] = [:]

    public init(
        index: Int,
        mode: TraceMode,
        verdict: Verdict,
        findings: [Finding],
        request: RequestSummary?,
        client: Endpoint?,
        service: Endpoint?,
        server: Endpoint?,
        dns: DNSResolution?,
        hops: [Hop],
        timings: Timings,
        start: Int64,
        end: Int64
    ) {
        self.index = index
        self.mode = mode
        self.verdict = verdict
        self.findings = findings
        self.request = request
        self.client = client
        self.service = service
        self.server = server
        self.dns = dns
        self.hops = hops
        self.timings = timings
        self.start = start
        self.end = end
    }
}
