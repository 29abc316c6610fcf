/// A namespaced object's identity: `default/web`.
public struct ObjectRef: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The namespace (empty for cluster-scoped objects such as Nodes).
    public var namespace: String
    /// The object's name.
    public var name: String

    /// A reference to `namespace/name`.
    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }

    /// `namespace/name`, or just `name` for a cluster-scoped object.
    public var description: String { namespace.isEmpty ? name : "\(namespace)/\(name)" }

    /// Orders by namespace, then name.
    public static func < (lhs: ObjectRef, rhs: ObjectRef) -> Bool {
        (lhs.namespace, lhs.name) < (rhs.namespace, rhs.name)
    }
}

/// A port a container declares (`spec.containers[].ports[]`).
public struct ContainerPort: Hashable, Sendable {
    /// The port's name (`http`), used by a Service's named `targetPort`.
    public var name: String?
    /// `containerPort`: on the pod's address (on the node's, for a host-network pod).
    public var containerPort: Int
    /// `hostPort`: also published on the node's address, when set.
    public var hostPort: Int?
    /// `TCP`, `UDP` or `SCTP`.
    public var transport: String

    /// A container port.
    public init(name: String? = nil, containerPort: Int, hostPort: Int? = nil, transport: String = "TCP") {
        self.name = name
        self.containerPort = containerPort
        self.hostPort = hostPort
        self.transport = transport
    }
}

/// A Pod, as far as addresses are concerned.
public struct KubePod: Hashable, Sendable {
    /// `metadata.namespace` / `metadata.name`.
    public var ref: ObjectRef
    /// `status.podIPs[].ip`, falling back to `status.podIP`: one per address family.
    public var ips: [String]
    /// `status.hostIP`: the node the pod runs on.
    public var hostIP: String?
    /// `spec.nodeName`.
    public var nodeName: String?
    /// `spec.hostNetwork`: the pod uses its node's addresses.
    public var hostNetwork: Bool
    /// The `Ready` condition of `status.conditions`; nil when absent.
    public var ready: Bool?
    /// `status.phase`: `Pending`, `Running`, `Succeeded`, `Failed`.
    public var phase: String?
    /// `metadata.labels`.
    public var labels: [String: String]
    /// The ports of all containers.
    public var ports: [ContainerPort]

    /// A pod.
    public init(
        ref: ObjectRef,
        ips: [String],
        hostIP: String? = nil,
        nodeName: String? = nil,
        hostNetwork: Bool = false,
        ready: Bool? = nil,
        phase: String? = nil,
        labels: [String: String] = [:],
        ports: [ContainerPort] = []
    ) {
        self.ref = ref
        self.ips = ips
        self.hostIP = hostIP
        self.nodeName = nodeName
        self.hostNetwork = hostNetwork
        self.ready = ready
        self.phase = phase
        self.labels = labels
        self.ports = ports
    }

    /// Whether this looks like an ingress controller's pod (ingress-nginx, Traefik, HAProxy, Contour, Kong, an
    /// Istio or Envoy gateway), from its name and labels.
    public var isIngressController: Bool {
        let words = ["ingress", "traefik", "haproxy", "contour", "kong", "gateway", "envoy"]
        let texts = [ref.name] + labels.values.map { $0 }
        return texts.contains { text in
            let lower = text.lowercased()
            return words.contains { lower.contains($0) }
        }
    }
}

/// `spec.type` of a Service.
public enum ServiceType: String, Sendable, Hashable, CaseIterable {
    case clusterIP = "ClusterIP"
    case nodePort = "NodePort"
    case loadBalancer = "LoadBalancer"
    case externalName = "ExternalName"
}

/// A port given by number or by name (Kubernetes' int-or-string): a Service's `targetPort` (a container port) and an
/// Ingress backend's `service.port` (a Service port).
public enum TargetPort: Hashable, Sendable, CustomStringConvertible {
    case number(Int)
    case name(String)

    /// The port number or name as written.
    public var description: String {
        switch self {
        case .number(let number): return String(number)
        case .name(let name): return name
        }
    }
}

/// One entry of a Service's `spec.ports`.
public struct ServicePort: Hashable, Sendable {
    /// The port's name (required when a Service has several ports; it names the EndpointSlice port too).
    public var name: String?
    /// The Service's port on its ClusterIP.
    public var port: Int
    /// Where kube-proxy sends it on the endpoints (defaults to `port`).
    public var targetPort: TargetPort?
    /// The port opened on every node, for NodePort and LoadBalancer Services.
    public var nodePort: Int?
    /// `TCP`, `UDP` or `SCTP`.
    public var transport: String

    /// A Service port.
    public init(
        name: String? = nil,
        port: Int,
        targetPort: TargetPort? = nil,
        nodePort: Int? = nil,
        transport: String = "TCP"
    ) {
        self.name = name
        self.port = port
        self.targetPort = targetPort
        self.nodePort = nodePort
        self.transport = transport
    }
}

/// A Service.
public struct KubeService: Hashable, Sendable {
    /// `metadata.namespace` / `metadata.name`.
    public var ref: ObjectRef
    /// `spec.type` (ClusterIP when absent).
    public var type: ServiceType
    /// `spec.clusterIPs` (or `spec.clusterIP`), one per family; empty for a headless or ExternalName Service.
    public var clusterIPs: [String]
    /// `spec.clusterIP` is `None`: DNS returns the endpoints' addresses, kube-proxy does nothing.
    public var headless: Bool
    /// `spec.ports`.
    public var ports: [ServicePort]
    /// `spec.externalName`, for an ExternalName Service (a DNS CNAME).
    public var externalName: String?
    /// `spec.ipFamilies`: `IPv4`, `IPv6`.
    public var ipFamilies: [String]
    /// `spec.externalIPs` and `status.loadBalancer.ingress[].ip`: further addresses kube-proxy answers on.
    public var externalAddresses: [String]
    /// `spec.selector`; empty for a Service whose endpoints are managed by hand.
    public var selector: [String: String]

    /// A Service.
    public init(
        ref: ObjectRef,
        type: ServiceType = .clusterIP,
        clusterIPs: [String] = [],
        headless: Bool = false,
        ports: [ServicePort] = [],
        externalName: String? = nil,
        ipFamilies: [String] = [],
        externalAddresses: [String] = [],
        selector: [String: String] = [:]
    ) {
        self.ref = ref
        self.type = type
        self.clusterIPs = clusterIPs
        self.headless = headless
        self.ports = ports
        self.externalName = externalName
        self.ipFamilies = ipFamilies
        self.externalAddresses = externalAddresses
        self.selector = selector
    }
}

/// One port of an EndpointSlice (`ports[]`): the target port on its endpoints, named like the Service port.
public struct EndpointPort: Hashable, Sendable {
    /// The Service port's name it implements (nil or empty for an unnamed single port).
    public var name: String?
    /// The port on the endpoints' addresses.
    public var port: Int?
    /// `TCP`, `UDP` or `SCTP`.
    public var transport: String

    /// An EndpointSlice port.
    public init(name: String? = nil, port: Int?, transport: String = "TCP") {
        self.name = name
        self.port = port
        self.transport = transport
    }
}

/// One endpoint of an EndpointSlice.
public struct KubeEndpoint: Hashable, Sendable {
    /// `addresses`: the endpoint's IPs (of the slice's `addressType`).
    public var addresses: [String]
    /// `conditions.ready`; nil means unknown, which consumers treat as ready.
    public var ready: Bool?
    /// `conditions.serving`.
    public var serving: Bool?
    /// `conditions.terminating`.
    public var terminating: Bool?
    /// `targetRef`, when it is a Pod.
    public var pod: ObjectRef?
    /// `nodeName`.
    public var nodeName: String?

    /// An endpoint.
    public init(
        addresses: [String],
        ready: Bool? = true,
        serving: Bool? = nil,
        terminating: Bool? = nil,
        pod: ObjectRef? = nil,
        nodeName: String? = nil
    ) {
        self.addresses = addresses
        self.ready = ready
        self.serving = serving
        self.terminating = terminating
        self.pod = pod
        self.nodeName = nodeName
    }

    /// Whether kube-proxy sends new connections to it: `ready` true or unknown.
    public var isReady: Bool { ready ?? true }
}

/// An EndpointSlice (`discovery.k8s.io/v1`).
public struct KubeEndpointSlice: Hashable, Sendable {
    /// The slice's own namespace and name.
    public var ref: ObjectRef
    /// The Service it belongs to: the `kubernetes.io/service-name` label, in the slice's namespace.
    public var service: ObjectRef?
    /// `addressType`: `IPv4`, `IPv6` or `FQDN`.
    public var addressType: String
    /// `endpoints` (null in kubectl's output when there are none).
    public var endpoints: [KubeEndpoint]
    /// `ports`.
    public var ports: [EndpointPort]

    /// An EndpointSlice.
    public init(
        ref: ObjectRef,
        service: ObjectRef?,
        addressType: String = "IPv4",
        endpoints: [KubeEndpoint],
        ports: [EndpointPort]
    ) {
        self.ref = ref
        self.service = service
        self.addressType = addressType
        self.endpoints = endpoints
        self.ports = ports
    }
}

/// A Node.
public struct KubeNode: Hashable, Sendable {
    /// `metadata.name`.
    public var name: String
    /// `status.addresses` of type `InternalIP`.
    public var internalIPs: [String]
    /// `status.addresses` of type `ExternalIP`.
    public var externalIPs: [String]
    /// `status.addresses` of type `Hostname`.
    public var hostnames: [String]
    /// `spec.podCIDRs` (or `spec.podCIDR`): the node's share of the pod network.
    public var podCIDRs: [String]

    /// A node.
    public init(
        name: String,
        internalIPs: [String] = [],
        externalIPs: [String] = [],
        hostnames: [String] = [],
        podCIDRs: [String] = []
    ) {
        self.name = name
        self.internalIPs = internalIPs
        self.externalIPs = externalIPs
        self.hostnames = hostnames
        self.podCIDRs = podCIDRs
    }

    /// All the node's IP addresses.
    public var addresses: [String] { internalIPs + externalIPs }
}

/// An Ingress `pathType`.
public enum IngressPathType: String, Sendable, Hashable, CaseIterable {
    /// The URL path must equal the rule's path (case-sensitive).
    case exact = "Exact"
    /// The URL path's `/`-separated elements must begin with the rule's elements.
    case prefix = "Prefix"
    /// Up to the controller; matched here as `Prefix` (ingress-nginx's behaviour without regexes).
    case implementationSpecific = "ImplementationSpecific"
}

/// The port of an Ingress backend Service: a number or the name of a Service port (Kubernetes' int-or-string, as
/// a Service's `targetPort`).
public typealias IngressServicePort = TargetPort

/// An Ingress backend: a Service and port (or a resource, which has no address).
public struct IngressBackend: Hashable, Sendable {
    /// `service.name` (in the Ingress's namespace).
    public var serviceName: String?
    /// `service.port.number` or `service.port.name`.
    public var servicePort: IngressServicePort?
    /// `resource.kind/name`, for a resource backend.
    public var resource: String?

    /// A backend.
    public init(serviceName: String?, servicePort: IngressServicePort?, resource: String? = nil) {
        self.serviceName = serviceName
        self.servicePort = servicePort
        self.resource = resource
    }
}

/// One `http.paths[]` entry of an Ingress rule.
public struct IngressPath: Hashable, Sendable {
    /// `path` (`/` when absent).
    public var path: String
    /// `pathType`.
    public var pathType: IngressPathType
    /// `backend`.
    public var backend: IngressBackend

    /// A path.
    public init(path: String, pathType: IngressPathType, backend: IngressBackend) {
        self.path = path
        self.pathType = pathType
        self.backend = backend
    }
}

/// One `spec.rules[]` entry of an Ingress.
public struct IngressRule: Hashable, Sendable {
    /// `host`: exact, a `*.` wildcard for one DNS label, or nil for every host.
    public var host: String?
    /// `http.paths`.
    public var paths: [IngressPath]

    /// A rule.
    public init(host: String?, paths: [IngressPath]) {
        self.host = host
        self.paths = paths
    }
}

/// An Ingress (`networking.k8s.io/v1`).
public struct KubeIngress: Hashable, Sendable {
    /// `metadata.namespace` / `metadata.name`.
    public var ref: ObjectRef
    /// `spec.ingressClassName`.
    public var className: String?
    /// `spec.rules`.
    public var rules: [IngressRule]
    /// `spec.defaultBackend`.
    public var defaultBackend: IngressBackend?

    /// An Ingress.
    public init(ref: ObjectRef, className: String? = nil, rules: [IngressRule], defaultBackend: IngressBackend? = nil) {
        self.ref = ref
        self.className = className
        self.rules = rules
        self.defaultBackend = defaultBackend
    }
}
