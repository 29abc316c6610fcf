import HoptraceDecode

/// What an address (or address and port) is in the cluster.
public enum AddressRole: String, Sendable, Hashable, CaseIterable {
    /// A pod's own address (or a host-network pod on its node's address and port).
    case pod
    /// A Service's virtual address and port (ClusterIP, or an external/load-balancer address).
    case service
    /// A node's address with a Service's NodePort.
    case nodePort = "nodeport"
    /// A node's own address (InternalIP, ExternalIP, the pod network's gateway on the node).
    case node
    /// An L7 proxy that forwards requests on new connections (an ingress controller).
    case ingressController = "ingress-controller"
}

/// Where a name came from.
public enum NameSource: String, Sendable, Hashable, CaseIterable {
    /// From the cluster state given (`--k8s`, `--kubectl`).
    case declared
    /// From the capture itself: a translation, a rejection, a DNS answer, a proxied request.
    case learned
}

/// The name of an address in the cluster, as a value: its role, the object it belongs to, and the port when the port
/// matters (a Service port, a NodePort).
public struct AddressName: Sendable, Hashable, CustomStringConvertible {
    /// What the address is.
    public var role: AddressRole
    /// The object: a pod's or Service's namespace and name; a node's name (empty namespace); nil when only the role is
    /// known (learned without a name).
    public var object: ObjectRef?
    /// The Service port or NodePort, when the port matters.
    public var port: Int?
    /// Declared or learned.
    public var source: NameSource
    /// A qualifier: `host network`, `hostPort`, `external address`, `pod network gateway`.
    public var qualifier: String?

    /// A name.
    public init(
        role: AddressRole,
        object: ObjectRef? = nil,
        port: Int? = nil,
        source: NameSource = .declared,
        qualifier: String? = nil
    ) {
        self.role = role
        self.object = object
        self.port = port
        self.source = source
        self.qualifier = qualifier
    }

    /// `pod default/web-7d4b9`, `service default/web:80`, `nodeport default/web:30080`, `node lab-node`,
    /// `pod ingress-nginx/controller-x, host network`; a learned name without an object says what is known
    /// (`service address`, `nodeport :30080`, `node address`, `L7 proxy`).
    public var description: String {
        var text: String
        switch role {
        case .pod:
            text = object.map { "pod \($0)" } ?? "pod address"
        case .service:
            if let object {
                text = "service \(object)" + (port.map { ":\($0)" } ?? "")
            } else {
                text = "service address"
            }
        case .nodePort:
            text = "nodeport " + (object.map(\.description) ?? "") + (port.map { ":\($0)" } ?? "")
        case .node:
            text = object.map { "node \($0.name)" } ?? "node address"
        case .ingressController:
            text = object.map { "ingress controller \($0)" } ?? "L7 proxy"
        }
        if let qualifier { text += ", \(qualifier)" }
        return text
    }
}
