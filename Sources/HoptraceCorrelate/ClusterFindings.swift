import HoptraceDecode
import HoptraceFlows
import HoptraceKube

/// Findings the declared cluster state explains, added to a trace once its verdict is decided:
/// - `dnat-to-non-endpoint`: kube-proxy translated a Service's address to one that is not among its endpoints
///   (stale iptables rules or a stale conntrack entry);
/// - `no-ready-endpoints`: the Service has no ready endpoint (a rejected request's sentence says so by name);
/// - `rejected-with-endpoints`: rejected though the Service lists ready endpoints (rules out of date on this node);
/// - `not-ready-endpoint`: the request went to an endpoint, or a pod, that is not ready;
/// - `ready-endpoint-refused`: a ready endpoint reset the connection while it was being opened;
/// - `expected-endpoints`: a request stopped before kube-proxy's DNAT, and the endpoints it would have reached;
/// - `ingress-rule` / `no-ingress-rule` / `ingress-backend-mismatch`: the Ingress rule of an ingress request and
///   whether the proxy's onward connection went to its backend;
/// - `externalname`: the name resolved was an ExternalName Service.
extension Diagnosis {
    func clusterFindings(_ trace: inout RequestTrace) {
        guard let state = directory.state else { return }
        var findings: [Finding] = []
        serviceFindings(&trace, state: state, into: &findings)
        dnatFindings(trace, state: state, into: &findings)
        ingressFindings(trace, state: state, into: &findings)
        externalNameFindings(trace, state: state, into: &findings)
        for finding in findings where !trace.findings.contains(finding) { trace.findings.append(finding) }
    }

    /// The Service port matched at `endpoint`, if any.
    private func service(
        at endpoint: FlowEndpoint,
        transport: String,
        state: ClusterState
    ) -> ClusterState.ServiceMatch? {
        state.service(at: endpoint.address.description, port: Int(endpoint.port), transport: transport)
    }

    private func serviceFindings(_ trace: inout RequestTrace, state: ClusterState, into findings: inout [Finding]) {
        guard state.hasEndpointSlices else { return }
        let transport = trace.kind == .dns ? "UDP" : "TCP"
        // Each Service the request went through: the one addressed, and behind a proxy the onward one.
        var targets: [ClusterState.ServiceMatch] = []
        if let target = trace.hops.first?.destination ?? trace.service,
            let match = service(at: target, transport: transport, state: state)
        {
            targets.append(match)
        }
        if let onward = trace.hops.first(where: { $0.connection > 0 }),
            let match = service(at: onward.destination, transport: "TCP", state: state), !targets.contains(match)
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
                        .noReadyEndpoints,
                        "\(match) has no ready endpoints\(notReady): its EndpointSlices list "
                            + (endpoints.isEmpty ? "none" : "only endpoints that are not ready")
                    )
                )
                if trace.verdict.kind == .rejected, !trace.verdict.sentence.contains("no ready endpoints") {
                    trace.verdict.sentence += "; \(match) has no ready endpoints"
                }
            } else if trace.verdict.kind == .rejected, match.access != .external {
                findings.append(
                    Finding(
                        .rejectedWithEndpoints,
                        "\(match) lists \(ready.count) ready endpoint\(ready.count == 1 ? "" : "s") "
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
                    let address = endpoint.port.map { "\(endpoint.address):\($0)" } ?? endpoint.address
                    let pod =
                        (endpoint.endpoint.pod.map { "pod \($0)" } ?? state.name(ofAddress: endpoint.address))
                        .map { " (\($0))" } ?? ""
                    return address + pod
                }
                findings.append(
                    Finding(
                        .expectedEndpoints,
                        "the SYN to \(match) was never seen translated; kube-proxy would send it to "
                            + (ready.count == 1 ? "its ready endpoint " : "one of its ready endpoints ")
                            + list.joined(separator: ", ")
                    )
                )
            }
        }
        // The server the request reached: a not-ready endpoint, or a pod that is not ready.
        guard let server = trace.server else { return }
        let serverAddress = server.address.description
        for match in targets {
            guard let endpoint = state.endpoint(of: match.service.ref, address: serverAddress, port: match.port)
            else { continue }
            if endpoint.endpoint.isReady, trace.verdict.kind == .reset, trace.request == nil, translated {
                let pod = endpoint.endpoint.pod.map { "pod \($0)" } ?? serverAddress
                findings.append(
                    Finding(
                        .readyEndpointRefused,
                        "\(pod) (\(server)) is a ready endpoint of \(match) yet refused the connection: its readiness "
                            + "does not show whether port \(server.port) accepts connections"
                    )
                )
                return
            }
            if !endpoint.endpoint.isReady {
                let pod = endpoint.endpoint.pod.map { " (pod \($0))" } ?? ""
                findings.append(
                    Finding(
                        .notReadyEndpoint,
                        "the request went to \(serverAddress)\(pod), an endpoint of \(match) that is not ready"
                    )
                )
                return
            }
        }
        if let pod = state.pod(at: serverAddress), pod.ready == false {
            findings.append(
                Finding(
                    .notReadyEndpoint,
                    "the request went to pod \(pod.ref) (\(serverAddress)), whose Ready condition is False"
                )
            )
        }
    }

    private func dnatFindings(_ trace: RequestTrace, state: ClusterState, into findings: inout [Finding]) {
        guard state.hasEndpointSlices else { return }
        for (index, hop) in trace.hops.enumerated() where index > 0 {
            guard hop.translation == .dnat || hop.translation == .dnatSnat else { continue }
            let before = trace.hops[index - 1].destination
            guard before != hop.destination, let match = service(at: before, transport: "TCP", state: state),
                !match.service.headless, match.service.type != .externalName
            else { continue }
            let endpoints = state.endpoints(of: match.service.ref, port: match.port)
            let found = endpoints.first { IPAddress($0.address) == hop.destination.address }
            if let found, found.port == nil || found.port == Int(hop.destination.port) { continue }
            let what = state.name(ofAddress: hop.destination.address.description).map { " (\($0))" } ?? ""
            let listed =
                endpoints.isEmpty
                ? "it has none"
                : "it lists "
                    + endpoints.map { "\($0.address):\($0.port.map(String.init) ?? "?")" }
                    .joined(separator: ", ")
            findings.append(
                Finding(
                    .dnatToNonEndpoint,
                    "at \(hop.point) \(before) (\(match)) was translated to \(hop.destination)\(what), which is not an "
                        + "endpoint of \(match.service.ref) (\(listed)): stale kube-proxy rules or a stale conntrack "
                        + "entry"
                )
            )
        }
    }

    private func ingressFindings(_ trace: RequestTrace, state: ClusterState, into findings: inout [Finding]) {
        guard trace.mode == .ingress, let request = trace.request, !state.ingresses.isEmpty else { return }
        guard let route = state.ingressRoute(host: request.host, path: request.path) else {
            findings.append(
                Finding(
                    .noIngressRule,
                    "no Ingress rule matches host \(request.host ?? "(none)") path \(request.path)"
                )
            )
            return
        }
        findings.append(Finding(.ingressRule, route.description))
        guard let backend = route.service, let onward = trace.hops.first(where: { $0.connection > 0 }) else { return }
        let target = onward.destination
        if let match = service(at: target, transport: "TCP", state: state) {
            if match.service.ref != backend.ref {
                findings.append(
                    Finding(
                        .ingressBackendMismatch,
                        "the proxy connected to \(target) (\(match)), not to the rule's backend "
                            + route.backendDescription
                    )
                )
            }
        } else if state.endpoint(of: backend.ref, address: target.address.description) == nil,
            state.hasEndpointSlices
        {
            let what = state.name(ofAddress: target.address.description).map { " (\($0))" } ?? ""
            findings.append(
                Finding(
                    .ingressBackendMismatch,
                    "the proxy connected to \(target)\(what), neither the ClusterIP nor an endpoint of the rule's "
                        + "backend \(route.backendDescription)"
                )
            )
        }
    }

    private func externalNameFindings(_ trace: RequestTrace, state: ClusterState, into findings: inout [Finding]) {
        guard let dns = trace.dns else { return }
        for name in Set(dns.queries.map(\.name) + [dns.name]).sorted() {
            guard let service = state.service(dnsName: name), service.type == .externalName,
                let external = service.externalName
            else { continue }
            findings.append(
                Finding(
                    .externalName,
                    "\(name) is ExternalName Service \(service.ref): a DNS alias (CNAME) of \(external), not proxied "
                        + "by kube-proxy"
                )
            )
        }
    }
}
