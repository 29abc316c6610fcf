/// Where an Ingress sends a request: the rule (or default backend) that matched and its backend Service.
public struct IngressRoute: Sendable, Hashable, CustomStringConvertible {
    /// The Ingress.
    public var ingress: ObjectRef
    /// Its `ingressClassName`.
    public var className: String?
    /// The rule's host (nil: a rule for every host, or the default backend).
    public var host: String?
    /// The path entry that matched; nil when the Ingress's `defaultBackend` answered.
    public var path: IngressPath?
    /// The backend.
    public var backend: IngressBackend
    /// The backend Service, when it exists in the state.
    public var service: KubeService?
    /// The backend Service's port, when it exists.
    public var servicePort: ServicePort?

    /// `Ingress default/web rule web.example.com / (Prefix) → service default/web:80`.
    public var description: String {
        var text = "Ingress \(ingress)"
        if let className { text += " (class \(className))" }
        if let path {
            text += " rule \(host ?? "*") \(path.path) (\(path.pathType.rawValue))"
        } else {
            text += " default backend"
        }
        return text + " → " + backendDescription
    }

    /// `service default/web:80`, the backend as named.
    public var backendDescription: String {
        if let serviceName = backend.serviceName {
            let port = servicePort.map { String($0.port) } ?? backend.servicePort?.description ?? "?"
            return "service \(ingress.namespace)/\(serviceName):\(port)"
        }
        return "resource \(backend.resource ?? "?")"
    }
}

extension ClusterState {
    /// The Ingress route of a request, as `networking.k8s.io/v1` defines matching: the rules of the most specific
    /// host (exact, then a `*.` wildcard matching one DNS label, then rules without a host); among their paths the
    /// longest match, `Exact` before `Prefix` on a tie; `Prefix` matches whole `/`-separated elements (`/foo`
    /// matches `/foo/bar`, not `/foobar`). Without a matching path, an Ingress's `defaultBackend`.
    ///
    /// - Parameters:
    ///   - host: the request's Host header (a `:port` is ignored).
    ///   - path: the request target (the query string is ignored).
    public func ingressRoute(host: String?, path: String) -> IngressRoute? {
        let requestHost = host.map(Self.normalizedHost)
        var requestPath = path
        if let cut = requestPath.firstIndex(where: { $0 == "?" || $0 == "#" }) {
            requestPath = String(requestPath[..<cut])
        }
        if requestPath.isEmpty { requestPath = "/" }

        // Host precedence: 2 exact, 1 wildcard, 0 any host.
        var candidates: [(hostRank: Int, ingress: KubeIngress, rule: IngressRule)] = []
        for ingress in ingresses {
            for rule in ingress.rules {
                guard let rank = Self.hostRank(rule.host, requestHost) else { continue }
                candidates.append((rank, ingress, rule))
            }
        }
        let ranks = Set(candidates.map(\.hostRank)).sorted(by: >)
        for rank in ranks {
            var best: (length: Int, exact: Bool, ingress: KubeIngress, rule: IngressRule, path: IngressPath)?
            for candidate in candidates where candidate.hostRank == rank {
                for entry in candidate.rule.paths {
                    guard let length = Self.matchLength(entry, requestPath) else { continue }
                    let exact = entry.pathType == .exact
                    if best == nil || length > best!.length || (length == best!.length && exact && !best!.exact) {
                        best = (length, exact, candidate.ingress, candidate.rule, entry)
                    }
                }
            }
            if let best {
                return route(best.ingress, host: best.rule.host, path: best.path, backend: best.path.backend)
            }
            // A host's rules matched but none of its paths: its server answers with the default backend.
            if rank > 0 { break }
        }
        if let ingress = ingresses.first(where: { $0.defaultBackend != nil }), let backend = ingress.defaultBackend {
            return route(ingress, host: nil, path: nil, backend: backend)
        }
        return nil
    }

    func route(_ ingress: KubeIngress, host: String?, path: IngressPath?, backend: IngressBackend) -> IngressRoute {
        var route = IngressRoute(
            ingress: ingress.ref,
            className: ingress.className,
            host: host,
            path: path,
            backend: backend,
            service: nil,
            servicePort: nil
        )
        if let name = backend.serviceName,
            let service = service(ObjectRef(namespace: ingress.ref.namespace, name: name))
        {
            route.service = service
            switch backend.servicePort {
            case .number(let number)?: route.servicePort = service.ports.first { $0.port == number }
            case .name(let name)?: route.servicePort = service.ports.first { $0.name == name }
            case nil: route.servicePort = service.ports.count == 1 ? service.ports[0] : nil
            }
        }
        return route
    }

    static func normalizedHost(_ host: String) -> String {
        var text = host.lowercased()
        if text.hasPrefix("[") {
            if let end = text.firstIndex(of: "]") { text = String(text[text.index(after: text.startIndex)..<end]) }
        } else if let colon = text.lastIndex(of: ":"), text.filter({ $0 == ":" }).count == 1 {
            text = String(text[..<colon])
        }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    /// 2 when the rule names this host, 1 when its wildcard covers it, 0 when it has no host; nil otherwise.
    static func hostRank(_ ruleHost: String?, _ requestHost: String?) -> Int? {
        guard let ruleHost, !ruleHost.isEmpty else { return 0 }
        guard let requestHost else { return nil }
        let rule = ruleHost.lowercased()
        if rule.hasPrefix("*.") {
            // `*.foo.com` matches `bar.foo.com`, not `foo.com` nor `baz.bar.foo.com`.
            let suffix = rule.dropFirst(1)
            guard requestHost.hasSuffix(suffix) else { return nil }
            let label = requestHost.dropLast(suffix.count)
            return !label.isEmpty && !label.contains(".") ? 1 : nil
        }
        return rule == requestHost ? 2 : nil
    }

    /// The length of the rule path when it matches the request path, nil when not.
    static func matchLength(_ entry: IngressPath, _ requestPath: String) -> Int? {
        switch entry.pathType {
        case .exact:
            return entry.path == requestPath ? entry.path.count : nil
        case .prefix, .implementationSpecific:
            let rule = entry.path.split(separator: "/", omittingEmptySubsequences: true)
            let request = requestPath.split(separator: "/", omittingEmptySubsequences: true)
            guard rule.count <= request.count, zip(rule, request).allSatisfy({ $0 == $1 }) else { return nil }
            return rule.reduce(0) { $0 + $1.count + 1 }
        }
    }
}
