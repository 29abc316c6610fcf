import Foundation
import HoptraceDecode
import HoptraceFlows
import HoptraceKube
import Testing

@testable import HoptraceCorrelate

/// Kubernetes lets a UDP and a TCP Service port share a NodePort number: the name of a node address and port depends
/// on the transport, and asking for one must not answer for the other (hand-written objects, as kubectl prints them).
@Suite("names by transport")
struct DirectoryTransportTests {
    static let cluster = """
        {"apiVersion": "v1", "kind": "List", "items": [
         {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-a"},
          "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}},
         {"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": "default", "name": "dns-udp"},
          "spec": {"type": "NodePort", "clusterIP": "10.96.0.53",
                   "ports": [{"port": 53, "protocol": "UDP", "nodePort": 30053}]}},
         {"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": "default", "name": "dns-tcp"},
          "spec": {"type": "NodePort", "clusterIP": "10.96.0.54",
                   "ports": [{"port": 53, "protocol": "TCP", "nodePort": 30053}]}}
        ]}
        """

    @Test("one node port, UDP and TCP: each transport its own Service, whichever is asked first")
    func sharedNodePort() throws {
        let state = try ClusterState.parse(Data(Self.cluster.utf8), source: "cluster.json")
        let endpoint = FlowEndpoint(address: IPAddress(10, 0, 0, 1), port: 30_053)
        for order in [["UDP", "TCP"], ["TCP", "UDP"]] {
            let directory = ClusterDirectory(state: state)
            for transport in order {
                let name = directory.name(of: endpoint, transport: transport)
                #expect(name?.role == .nodePort, "\(transport)")
                #expect(
                    name?.object?.name == (transport == "UDP" ? "dns-udp" : "dns-tcp"),
                    "\(transport) after \(order)"
                )
            }
        }
    }
}

/// Kubernetes' DNS schema for Services (`<service>.<namespace>.svc.<cluster-domain>`, the cluster-domain any suffix):
/// which names name a Service, and which one.
@Suite("Service DNS names")
struct ServiceDNSNameTests {
    @Test(
        "name.namespace.svc.<anything> names a Service; other shapes do not",
        arguments: [
            ("web.default.svc.cluster.local", "default/web"),
            ("web.default.svc", "default/web"),
            ("web.default.svc.", "default/web"),
            ("my-api.prod-1.svc.k8s.example.com", "prod-1/my-api"),
            ("web.default.svc.cluster.local.", "default/web"),
            ("web.default.cluster.local", nil),
            ("web.default", nil),
            ("web", nil),
            (".default.svc.cluster.local", nil),
            ("web..svc.cluster.local", nil),
            ("web.default.svcx.cluster.local", nil),
            ("web.default.sv", nil),
            ("web.default.svc\u{301}.cluster.local", nil),
            ("_http._tcp.web.default.svc.cluster.local", nil),
            ("", nil),
        ] as [(String, String?)]
    )
    func serviceName(name: String, service: String?) {
        #expect(ClusterDirectory.serviceRef(dnsName: name).map { "\($0.namespace)/\($0.name)" } == service)
    }
}
