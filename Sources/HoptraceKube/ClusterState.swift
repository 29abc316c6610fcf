import Foundation
import HoptraceDecode
import Yams

/// A cluster-state file that could not be used: one line naming the file, what is wrong and the fix.
public struct ClusterStateError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The whole message, e.g. `cluster.json: not valid JSON (...); pass the output of `kubectl get ...``.
    public var message: String

    /// An error with this message.
    public init(_ message: String) { self.message = message }

    /// The message.
    public var description: String { message }
}

/// The Kubernetes objects that give addresses names: Pods, Services, EndpointSlices, Nodes and Ingresses, indexed
/// by address.
///
/// Read it from the output of `kubectl get pods,services,endpointslices,nodes,ingresses -A -o json` (or `-o yaml`),
/// from single objects, several files or a directory of them (``load(paths:maximumFileSize:)``), or build it from
/// values (``init(pods:services:endpointSlices:nodes:ingresses:)``).
public struct ClusterState: Sendable {
    /// The command whose output this reads.
    public static let kubectlCommand = "kubectl get pods,services,endpointslices,nodes,ingresses -A -o json"
    /// Files larger than this are refused: not a plausible `kubectl get` output.
    public static let defaultMaximumFileSize = 256 << 20

    /// Every Pod read.
    public let pods: [KubePod]
    /// Every Service read.
    public let services: [KubeService]
    /// Every EndpointSlice read.
    public let endpointSlices: [KubeEndpointSlice]
    /// Every Node read.
    public let nodes: [KubeNode]
    /// Every Ingress read.
    public let ingresses: [KubeIngress]

    private var podsByAddress: [String: [Int]] = [:]
    private var nodeByAddress: [String: Int] = [:]
    private var serviceByClusterIP: [String: Int] = [:]
    private var serviceByExternalAddress: [String: [Int]] = [:]
    private var serviceByRef: [ObjectRef: Int] = [:]
    private var servicesByNodePort: [Int: [Int]] = [:]
    private var slicesByService: [ObjectRef: [Int]] = [:]
    private var podCIDRs: [(network: IPAddress, prefix: Int, node: Int)] = []
    private var hostAddresses: Set<String> = []
    private var podsByHostPort: [String: [Int]] = [:]
    private var podByRef: [ObjectRef: Int] = [:]

    /// An empty state: every lookup answers nil.
    public init() {
        self.init(pods: [], services: [], endpointSlices: [], nodes: [], ingresses: [])
    }

    /// A state made of these objects.
    public init(
        pods: [KubePod] = [],
        services: [KubeService] = [],
        endpointSlices: [KubeEndpointSlice] = [],
        nodes: [KubeNode] = [],
        ingresses: [KubeIngress] = []
    ) {
        self.pods = pods
        self.services = services
        self.endpointSlices = endpointSlices
        self.nodes = nodes
        self.ingresses = ingresses
        for (index, pod) in pods.enumerated() {
            for ip in pod.ips { podsByAddress[Self.key(ip), default: []].append(index) }
            if let hostIP = pod.hostIP {
                hostAddresses.insert(Self.key(hostIP))
                for port in pod.ports {
                    if let hostPort = port.hostPort {
                        podsByHostPort["\(Self.key(hostIP)) \(hostPort)", default: []].append(index)
                    }
                }
            }
            if podByRef[pod.ref] == nil { podByRef[pod.ref] = index }
        }
        for (index, node) in nodes.enumerated() {
            for ip in node.addresses where nodeByAddress[Self.key(ip)] == nil { nodeByAddress[Self.key(ip)] = index }
            for cidr in node.podCIDRs {
                if let (network, prefix) = Self.parseCIDR(cidr) { podCIDRs.append((network, prefix, index)) }
            }
        }
        for (index, service) in services.enumerated() {
            serviceByRef[service.ref] = index
            for ip in service.clusterIPs { serviceByClusterIP[Self.key(ip)] = index }
            for ip in service.externalAddresses { serviceByExternalAddress[Self.key(ip), default: []].append(index) }
            if service.type == .nodePort || service.type == .loadBalancer {
                for port in service.ports {
                    if let nodePort = port.nodePort { servicesByNodePort[nodePort, default: []].append(index) }
                }
            }
        }
        for (index, slice) in endpointSlices.enumerated() {
            if let service = slice.service { slicesByService[service, default: []].append(index) }
        }
    }

    /// This state with `other`'s objects added (several files of one cluster).
    public func merging(_ other: ClusterState) -> ClusterState {
        ClusterState(
            pods: pods + other.pods,
            services: services + other.services,
            endpointSlices: endpointSlices + other.endpointSlices,
            nodes: nodes + other.nodes,
            ingresses: ingresses + other.ingresses
        )
    }

    /// Whether no object was read.
    public var isEmpty: Bool {
        pods.isEmpty && services.isEmpty && endpointSlices.isEmpty && nodes.isEmpty && ingresses.isEmpty
    }

    // MARK: Reading

    /// Reads files and directories (their `.json`, `.yaml` and `.yml` files) of `kubectl get -o json|yaml` output.
    public static func load(
        paths: [String],
        maximumFileSize: Int = ClusterState.defaultMaximumFileSize
    ) throws(ClusterStateError) -> ClusterState {
        var objects = ClusterObjects()
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw ClusterStateError("\(path): no such file; write it with `\(kubectlCommand) > \(path)`")
            }
            if isDirectory.boolValue {
                let entries = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter {
                    let lower = $0.lowercased()
                    return !$0.hasPrefix(".")
                        && (lower.hasSuffix(".json") || lower.hasSuffix(".yaml") || lower.hasSuffix(".yml"))
                }.sorted()
                guard !entries.isEmpty else {
                    throw ClusterStateError(
                        "\(path): a directory without .json, .yaml or .yml files; write one with "
                            + "`\(kubectlCommand) > \(path)/cluster.json`"
                    )
                }
                for entry in entries {
                    try read(file: (path as NSString).appendingPathComponent(entry), limit: maximumFileSize, &objects)
                }
            } else {
                try read(file: path, limit: maximumFileSize, &objects)
            }
        }
        return ClusterState(objects)
    }

    /// Reads one document (JSON, or YAML with any number of `---` documents); `source` names it in errors.
    public static func parse(_ data: Data, source: String) throws(ClusterStateError) -> ClusterState {
        var objects = ClusterObjects()
        try parse(data, source: source, into: &objects)
        return ClusterState(objects)
    }

    init(_ objects: ClusterObjects) {
        self.init(
            pods: objects.pods,
            services: objects.services,
            endpointSlices: objects.endpointSlices,
            nodes: objects.nodes,
            ingresses: objects.ingresses
        )
    }

    static func read(
        file path: String,
        limit: Int,
        source: String? = nil,
        _ objects: inout ClusterObjects
    ) throws(ClusterStateError) {
        let name = source ?? path
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
        guard size <= limit else {
            throw ClusterStateError(
                "\(name): \(size >> 20) MiB is more than the \(limit >> 20) MiB a cluster state may be; pass the "
                    + "output of `\(kubectlCommand)` (only those kinds)"
            )
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ClusterStateError("\(name): cannot read the file; check its permissions")
        }
        try parse(data, source: name, into: &objects)
    }

    static func parse(_ data: Data, source: String, into objects: inout ClusterObjects) throws(ClusterStateError) {
        let fix = "pass the output of `\(kubectlCommand)` (or -o yaml)"
        var bytes = data[...]
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        guard let first = bytes.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) else {
            throw ClusterStateError("\(source): the file is empty; \(fix)")
        }
        var documents: [KubeValue] = []
        if first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
            // A List's items are read into objects one by one as the parser reaches them.
            var collected = ClusterObjects()
            do {
                let document = try bytes.withUnsafeBytes { raw in
                    try KubeJSONParser.parse(raw) { index, item in
                        try KubeObjectReader.objects(in: Field(item, path: "items[\(index)]"), into: &collected)
                    }
                }
                documents = [document]
            } catch let error as KubeJSONError {
                throw ClusterStateError("\(source): not valid JSON (\(error)); \(fix)")
            } catch let error as FieldError {
                throw ClusterStateError("\(source): \(error.message); \(fix)")
            } catch {
                throw ClusterStateError("\(source): \(Self.reason(error)); \(fix)")
            }
            objects.pods += collected.pods
            objects.services += collected.services
            objects.endpointSlices += collected.endpointSlices
            objects.nodes += collected.nodes
            objects.ingresses += collected.ingresses
        } else {
            guard let text = String(data: Data(bytes), encoding: .utf8) else {
                throw ClusterStateError("\(source): neither JSON nor UTF-8 YAML; \(fix)")
            }
            do {
                // `Parser.nextRoot` throws; `compose_all`'s sequence would end quietly at a syntax error.
                try KubeValue.checkYAMLNesting(text)  // before Yams recurses into it
                let parser = try Parser(yaml: text)
                while let node = try parser.nextRoot() {
                    documents.append(try KubeValue(yaml: node))
                    guard documents.count <= 1_000_000 else { throw KubeValueError.tooDeep }
                }
            } catch {
                throw ClusterStateError("\(source): not valid YAML (\(Self.reason(error))); \(fix)")
            }
            if case .string? = documents.first, documents.count == 1 {
                throw ClusterStateError("\(source): plain text, not JSON or YAML objects; \(fix)")
            }
        }
        do {
            for (index, document) in documents.enumerated() {
                let path = documents.count > 1 ? "document \(index + 1)" : ""
                try KubeObjectReader.objects(in: Field(document, path: path), into: &objects)
            }
        } catch let error as FieldError {
            throw ClusterStateError("\(source): \(error.message); \(fix)")
        } catch {
            throw ClusterStateError("\(source): \(Self.reason(error)); \(fix)")
        }
    }

    /// An error's explanation on one bounded line.
    static func reason(_ error: any Error) -> String {
        var text: String
        switch error {
        case let DecodingError.dataCorrupted(context):
            text = context.debugDescription
            if let underlying = context.underlyingError {
                text += " " + String(describing: underlying)
            }
        case KubeValueError.tooDeep:
            text = "nested too deep"
        default:
            text = String(describing: error)
        }
        text = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return text.count > 160 ? String(text.prefix(160)) + "…" : text
    }

    // MARK: Addresses

    /// The canonical text of an address (`fd00::a` for `FD00:0::A`), or the text itself when it is not an IP.
    public static func key(_ address: String) -> String {
        var text = address
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        if let zone = text.firstIndex(of: "%") { text = String(text[..<zone]) }
        return IPAddress(text)?.description ?? text.lowercased()
    }

    static func parseCIDR(_ text: String) -> (IPAddress, Int)? {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let address = IPAddress(String(parts[0])), let prefix = Int(parts[1]) else {
            return nil
        }
        guard prefix >= 0, prefix <= (address.isIPv4 ? 32 : 128) else { return nil }
        return (address, prefix)
    }

    static func contains(_ network: IPAddress, _ prefix: Int, _ address: IPAddress) -> Bool {
        guard network.isIPv4 == address.isIPv4 else { return false }
        let bits = address.isIPv4 ? prefix + 96 : prefix
        let highMask: UInt64 = bits >= 64 ? .max : bits == 0 ? 0 : ~(UInt64.max >> UInt64(bits))
        let lowMask: UInt64 = bits <= 64 ? 0 : bits >= 128 ? .max : ~(UInt64.max >> UInt64(bits - 64))
        return network.high & highMask == address.high & highMask && network.low & lowMask == address.low & lowMask
    }

    /// The pods with this address: one pod-network pod, or the host-network pods of a node.
    public func pods(at address: String) -> [KubePod] {
        (podsByAddress[Self.key(address)] ?? []).map { pods[$0] }
    }

    /// The pod-network pod (not host-network) at this address; a running pod before a finished one whose address
    /// was reused.
    public func pod(at address: String) -> KubePod? {
        let candidates = pods(at: address).filter { !$0.hostNetwork }
        return candidates.first { $0.phase == nil || $0.phase == "Running" || $0.phase == "Pending" }
            ?? candidates.first
    }

    /// A pod listening on the node's own address: a host-network pod with this container port, or a pod publishing
    /// it as a `hostPort` on its node.
    public func hostPod(at address: String, port: Int, transport: String? = nil) -> KubePod? {
        let key = Self.key(address)
        let fits: (ContainerPort) -> Bool = { transport == nil || $0.transport == transport }
        if let pod = pods(at: address).first(where: { pod in
            pod.hostNetwork && pod.ports.contains { $0.containerPort == port && fits($0) }
        }) {
            return pod
        }
        return (podsByHostPort["\(key) \(port)"] ?? []).map { pods[$0] }.first { pod in
            pod.ports.contains { $0.hostPort == port && fits($0) }
        }
    }

    /// The pod with this namespace and name.
    public func pod(_ ref: ObjectRef) -> KubePod? {
        podByRef[ref].map { pods[$0] }
    }

    /// The node with this InternalIP or ExternalIP.
    public func node(at address: String) -> KubeNode? {
        nodeByAddress[Self.key(address)].map { nodes[$0] }
    }

    /// The node whose pod CIDR holds this address (the node's bridge, or one of its pods).
    public func podNetworkNode(at address: String) -> KubeNode? {
        guard let ip = IPAddress(Self.key(address)) else { return nil }
        return podCIDRs.first { Self.contains($0.network, $0.prefix, ip) }.map { nodes[$0.node] }
    }

    /// The first address of a node's pod CIDR: where bridge CNIs put the node's side of the pod network (`cni0`).
    public func isPodNetworkGateway(_ address: String) -> Bool {
        guard let ip = IPAddress(Self.key(address)) else { return false }
        return podCIDRs.contains { cidr in
            Self.contains(cidr.network, cidr.prefix, ip) && ip.low &- 1 == cidr.network.low
                && ip.high == cidr.network.high
        }
    }

    // MARK: Services

    /// How an address and port reached a Service.
    public enum ServiceAccess: String, Sendable, Hashable {
        /// Its ClusterIP (one of its `clusterIPs`).
        case clusterIP
        /// A node's address and the Service's `nodePort`.
        case nodePort
        /// An `externalIPs` or load-balancer address.
        case external
    }

    /// A Service port matched by an address and port.
    public struct ServiceMatch: Sendable, Hashable, CustomStringConvertible {
        /// The Service.
        public var service: KubeService
        /// The port of its `spec.ports` that matched.
        public var port: ServicePort
        /// How it was reached.
        public var access: ServiceAccess

        /// `service default/web:80`, or `nodeport default/web:30080`.
        public var description: String {
            switch access {
            case .clusterIP: return "service \(service.ref):\(port.port)"
            case .nodePort: return "nodeport \(service.ref):\(port.nodePort ?? port.port)"
            case .external: return "service \(service.ref):\(port.port), external address"
            }
        }
    }

    /// The Service with this name.
    public func service(_ ref: ObjectRef) -> KubeService? {
        serviceByRef[ref].map { services[$0] }
    }

    /// The Service with this ClusterIP.
    public func service(clusterIP address: String) -> KubeService? {
        serviceByClusterIP[Self.key(address)].map { services[$0] }
    }

    /// The Service port reached at `address:port`: a ClusterIP, a node's address with a nodePort, an external or
    /// load-balancer address. `transport` (`TCP`, `UDP`) narrows it when given.
    public func service(at address: String, port: Int, transport: String? = nil) -> ServiceMatch? {
        let fits: (ServicePort) -> Bool = { transport == nil || $0.transport == transport }
        let pick: (KubeService, (ServicePort) -> Bool) -> ServicePort? = { service, test in
            service.ports.first { test($0) && fits($0) } ?? service.ports.first(where: test)
        }
        let key = Self.key(address)
        if let service = service(clusterIP: address) {
            return pick(service, { $0.port == port }).map {
                ServiceMatch(service: service, port: $0, access: .clusterIP)
            }
        }
        for index in serviceByExternalAddress[key] ?? [] {
            if let match = pick(services[index], { $0.port == port }) {
                return ServiceMatch(service: services[index], port: match, access: .external)
            }
        }
        if isNodeAddress(address) {
            // A UDP and a TCP port of two Services may share a node port: the one of the transport asked first.
            let candidates = servicesByNodePort[port] ?? []
            for index in candidates {
                if let match = services[index].ports.first(where: { $0.nodePort == port && fits($0) }) {
                    return ServiceMatch(service: services[index], port: match, access: .nodePort)
                }
            }
            for index in candidates {
                if let match = pick(services[index], { $0.nodePort == port }) {
                    return ServiceMatch(service: services[index], port: match, access: .nodePort)
                }
            }
        }
        return nil
    }

    /// Whether kube-proxy's NodePort rules answer on this address: a node's InternalIP/ExternalIP, a pod's host IP,
    /// or the node's side of the pod network.
    public func isNodeAddress(_ address: String) -> Bool {
        let key = Self.key(address)
        return nodeByAddress[key] != nil || isPodNetworkGateway(address)
            || hostAddresses.contains(key)
    }

    /// The Service a cluster DNS name stands for: `name.namespace.svc.<domain>` (any cluster domain) or
    /// `name.namespace.svc`.
    public func service(dnsName: String) -> KubeService? {
        var labels = dnsName.lowercased().split(separator: ".").map(String.init)
        if labels.last?.isEmpty == true { labels.removeLast() }
        guard labels.count >= 3, labels[2] == "svc" else { return nil }
        return service(ObjectRef(namespace: labels[1], name: labels[0]))
    }

    /// Whether any EndpointSlice was read: without them, a Service's endpoints are unknown, not empty.
    public var hasEndpointSlices: Bool { !endpointSlices.isEmpty }

    /// The EndpointSlices of a Service.
    public func endpointSlices(of service: ObjectRef) -> [KubeEndpointSlice] {
        (slicesByService[service] ?? []).map { endpointSlices[$0] }
    }

    /// An endpoint address of a Service, with the target port it serves for the Service port asked about.
    public struct ResolvedEndpoint: Sendable, Hashable {
        /// The endpoint's address.
        public var address: String
        /// The target port for the Service port, when the slice says.
        public var port: Int?
        /// The endpoint.
        public var endpoint: KubeEndpoint
    }

    /// The endpoints of a Service, with their target port for `port` (all ports' endpoints when nil).
    public func endpoints(of service: ObjectRef, port: ServicePort? = nil) -> [ResolvedEndpoint] {
        var result: [ResolvedEndpoint] = []
        for slice in endpointSlices(of: service) {
            var targetPort: Int?
            if let port {
                let name = port.name ?? ""
                let matches = slice.ports.filter { ($0.name ?? "") == name }
                if matches.isEmpty, !slice.ports.isEmpty { continue }
                targetPort = (matches.first { $0.transport == port.transport } ?? matches.first)?.port
            }
            for endpoint in slice.endpoints {
                for address in endpoint.addresses {
                    result.append(ResolvedEndpoint(address: address, port: targetPort, endpoint: endpoint))
                }
            }
        }
        return result
    }

    /// The endpoint of `service` at `address`, if it is one.
    public func endpoint(of service: ObjectRef, address: String, port: ServicePort? = nil) -> ResolvedEndpoint? {
        let key = Self.key(address)
        return endpoints(of: service, port: port).first { Self.key($0.address) == key }
    }

    // MARK: Names

    /// The name of an address and port, when the port matters: a Service reached at a ClusterIP or an external
    /// address (`service default/web:80`), a NodePort on a node address (`nodeport default/web:30080`), a host-network
    /// or hostPort pod (`pod ingress-nginx/controller-x, host network`).
    public func addressName(of address: String, port: Int, transport: String? = nil) -> AddressName? {
        guard port > 0 else { return nil }
        if let match = service(at: address, port: port, transport: transport) {
            switch match.access {
            case .clusterIP: return AddressName(role: .service, object: match.service.ref, port: match.port.port)
            case .nodePort:
                return AddressName(role: .nodePort, object: match.service.ref, port: match.port.nodePort ?? port)
            case .external:
                return AddressName(
                    role: .service,
                    object: match.service.ref,
                    port: match.port.port,
                    qualifier: "external address"
                )
            }
        }
        if let pod = hostPod(at: address, port: port, transport: transport) {
            return AddressName(role: .pod, object: pod.ref, qualifier: pod.hostNetwork ? "host network" : "hostPort")
        }
        return nil
    }

    /// The name of an address alone: a Service's ClusterIP, a pod, a node, an external Service address, a node's
    /// pod-network gateway.
    public func addressName(of address: String) -> AddressName? {
        if let service = service(clusterIP: address) { return AddressName(role: .service, object: service.ref) }
        if let pod = pod(at: address) { return AddressName(role: .pod, object: pod.ref) }
        if let node = node(at: address) {
            return AddressName(role: .node, object: ObjectRef(namespace: "", name: node.name))
        }
        if let index = serviceByExternalAddress[Self.key(address)]?.first {
            return AddressName(role: .service, object: services[index].ref, qualifier: "external address")
        }
        if isPodNetworkGateway(address), let node = podNetworkNode(at: address) {
            return AddressName(
                role: .node,
                object: ObjectRef(namespace: "", name: node.name),
                qualifier: "pod network gateway"
            )
        }
        return nil
    }

    /// ``addressName(of:port:transport:)`` as text.
    public func name(ofAddress address: String, port: Int, transport: String? = nil) -> String? {
        addressName(of: address, port: port, transport: transport)?.description
    }

    /// ``addressName(of:)`` as text.
    public func name(ofAddress address: String) -> String? {
        addressName(of: address)?.description
    }
}
