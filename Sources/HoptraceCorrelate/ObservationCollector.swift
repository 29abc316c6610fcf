import HoptraceCapture
import HoptraceDecode
import HoptraceFlows

/// Builds the correlator's input from the flow stage's records.
///
/// The flow stage keys connections per capture point and does not keep packet directions; the collector notes the
/// direction of each SYN as it passes (a dictionary insert per SYN, nothing per other packet) so the stitcher can
/// order capture points by causality.
public final class ObservationCollector {
    struct SYNKey: Hashable {
        var capturePoint: Int
        var source: FlowEndpoint
        var destination: FlowEndpoint
    }

    private var synDirections: [SYNKey: PacketDirection] = [:]
    private var exchanges: [UInt64: [HTTPSighting]] = [:]
    private var connections: [ConnectionRecord] = []
    private var dns: [DNSTransaction] = []
    private var icmp: [ICMPErrorEvent] = []

    public init() {}

    /// Notes the direction of a connection's first SYN at its capture point. Call for every decoded packet.
    public func tap(_ packet: borrowing DecodedPacket, capturePoint: Int) {
        guard case .tcp(let tcp) = packet.transport, tcp.flags.contains(.syn), !tcp.flags.contains(.ack),
            let network = packet.network
        else { return }
        let key = SYNKey(
            capturePoint: capturePoint,
            source: FlowEndpoint(address: network.src, port: tcp.srcPort),
            destination: FlowEndpoint(address: network.dst, port: tcp.dstPort)
        )
        if synDirections[key] == nil { synDirections[key] = packet.direction }
    }

    /// Takes one flow record.
    public func collect(_ event: FlowEvent) {
        switch event {
        case .connection(let record): connections.append(record)
        case .http(let exchange):
            guard let request = exchange.request, let first = exchange.requestFirstByte else { return }
            exchanges[exchange.connectionID, default: []].append(
                HTTPSighting(
                    method: request.method,
                    path: request.target,
                    host: request.host,
                    requestID: request.requestID,
                    status: exchange.response?.status,
                    requestFirst: first.time,
                    requestLast: exchange.requestLastByte?.time ?? first.time,
                    responseFirst: exchange.responseFirstByte?.time,
                    responseLast: exchange.responseLastByte?.time,
                    responseComplete: exchange.isResponseComplete
                )
            )
        case .dns(let transaction): dns.append(transaction)
        case .icmpError(let event): icmp.append(event)
        case .segment: break
        }
    }

    static func endpoint(_ e: FlowEndpoint) -> Endpoint { Endpoint(e.address.description, e.port) }

    /// The observations, with capture point ids turned into names.
    ///
    /// Hands over the connections and exchanges collected (the collector keeps none of them afterwards, so that a
    /// large capture is not held twice): call it once, after the last ``collect(_:)``.
    public func observations(capturePoints: [String], captureEnd: Int64) -> Observations {
        func pointName(_ id: Int) -> String { id >= 0 && id < capturePoints.count ? capturePoints[id] : "if?\(id)" }
        var tcp: [TCPSighting] = []
        tcp.reserveCapacity(connections.count)
        // Records and exchanges are released as their sightings are made (popped from the end, then the sightings
        // reversed back into record order), so that both forms of a large capture are never held at once.
        var records = connections
        connections = []
        while let record = records.popLast() {
            let o = record.originatorSummary
            let r = record.responderSummary
            var reset: ResetSighting?
            if let time = r.rstTime {
                reset = ResetSighting(time: time, fromClient: false, seq: r.rstSeq ?? 0, ack: r.rstAck ?? 0)
            }
            if let time = o.rstTime, reset.map({ time < $0.time }) ?? true {
                reset = ResetSighting(time: time, fromClient: true, seq: o.rstSeq ?? 0, ack: o.rstAck ?? 0)
            }
            let key = SYNKey(
                capturePoint: record.capturePoint,
                source: record.originator,
                destination: record.responder
            )
            tcp.append(
                TCPSighting(
                    capturePoint: pointName(record.capturePoint),
                    clientDirection: synDirections[key] ?? record.synDirection ?? .unknown,
                    client: Self.endpoint(record.originator),
                    server: Self.endpoint(record.responder),
                    clientISN: record.synTime != nil ? record.originatorISN : nil,
                    serverISN: record.synAckTime != nil ? record.responderISN : nil,
                    synTime: record.synTime,
                    synCount: record.synTime == nil ? 0 : 1 + record.synRetransmissions,
                    synAckTime: record.synAckTime,
                    synAckCount: record.synAckTime == nil ? 0 : 1 + record.synAckRetransmissions,
                    ackTime: record.handshakeAckTime,
                    clientDataFirst: o.firstData?.time,
                    clientDataLast: o.lastData?.time,
                    serverDataFirst: r.firstData?.time,
                    serverDataLast: r.lastData?.time,
                    clientBytes: Int(o.bytes),
                    serverBytes: Int(r.bytes),
                    clientRetransmissions: o.retransmissions,
                    serverRetransmissions: r.retransmissions,
                    clientFinTime: o.fin?.time,
                    serverFinTime: r.fin?.time,
                    reset: reset,
                    exchanges: (exchanges.removeValue(forKey: record.id) ?? []).sorted {
                        $0.requestFirst < $1.requestFirst
                    },
                    firstTime: record.startTime,
                    lastTime: record.endTime
                )
            )
        }
        tcp.reverse()
        var dnsSightings: [DNSSighting] = []
        for transaction in dns {
            guard let question = transaction.question, let queryTime = transaction.queryTime else { continue }
            var addresses: [String] = []
            for answer in transaction.answers {
                if case .address(let address) = answer.data { addresses.append(address.description) }
            }
            var qname = question.name.lowercased()
            if qname.hasSuffix(".") { qname.removeLast() }
            dnsSightings.append(
                DNSSighting(
                    capturePoint: pointName(transaction.capturePoint),
                    client: Self.endpoint(transaction.client),
                    server: Self.endpoint(transaction.server),
                    id: transaction.id,
                    name: qname,
                    type: question.type.description,
                    queryTime: queryTime,
                    queryCount: 1 + transaction.queryRetransmissions,
                    responseTime: transaction.responseTime,
                    rcode: transaction.rcode?.description,
                    addresses: addresses
                )
            )
        }
        let icmpSightings = icmp.map { event in
            ICMPSighting(
                capturePoint: pointName(event.capturePoint),
                time: event.time,
                sender: event.sender.description,
                receiver: event.destination.description,
                type: event.type,
                code: event.code,
                name: event.kind,
                quotedSource: Self.endpoint(event.quotedSource),
                quotedDestination: Self.endpoint(event.quotedDestination),
                quotedProtocol: event.quotedProtocol.rawValue,
                quotedSeq: event.quotedTCPSequence
            )
        }
        return Observations(tcp: tcp, dns: dnsSightings, icmp: icmpSightings, captureEnd: captureEnd)
    }
}
