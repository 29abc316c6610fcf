import HoptraceDecode
import HoptraceFlows
import HoptraceKube

/// What an address or address and port is: the one place correlation asks, with two sources merged.
///
/// - **Declared**: the cluster state given (`--k8s`, `--kubectl`), when there is one.
/// - **Learned** from the capture itself, as correlation goes:
///   - an address:port the capture shows translated to another destination is a virtual Service address (a
///     ClusterIP), or a NodePort when the address is one of the node's own;
///   - an ICMP port-unreachable from the node for a destination nobody owns is kube-proxy's reject of a Service
///     without endpoints: that destination is a Service address;
///   - a DNS answer for `name.namespace.svc.<domain>` names the Service at the address it gives;
///   - a source address that replaced a client's (MASQUERADE) and the sender of ICMP errors are the node's own;
///   - a server that forwards a request on a new connection is an L7 proxy.
///
/// Declared names win over learned ones. The mode of a request is decided here, once (``mode(target:proxied:)``).
public final class ClusterDirectory {
    /// The cluster state, when one was given.
    public let state: ClusterState?
    /// Most addresses remembered per kind of fact (a scan of the whole address space cannot grow it without bound).
    public static let capacity = 1 << 16

    private var virtualAddresses: [IPAddress: Set<UInt16>] = [:]
    private var serviceNames: [IPAddress: ObjectRef] = [:]
    private var nodePorts: [FlowEndpoint: Bool] = [:]
    private var nodeAddresses: Set<IPAddress> = []
    private var proxies: Set<IPAddress> = []
    private var declaredCache: [DeclaredKey: AddressName?] = [:]

    /// An endpoint's declared name depends on the transport too (a Service may name TCP and UDP ports apart).
    private struct DeclaredKey: Hashable {
        var endpoint: FlowEndpoint
        var transport: String
    }
    private var declaredAddressCache: [IPAddress: AddressName?] = [:]

    /// A directory over `state` (nil: learned names only).
    public init(state: ClusterState? = nil) {
        self.state = state.flatMap { $0.isEmpty ? nil : $0 }
    }

    // MARK: Learning

    /// `original` was seen translated to another destination (DNAT): it is a Service address, or a NodePort when
    /// the address is the node's.
    func learnTranslated(_ original: FlowEndpoint, sourceAlsoRewritten: Bool) {
        if nodeAddresses.contains(original.address) {
            learnNodePort(original)
            return
        }
        guard virtualAddresses.count < Self.capacity || virtualAddresses[original.address] != nil else { return }
        virtualAddresses[original.address, default: []].insert(original.port)
        _ = sourceAlsoRewritten
    }

    /// `endpoint` is a node address with a NodePort.
    func learnNodePort(_ endpoint: FlowEndpoint) {
        guard nodePorts.count < Self.capacity else { return }
        nodePorts[endpoint] = true
        nodeAddresses.insert(endpoint.address)
    }

    /// A reject from the node for `destination`: a Service address without endpoints.
    func learnRejected(_ destination: FlowEndpoint) {
        guard virtualAddresses.count < Self.capacity || virtualAddresses[destination.address] != nil else { return }
        virtualAddresses[destination.address, default: []].insert(destination.port)
    }

    /// `address` is the node's own (a MASQUERADE source, an ICMP sender).
    func learnNodeAddress(_ address: IPAddress) {
        guard nodeAddresses.count < Self.capacity else { return }
        nodeAddresses.insert(address)
    }

    /// A DNS answer named `address` with the cluster name of `service` (`web.default.svc.cluster.local`).
    func learnDNSAnswer(service: ObjectRef, address: IPAddress) {
        guard serviceNames.count < Self.capacity else { return }
        serviceNames[address] = service
    }

    /// `address` forwarded a request on a new connection: an L7 proxy.
    func learnProxy(_ address: IPAddress) {
        guard proxies.count < Self.capacity else { return }
        proxies.insert(address)
    }

    /// The Service a cluster DNS name stands for: `name.namespace.svc.<anything>`.
    /// Reads the first three labels only (a name is split by nothing else: lookups of long names with many answers
    /// asked this for each answer).
    static func serviceRef(dnsName: String) -> ObjectRef? {
        let bytes = dnsName.utf8
        let dot = UInt8(ascii: ".")
        guard let first = bytes.firstIndex(of: dot), first != bytes.startIndex else { return nil }
        let namespaceStart = bytes.index(after: first)
        guard let second = bytes[namespaceStart...].firstIndex(of: dot), second != namespaceStart else { return nil }
        let thirdStart = bytes.index(after: second)
        let third = bytes[thirdStart...].firstIndex(of: dot) ?? bytes.endIndex
        guard bytes[thirdStart..<third].elementsEqual("svc".utf8) else { return nil }
        return ObjectRef(
            namespace: String(decoding: bytes[namespaceStart..<second], as: UTF8.self),
            name: String(decoding: bytes[..<first], as: UTF8.self)
        )
    }

    // MARK: Questions

    /// Whether `address` is a Service's virtual address (declared ClusterIP or external address, or learned).
    public func isServiceAddress(_ address: IPAddress) -> Bool {
        if virtualAddresses[address] != nil || serviceNames[address] != nil { return true }
        if let name = declared(address), name.role == .service { return true }
        return false
    }

    /// Whether `address` is one of a node's own addresses.
    public func isNodeAddress(_ address: IPAddress) -> Bool {
        if nodeAddresses.contains(address) { return true }
        return state?.isNodeAddress(address.description) ?? false
    }

    /// Whether `endpoint` is a NodePort (declared, or learned from its translation).
    public func isNodePort(_ endpoint: FlowEndpoint) -> Bool {
        if nodePorts[endpoint] != nil { return true }
        if let name = declared(endpoint), name.role == .nodePort { return true }
        return false
    }

    /// Whether `address` is an L7 proxy (declared ingress controller, or learned).
    public func isProxy(_ address: IPAddress) -> Bool {
        proxies.contains(address)
    }

    /// The name of an endpoint where its port matters: declared for its address and port (a Service port, a
    /// NodePort, a host-network pod), else learned for them; nil when only the address has a name.
    public func name(of endpoint: FlowEndpoint, transport: String = "TCP") -> AddressName? {
        if let declared = declared(endpoint, transport: transport) { return declared }
        if nodePorts[endpoint] != nil {
            return AddressName(role: .nodePort, port: Int(endpoint.port), source: .learned)
        }
        if let ref = serviceNames[endpoint.address] {
            return AddressName(role: .service, object: ref, port: Int(endpoint.port), source: .learned)
        }
        if virtualAddresses[endpoint.address] != nil {
            return AddressName(role: .service, port: Int(endpoint.port), source: .learned)
        }
        return nil
    }

    /// Whether no address has a name: no cluster state, and nothing learned from the capture yet (then
    /// ``name(of:transport:)`` and ``name(ofAddress:)`` are nil for every address).
    public var namesNothing: Bool {
        state == nil && serviceNames.isEmpty && virtualAddresses.isEmpty && nodePorts.isEmpty && proxies.isEmpty
            && nodeAddresses.isEmpty
    }

    /// The name of an address alone.
    public func name(ofAddress address: IPAddress) -> AddressName? {
        if let declared = declared(address) { return declared }
        if let ref = serviceNames[address] { return AddressName(role: .service, object: ref, source: .learned) }
        if virtualAddresses[address] != nil { return AddressName(role: .service, source: .learned) }
        if proxies.contains(address) { return AddressName(role: .ingressController, source: .learned) }
        if nodeAddresses.contains(address) { return AddressName(role: .node, source: .learned) }
        return nil
    }

    private func declared(_ endpoint: FlowEndpoint, transport: String = "TCP") -> AddressName? {
        guard let state else { return nil }
        let key = DeclaredKey(endpoint: endpoint, transport: transport)
        if let cached = declaredCache[key] { return cached }
        let name = state.addressName(of: endpoint.address.description, port: Int(endpoint.port), transport: transport)
        if declaredCache.count < Self.capacity { declaredCache[key] = name }
        return name
    }

    private func declared(_ address: IPAddress) -> AddressName? {
        guard let state else { return nil }
        if let cached = declaredAddressCache[address] { return cached }
        let name = state.addressName(of: address.description)
        if declaredAddressCache.count < Self.capacity { declaredAddressCache[address] = name }
        return name
    }

    // MARK: Mode

    /// How a request to `target` (the address the client connected to, as it addressed it) reached its server.
    ///
    /// - Parameters:
    ///   - target: the client's destination before any translation.
    ///   - proxied: whether the request was forwarded by an L7 proxy on a new connection.
    ///   - translated: whether the capture shows the client's connection translated (DNAT).
    ///   - serverIsLocalPod: whether the target is an address that lives behind a capture point of its own (a pod).
    ///   - answered: whether anything answered the connection (a SYN-ACK or data from the server's side).
    public func mode(
        target: FlowEndpoint,
        proxied: Bool,
        translated: Bool,
        answered: Bool = true,
        request: RequestSummary?
    ) -> TraceMode {
        if proxied { return .ingress }
        if let state, isDeclaredIngressEntry(target, request: request, state: state) { return .ingress }
        if isNodePort(target) { return .nodeport }
        if isServiceAddress(target.address) { return .clusterip }
        if translated {
            // Translated but not learned yet as either (the fact arrives with this request): a node address is a
            // NodePort, anything else a Service address.
            return isNodeAddress(target.address) ? .nodeport : .clusterip
        }
        // Never answered nor translated, to a port of Kubernetes' default NodePort range on an address that is not a
        // pod's: a NodePort whose packets were lost before kube-proxy's DNAT.
        if !answered, Self.nodePortRange.contains(target.port), name(ofAddress: target.address)?.role != .pod {
            return .nodeport
        }
        return .direct
    }

    /// Kubernetes' default `--service-node-port-range`.
    public static let nodePortRange: ClosedRange<UInt16> = 30000...32767

    /// Whether the client connected to an ingress controller according to the cluster state: a host-network
    /// controller on the node's address, a controller pod's own address, or a Service whose endpoints are
    /// controller pods.
    func isDeclaredIngressEntry(_ target: FlowEndpoint, request: RequestSummary?, state: ClusterState) -> Bool {
        let address = target.address.description
        let port = Int(target.port)
        var controllers: [KubePod] = []
        if let pod = state.hostPod(at: address, port: port, transport: "TCP") { controllers.append(pod) }
        if let pod = state.pod(at: address) { controllers.append(pod) }
        if let match = state.service(at: address, port: port, transport: "TCP") {
            for endpoint in state.endpoints(of: match.service.ref, port: match.port) {
                if let ref = endpoint.endpoint.pod, let pod = state.pod(ref) {
                    controllers.append(pod)
                } else if let pod = state.pod(at: endpoint.address) {
                    controllers.append(pod)
                }
            }
        }
        guard !controllers.isEmpty else { return false }
        if controllers.contains(where: \.isIngressController) { return true }
        // Not recognisable by name: a rule naming the request's host exactly, whose backend is not the target.
        guard let request, let host = request.host,
            let route = state.ingressRoute(host: host, path: request.path), route.host != nil,
            let backend = route.service
        else { return false }
        return !controllers.allSatisfy { pod in
            state.endpoints(of: backend.ref).contains { $0.endpoint.pod == pod.ref }
        }
    }
}
