import HoptraceCorrelate

extension RequestTrace {
    /// The Kubernetes name of an endpoint of this trace: its address and port's (`service default/web:80`), else its
    /// address's (`pod default/web-7d4b9`); nil without one.
    public func name(of endpoint: Endpoint) -> String? {
        names[endpoint.description] ?? names[endpoint.host]
    }

    /// The name of an address alone (`10.96.0.100`).
    public func name(ofAddress address: String) -> String? {
        names[address]
    }
}
