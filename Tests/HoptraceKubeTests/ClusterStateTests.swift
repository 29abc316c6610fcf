import Foundation
import HoptraceCorrelate
import HoptraceKube
import HoptraceTestSupport
import Testing

/// Hand-written objects in kubectl's JSON and YAML shapes (field names as the Kubernetes API defines them).
/// The hand-written objects of `KubeObjectsJSON`, read.
enum Objects {
    static func pod(
        _ ns: String,
        _ name: String,
        ips: [String],
        node: String = "node-a",
        hostNetwork: Bool = false,
        ready: Bool = true,
        ports: String = "[]"
    ) -> String {
        KubeObjectsJSON.pod(ns, name, ips: ips, node: node, hostNetwork: hostNetwork, ready: ready, ports: ports)
    }

    static let node = KubeObjectsJSON.node
    static let multiPort = KubeObjectsJSON.multiPort

    static func list(_ items: [String]) -> String { KubeObjectsJSON.list(items) }

    static func state(_ items: [String]) throws -> ClusterState {
        try ClusterState.parse(Data(list(items).utf8), source: "test.json")
    }
}

@Suite("cluster state: reading and lookups")
struct ClusterStateTests {
    @Test("a multi-port Service names each port, maps named target ports to the slice's ports")
    func multiPortService() throws {
        let state = try Objects.state(Objects.multiPort)
        #expect(state.name(ofAddress: "10.96.7.7", port: 80) == "service shop/cart:80")
        #expect(state.name(ofAddress: "10.96.7.7", port: 9090) == "service shop/cart:9090")
        #expect(state.name(ofAddress: "10.96.7.7", port: 81) == nil)
        #expect(state.name(ofAddress: "10.96.7.7") == "service shop/cart")
        let service = try #require(state.service(clusterIP: "10.96.7.7"))
        #expect(service.type == .nodePort)
        #expect(service.ports[0].targetPort == .name("web"))
        #expect(service.ports[1].targetPort == .number(9102))
        let metrics = state.endpoints(of: service.ref, port: service.ports[1])
        #expect(Set(metrics.compactMap(\.port)) == [9102])
        let http = state.endpoints(of: service.ref, port: service.ports[0])
        #expect(http.map(\.address).sorted() == ["10.244.1.20", "10.244.1.21"])
        #expect(http.filter(\.endpoint.isReady).map(\.address) == ["10.244.1.20"])
        #expect(http.first?.port == 8080)
        // The node port answers on each node address, not elsewhere.
        #expect(state.name(ofAddress: "192.168.1.10", port: 31080) == "nodeport shop/cart:31080")
        #expect(state.name(ofAddress: "203.0.113.10", port: 31080) == "nodeport shop/cart:31080")
        #expect(state.name(ofAddress: "192.168.1.99", port: 31080) == nil)
        #expect(state.name(ofAddress: "192.168.1.10", port: 9090) == nil)
        #expect(state.name(ofAddress: "192.168.1.10") == "node node-a")
        #expect(state.name(ofAddress: "10.244.1.21") == "pod shop/cart-2")
        #expect(state.name(ofAddress: "10.244.1.1") == "node node-a, pod network gateway")
        #expect(state.name(ofAddress: "10.244.1.99") == nil)
    }

    @Test("a headless Service has no ClusterIP; its endpoints are pods, found by DNS name")
    func headlessService() throws {
        let state = try Objects.state([
            """
            {"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": "data", "name": "db"},
             "spec": {"clusterIP": "None", "clusterIPs": ["None"], "ports": [{"port": 5432, "protocol": "TCP"}]}}
            """,
            """
            {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
             "metadata": {"namespace": "data", "name": "db-x1", "labels": {"kubernetes.io/service-name": "db"}},
             "endpoints": [{"addresses": ["10.244.1.30"], "targetRef": {"kind": "Pod", "namespace": "data",
                            "name": "db-0"}}],
             "ports": [{"name": "", "port": 5432, "protocol": "TCP"}]}
            """,
            Objects.pod("data", "db-0", ips: ["10.244.1.30"]),
        ])
        let service = try #require(state.service(dnsName: "db.data.svc.cluster.local."))
        #expect(service.headless)
        #expect(service.clusterIPs.isEmpty)
        #expect(state.service(clusterIP: "None") == nil)
        #expect(state.name(ofAddress: "10.244.1.30", port: 5432) == nil)
        #expect(state.name(ofAddress: "10.244.1.30") == "pod data/db-0")
        // conditions absent: ready unknown, which counts as ready.
        #expect(state.endpoints(of: service.ref, port: service.ports[0]).map(\.endpoint.isReady) == [true])
    }

    @Test("dual-stack pods, Services and nodes are found by either family, in any IPv6 spelling")
    func dualStack() throws {
        let state = try Objects.state([
            """
            {"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": "default", "name": "web"},
             "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.50", "clusterIPs": ["10.96.0.50", "fd00:10:96::50"],
                      "ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "PreferDualStack",
                      "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
            """,
            Objects.pod("default", "web-1", ips: ["10.244.1.40", "fd00:10:244:1::40"]),
            Objects.node,
        ])
        let service = try #require(state.service(clusterIP: "FD00:10:96:0:0::50"))
        #expect(service.ipFamilies == ["IPv4", "IPv6"])
        #expect(state.name(ofAddress: "fd00:10:96::50", port: 80) == "service default/web:80")
        #expect(state.name(ofAddress: "10.96.0.50", port: 80) == "service default/web:80")
        #expect(state.name(ofAddress: "fd00:10:244:1:0:0:0:40") == "pod default/web-1")
        #expect(state.name(ofAddress: "10.244.1.40") == "pod default/web-1")
        #expect(state.name(ofAddress: "fd00:192:168::10") == "node node-a")
        #expect(state.addressName(of: "fd00:10:96::50", port: 80)?.description == "service default/web:80")
        #expect(state.podNetworkNode(at: "fd00:10:244:1::99")?.name == "node-a")
        #expect(state.podNetworkNode(at: "fd00:10:244:2::99") == nil)
    }

    @Test("an ExternalName Service has no address; its DNS name is an alias")
    func externalName() throws {
        let state = try Objects.state([
            """
            {"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": "default", "name": "payments"},
             "spec": {"type": "ExternalName", "externalName": "api.payments.example.com"}}
            """
        ])
        let service = try #require(state.service(dnsName: "payments.default.svc.cluster.local"))
        #expect(service.type == .externalName)
        #expect(service.externalName == "api.payments.example.com")
        #expect(service.clusterIPs.isEmpty)
        #expect(state.service(dnsName: "payments.other.svc.cluster.local") == nil)
        #expect(state.service(dnsName: "payments.default.example.com") == nil)
    }

    @Test("a host-network pod is named on its node's address and container port, the node on the address")
    func hostNetworkPod() throws {
        let state = try Objects.state([
            Objects.pod(
                "ingress-nginx",
                "ingress-nginx-controller-abc",
                ips: ["192.168.1.10"],
                hostNetwork: true,
                ports: "[{\"containerPort\": 80, \"protocol\": \"TCP\"}, {\"containerPort\": 443}]"
            ),
            Objects.pod(
                "default",
                "cache-1",
                ips: ["10.244.1.50"],
                ports: "[{\"containerPort\": 6379, \"hostPort\": 16379}]"
            ),
            Objects.node,
        ])
        #expect(state.name(ofAddress: "192.168.1.10") == "node node-a")
        #expect(
            state.name(ofAddress: "192.168.1.10", port: 443)
                == "pod ingress-nginx/ingress-nginx-controller-abc, host network"
        )
        #expect(state.name(ofAddress: "192.168.1.10", port: 16379) == "pod default/cache-1, hostPort")
        #expect(state.name(ofAddress: "192.168.1.10", port: 8443) == nil)
        #expect(state.pod(at: "192.168.1.10") == nil)
        #expect(state.pods(at: "192.168.1.10").first?.isIngressController == true)
    }

    @Test("unknown kinds are ignored; several documents, files and a directory are merged")
    func filesAndDirectories() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hoptrace-kube-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let deployment = "{\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\", \"metadata\": {\"name\": \"x\"}}"
        try Objects.list([Objects.multiPort[0], deployment]).write(
            to: directory.appendingPathComponent("services.json"),
            atomically: true,
            encoding: .utf8
        )
        try Objects.pod("shop", "cart-1", ips: ["10.244.1.20"]).write(
            to: directory.appendingPathComponent("pod.json"),
            atomically: true,
            encoding: .utf8
        )
        try "not a state".write(to: directory.appendingPathComponent("README.md"), atomically: true, encoding: .utf8)
        let single = directory.appendingPathComponent("node.json.txt")
        try Objects.node.write(to: single, atomically: true, encoding: .utf8)

        let state = try ClusterState.load(paths: [directory.path, single.path])
        #expect(state.services.map(\.ref.description) == ["shop/cart"])
        #expect(state.pods.map(\.ref.description) == ["shop/cart-1"])
        #expect(state.nodes.map(\.name) == ["node-a"])
    }

    @Test("a YAML file: multi-document, a List, quoted numbers and named ports")
    func yamlFile() throws {
        let yaml = """
            apiVersion: v1
            kind: Service
            metadata:
              name: web
              namespace: default
            spec:
              type: NodePort
              clusterIP: 10.96.0.100
              clusterIPs:
              - 10.96.0.100
              ports:
              - name: http
                port: 80
                protocol: TCP
                targetPort: http
                nodePort: 30080
            ---
            apiVersion: v1
            kind: List
            items:
            - apiVersion: v1
              kind: Pod
              metadata:
                name: "8080"
                namespace: default
              spec:
                nodeName: lab-node
                hostNetwork: false
              status:
                podIP: 10.244.0.11
                podIPs:
                - ip: 10.244.0.11
                conditions:
                - type: Ready
                  status: "True"
            - apiVersion: discovery.k8s.io/v1
              kind: EndpointSlice
              addressType: IPv4
              metadata:
                name: web-abcde
                namespace: default
                labels:
                  kubernetes.io/service-name: web
              endpoints:
              - addresses: ["10.244.0.11"]
                conditions: {ready: true}
              ports:
              - name: http
                port: "8080"
                protocol: TCP
            ---
            # an empty document is skipped
            """
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("hoptrace-kube-\(UUID()).yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let state = try ClusterState.load(paths: [file.path])
        #expect(state.name(ofAddress: "10.96.0.100", port: 80) == "service default/web:80")
        #expect(state.name(ofAddress: "10.244.0.11") == "pod default/8080")
        #expect(state.pods.first?.ready == true)
        let service = try #require(state.service(ObjectRef(namespace: "default", name: "web")))
        #expect(service.ports.first?.targetPort == .name("http"))
        #expect(service.ports.first?.nodePort == 30080)
        #expect(state.endpoints(of: service.ref, port: service.ports[0]).first?.port == 8080)
    }
}

@Suite("cluster state: malformed input gives one line naming the file and the fix")
struct MalformedInputTests {
    struct Bad: CustomTestStringConvertible, Sendable {
        var label: String
        var text: String
        var mentions: String
        var testDescription: String { label }
    }

    static let inputs: [Bad] = [
        Bad(label: "invalid JSON", text: "{\"kind\": \"List\", \"items\": [", mentions: "not valid JSON"),
        Bad(label: "empty", text: "  \n", mentions: "empty"),
        Bad(label: "plain text", text: "The connection to the server was refused", mentions: "plain text"),
        Bad(label: "invalid YAML", text: "kind: List\nitems: [\n  - {kind: Pod\n", mentions: "not valid YAML"),
        Bad(
            label: "port not a number",
            text: Objects.list([
                "{\"kind\": \"Service\", \"metadata\": {\"name\": \"web\", \"namespace\": \"default\"}, "
                    + "\"spec\": {\"ports\": [{\"port\": \"eighty\"}]}}"
            ]),
            mentions: "Service default/web: items[0].spec.ports[0].port is a string, expected an integer"
        ),
        Bad(
            label: "ports not a list",
            text: "{\"kind\": \"Service\", \"metadata\": {\"name\": \"web\"}, \"spec\": {\"ports\": 80}}",
            mentions: "spec.ports is a number, expected a list"
        ),
        Bad(
            label: "unknown Service type",
            text: "{\"kind\": \"Service\", \"metadata\": {\"name\": \"web\"}, \"spec\": {\"type\": \"Magic\"}}",
            mentions: "expected ClusterIP, NodePort, LoadBalancer or ExternalName"
        ),
        Bad(label: "no name", text: "{\"kind\": \"Pod\", \"metadata\": {}}", mentions: "metadata.name is missing"),
        Bad(label: "not an object", text: "[1, 2]", mentions: "expected a Kubernetes object or a List"),
        Bad(label: "no kind", text: "{\"name\": \"web\"}", mentions: "has no `kind`"),
    ]

    @Test("each malformed input", arguments: inputs)
    func malformed(_ bad: Bad) throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("hoptrace-bad-\(UUID()).json")
        try bad.text.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        do {
            _ = try ClusterState.load(paths: [file.path])
            Issue.record("\(bad.label) was accepted")
        } catch {
            #expect(error.message.hasPrefix(file.path + ": "))
            #expect(error.message.contains(bad.mentions), "\(error.message)")
            #expect(error.message.contains("kubectl get pods,services,endpointslices,nodes,ingresses -A -o json"))
            #expect(!error.message.contains("\n"))
        }
    }

    @Test("a missing file, an empty directory and an oversized file are refused")
    func refusedFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hoptrace-kube-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(throws: ClusterStateError.self) { try ClusterState.load(paths: [directory.path + "/nope.json"]) }
        do {
            _ = try ClusterState.load(paths: [directory.path])
            Issue.record("an empty directory was accepted")
        } catch {
            #expect(error.message.contains("a directory without .json, .yaml or .yml files"))
        }
        let big = directory.appendingPathComponent("big.json")
        try Data(repeating: 0x20, count: 3 << 20).write(to: big)
        do {
            _ = try ClusterState.load(paths: [big.path], maximumFileSize: 2 << 20)
            Issue.record("an oversized file was accepted")
        } catch {
            #expect(error.message.contains("3 MiB is more than the 2 MiB"), "\(error.message)")
        }
    }
}
