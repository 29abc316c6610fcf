// fuzz-modules: HoptraceCapture HoptraceDecode HoptraceFlows
// fuzz-entry: fuzzFlows
// fuzz-seeds:
//
// The flow stage fed decoded packets directly (no capture file, no decoder): the input is a small program of
// packets on a handful of connections, so that the fuzzer spends its time in TCP state, reassembly, HTTP and DNS
// rather than in finding valid checksums. Byte 0 sets the caps (tiny, so eviction runs) and whether segments are
// emitted; then each packet is
//
//     kind+endpoints (1) | time step (1, + 8 when absolute) | flags (1) | seq (1 + 4) | ack (1 + 4) |
//     window (1) | payload length (1) | cut (1) | payload (from a dictionary or from the input)
//
// Times jump to either end of the 64-bit range, go backwards and repeat; sequence numbers follow the stream, wrap,
// or come from the input. Every record emitted is read back (durations, latencies, JSON), and a snapshot is taken
// now and then.
import HoptraceCapture
import HoptraceDecode
import HoptraceFlows

/// The sink's records (only libFuzzer's single thread touches it).
nonisolated(unsafe) private var flowsFuzzEvents: [FlowEvent] = []

/// Snippets the payload byte can pick instead of raw bytes: HTTP heads of every framing, DNS messages.
private let flowsFuzzDictionary: [[UInt8]] = [
    Array("GET /a HTTP/1.1\r\nHost: h\r\n\r\n".utf8),
    Array("POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello".utf8),
    Array("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".utf8),
    Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8),
    Array("HTTP/1.1 100 Continue\r\n\r\n".utf8),
    Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n".utf8),
    Array("HTTP/1.0 200 OK\r\n\r\nuntil close".utf8),
    Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n".utf8),
    Array("CONNECT h:443 HTTP/1.1\r\n\r\n".utf8),
    Array("HEAD / HTTP/1.1\r\n\r\n".utf8),
    Array("GET /\u{1b}]0;x\u{7}<script> HTTP/1.1\r\nX-Request-ID: \u{0}\"\\\r\n\r\n".utf8),
    [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 0x77, 0x77, 0x77, 0, 0, 1, 0, 1],
    [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 3, 0x77, 0x77, 0x77, 0, 0, 1, 0, 1, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1],
    [0, 21, 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 0x77, 0x77, 0x77, 0, 0, 1, 0, 1],
    [0xc0, 0x0c, 0xc0, 0x0c],
    Array("\r\n\r\n".utf8),
]

private let flowsFuzzClients: [FlowEndpoint] = [
    FlowEndpoint(address: IPAddress(10, 0, 0, 1), port: 40_000),
    FlowEndpoint(address: IPAddress(10, 0, 0, 2), port: 40_001),
    FlowEndpoint(address: IPAddress(ipv6High: 0xfd00_0000_0000_0000, low: 1), port: 40_002),
    FlowEndpoint(address: IPAddress(10, 0, 0, 1), port: 80),
]
private let flowsFuzzServers: [FlowEndpoint] = [
    FlowEndpoint(address: IPAddress(10, 96, 0, 10), port: 80),
    FlowEndpoint(address: IPAddress(10, 96, 0, 10), port: 53),
    FlowEndpoint(address: IPAddress(10, 96, 0, 11), port: 8080),
    FlowEndpoint(address: IPAddress(ipv6High: 0xfd00_0000_0000_0000, low: 2), port: 443),
]

/// Reads the input front to back; past the end, zeroes.
private struct FlowsFuzzInput {
    let bytes: [UInt8]
    var offset = 0
    var isAtEnd: Bool { self.offset >= self.bytes.count }
    mutating func byte() -> UInt8 {
        defer { self.offset += 1 }
        return self.offset < self.bytes.count ? self.bytes[self.offset] : 0
    }
    mutating func u32() -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 { value = value << 8 | UInt32(self.byte()) }
        return value
    }
    mutating func u64() -> UInt64 { UInt64(self.u32()) << 32 | UInt64(self.u32()) }
    mutating func take(_ count: Int) -> [UInt8] {
        let start = min(self.offset, self.bytes.count)
        let end = min(self.offset + count, self.bytes.count)
        self.offset += count
        return Array(self.bytes[start..<end])
    }
}

func fuzzFlows(_ data: [UInt8]) {
    var input = FlowsFuzzInput(bytes: data)
    let setup = input.byte()
    var configuration = FlowConfiguration()
    configuration.maxConnections = 1 + Int(setup & 7)
    configuration.maxDNSTransactions = 1 + Int(setup >> 3 & 7)
    configuration.emitSegments = setup & 0x40 != 0
    if setup & 0x80 != 0 {
        configuration.closeLinger = 3
        configuration.idleTimeout = 50
        configuration.dnsTimeout = 7
        configuration.dnsLinger = 2
        configuration.sweepInterval = 1
    }
    flowsFuzzEvents.removeAll(keepingCapacity: true)
    let analyzer = FlowAnalyzer(configuration: configuration) { flowsFuzzEvents.append($0) }
    var time: Int64 = 1_700_000_000_000_000_000
    // The next sequence number per (client, server, direction), so that most segments land in the stream.
    var nextSeq = [UInt32](repeating: 1000, count: 32)
    var packets = 0
    while !input.isAtEnd, packets < 4096 {
        packets += 1
        let selector = input.byte()
        let kind = selector & 3
        let client = flowsFuzzClients[Int(selector >> 2 & 3)]
        let server = flowsFuzzServers[Int(selector >> 4 & 3)]
        let fromClient = selector & 0x40 == 0
        let (src, dst) = fromClient ? (client, server) : (server, client)
        let stream = Int(selector >> 2 & 15) * 2 + (fromClient ? 0 : 1)
        let step = input.byte()
        switch step >> 6 {
        case 0: time &+= Int64(step & 0x3f) * 1_000
        case 1: time &+= Int64(step & 0x3f) * 1_000_000_000
        case 2: time &-= Int64(step & 0x3f) * 1_000
        default:
            switch step & 3 {
            case 0: time = .max
            case 1: time = .min
            case 2: time = Int64(bitPattern: input.u64())
            default: time = 0
            }
        }
        switch kind {
        case 0, 1:
            let flags = TCPFlags(rawValue: input.byte())
            let seqMode = input.byte()
            var seq: UInt32
            switch seqMode & 3 {
            case 0: seq = nextSeq[stream]
            case 1: seq = nextSeq[stream] &+ UInt32(seqMode >> 2)
            case 2: seq = nextSeq[stream] &- UInt32(seqMode >> 2)
            default: seq = input.u32()
            }
            let ackMode = input.byte()
            let peer = stream ^ 1
            let ack: UInt32 = ackMode & 1 == 0 ? nextSeq[peer] &+ UInt32(ackMode >> 1) : input.u32()
            let window = UInt16(input.byte()) << 8
            let lengthByte = input.byte()
            var payload: [UInt8]
            if lengthByte & 0x80 != 0 {
                payload = flowsFuzzDictionary[Int(lengthByte & 0x7f) % flowsFuzzDictionary.count]
            } else {
                payload = input.take(Int(lengthByte))
            }
            let cut = input.byte()
            // The snapshot length cut the payload (wire length larger than captured), or a jumbo length.
            let wireLength = cut & 0x80 != 0 ? payload.count + Int(cut & 0x7f) * 1000 : payload.count
            if cut & 0x40 != 0, !payload.isEmpty { payload.removeLast(min(payload.count, Int(cut & 0x3f))) }
            var advance = UInt32(truncatingIfNeeded: wireLength)
            if flags.contains(.syn) { advance &+= 1 }
            if flags.contains(.fin) { advance &+= 1 }
            nextSeq[stream] = seq &+ advance
            let header = TCPHeader(
                srcPort: src.port,
                dstPort: dst.port,
                seq: seq,
                ack: ack,
                flags: flags,
                window: window,
                headerLength: 20,
                options: TCPOptions(),
                checksum: 0,
                urgentPointer: 0
            )
            flowsFuzzFeed(analyzer, src, dst, .tcp(header), .tcp, payload, wireLength, time)
        case 2:
            let lengthByte = input.byte()
            let payload =
                lengthByte & 0x80 != 0
                ? flowsFuzzDictionary[Int(lengthByte & 0x7f) % flowsFuzzDictionary.count]
                : input.take(Int(lengthByte))
            let header = UDPHeader(
                srcPort: src.port,
                dstPort: dst.port,
                length: UInt16(truncatingIfNeeded: 8 + payload.count),
                checksum: 0
            )
            flowsFuzzFeed(analyzer, src, dst, .udp(header), .udp, payload, payload.count, time)
        default:
            let type = input.byte()
            let quoted = QuotedPacket(
                version: 4,
                src: dst.address,
                dst: src.address,
                protocol: type & 1 == 0 ? .tcp : .udp,
                ipID: 0,
                totalLength: 40,
                srcPort: dst.port,
                dstPort: src.port,
                tcpSeq: type & 2 == 0 ? input.u32() : nil
            )
            let message = ICMPMessage(type: type >> 4, code: type & 0xf, isV6: false, restOfHeader: 0, quoted: quoted)
            flowsFuzzFeed(analyzer, src, dst, .icmp(message), .icmp, [], 0, time)
        }
        if packets % 64 == 0 { flowsFuzzCheck(analyzer.snapshot()) }
    }
    analyzer.finish()
    flowsFuzzCheck(flowsFuzzEvents)
    _ = analyzer.statistics
}

private func flowsFuzzFeed(
    _ analyzer: FlowAnalyzer,
    _ src: FlowEndpoint,
    _ dst: FlowEndpoint,
    _ transport: Transport,
    _ protocol: IPProtocol,
    _ payload: [UInt8],
    _ wireLength: Int,
    _ time: Int64
) {
    payload.withUnsafeBytes { bytes in
        let packet = Packet(
            timestamp: time,
            interfaceID: 0,
            direction: .unknown,
            linkType: .raw,
            originalLength: 40 + wireLength,
            bytes: UnsafeRawBufferPointer(start: nil, count: 0)
        )
        var decoded = DecodedPacket(packet)
        var network = NetworkHeader(
            version: src.address.isIPv4 ? 4 : 6,
            src: src.address,
            dst: dst.address,
            protocol: `protocol`
        )
        network.totalLength = 40 + wireLength
        decoded.network = network
        decoded.transport = transport
        decoded.payload = bytes
        decoded.payloadLength = wireLength
        analyzer.process(decoded, capturePoint: 0)
    }
}

/// Reads back everything a record derives, so that a trap in a computed property shows here.
private func flowsFuzzCheck(_ events: [FlowEvent]) {
    var sum = 0
    for event in events {
        switch event {
        case .connection(let record), .opened(let record):
            sum &+= Int(truncatingIfNeeded: record.duration)
            sum &+= Int(truncatingIfNeeded: record.handshakeRTT ?? 0)
            sum &+= Int(truncatingIfNeeded: record.synToSynAck ?? 0)
            sum &+= Int(truncatingIfNeeded: record.synAckToAck ?? 0)
            sum &+= record.history.utf8.count
        case .http(let exchange):
            sum &+= Int(truncatingIfNeeded: exchange.latency ?? 0)
            sum &+= Int(truncatingIfNeeded: exchange.timeToFirstByte ?? 0)
            sum &+= exchange.request?.target.utf8.count ?? 0
        case .dns(let transaction):
            sum &+= Int(truncatingIfNeeded: transaction.latency ?? 0)
            sum &+= transaction.question?.name.utf8.count ?? 0
        case .icmpError, .segment:
            break
        }
    }
    _ = sum
}
