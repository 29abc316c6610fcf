import Foundation
import HoptraceCapture
import HoptraceDecode
import HoptraceTestSupport
import Testing

@testable import HoptraceFlows

/// The records' `Codable` form written by hand (``FlowEvent/writeCodableJSON(to:)``, what the agent stores) against
/// Foundation's `JSONEncoder` and `JSONDecoder` (the independent fact): for every record of the repository's captures
/// and of hand-built ones, the hand-written JSON decodes to the record, and it is the same JSON object as
/// `JSONEncoder` writes (the same keys, the same values; only spacing and escapes may differ).
@Suite("flow records: the Codable form written by hand")
struct CodableJSONTests {
    /// Every lab scenario's hoptrace pcapng (each node's for two nodes) and every corpus capture.
    static var files: [String] {
        let lab = Lab.scenarios.flatMap { scenario in
            let nodes = Lab.nodes(scenario)
            return nodes.isEmpty
                ? [Lab.file(scenario, .hoptrace).path] : nodes.map { Lab.file(scenario, .hoptrace, node: $0).path }
        }
        return lab + Repository.corpusCaptures.map(Repository.corpusFile)
    }

    /// `JSONEncoder`'s form of `record` (the old path); expects both it and `written` to decode to `record`.
    static func encoded<T: Codable & Equatable>(_ record: T, written: Data) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let encoded = try encoder.encode(record)
        #expect(try JSONDecoder().decode(T.self, from: written) == record)
        #expect(try JSONDecoder().decode(T.self, from: encoded) == record)
        return encoded
    }

    /// Checks one record; returns false for a segment (not stored).
    @discardableResult
    static func check(_ event: FlowEvent) throws -> Bool {
        var writer = JSONWriter()
        guard event.writeCodableJSON(to: &writer) else { return false }
        let written = Data(writer.bytes)
        let encoded: Data
        switch event {
        case .opened(let record), .connection(let record): encoded = try Self.encoded(record, written: written)
        case .http(let exchange): encoded = try Self.encoded(exchange, written: written)
        case .dns(let transaction): encoded = try Self.encoded(transaction, written: written)
        case .icmpError(let error): encoded = try Self.encoded(error, written: written)
        case .segment: return false
        }
        let ours = try JSONSerialization.jsonObject(with: written) as? NSDictionary
        let theirs = try JSONSerialization.jsonObject(with: encoded) as? NSDictionary
        #expect(ours != nil && ours == theirs, "\(String(decoding: written, as: UTF8.self))")
        return true
    }

    @Test("every record of the repository's captures", arguments: files)
    func captures(file: String) throws {
        var configuration = FlowConfiguration()
        configuration.emitOpened = true
        var events: [FlowEvent] = []
        // The corpus's damaged files are refused (their own tests say so): nothing to check in them.
        _ = try? FlowPipeline(configuration: configuration).run(paths: [file]) { events.append($0) }
        var checked = 0
        for event in events where try Self.check(event) { checked += 1 }
        #expect(checked > 0 || file.contains("/Corpus/"))
    }

    @Test("hand-built records: every optional, tunnel kind, DNS data and hostile text")
    func handBuilt() throws {
        let client = FlowEndpoint(address: IPAddress(10, 0, 0, 1), port: 40_000)
        let server = FlowEndpoint(address: IPAddress("fd00::1") ?? IPAddress(0, 0, 0, 0), port: 443)
        let hostile = "a\"b\\c\n\t\u{1}\u{7f}é/💥\u{2028}"
        // A connection record of a lab capture, as the template (its type has no public initializer).
        var found: ConnectionRecord?
        _ = try FlowPipeline().run(paths: [Lab.file("clusterip-ok", .hoptrace).path]) { event in
            if case .connection(let record) = event, found == nil { found = record }
        }
        let template = try #require(found)
        for kind in [TunnelKind.vxlan(vni: 42), .geneve(vni: 7), .ipip, .gre(key: nil), .gre(key: 9)] {
            var summary = TCPDirectionSummary()
            summary.bytes = 10
            summary.isn = 0xFFFF_FFFF
            summary.rstSeq = 0
            summary.firstData = StreamMark(offset: 1, time: -5)
            summary.rstTime = .max
            var record = template
            (record.id, record.capturePoint, record.originator, record.responder) = (.max, 3, client, server)
            (record.startTime, record.endTime) = (.min, .max)
            record.history = hostile
            record.application = hostile
            record.originatorSummary = summary
            record.synTime = 1
            record.synRetransmissionTimes = [1, -2, .min]
            record.synDirection = .outbound
            record.resetBy = .responder
            record.closedBy = .originator
            record.endReason = .endOfInput
            record.originatorFirst = FirstPacketEvidence(
                ttl: 255,
                ipID: 0xFFFF_FFFF,
                sourceMAC: MACAddress(rawValue: 0xFFFF_FFFF_FFFF),
                destinationMAC: MACAddress(rawValue: 1),
                direction: .inbound,
                tunnel: TunnelInfo(kind: kind, outerSrc: IPAddress(192, 168, 0, 1), outerDst: server.address, depth: 2)
            )
            record.responderFirst = FirstPacketEvidence(
                ttl: 0,
                ipID: 0,
                sourceMAC: nil,
                destinationMAC: nil,
                direction: .unknown,
                tunnel: nil
            )
            record.originatorBase = 0
            #expect(try Self.check(.connection(record)))
        }
        var request = HTTPHead(isRequest: true)
        (request.method, request.target, request.host, request.requestID) = ("GET", hostile, hostile, "r1")
        (request.traceparent, request.forwardedFor, request.userAgent) = ("t", "f", hostile)
        request.contentLength = 0
        var response = HTTPHead(isRequest: false)
        (response.status, response.reason, response.isTruncated) = (503, hostile, true)
        var exchange = HTTPExchange(client: client, server: server)
        (exchange.request, exchange.response, exchange.interimStatuses) = (request, response, [100, 103])
        (exchange.clientISN, exchange.requestFirstByte) = (5, StreamMark(offset: .max, time: 2))
        #expect(try Self.check(.http(exchange)))
        #expect(try Self.check(.http(HTTPExchange(client: client, server: server))))
        var transaction = DNSTransaction(capturePoint: 1, transport: .tcp, client: client, server: server, id: 9)
        transaction.question = DNSQuestion(name: hostile, type: .aaaa, questionClass: 1)
        (transaction.queryTime, transaction.rcode, transaction.connectionID) = (4, .nameError, 8)
        transaction.answers = [
            DNSResourceRecord(name: "a", type: .a, recordClass: 1, ttl: 30, data: .address(IPAddress(1, 2, 3, 4))),
            DNSResourceRecord(name: "b", type: .cname, recordClass: 1, ttl: 0, data: .name(hostile)),
            DNSResourceRecord(
                name: "c",
                type: .srv,
                recordClass: 1,
                ttl: .max,
                data: .service(priority: 1, weight: 2, port: 3, target: "t")
            ),
            DNSResourceRecord(
                name: "",
                type: DNSRecordType(rawValue: 999),
                recordClass: 3,
                ttl: 1,
                data: .other(length: 7)
            ),
        ]
        #expect(try Self.check(.dns(transaction)))
        let icmp = ICMPErrorEvent(
            capturePoint: 0,
            time: -1,
            sender: server.address,
            destination: client.address,
            type: 1,
            code: 4,
            isV6: true,
            quotedSource: client,
            quotedDestination: server,
            quotedProtocol: .udp,
            quotedTCPSequence: nil,
            connectionID: 3
        )
        #expect(try Self.check(.icmpError(icmp)))
    }
}
