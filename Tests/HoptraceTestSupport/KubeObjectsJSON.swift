/// Kubernetes objects as `kubectl get -o json` writes them, for tests: hand-written, so the names a test expects
/// follow from these objects alone.
public enum KubeObjectsJSON {
    /// A Pod.
    public static func pod(
        _ ns: String,
        _ name: String,
        ips: [String],
        node: String = "node-a",
        hostNetwork: Bool = false,
        ready: Bool = true,
        ports: String = "[]"
    ) -> String {
        let podIPs = ips.map { "{\"ip\": \"\($0)\"}" }.joined(separator: ", ")
        return """
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": "\(ns)", "name": "\(name)",
             "labels": {"app": "\(name.split(separator: "-").first ?? "")"}},
             "spec": {"nodeName": "\(node)", "hostNetwork": \(hostNetwork),
                      "containers": [{"name": "c", "ports": \(ports)}]},
             "status": {"phase": "Running", "hostIP": "192.168.1.10", "podIP": "\(ips.first ?? "")",
                        "podIPs": [\(podIPs)],
                        "conditions": [{"type": "Ready", "status": "\(ready ? "True" : "False")"}]}}
            """
    }

    /// A Node `node-a` (InternalIP 192.168.1.10, pod CIDR 10.244.1.0/24).
    public static let node = """
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-a"},
         "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24", "fd00:10:244:1::/64"]},
         "status": {"addresses": [{"type": "InternalIP", "address": "192.168.1.10"},
                                  {"type": "InternalIP", "address": "fd00:192:168::10"},
                                  {"type": "ExternalIP", "address": "203.0.113.10"},
                                  {"type": "Hostname", "address": "node-a"}]}}
        """

    /// A `List` of these items.
    public static func list(_ items: [String]) -> String {
        "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"metadata\": {\"resourceVersion\": \"\"}, \"items\": ["
            + items.joined(separator: ",\n") + "]}"
    }

    /// A two-port Service (`http` 80 → named target port `web`, `metrics` 9090 → 9102), NodePort on http.
    public static let multiPort = [
        """
        {"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": "shop", "name": "cart"},
         "spec": {"type": "NodePort", "clusterIP": "10.96.7.7", "clusterIPs": ["10.96.7.7"], "ipFamilies": ["IPv4"],
                  "ports": [{"name": "http", "port": 80, "targetPort": "web", "nodePort": 31080, "protocol": "TCP"},
                            {"name": "metrics", "port": 9090, "targetPort": 9102, "protocol": "TCP"}]}}
        """,
        """
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
         "metadata": {"namespace": "shop", "name": "cart-abcde", "labels": {"kubernetes.io/service-name": "cart"}},
         "endpoints": [{"addresses": ["10.244.1.20"], "conditions": {"ready": true},
                        "targetRef": {"kind": "Pod", "namespace": "shop", "name": "cart-1"}},
                       {"addresses": ["10.244.1.21"], "conditions": {"ready": false},
                        "targetRef": {"kind": "Pod", "namespace": "shop", "name": "cart-2"}}],
         "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "metrics", "port": 9102, "protocol": "TCP"}]}
        """,
        pod("shop", "cart-1", ips: ["10.244.1.20"]),
        pod("shop", "cart-2", ips: ["10.244.1.21"], ready: false),
        node,
    ]
}
