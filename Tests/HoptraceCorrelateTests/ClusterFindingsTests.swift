import Foundation
import HoptraceDecode
import HoptraceFlows
import HoptraceKube
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// Hand-built traces (hops as the correlator builds them for each NAT pattern) judged against hand-written objects:
/// the names, the mode and the findings follow from the objects alone.
@Suite("cluster findings")
struct ClusterFindingsTests {
    static func state(_ items: [String]) throws -> ClusterState {
        try ClusterState.parse(Data(KubeObjectsJSON.list(items).utf8), source: "test.json")
    }

    /// Mode, names and findings for `traces` from `state`, as diagnosis decides them.
    static func annotate(_ traces: inout [RequestTrace], state: ClusterState) {
        let diagnosis = Diagnosis(
            options: .init(),
            directory: ClusterDirectory(state: state),
            topology: Topology(),
            captureEnd: 0
        )
        for index in traces.indices { diagnosis.annotate(&traces[index]) }
    }

    static func name(_ trace: RequestTrace, _ key: String) -> String? { trace.names[key]?.description }

    static func hop(
        _ point: String,
        _ src: FlowEndpoint,
        _ dst: FlowEndpoint,
        _ translation: Translation,
        connection: Int = 0
    )
        -> Hop
    {
        Hop(
            point: CapturePoint(name: point),
            directions: [.outbound],
            source: src,
            destination: dst,
            translation: translation,
            connection: connection,
            firstSeen: 0
        )
    }

    static func trace(
        mode: TraceMode = .direct,
        verdict: VerdictKind = .ok,
        hops: [Hop],
        server: FlowEndpoint? = nil,
        request: RequestSummary? = nil
    ) -> RequestTrace {
        RequestTrace(
            kind: request == nil ? .connection : .http,
            mode: mode,
            verdict: Verdict(kind: verdict, sentence: "as the correlator said"),
            request: request,
            client: hops.first?.source,
            service: hops.first?.destination,
            server: server ?? hops.last?.destination,
            hops: hops,
            timings: Timings(total: 1),
            start: 0,
            end: 1
        )
    }

    static let client = endpoint("10.244.1.5", 40000)
    static let objects =
        KubeObjectsJSON.multiPort + [
            KubeObjectsJSON.pod("shop", "client", ips: ["10.244.1.5"]),
            """
            {"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": "shop", "name": "empty"},
             "spec": {"clusterIP": "10.96.7.8", "ports": [{"port": 80, "targetPort": 8080}]}}
            """,
        ]

    @Test(
        "a ClusterIP request: names for every address, mode clusterip, no finding when the DNAT is to a ready endpoint"
    )
    func clusterIP() throws {
        var traces = [
            Self.trace(
                mode: .direct,
                hops: [
                    Self.hop("vethclient", Self.client, endpoint("10.96.7.7", 80), .none),
                    Self.hop("cni0", Self.client, endpoint("10.244.1.20", 8080), .dnat),
                ]
            )
        ]
        Self.annotate(&traces, state: try Self.state(Self.objects))
        let trace = traces[0]
        #expect(trace.mode == .clusterip)
        #expect(Self.name(trace, "10.244.1.5") == "pod shop/client")
        #expect(Self.name(trace, "10.96.7.7:80") == "service shop/cart:80")
        #expect(Self.name(trace, "10.244.1.20") == "pod shop/cart-1")
        #expect(Self.name(trace, "10.244.1.5:40000") == nil)
        #expect(trace.findings.isEmpty, "\(trace.findings)")
    }

    @Test("a DNAT to an address that is not an endpoint of the Service is a finding")
    func staleDNAT() throws {
        var traces = [
            Self.trace(
                hops: [
                    Self.hop("vethclient", Self.client, endpoint("10.96.7.7", 80), .none),
                    Self.hop("cni0", Self.client, endpoint("10.244.1.77", 8080), .dnat),
                ]
            )
        ]
        Self.annotate(&traces, state: try Self.state(Self.objects))
        let finding = try #require(traces[0].findings.first { $0.kind.rawValue == "dnat-to-non-endpoint" })
        #expect(finding.detail.contains("10.244.1.77:8080"))
        #expect(finding.detail.contains("shop/cart"))
        #expect(finding.detail.contains("stale"))
    }

    @Test("a DNAT to an endpoint's address but another port is a finding too")
    func staleDNATPort() throws {
        var traces = [
            Self.trace(
                hops: [
                    Self.hop("vethclient", Self.client, endpoint("10.96.7.7", 80), .none),
                    Self.hop("cni0", Self.client, endpoint("10.244.1.20", 9999), .dnat),
                ]
            )
        ]
        Self.annotate(&traces, state: try Self.state(Self.objects))
        #expect(traces[0].findings.contains { $0.kind.rawValue == "dnat-to-non-endpoint" })
    }

    @Test("a request to a not-ready endpoint is a finding")
    func notReady() throws {
        var traces = [
            Self.trace(
                hops: [
                    Self.hop("vethclient", Self.client, endpoint("10.96.7.7", 80), .none),
                    Self.hop("cni0", Self.client, endpoint("10.244.1.21", 8080), .dnat),
                ]
            )
        ]
        Self.annotate(&traces, state: try Self.state(Self.objects))
        let finding = try #require(traces[0].findings.first { $0.kind.rawValue == "not-ready-endpoint" })
        #expect(finding.detail.contains("shop/cart-2"))
    }

    @Test("a rejected request to a Service without endpoints says so by name")
    func noEndpoints() throws {
        var traces = [
            Self.trace(
                mode: .clusterip,
                verdict: .rejected,
                hops: [Self.hop("vethclient", Self.client, endpoint("10.96.7.8", 80), .none)]
            )
        ]
        Self.annotate(&traces, state: try Self.state(Self.objects))
        #expect(traces[0].verdict.sentence.hasSuffix("; service shop/empty:80 has no ready endpoints"))
        #expect(
            traces[0].findings.contains { $0.kind.rawValue == "no-ready-endpoints" && $0.detail.contains("shop/empty") }
        )
    }

    @Test("a node address and nodePort is nodeport; the MASQUERADEd DNAT to a ready endpoint raises nothing")
    func nodePort() throws {
        let external = endpoint("192.168.1.1", 50000)
        var traces = [
            Self.trace(
                mode: .direct,
                hops: [
                    Self.hop("eth0", external, endpoint("192.168.1.10", 31080), .none),
                    Self.hop("cni0", endpoint("10.244.1.1", 2000), endpoint("10.244.1.20", 8080), .dnatSnat),
                ]
            )
        ]
        Self.annotate(&traces, state: try Self.state(Self.objects))
        #expect(traces[0].mode == .nodeport)
        #expect(Self.name(traces[0], "192.168.1.10:31080") == "nodeport shop/cart:31080")
        #expect(Self.name(traces[0], "192.168.1.10") == "node node-a")
        #expect(Self.name(traces[0], "192.168.1.1") == nil)
        #expect(traces[0].findings.isEmpty, "\(traces[0].findings)")
    }

    @Test("a pod address is direct, even when the correlator guessed clusterip from a DNS name (headless)")
    func direct() throws {
        var traces = [
            Self.trace(
                mode: .clusterip,
                hops: [Self.hop("vethclient", Self.client, endpoint("10.244.1.20", 8080), .none)]
            )
        ]
        Self.annotate(&traces, state: try Self.state(Self.objects))
        #expect(traces[0].mode == .direct)
        #expect(Self.name(traces[0], "10.244.1.20") == "pod shop/cart-1")
    }

    @Test("a host-network ingress controller is ingress; the rule and backend Service are named")
    func ingress() throws {
        let objects =
            Self.objects + [
                KubeObjectsJSON.pod(
                    "ingress-nginx",
                    "ingress-nginx-controller-x",
                    ips: ["192.168.1.10"],
                    hostNetwork: true,
                    ports: "[{\"containerPort\": 80}]"
                ),
                """
                {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"namespace": "shop", "name": "cart"},
                 "spec": {"rules": [{"host": "cart.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                  "backend": {"service": {"name": "cart", "port": {"name": "http"}}}}]}}]}}
                """,
            ]
        let external = endpoint("192.168.1.1", 50000)
        let request = RequestSummary(
            method: "GET",
            path: "/items",
            host: "cart.example.com",
            requestID: nil,
            status: 200
        )
        var direct = Self.trace(
            mode: .direct,
            hops: [Self.hop("eth0", external, endpoint("192.168.1.10", 80), .none)],
            request: request
        )
        var proxied = Self.trace(
            mode: .ingress,
            hops: [
                Self.hop("eth0", external, endpoint("192.168.1.10", 80), .none),
                Self.hop("cni0", endpoint("10.244.1.1", 3000), endpoint("10.244.1.21", 8080), .l7Proxy, connection: 1),
            ],
            request: request
        )
        var both = [direct, proxied]
        Self.annotate(&both, state: try Self.state(objects))
        direct = both[0]
        proxied = both[1]
        #expect(direct.mode == .ingress)
        #expect(Self.name(direct, "192.168.1.10:80") == "pod ingress-nginx/ingress-nginx-controller-x, host network")
        for trace in [direct, proxied] {
            let rule = try #require(trace.findings.first { $0.kind.rawValue == "ingress-rule" })
            #expect(rule.detail == "Ingress shop/cart rule cart.example.com / (Prefix) → service shop/cart:80")
        }
        // The onward connection went to an endpoint of the backend that is not ready.
        #expect(proxied.findings.contains { $0.kind.rawValue == "not-ready-endpoint" })
        #expect(!proxied.findings.contains { $0.kind.rawValue == "ingress-backend-mismatch" })
    }

    @Test("an ExternalName Service asked for by DNS is a finding")
    func externalNameLookup() throws {
        let state = try Self.state([
            """
            {"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": "default", "name": "payments"},
             "spec": {"type": "ExternalName", "externalName": "api.payments.example.com"}}
            """
        ])
        let server = endpoint("10.96.0.10", 53)
        var trace = Self.trace(hops: [])
        trace.dns = DNSLookup(
            name: "payments.default.svc.cluster.local",
            queries: [
                DNSQuery(
                    name: "payments.default.svc.cluster.local",
                    type: .a,
                    rcode: .noError,
                    addresses: [],
                    answeredRecords: 0,
                    queryTime: 0,
                    responseTime: 1,
                    sent: 1,
                    client: Self.client,
                    server: server,
                    transport: .udp,
                    seenAt: []
                )
            ],
            outcome: .noData,
            answer: nil,
            start: 0,
            end: 1
        )
        var traces = [trace]
        Self.annotate(&traces, state: state)
        trace = traces[0]
        #expect(
            trace.findings.contains {
                $0.kind.rawValue == "externalname" && $0.detail.contains("api.payments.example.com")
            }
        )
    }

    @Test("an empty state changes nothing")
    func emptyState() {
        let original = Self.trace(hops: [Self.hop("vethclient", Self.client, endpoint("10.96.7.7", 80), .none)])
        var traces = [original]
        Self.annotate(&traces, state: ClusterState())
        #expect(traces[0].names.isEmpty)
        #expect(traces[0].findings.isEmpty)
        #expect(traces[0].mode == .direct)
    }
}

/// An endpoint from text.
func endpoint(_ host: String, _ port: UInt16) -> FlowEndpoint {
    FlowEndpoint(address: IPAddress(host)!, port: port)
}
