import HoptraceCapture
import HoptraceDecode
import HoptraceFlows

/// Builds decoded TCP/UDP packets by hand and feeds them to a ``FlowAnalyzer``.
final class FlowHarness {
    var events: [FlowEvent] = []
    let analyzer: FlowAnalyzer
    private var sinkBox: Box

    final class Box {
        var events: [FlowEvent] = []
    }

    init(configuration: FlowConfiguration = .init()) {
        let box = Box()
        self.sinkBox = box
        self.analyzer = FlowAnalyzer(configuration: configuration) { box.events.append($0) }
    }

    var emitted: [FlowEvent] { self.sinkBox.events }
    var connections: [ConnectionRecord] {
        self.emitted.compactMap { if case .connection(let record) = $0 { return record } else { return nil } }
    }
    var exchanges: [HTTPExchange] {
        self.emitted.compactMap { if case .http(let exchange) = $0 { return exchange } else { return nil } }
    }
    var dns: [DNSTransaction] {
        self.emitted.compactMap { if case .dns(let transaction) = $0 { return transaction } else { return nil } }
    }
    var icmp: [ICMPErrorEvent] {
        self.emitted.compactMap { if case .icmpError(let event) = $0 { return event } else { return nil } }
    }

    static let empty: [UInt8] = []

    func tcp(
        _ src: FlowEndpoint,
        _ dst: FlowEndpoint,
        _ flags: TCPFlags,
        seq: UInt32,
        ack: UInt32 = 0,
        window: UInt16 = 65_535,
        payload: [UInt8] = FlowHarness.empty,
        wireLength: Int? = nil,
        ipID: UInt32 = 0,
        options: TCPOptions = TCPOptions(),
        at time: Int64,
        capturePoint: Int = 0
    ) {
        let header = TCPHeader(
            srcPort: src.port,
            dstPort: dst.port,
            seq: seq,
            ack: ack,
            flags: flags,
            window: window,
            headerLength: 20,
            options: options,
            checksum: 0,
            urgentPointer: 0
        )
        self.feed(
            src: src.address,
            dst: dst.address,
            transport: .tcp(header),
            protocol: .tcp,
            payload: payload,
            wireLength: wireLength,
            ipID: ipID,
            time: time,
            capturePoint: capturePoint
        )
    }

    func udp(_ src: FlowEndpoint, _ dst: FlowEndpoint, payload: [UInt8], at time: Int64, capturePoint: Int = 0) {
        let header = UDPHeader(srcPort: src.port, dstPort: dst.port, length: UInt16(8 + payload.count), checksum: 0)
        self.feed(
            src: src.address,
            dst: dst.address,
            transport: .udp(header),
            protocol: .udp,
            payload: payload,
            wireLength: nil,
            time: time,
            capturePoint: capturePoint
        )
    }

    func icmp(from: IPAddress, to: IPAddress, message: ICMPMessage, at time: Int64, capturePoint: Int = 0) {
        self.feed(
            src: from,
            dst: to,
            transport: .icmp(message),
            protocol: .icmp,
            payload: [],
            wireLength: nil,
            time: time,
            capturePoint: capturePoint
        )
    }

    private func feed(
        src: IPAddress,
        dst: IPAddress,
        transport: Transport,
        protocol: IPProtocol,
        payload: [UInt8],
        wireLength: Int?,
        ipID: UInt32 = 0,
        time: Int64,
        capturePoint: Int
    ) {
        payload.withUnsafeBytes { bytes in
            let packet = Packet(
                timestamp: time,
                interfaceID: capturePoint,
                direction: .unknown,
                linkType: .raw,
                originalLength: 40 + payload.count,
                bytes: UnsafeRawBufferPointer(start: nil, count: 0)
            )
            var decoded = DecodedPacket(packet)
            var network = NetworkHeader(version: src.isIPv4 ? 4 : 6, src: src, dst: dst, protocol: `protocol`)
            network.totalLength = 40 + (wireLength ?? payload.count)
            network.ipID = ipID
            decoded.network = network
            decoded.transport = transport
            decoded.payload = bytes
            decoded.payloadLength = wireLength ?? payload.count
            self.analyzer.process(decoded, capturePoint: capturePoint)
        }
    }
}

extension FlowEndpoint {
    static func v4(_ text: String, _ port: UInt16) -> FlowEndpoint {
        FlowEndpoint(address: IPAddress(text) ?? IPAddress(ipv4: 0), port: port)
    }
}

extension Array where Element == UInt8 {
    init(text: String) { self = Array(text.utf8) }
}
