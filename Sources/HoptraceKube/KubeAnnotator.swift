import HoptraceCorrelate

/// Puts Kubernetes names on traces and checks them against the cluster state.
///
/// For each trace it fills ``RequestTrace/names`` (client, service, server, each hop's source and destination, the
/// DNS client and server), refines the ``RequestTrace/mode`` from what the addresses are (a ClusterIP, a node
/// address with a nodePort, an ingress controller, a pod), and adds findings the state explains:
/// - `dnat-to-non-endpoint`: kube-proxy translated a Service's address to one that is not among its endpoints
///   (stale iptables rules or a stale conntrack entry);
/// - `no-ready-endpoints`: the Service has no ready endpoint (a rejected request's verdict says so by name);
/// - `not-ready-endpoint`: the request went to an endpoint, or a pod, that is not ready;
/// - `ready-endpoint-refused`: a ready endpoint reset the connection while it was being opened;
/// - `expected-endpoints`: a request stopped before kube-proxy's DNAT, and the endpoints it would have reached;
/// - `ingress-rule` / `no-ingress-rule`: the Ingress rule and backend Service of an ingress request;
///   `ingress-backend-mismatch` when the proxy's onward connection went elsewhere;
/// - `externalname`: the name resolved was an ExternalName Service.
public struct KubeAnnotator: Sendable {
    /// The cluster state the names come from.
    public var state: ClusterState

    /// An annotator for this state.
    public init(state: ClusterState) {
        self.state = state
    }

    /// Annotates every trace.
    public static func annotate(_ traces: inout [RequestTrace], state: ClusterState) {
        let annotator = KubeAnnotator(state: state)
        for index in traces.indices { annotator.annotate(&traces[index]) }
    }

    /// Annotates one trace: names, mode, findings.
    public func annotate(_ trace: inout RequestTrace) {
        guard !state.isEmpty else { return }
        trace.names.merge(names(for: trace)) { current, _ in current }
        trace.mode = mode(of: trace)
        var findings: [Finding] = []
        serviceFindings(&trace, into: &findings)
        dnatFindings(trace, into: &findings)
        ingressFindings(trace, into: &findings)
        dnsFindings(trace, into: &findings)
        for finding in findings where !trace.findings.contains(finding) { trace.findings.append(finding) }
    }

    /// The names of every address of the trace, keyed as ``RequestTrace/names`` documents.
    public func names(for trace: RequestTrace) -> [String: String] {
        var endpoints: [(Endpoint, String?)] = []
        let udp = trace.hops.isEmpty && trace.dns != nil
        for endpoint in [trace.client, trace.service, trace.server].compactMap({ $0 }) {
            endpoints.append((endpoint, udp ? "UDP" : "TCP"))
        }
        for hop in trace.hops {
            endpoints.append((hop.src, "TCP"))
            endpoints.append((hop.dst, "TCP"))
        }
        for query in trace.dns?.queries ?? [] {
            endpoints.append((query.client, "UDP"))
            endpoints.append((query.server, "UDP"))
        }
        var names: [String: String] = [:]
        for (endpoint, transport) in endpoints {
            if names[endpoint.description] == nil,
                let name = state.name(ofAddress: endpoint.host, port: Int(endpoint.port), transport: transport)
            {
                names[endpoint.description] = name
            }
            if names[endpoint.host] == nil, let name = state.name(ofAddress: endpoint.host) {
                names[endpoint.host] = name
            }
        }
        return names
    }

    // MARK: Mode

    /// The request's mode from what its target is in the cluster; the correlator's guess when the state does not
    /// know the address.
    func mode(of trace: RequestTrace) -> TraceMode {
        if trace.hops.contains(where: { $0.connection > 0 || $0.translation == .l7Proxy }) { return .ingress }
        guard let target = trace.hops.first?.dst ?? (trace.hops.isEmpty ? nil : trace.service) else {
            return trace.mode  // DNS only: the correlator judged from the names asked.
        }
        let port = Int(target.port)
        if isIngressEntry(target, trace: trace) { return .ingress }
        if let match = state.service(at: target.host, port: port, transport: "TCP") ?? service(atAddress: target) {
            switch match.access {
            case .clusterIP, .external: return .clusterip
            case .nodePort: return .nodeport
            }
        }
        if state.pod(at: target.host) != nil { return .direct }
        if state.hostPod(at: target.host, port: port) != nil { return .direct }
        return trace.mode
    }

    /// A ClusterIP whose port is not among the Service's ports still is that Service's address.
    func service(atAddress target: Endpoint) -> ClusterState.ServiceMatch? {
        guard let service = state.service(clusterIP: target.host) else { return nil }
        let port = ServicePort(port: Int(target.port))
        return ClusterState.ServiceMatch(service: service, port: port, access: .clusterIP)
    }

    /// Whether the client connected to an ingress controller: a host-network controller pod on the node's address,
    /// a controller pod's own address, or a Service (ClusterIP, nodePort) whose endpoints are controller pods, or
    /// any of them when the request's Host is one an Ingress rule names.
    func isIngressEntry(_ target: Endpoint, trace: RequestTrace) -> Bool {
        let port = Int(target.port)
        var controllers: [KubePod] = []
        if let pod = state.hostPod(at: target.host, port: port, transport: "TCP") { controllers.append(pod) }
        if let pod = state.pod(at: target.host) { controllers.append(pod) }
        if let match = state.service(at: target.host, port: port, transport: "TCP") {
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
        guard let request = trace.request, let host = request.host,
            let route = state.ingressRoute(host: host, path: request.path), route.host != nil,
            let backend = route.service
        else { return false }
        return !controllers.allSatisfy { pod in
            state.endpoints(of: backend.ref).contains { $0.endpoint.pod == pod.ref }
        }
    }

    // MARK: Findings

    /// The Service the client addressed, when it addressed one.
    func targetService(_ trace: RequestTrace) -> ClusterState.ServiceMatch? {
        guard let target = trace.hops.first?.dst ?? trace.service else { return nil }
        let transport = trace.hops.isEmpty && trace.dns != nil ? "UDP" : "TCP"
        return state.service(at: target.host, port: Int(target.port), transport: transport)
    }

    func serviceFindings(_ trace: inout RequestTrace, into findings: inout [Finding]) {
        guard state.hasEndpointSlices else { return }
        // Each Service the request went through: the one addressed, and behind a proxy the onward one.
        var targets: [ClusterState.ServiceMatch] = []
        if let match = targetService(trace) { targets.append(match) }
        if let onward = trace.hops.first(where: { $0.connection > 0 }),
            let match = state.service(at: onward.dst.host, port: Int(onward.dst.port), transport: "TCP"),
            !targets.contains(match)
        {
            targets.append(match)
        }
        for match in targets where match.service.type != .externalName && !match.service.headless {
            let endpoints = state.endpoints(of: match.service.ref, port: match.port)
            let ready = endpoints.filter { $0.endpoint.isReady }
            if ready.isEmpty {
                let notReady = endpoints.isEmpty ? "" : " (\(endpoints.count) not ready)"
                findings.append(
                    Finding(
                        kind: "no-ready-endpoints",
                        detail: "\(match) has no ready endpoints\(notReady): its EndpointSlices list "
                            + (endpoints.isEmpty ? "none" : "only endpoints that are not ready")
                    )
                )
                if trace.verdict.kind == .rejected, !trace.verdict.detail.contains("no ready endpoints") {
                    trace.verdict.detail += "; \(match) has no ready endpoints"
                }
            } else if trace.verdict.kind == .rejected, match.access != .external {
                findings.append(
                    Finding(
                        kind: "rejected-with-endpoints",
                        detail: "\(match) lists \(ready.count) ready endpoint\(ready.count == 1 ? "" : "s") "
                            + "(\(ready.map(\.address).joined(separator: ", "))) yet the connection was rejected: "
                            + "kube-proxy's rules on this node may be out of date"
                    )
                )
            }
        }
        // Stopped before kube-proxy's translation: where it should have gone.
        let translated = trace.hops.contains { $0.translation == .dnat || $0.translation == .dnatSnat }
        if trace.verdict.kind == .breakpoint, !translated, let match = targets.first {
            let ready = state.endpoints(of: match.service.ref, port: match.port).filter { $0.endpoint.isReady }
            if !ready.isEmpty {
                let list = ready.map { endpoint -> String in
                    let address = Endpoint(endpoint.address, UInt16(clamping: endpoint.port ?? 0))
                    let pod =
                        (endpoint.endpoint.pod.map { "pod \($0)" } ?? state.name(ofAddress: endpoint.address))
                        .map { " (\($0))" } ?? ""
                    return (endpoint.port == nil ? endpoint.address : address.description) + pod
                }
                findings.append(
                    Finding(
                        kind: "expected-endpoints",
                        detail: "the SYN to \(match) was never seen translated; kube-proxy would send it to "
                            + (ready.count == 1 ? "its ready endpoint " : "one of its ready endpoints ")
                            + list.joined(separator: ", ")
                    )
                )
            }
        }
        // The server the request reached: a not-ready endpoint, or a pod that is not ready.
        if let server = trace.server {
            for match in targets {
                guard let endpoint = state.endpoint(of: match.service.ref, address: server.host, port: match.port)
                else { continue }
                if endpoint.endpoint.isReady, trace.verdict.kind == .reset, trace.request == nil, translated {
                    // Refused while connecting, yet listed as ready: readiness does not reflect the port.
                    let pod = endpoint.endpoint.pod.map { "pod \($0)" } ?? server.host
                    findings.append(
                        Finding(
                            kind: "ready-endpoint-refused",
                            detail: "\(pod) (\(server)) is a ready endpoint of \(match) yet refused the connection: "
                                + "its readiness does not show whether port \(server.port) accepts connections"
                        )
                    )
                    return
                }
                if !endpoint.endpoint.isReady {
                    let pod = endpoint.endpoint.pod.map { " (pod \($0))" } ?? ""
                    findings.append(
                        Finding(
                            kind: "not-ready-endpoint",
                            detail: "the request went to \(server.host)\(pod), an endpoint of \(match) that is not "
                                + "ready"
                        )
                    )
                    return
                }
            }
            if let pod = state.pod(at: server.host), pod.ready == false {
                findings.append(
                    Finding(
                        kind: "not-ready-endpoint",
                        detail: "the request went to pod \(pod.ref) (\(server.host)), whose Ready condition is False"
                    )
                )
            }
        }
    }

    func dnatFindings(_ trace: RequestTrace, into findings: inout [Finding]) {
        guard state.hasEndpointSlices else { return }
        for (index, hop) in trace.hops.enumerated() where index > 0 {
            guard hop.translation == .dnat || hop.translation == .dnatSnat else { continue }
            let before = trace.hops[index - 1].dst
            guard before != hop.dst,
                let match = state.service(at: before.host, port: Int(before.port), transport: "TCP"),
                !match.service.headless, match.service.type != .externalName
            else { continue }
            let endpoints = state.endpoints(of: match.service.ref, port: match.port)
            let key = ClusterState.key(hop.dst.host)
            let found = endpoints.first { ClusterState.key($0.address) == key }
            if let found, found.port == nil || found.port == Int(hop.dst.port) { continue }
            let what = state.name(ofAddress: hop.dst.host).map { " (\($0))" } ?? ""
            let listed =
                endpoints.isEmpty
                ? "it has none"
                : "it lists "
                    + endpoints.map { "\($0.address):\($0.port.map(String.init) ?? "?")" }
                    .joined(separator: ", ")
            findings.append(
                Finding(
                    kind: "dnat-to-non-endpoint",
                    detail: "at \(hop.capturePoint) \(before) (\(match)) was translated to \(hop.dst)\(what), which is "
                        + "not an endpoint of \(match.service.ref) (\(listed)): stale kube-proxy rules or a stale "
                        + "conntrack entry"
                )
            )
        }
    }

    func ingressFindings(_ trace: RequestTrace, into findings: inout [Finding]) {
        guard trace.mode == .ingress, let request = trace.request, !state.ingresses.isEmpty else { return }
        guard let route = state.ingressRoute(host: request.host, path: request.path) else {
            findings.append(
                Finding(
                    kind: "no-ingress-rule",
                    detail: "no Ingress rule matches host \(request.host ?? "(none)") path \(request.path)"
                )
            )
            return
        }
        findings.append(Finding(kind: "ingress-rule", detail: route.description))
        // The proxy's onward connection: to the backend's ClusterIP, or straight to one of its endpoints.
        guard let backend = route.service, let onward = trace.hops.first(where: { $0.connection > 0 }) else { return }
        let target = onward.dst
        if let match = state.service(at: target.host, port: Int(target.port), transport: "TCP") {
            if match.service.ref != backend.ref {
                findings.append(
                    Finding(
                        kind: "ingress-backend-mismatch",
                        detail: "the proxy connected to \(target) (\(match)), not to the rule's backend "
                            + route.backendDescription
                    )
                )
            }
        } else if state.endpoint(of: backend.ref, address: target.host) == nil, state.hasEndpointSlices {
            let what = state.name(ofAddress: target.host).map { " (\($0))" } ?? ""
            findings.append(
                Finding(
                    kind: "ingress-backend-mismatch",
                    detail: "the proxy connected to \(target)\(what), neither the ClusterIP nor an endpoint of the "
                        + "rule's backend \(route.backendDescription)"
                )
            )
        }
    }

    func dnsFindings(_ trace: RequestTrace, into findings: inout [Finding]) {
        guard let dns = trace.dns else { return }
        for name in Set(dns.queries.map(\.name) + [dns.name]).sorted() {
            guard let service = state.service(dnsName: name), service.type == .externalName,
                let external = service.externalName
            else { continue }
            findings.append(
                Finding(
                    kind: "externalname",
                    detail: "\(name) is ExternalName Service \(service.ref): a DNS alias (CNAME) of \(external), "
                        + "not proxied by kube-proxy"
                )
            )
        }
    }
}
