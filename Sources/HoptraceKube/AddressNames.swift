/// Kubernetes names for the addresses of a stream of records (packets, connections, requests), looked up once per
/// address and remembered: the per-record cost is a dictionary probe.
public struct AddressNames: Sendable {
    /// The cluster state the names come from.
    public let state: ClusterState
    private var byAddress: [String: String?] = [:]
    private var byEndpoint: [String: String?] = [:]
    /// Distinct addresses remembered at most (a scan of the whole address space cannot grow it without bound).
    public static let capacity = 1 << 16

    /// Names from this state.
    public init(state: ClusterState) {
        self.state = state
    }

    /// `pod default/web-7d4b9`, `service default/web`, `node lab-node`; nil when the state does not know it.
    public mutating func name(ofAddress address: String) -> String? {
        if let cached = byAddress[address] { return cached }
        let name = state.name(ofAddress: address)
        if byAddress.count < Self.capacity { byAddress[address] = name }
        return name
    }

    /// The name of an address and port when the port matters (a Service port, a nodePort), else of the address.
    public mutating func name(ofAddress address: String, port: UInt16, transport: String? = nil) -> String? {
        let key = "\(address) \(port) \(transport ?? "")"
        if let cached = byEndpoint[key] { return cached }
        let name = state.name(ofAddress: address, port: Int(port), transport: transport) ?? name(ofAddress: address)
        if byEndpoint.count < Self.capacity { byEndpoint[key] = name }
        return name
    }

    /// The names of several endpoints, as `names` in JSON and in ``RequestTrace/names``: keyed by `address:port`
    /// for a port-specific name, else by address; endpoints without a name are left out.
    public mutating func names(of endpoints: [(address: String, port: UInt16?, transport: String?)]) -> [String: String]
    {
        var result: [String: String] = [:]
        for endpoint in endpoints {
            if let port = endpoint.port, port > 0,
                let name = state.name(ofAddress: endpoint.address, port: Int(port), transport: endpoint.transport)
            {
                result[(endpoint.address.contains(":") ? "[\(endpoint.address)]" : endpoint.address) + ":\(port)"] =
                    name
            } else if let name = name(ofAddress: endpoint.address) {
                result[endpoint.address] = name
            }
        }
        return result
    }
}
