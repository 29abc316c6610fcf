import HoptraceDecode
import HoptraceFlows
import HoptraceKube

/// How a request reached its server.
public enum TraceMode: String, Sendable, Hashable, CaseIterable {
    /// To a Service's ClusterIP (a virtual address kube-proxy translates), DNATed to a pod.
    case clusterip
    /// To a node's address and a NodePort, DNATed (and usually MASQUERADEd) to a pod.
    case nodeport
    /// Through an L7 proxy (an ingress controller) that opened a new connection onward.
    case ingress
    /// Straight to the server's own address, no translation seen or known.
    case direct
}

/// The kind of a verdict, in the words a user expects.
public enum VerdictKind: String, Sendable, Hashable, CaseIterable {
    /// The request completed.
    case ok
    /// The request completed but one part of the path or the server held most of its time.
    case slow
    /// The capture ended while the response was still arriving, or the client closed the connection before the
    /// response was whole: neither a success nor a failure the capture can show.
    case incomplete
    /// The name did not resolve: NXDOMAIN on every name tried, SERVFAIL, REFUSED or no answer.
    case dnsFailure = "dns-failure"
    /// An ICMP error rejected the connection (e.g. a Service without endpoints).
    case rejected
    /// The request's (or the response's) bytes stopped being seen at some capture point.
    case breakpoint
    /// A TCP reset ended the request before it completed.
    case reset
    /// The server received the request and never answered.
    case noResponse = "no-response"
    /// The server closed the connection (its FIN) after its response began and before the response was whole (its
    /// Content-Length or last chunk not reached, nothing missing from the capture): nginx's "upstream prematurely
    /// closed connection", curl's "transfer closed with bytes remaining to read".
    case truncated

    /// Whether this verdict is a failure (the request did not complete).
    public var isFailure: Bool {
        switch self {
        case .ok, .slow, .incomplete: return false
        default: return true
        }
    }
}

/// Where in a request's life something happened.
public enum Phase: String, Sendable, Hashable, CaseIterable {
    /// Resolving the name.
    case dns
    /// Opening the connection (SYN to SYN-ACK).
    case connect
    /// Sending the request.
    case request
    /// Waiting for or receiving the response.
    case response
}

/// The part of a completed request's time a slow verdict names.
public enum SlowPart: String, Sendable, Hashable, CaseIterable {
    /// Name resolution.
    case dns
    /// The handshake.
    case connect
    /// Sending the request.
    case request
    /// The server, between the request's last byte and the response's first, at its nearest capture point.
    case server
    /// The path there and back while waiting for the response's first byte.
    case network
    /// Receiving the response.
    case response
    /// One hop-to-hop segment of the path (``Verdict/location`` and ``Verdict/segmentFrom`` name it).
    case segment
}

/// The conclusion about one request, decided once, from the evidence and the cluster directory.
public struct Verdict: Sendable, Hashable {
    /// What happened.
    public var kind: VerdictKind
    /// One sentence for a human; every number in it is one of the trace's own numbers.
    public var sentence: String
    /// The capture point where the verdict is located (the breakpoint, the reset's first sighting from its sender,
    /// the server's nearest point), if any.
    public var location: CapturePoint?
    /// For a breakpoint: the capture point where the bytes should have appeared next, when known.
    public var next: CapturePoint?
    /// For a slow segment: the capture point the segment starts at (``location`` is where it ends).
    public var segmentFrom: CapturePoint?
    /// For a failure: the phase it happened in.
    public var phase: Phase?
    /// For a slow verdict: the part that held the time.
    public var slowPart: SlowPart?

    /// A verdict from its parts.
    public init(
        kind: VerdictKind,
        sentence: String,
        location: CapturePoint? = nil,
        next: CapturePoint? = nil,
        segmentFrom: CapturePoint? = nil,
        phase: Phase? = nil,
        slowPart: SlowPart? = nil
    ) {
        self.kind = kind
        self.sentence = sentence
        self.location = location
        self.next = next
        self.segmentFrom = segmentFrom
        self.phase = phase
        self.slowPart = slowPart
    }
}

/// The kinds of findings, each a stable identifier listed in `docs/trace.schema.json`.
public enum FindingKind: String, Sendable, Hashable, CaseIterable {
    /// An RST reached the client with the pod's address, not the Service's (conntrack INVALID, not reverse-NATed).
    case unnattedReply = "unnatted-reply"
    /// A reset closed the connection after the response completed: not a failure.
    case resetAfterResponse = "reset-after-response"
    /// The SYN was sent more than once.
    case synRetransmitted = "syn-retransmitted"
    /// Data segments were sent again.
    case dataRetransmitted = "data-retransmitted"
    /// The lookup tried several names of the search list before the answer (ndots).
    case dnsSearchWalk = "dns-search-walk"
    /// A first attempt failed and the client sent the request again.
    case retried
    /// The handshake was not captured: the capture began after the connection opened.
    case handshakeNotCaptured = "handshake-not-captured"
    /// The capture holds headers only (a short snap length): HTTP was judged from TCP alone.
    case httpNotVisible = "http-not-visible"
    /// A request or response head was longer than the parser keeps: what was kept is shown.
    case headTruncated = "head-truncated"
    /// The server's listen queue was full (its SYN-ACK retransmitted, the client's data never acknowledged).
    case acceptQueueFull = "accept-queue-full"
    /// Full-size segments were lost where smaller ones passed: a path MTU smaller than the packets (a black hole).
    case mtuBlackHole = "mtu-black-hole"
    /// The request reached a pod that is not among the Service's endpoints (stale rules or conntrack).
    case dnatToNonEndpoint = "dnat-to-non-endpoint"
    /// The Service has no ready endpoints.
    case noReadyEndpoints = "no-ready-endpoints"
    /// The request went to an endpoint that is not ready.
    case notReadyEndpoint = "not-ready-endpoint"
    /// A ready endpoint refused the connection.
    case readyEndpointRefused = "ready-endpoint-refused"
    /// The connection was rejected though the Service lists ready endpoints.
    case rejectedWithEndpoints = "rejected-with-endpoints"
    /// Where a request stopped before kube-proxy's translation would have sent it.
    case expectedEndpoints = "expected-endpoints"
    /// The Ingress rule the request matched.
    case ingressRule = "ingress-rule"
    /// No Ingress rule matches the request.
    case noIngressRule = "no-ingress-rule"
    /// The proxy connected elsewhere than the rule's backend.
    case ingressBackendMismatch = "ingress-backend-mismatch"
    /// The name is an ExternalName Service: a DNS alias, not proxied.
    case externalName = "externalname"
    /// A pod reached its own Service and came back to itself (hairpin).
    case hairpin
    /// Capture points on different nodes were compared after correcting their clocks by an estimated offset.
    case clockOffset = "clock-offset"
    /// Correlation state hit a cap and the oldest state was given up (counted, never silent).
    case evicted
}

/// Something worth knowing beside the verdict.
public struct Finding: Sendable, Hashable {
    /// The stable kind.
    public var kind: FindingKind
    /// One sentence for a human.
    public var detail: String

    /// A finding.
    public init(_ kind: FindingKind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }
}
