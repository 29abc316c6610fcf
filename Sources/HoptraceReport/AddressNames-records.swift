import HoptraceDecode
import HoptraceFlows
import HoptraceKube

extension AddressNames {
    /// Names for a packet's source and destination (with their ports for TCP and UDP).
    public mutating func names(of decoded: DecodedPacket) -> [String: String] {
        guard let network = decoded.network else { return [:] }
        switch decoded.transport {
        case .tcp(let tcp):
            return self.names(of: [
                (network.src.description, tcp.srcPort, "TCP"), (network.dst.description, tcp.dstPort, "TCP"),
            ])
        case .udp(let udp):
            return self.names(of: [
                (network.src.description, udp.srcPort, "UDP"), (network.dst.description, udp.dstPort, "UDP"),
            ])
        default:
            return self.names(of: [(network.src.description, nil, nil), (network.dst.description, nil, nil)])
        }
    }

    /// Names for a connection's two endpoints (none for an ICMP error).
    public mutating func names(of record: FlowRecord) -> [String: String] {
        guard case .connection(let connection) = record else { return [:] }
        return self.names(of: connection.originator, connection.responder, transport: "TCP")
    }

    /// Names for a request's client and server.
    public mutating func names(of record: RequestRecord) -> [String: String] {
        switch record {
        case .dns(let transaction):
            return self.names(
                of: transaction.client,
                transaction.server,
                transport: transaction.transport == .tcp ? "TCP" : "UDP"
            )
        case .http(let exchange):
            return self.names(of: exchange.client, exchange.server, transport: "TCP")
        }
    }

    private mutating func names(of first: FlowEndpoint, _ second: FlowEndpoint, transport: String) -> [String: String] {
        self.names(of: [
            (first.address.description, first.port, transport), (second.address.description, second.port, transport),
        ])
    }
}
