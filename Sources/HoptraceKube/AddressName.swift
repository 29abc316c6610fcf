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
        // Spelled twice, to count and then to copy into one string made at its size: a trace names a few addresses,
        // and interpolating or appending each piece cost ~2,000 instructions per name (2% of `trace --all --json`).
        var count = 0
        self.spell { count += $0.utf8.count }
        return String(unsafeUninitializedCapacity: count) { buffer in
            var at = 0
            self.spell { piece in
                var piece = piece
                piece.withUTF8 { utf8 in
                    let room = min(utf8.count, buffer.count - at)
                    guard room > 0, let source = utf8.baseAddress, let target = buffer.baseAddress else { return }
                    (target + at).update(from: source, count: room)
                    at += room
                }
            }
            return at
        }
    }

    /// The pieces of ``description``, in order.
    private func spell(_ piece: (String) -> Void) {
        func named(_ object: ObjectRef) {
            if !object.namespace.isEmpty {
                piece(object.namespace)
                piece("/")
            }
            piece(object.name)
        }
        func port() {
            guard let port = self.port else { return }
            piece(":")
            piece(String(port))
        }
        switch role {
        case .pod:
            if let object = self.object {
                piece("pod ")
                named(object)
            } else {
                piece("pod address")
            }
        case .service:
            if let object = self.object {
                piece("service ")
                named(object)
                port()
            } else {
                piece("service address")
            }
        case .nodePort:
            piece("nodeport ")
            if let object = self.object { named(object) }
            port()
        case .node:
            if let object = self.object {
                piece("node ")
                piece(object.name)
            } else {
                piece("node address")
            }
        case .ingressController:
            if let object = self.object {
                piece("ingress controller ")
                named(object)
            } else {
                piece("L7 proxy")
            }
        }
        if let qualifier {
            piece(", ")
            piece(qualifier)
        }
    }
}
