// fuzz-modules: HoptraceCapture HoptraceDecode Yams HoptraceKube HoptraceFlows HoptraceCorrelate HoptraceReport
// fuzz-entry: fuzzCorrelate
// fuzz-seeds:
//
// The correlator fed flow records directly (no capture file, no flow stage in the loop), as `trace --store` feeds it
// rows from a column store anyone can write to: real records (the flow stage's, of a few bundled lab captures, made
// once) changed field by field into what the flow stage would never emit. The input is a small program:
//
//     caps (2) | op (1) [record (2) | changes (1) | their bytes] ...
//
// Byte 0 and 1 set every cap tiny (1-8), so that eviction, pieces given up, shedding and writing early all run, and
// switch live tracing on. Each op takes a record (times shifted by any amount, to either end of the 64-bit range or
// backwards; the connection id, capture point, endpoints, end reason, eviction, request or response changed or
// dropped; provisional or final), advances the clock, or releases what overflows. At the end everything is traced
// and every trace rendered as text and JSON.
import Foundation
import HoptraceCapture
import HoptraceCorrelate
import HoptraceDecode
import HoptraceFlows
import HoptraceReport

/// The pool of real records and the capture points they name, made once (libFuzzer's single thread).
nonisolated(unsafe) private var correlateFuzzPool: (events: [FlowEvent], points: [CapturePoint])?

private func correlateFuzzRecords() -> (events: [FlowEvent], points: [CapturePoint]) {
    if let pool = correlateFuzzPool { return pool }
    // The repository from this file: tools/fuzz/targets/correlate.swift.
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    let files = [
        "captures/clusterip-ok/hoptrace.pcapng", "captures/clusterip-reset/hoptrace.pcapng",
        "captures/dns-timeout/hoptrace.pcapng", "captures/nodeport-drop/any.sll2.pcap",
        "captures/ingress-ok/dumpcap.pcapng", "captures/xnode-ok/node-a/hoptrace.pcapng",
    ]
    var events: [FlowEvent] = []
    let points = CapturePointTable()
    let pipeline = FlowPipeline(ifIndexNames: [:], configuration: Correlator.flowConfiguration())
    for file in files {
        let path = root.appendingPathComponent(file).path
        _ = try? pipeline.run(paths: [path], capturePoints: points) { event in
            if case .segment = event { return }
            if events.count < 4_096 { events.append(event) }
        }
    }
    var named = points.points
    while named.count < 6 { named.append(CapturePoint(name: "if\(named.count)", node: named.count % 2 == 0 ? nil : "b")) }
    let pool = (events, named)
    correlateFuzzPool = pool
    return pool
}

/// Reads the input front to back; past the end, zeroes.
private struct CorrelateFuzzInput {
    let bytes: [UInt8]
    var offset = 0
    var isAtEnd: Bool { self.offset >= self.bytes.count }

    mutating func byte() -> UInt8 {
        guard self.offset < self.bytes.count else { return 0 }
        defer { self.offset += 1 }
        return self.bytes[self.offset]
    }

    mutating func word() -> Int { Int(self.byte()) << 8 | Int(self.byte()) }

    /// A time shift: small steps either way, or to either end of the range.
    mutating func shift() -> Int64 {
        let kind = self.byte()
        switch kind % 8 {
        case 0: return .max
        case 1: return .min
        case 2: return -Int64(self.word()) * 1_000_000
        default: return Int64(self.word()) * Int64(kind) * 10_000
        }
    }
}

private let correlateFuzzEndpoints: [FlowEndpoint] = [
    FlowEndpoint(address: IPAddress(10, 244, 0, 10), port: 40_000),
    FlowEndpoint(address: IPAddress(10, 96, 0, 10), port: 80),
    FlowEndpoint(address: IPAddress(10, 244, 0, 11), port: 8080),
    FlowEndpoint(address: IPAddress(10, 96, 0, 10), port: 53),
    FlowEndpoint(address: IPAddress(ipv6High: 0xfd00_0000_0000_0000, low: 1), port: 443),
    FlowEndpoint(address: IPAddress(0, 0, 0, 0), port: 0),
]

private func shifted(_ time: Int64, by delta: Int64) -> Int64 {
    let (sum, overflow) = time.addingReportingOverflow(delta)
    return overflow ? (delta > 0 ? .max : .min) : sum
}

private func shifted(_ mark: StreamMark?, by delta: Int64) -> StreamMark? {
    mark.map { StreamMark(offset: $0.offset, time: shifted($0.time, by: delta)) }
}

/// One record of the pool, changed as the input says.
private func correlateFuzzEvent(_ input: inout CorrelateFuzzInput, pool: [FlowEvent], points: Int) -> FlowEvent? {
    guard !pool.isEmpty else { return nil }
    let event = pool[input.word() % pool.count]
    let changes = input.byte()
    let delta = changes & 1 != 0 ? input.shift() : 0
    let back = delta == .min ? .max : -delta
    let id = UInt64(input.byte() % 16)
    let point = Int(input.byte()) % (points + 1) - (changes & 0x40 != 0 ? 1 : 0)
    let endpoint = correlateFuzzEndpoints[Int(input.byte()) % correlateFuzzEndpoints.count]
    switch event {
    case .opened(var record), .connection(var record):
        if delta != 0 {
            // Start and end moved apart on purpose now and then: records from a store need not be consistent.
            record.startTime = shifted(record.startTime, by: changes & 0x80 != 0 ? back : delta)
            record.endTime = shifted(record.endTime, by: delta)
            record.synTime = record.synTime.map { shifted($0, by: delta) }
            record.synAckTime = record.synAckTime.map { shifted($0, by: delta) }
            record.handshakeAckTime = record.handshakeAckTime.map { shifted($0, by: delta) }
            record.synRetransmissionTimes = record.synRetransmissionTimes.map { shifted($0, by: delta) }
        }
        if changes & 2 != 0 { record.id = id }
        if changes & 4 != 0 { record.capturePoint = point }
        if changes & 8 != 0 {
            let reasons: [ConnectionEndReason] = [.evicted, .reused, .endOfInput, .evicted]
            record.endReason = reasons[Int(id) % reasons.count]
            if id >= 12 {
                // Byte counts near the top of the range (a store's rows may say anything).
                record.originatorSummary.bytes = .max - UInt64(id)
                record.responderSummary.bytes = .max - UInt64(id)
                record.originatorSummary.capturedPayloadBytes = .max
            }
        }
        if changes & 16 != 0 {
            // Two properties of one record are two accesses to it: swapped through a copy.
            let originator = record.originator
            record.originator = record.responder
            record.responder = originator
        }
        if changes & 32 != 0 {
            if id & 1 == 0 { record.responder = endpoint } else { record.originator = endpoint }
        }
        if changes & 0x40 != 0, id & 2 != 0 {
            record.synTime = nil
            record.synAckTime = nil
        }
        return changes & 0x80 != 0 && id & 4 != 0 ? .opened(record) : .connection(record)
    case .http(var exchange):
        if delta != 0 {
            exchange.requestFirstByte = shifted(exchange.requestFirstByte, by: delta)
            exchange.requestLastByte = shifted(exchange.requestLastByte, by: changes & 0x80 != 0 ? back : delta)
            exchange.responseFirstByte = shifted(exchange.responseFirstByte, by: delta)
            exchange.responseLastByte = shifted(exchange.responseLastByte, by: delta)
        }
        if changes & 2 != 0 { exchange.connectionID = id }
        if changes & 4 != 0 { exchange.capturePoint = point }
        if changes & 8 != 0 { exchange.request = nil }
        if changes & 16 != 0 { exchange.response = nil }
        if changes & 32 != 0 { exchange.index = Int(id) - 2 }
        if changes & 0x40 != 0 { exchange.client = endpoint }
        return .http(exchange)
    case .dns(var transaction):
        if delta != 0 {
            transaction.queryTime = transaction.queryTime.map { shifted($0, by: delta) }
            transaction.responseTime = transaction.responseTime.map {
                shifted($0, by: changes & 0x80 != 0 ? back : delta)
            }
        }
        if changes & 2 != 0 { transaction.id = UInt16(id) }
        if changes & 4 != 0 { transaction.capturePoint = point }
        if changes & 8 != 0 { transaction.isEvicted.toggle() }
        if changes & 16 != 0 {
            transaction.responseTime = nil
            transaction.rcode = nil
        }
        if changes & 32 != 0 { transaction.client = endpoint }
        if changes & 0x40 != 0 { transaction.queryRetransmissions = Int(id) * 1_000_003 }
        return .dns(transaction)
    case .icmpError(var error):
        if delta != 0 { error.time = shifted(error.time, by: delta) }
        if changes & 2 != 0 { error.connectionID = id }
        if changes & 4 != 0 { error.capturePoint = point }
        if changes & 8 != 0 { error.quotedDestination = endpoint }
        if changes & 16 != 0 { error.quotedTCPSequence = UInt32(id) }
        if changes & 32 != 0 { error.sender = endpoint.address }
        return .icmpError(error)
    case .segment:
        return nil
    }
}

func fuzzCorrelate(_ data: [UInt8]) {
    let (pool, points) = correlateFuzzRecords()
    var input = CorrelateFuzzInput(bytes: data)
    let caps = input.byte()
    let more = input.byte()
    var options = caps & 0x40 != 0 ? CorrelateOptions.live : CorrelateOptions()
    options.maxOpenConnections = 1 + Int(caps & 7)
    options.maxPendingTraces = 1 + Int(caps >> 3 & 7)
    options.maxHeldQueries = 1 + Int(more & 7)
    options.maxOnwardExchanges = 1 + Int(more >> 3 & 7)
    options.maxQueriesPerClient = 1 + Int(more >> 6)
    if caps & 0x80 != 0 { options.proxyHold = 2_000_000_000 }
    let engine = TraceEngine(options: options) { id in
        id >= 0 && id < points.count ? points[id] : CapturePoint(name: "if?\(id)")
    }
    var traces: [RequestTrace] = []
    var now = Int64(1_700_000_000) * 1_000_000_000
    var steps = 0
    while !input.isAtEnd, steps < 512 {
        steps += 1
        switch input.byte() % 4 {
        case 0, 1:
            if let event = correlateFuzzEvent(&input, pool: pool, points: points.count) { engine.take(event) }
        case 2:
            now = shifted(now, by: input.shift())
            traces += engine.advance(to: now)
        default:
            if engine.isOverfull { traces += engine.releaseOverflow() }
        }
        if traces.count > 256 { traces.removeFirst(traces.count - 256) }
    }
    engine.finish { traces += $0 }
    // Wide and, as on a narrow terminal, with each hop's addresses on a line of their own.
    let report = TextReport(color: true)
    let narrow = TextReport(color: true, barWidth: 7, width: 40)
    var size = 0
    for trace in traces.suffix(256) {
        size &+= report.render(trace).utf8.count
        size &+= narrow.render(trace).utf8.count
        size &+= TraceJSON.render(trace).utf8.count
    }
    if size == Int.min { print(size) }
}
