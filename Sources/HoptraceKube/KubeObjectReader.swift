/// A field of the wrong type: where it is, and what was expected.
struct FieldError: Error {
    var path: String
    var message: String
}

/// A position in the document tree, for reading fields with errors that say where they are.
struct Field {
    var value: KubeValue?
    var path: String

    init(_ value: KubeValue?, path: String) {
        self.value = value
        self.path = path
    }

    /// The member `key`, with its path.
    subscript(key: String) -> Field {
        Field(value?[key], path: path.isEmpty ? key : "\(path).\(key)")
    }

    var isAbsent: Bool {
        switch value {
        case nil, .null?: return true
        default: return false
        }
    }

    func fail(_ expected: String) -> FieldError {
        FieldError(path: path, message: "\(path) is \(value?.typeName ?? "missing"), expected \(expected)")
    }

    /// A string; a number or boolean is taken as its text (YAML writes `name: 8080` unquoted); nil when absent.
    func string() throws -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let text)?: return text
        case .number(let number)?:
            return number == number.rounded() && abs(number) < 1e15 ? String(Int(number)) : String(number)
        case .bool(let flag)?: return flag ? "true" : "false"
        default: throw fail("a string")
        }
    }

    /// An integer (a number, or a string of digits); nil when absent.
    func int() throws -> Int? {
        switch value {
        case nil, .null?: return nil
        case .number(let number)?:
            guard number == number.rounded(), abs(number) < 1e15 else { throw fail("an integer") }
            return Int(number)
        case .string(let text)?:
            guard let number = Int(text) else { throw fail("an integer") }
            return number
        default: throw fail("an integer")
        }
    }

    /// A boolean (or the strings `true`/`false`); nil when absent.
    func bool() throws -> Bool? {
        switch value {
        case nil, .null?: return nil
        case .bool(let flag)?: return flag
        case .string(let text)? where text.lowercased() == "true": return true
        case .string(let text)? where text.lowercased() == "false": return false
        default: throw fail("true or false")
        }
    }

    /// The elements of a list; empty when absent or null.
    func list() throws -> [Field] {
        switch value {
        case nil, .null?: return []
        case .array(let elements)?:
            return elements.enumerated().map { Field($1, path: "\(path)[\($0)]") }
        default: throw fail("a list")
        }
    }

    /// The elements of a list of strings.
    func strings() throws -> [String] {
        try list().compactMap { try $0.string() }
    }

    /// A map of strings (labels, selectors); empty when absent.
    func stringMap() throws -> [String: String] {
        switch value {
        case nil, .null?: return [:]
        case .object(let members)?:
            var result: [String: String] = [:]
            for (key, _) in members { result[key] = try self[key].string() ?? "" }
            return result
        default: throw fail("a map of strings")
        }
    }

    /// Checks this is an object (or absent).
    func requireObject() throws {
        switch value {
        case nil, .null?, .object?: return
        default: throw fail("an object")
        }
    }
}

/// Reads Kubernetes objects, by their real field names, out of a document tree.
enum KubeObjectReader {
    /// The objects kubectl printed: a `List`'s items (nested lists too), a single object, or a bare array.
    static func objects(in document: Field, into state: inout ClusterObjects, depth: Int = 0) throws {
        guard depth < 8 else { throw FieldError(path: document.path, message: "lists nested too deep") }
        switch document.value {
        case .array?:
            for element in try document.list() { try objects(in: element, into: &state, depth: depth + 1) }
        case .object?:
            let kind = try document["kind"].string()
            if kind == nil || kind?.hasSuffix("List") == true {
                guard !document["items"].isAbsent || kind != nil else {
                    throw FieldError(
                        path: document.path,
                        message: "\(document.path.isEmpty ? "the document" : document.path) has no `kind` and no "
                            + "`items`: not a Kubernetes object"
                    )
                }
                for item in try document["items"].list() { try objects(in: item, into: &state, depth: depth + 1) }
                return
            }
            try object(document, kind: kind ?? "", into: &state)
        case nil, .null?:
            return
        default:
            throw document.fail("a Kubernetes object or a List")
        }
    }

    static func ref(_ item: Field) throws -> ObjectRef {
        let metadata = item["metadata"]
        try metadata.requireObject()
        guard let name = try metadata["name"].string() else {
            throw FieldError(path: metadata["name"].path, message: "\(metadata["name"].path) is missing")
        }
        return ObjectRef(namespace: try metadata["namespace"].string() ?? "", name: name)
    }

    static func object(_ item: Field, kind: String, into state: inout ClusterObjects) throws {
        do {
            try read(item, kind: kind, into: &state)
        } catch var error as FieldError {
            // Say which object it was: `Service default/web: items[6].spec.ports[0].port is a string, ...`.
            if let ref = try? ref(item) { error.message = "\(kind) \(ref): " + error.message }
            throw error
        }
    }

    static func read(_ item: Field, kind: String, into state: inout ClusterObjects) throws {
        switch kind {
        case "Pod": state.pods.append(try pod(item))
        case "Service": state.services.append(try service(item))
        case "EndpointSlice": state.endpointSlices.append(try endpointSlice(item))
        case "Node": state.nodes.append(try node(item))
        case "Ingress": state.ingresses.append(try ingress(item))
        default: return  // Deployments, ConfigMaps, ...: not about addresses.
        }
    }

    static func pod(_ item: Field) throws -> KubePod {
        let spec = item["spec"]
        let status = item["status"]
        var ips = try status["podIPs"].list().compactMap { try $0["ip"].string() }
        if ips.isEmpty, let ip = try status["podIP"].string() { ips = [ip] }
        var ready: Bool?
        for condition in try status["conditions"].list() where try condition["type"].string() == "Ready" {
            ready = try condition["status"].string() == "True"
        }
        var ports: [ContainerPort] = []
        for container in try spec["containers"].list() {
            for port in try container["ports"].list() {
                guard let number = try port["containerPort"].int() else { continue }
                ports.append(
                    ContainerPort(
                        name: try port["name"].string(),
                        containerPort: number,
                        hostPort: try port["hostPort"].int(),
                        transport: try port["protocol"].string() ?? "TCP"
                    )
                )
            }
        }
        return KubePod(
            ref: try ref(item),
            ips: ips,
            hostIP: try status["hostIP"].string(),
            nodeName: try spec["nodeName"].string(),
            hostNetwork: try spec["hostNetwork"].bool() ?? false,
            ready: ready,
            phase: try status["phase"].string(),
            labels: try item["metadata"]["labels"].stringMap(),
            ports: ports
        )
    }

    static func service(_ item: Field) throws -> KubeService {
        let spec = item["spec"]
        let typeText = try spec["type"].string() ?? "ClusterIP"
        guard let type = ServiceType(rawValue: typeText) else {
            throw FieldError(
                path: spec["type"].path,
                message: "\(spec["type"].path) is \"\(typeText)\", expected ClusterIP, NodePort, LoadBalancer or "
                    + "ExternalName"
            )
        }
        var clusterIPs = try spec["clusterIPs"].strings()
        if clusterIPs.isEmpty, let ip = try spec["clusterIP"].string() { clusterIPs = [ip] }
        let headless = clusterIPs.contains("None")
        clusterIPs.removeAll { $0 == "None" || $0.isEmpty }
        var ports: [ServicePort] = []
        for port in try spec["ports"].list() {
            guard let number = try port["port"].int() else {
                throw FieldError(path: port["port"].path, message: "\(port["port"].path) is missing")
            }
            var target: TargetPort?
            if case .string(let name)? = port["targetPort"].value, Int(name) == nil {
                target = .name(name)
            } else if let number = try port["targetPort"].int() {
                target = .number(number)
            }
            ports.append(
                ServicePort(
                    name: try port["name"].string(),
                    port: number,
                    targetPort: target,
                    nodePort: try port["nodePort"].int(),
                    transport: try port["protocol"].string() ?? "TCP"
                )
            )
        }
        var external = try spec["externalIPs"].strings()
        for entry in try item["status"]["loadBalancer"]["ingress"].list() {
            if let ip = try entry["ip"].string() { external.append(ip) }
        }
        return KubeService(
            ref: try ref(item),
            type: type,
            clusterIPs: type == .externalName ? [] : clusterIPs,
            headless: headless,
            ports: ports,
            externalName: try spec["externalName"].string(),
            ipFamilies: try spec["ipFamilies"].strings(),
            externalAddresses: external,
            selector: try spec["selector"].stringMap()
        )
    }

    static func endpointSlice(_ item: Field) throws -> KubeEndpointSlice {
        let ref = try ref(item)
        let serviceName = try item["metadata"]["labels"]["kubernetes.io/service-name"].string()
        var endpoints: [KubeEndpoint] = []
        for endpoint in try item["endpoints"].list() {
            let conditions = endpoint["conditions"]
            let target = endpoint["targetRef"]
            var pod: ObjectRef?
            if try target["kind"].string() == "Pod", let name = try target["name"].string() {
                pod = ObjectRef(namespace: try target["namespace"].string() ?? ref.namespace, name: name)
            }
            endpoints.append(
                KubeEndpoint(
                    addresses: try endpoint["addresses"].strings(),
                    ready: try conditions["ready"].bool(),
                    serving: try conditions["serving"].bool(),
                    terminating: try conditions["terminating"].bool(),
                    pod: pod,
                    nodeName: try endpoint["nodeName"].string()
                )
            )
        }
        let ports = try item["ports"].list().map {
            EndpointPort(
                name: try $0["name"].string(),
                port: try $0["port"].int(),
                transport: try $0["protocol"].string() ?? "TCP"
            )
        }
        return KubeEndpointSlice(
            ref: ref,
            service: serviceName.map { ObjectRef(namespace: ref.namespace, name: $0) },
            addressType: try item["addressType"].string() ?? "IPv4",
            endpoints: endpoints,
            ports: ports
        )
    }

    static func node(_ item: Field) throws -> KubeNode {
        var node = KubeNode(name: try ref(item).name)
        for address in try item["status"]["addresses"].list() {
            guard let text = try address["address"].string() else { continue }
            switch try address["type"].string() {
            case "InternalIP": node.internalIPs.append(text)
            case "ExternalIP": node.externalIPs.append(text)
            case "Hostname": node.hostnames.append(text)
            default: break
            }
        }
        node.podCIDRs = try item["spec"]["podCIDRs"].strings()
        if node.podCIDRs.isEmpty, let cidr = try item["spec"]["podCIDR"].string() { node.podCIDRs = [cidr] }
        return node
    }

    static func backend(_ field: Field) throws -> IngressBackend? {
        guard !field.isAbsent else { return nil }
        let service = field["service"]
        var port: IngressServicePort?
        if let number = try service["port"]["number"].int() {
            port = .number(number)
        } else if let name = try service["port"]["name"].string() {
            port = .name(name)
        }
        var resource: String?
        if let name = try field["resource"]["name"].string() {
            resource = "\(try field["resource"]["kind"].string() ?? "resource")/\(name)"
        }
        return IngressBackend(serviceName: try service["name"].string(), servicePort: port, resource: resource)
    }

    static func ingress(_ item: Field) throws -> KubeIngress {
        let spec = item["spec"]
        var rules: [IngressRule] = []
        for rule in try spec["rules"].list() {
            var paths: [IngressPath] = []
            for path in try rule["http"]["paths"].list() {
                let typeText = try path["pathType"].string() ?? "ImplementationSpecific"
                guard let type = IngressPathType(rawValue: typeText) else {
                    throw FieldError(
                        path: path["pathType"].path,
                        message: "\(path["pathType"].path) is \"\(typeText)\", expected Exact, Prefix or "
                            + "ImplementationSpecific"
                    )
                }
                guard let backend = try backend(path["backend"]) else {
                    throw FieldError(path: path["backend"].path, message: "\(path["backend"].path) is missing")
                }
                paths.append(IngressPath(path: try path["path"].string() ?? "/", pathType: type, backend: backend))
            }
            let host = try rule["host"].string()
            rules.append(IngressRule(host: host?.isEmpty == true ? nil : host, paths: paths))
        }
        return KubeIngress(
            ref: try ref(item),
            className: try spec["ingressClassName"].string(),
            rules: rules,
            defaultBackend: try backend(spec["defaultBackend"])
        )
    }
}

/// The objects read so far, before they are indexed.
struct ClusterObjects {
    var pods: [KubePod] = []
    var services: [KubeService] = []
    var endpointSlices: [KubeEndpointSlice] = []
    var nodes: [KubeNode] = []
    var ingresses: [KubeIngress] = []
}
