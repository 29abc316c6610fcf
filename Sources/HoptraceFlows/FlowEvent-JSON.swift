// JSON lines for the flow stage's records (`hoptrace flows --json`, `hoptrace requests --json`): hand-rolled, one
// object per line, strings escaped by RFC 8259 rules (``JSONObjectWriter/appendString(_:to:)``). Times are integer
// nanoseconds since the Unix epoch; absent values are left out.

/// Builds one JSON object, with the nesting the flow records need, as UTF-8 bytes (numbers and addresses written
/// digit by digit, strings escaped byte by byte: the same text as ``JSONObjectWriter/appendString(_:to:)``).
public struct FlowJSONWriter {
    /// The bytes so far.
    public private(set) var bytes: [UInt8]
    private var first = true

    /// An empty object.
    public init() {
        self.bytes = [UInt8(ascii: "{")]
        self.bytes.reserveCapacity(512)
    }

    /// An empty object continuing `bytes` (taken over; ``take()`` gives them back).
    private init(continuing bytes: inout [UInt8]) {
        self.bytes = []
        swap(&self.bytes, &bytes)
        self.bytes.append(UInt8(ascii: "{"))
    }

    /// The text so far.
    public var text: String { String(decoding: self.bytes, as: UTF8.self) }

    /// Gives the bytes (the object closed) to the caller, leaving this writer empty.
    private mutating func take() -> [UInt8] {
        self.bytes.append(UInt8(ascii: "}"))
        var bytes: [UInt8] = []
        swap(&bytes, &self.bytes)
        return bytes
    }

    private mutating func key(_ key: StaticString) {
        if !self.first { self.bytes.append(UInt8(ascii: ",")) }
        self.first = false
        self.bytes.append(UInt8(ascii: "\""))
        // The keys are this file's literals: ASCII letters, nothing to escape.
        key.withUTF8Buffer { self.bytes.append(contentsOf: $0) }
        self.bytes.append(UInt8(ascii: "\""))
        self.bytes.append(UInt8(ascii: ":"))
    }

    /// `"key":"value"`, skipped when nil.
    public mutating func string(_ key: StaticString, _ value: String?) {
        guard let value else { return }
        self.key(key)
        Self.appendString(value, to: &self.bytes)
    }

    /// `"key":"address:port"` (``FlowEndpoint/description``), no String built.
    public mutating func endpoint(_ key: StaticString, _ value: FlowEndpoint) {
        self.key(key)
        self.bytes.append(UInt8(ascii: "\""))
        if value.address.isIPv4 {
            value.address.appendDescription(to: &self.bytes)
        } else {
            self.bytes.append(UInt8(ascii: "["))
            value.address.appendDescription(to: &self.bytes)
            self.bytes.append(UInt8(ascii: "]"))
        }
        self.bytes.append(UInt8(ascii: ":"))
        FlowTime.appendDecimal(UInt64(value.port), to: &self.bytes)
        self.bytes.append(UInt8(ascii: "\""))
    }

    /// `"key":n`, skipped when nil.
    public mutating func int<T: BinaryInteger>(_ key: StaticString, _ value: T?) {
        guard let value else { return }
        self.key(key)
        Self.appendInteger(value, to: &self.bytes)
    }

    private static func appendInteger<T: BinaryInteger>(_ value: T, to bytes: inout [UInt8]) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        FlowTime.appendDecimal(UInt64(truncatingIfNeeded: value.magnitude), to: &bytes)
    }

    /// `"key":true|false`.
    public mutating func bool(_ key: StaticString, _ value: Bool) {
        self.key(key)
        if value {
            self.bytes.append(contentsOf: [UInt8(ascii: "t"), UInt8(ascii: "r"), UInt8(ascii: "u"), UInt8(ascii: "e")])
        } else {
            self.bytes.append(contentsOf: [
                UInt8(ascii: "f"), UInt8(ascii: "a"), UInt8(ascii: "l"), UInt8(ascii: "s"), UInt8(ascii: "e"),
            ])
        }
    }

    /// `"key":{...}`.
    public mutating func object(_ key: StaticString, _ build: (inout FlowJSONWriter) -> Void) {
        self.key(key)
        var inner = FlowJSONWriter(continuing: &self.bytes)
        build(&inner)
        self.bytes = inner.take()
    }

    /// `"key":[{...},...]`.
    public mutating func array<S: Sequence>(
        _ key: StaticString,
        _ values: S,
        _ build: (inout FlowJSONWriter, S.Element) -> Void
    ) {
        self.key(key)
        self.bytes.append(UInt8(ascii: "["))
        var first = true
        for value in values {
            if !first { self.bytes.append(UInt8(ascii: ",")) }
            first = false
            var inner = FlowJSONWriter(continuing: &self.bytes)
            build(&inner, value)
            self.bytes = inner.take()
        }
        self.bytes.append(UInt8(ascii: "]"))
    }

    /// `"key":[n,...]`.
    public mutating func intArray(_ key: StaticString, _ values: [Int]) {
        self.key(key)
        self.bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { self.bytes.append(UInt8(ascii: ",")) }
            Self.appendInteger(value, to: &self.bytes)
        }
        self.bytes.append(UInt8(ascii: "]"))
    }

    /// The object closed.
    public var finished: String { String(decoding: self.bytes + [UInt8(ascii: "}")], as: UTF8.self) }

    /// The object closed, as bytes (this writer is left empty).
    public mutating func finish() -> [UInt8] { self.take() }

    /// Appends `value` as a JSON string, byte by byte, exactly as ``JSONObjectWriter/appendString(_:to:)`` writes
    /// it: quotes, backslash and control characters escaped (`\n`, `\r`, `\t`, `\b`, `\f`, else `\u00xx`), and
    /// DEL, U+2028 and U+2029 as `\u007f`, `\u2028`, `\u2029`; everything else as its UTF-8 bytes.
    public static func appendString(_ value: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var index = 0
            var plainStart = 0
            func flushPlain(upTo end: Int) {
                if plainStart < end { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[plainStart..<end])) }
            }
            while index < utf8.count {
                let byte = utf8[index]
                var escape: (UInt8, UInt16)? = nil  // (letter, or 0 for \u with the code)
                var width = 1
                switch byte {
                case UInt8(ascii: "\""): escape = (UInt8(ascii: "\""), 0)
                case UInt8(ascii: "\\"): escape = (UInt8(ascii: "\\"), 0)
                case 0x0A: escape = (UInt8(ascii: "n"), 0)
                case 0x0D: escape = (UInt8(ascii: "r"), 0)
                case 0x09: escape = (UInt8(ascii: "t"), 0)
                case 0x08: escape = (UInt8(ascii: "b"), 0)
                case 0x0C: escape = (UInt8(ascii: "f"), 0)
                case 0x00..<0x20, 0x7F: escape = (0, UInt16(byte))
                case 0xE2
                where index + 2 < utf8.count && utf8[index + 1] == 0x80
                    && (utf8[index + 2] == 0xA8 || utf8[index + 2] == 0xA9):
                    escape = (0, utf8[index + 2] == 0xA8 ? 0x2028 : 0x2029)
                    width = 3
                default: break
                }
                guard let (letter, code) = escape else {
                    index += 1
                    continue
                }
                flushPlain(upTo: index)
                bytes.append(UInt8(ascii: "\\"))
                if letter != 0 {
                    bytes.append(letter)
                } else {
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    bytes.append(UInt8(ascii: "u"))
                    for shift in stride(from: 12, through: 0, by: -4) {
                        bytes.append(hex[Int((code >> UInt16(shift)) & 0xF)])
                    }
                }
                index += width
                plainStart = index
            }
            flushPlain(upTo: utf8.count)
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

extension FlowEvent {
    /// One JSON object (no newline) for this record; `capturePoints` names the capture point ids.
    public func jsonLine(capturePoints: [String]) -> String {
        String(decoding: self.jsonBytes(capturePoints: capturePoints), as: UTF8.self)
    }

    /// ``jsonLine(capturePoints:)`` as UTF-8 bytes (no String built).
    public func jsonBytes(capturePoints: [String]) -> [UInt8] {
        var writer = FlowJSONWriter()
        func point(_ id: Int) -> String { id >= 0 && id < capturePoints.count ? capturePoints[id] : "cp\(id)" }
        switch self {
        case .opened(let record), .connection(let record):
            writer.string("type", "conn")
            writer.int("id", record.id)
            writer.string("capturePoint", point(record.capturePoint))
            writer.int("ts", record.startTime)
            writer.endpoint("orig", record.originator)
            writer.endpoint("resp", record.responder)
            writer.int("duration", record.duration)
            writer.string("connState", record.state.rawValue)
            writer.string("history", record.history)
            writer.int("synTime", record.synTime)
            writer.int("synRetransmissions", record.synRetransmissions)
            if !record.synRetransmissionTimes.isEmpty {
                writer.intArray("synRetransmissionTimes", record.synRetransmissionTimes.map { Int($0) })
            }
            writer.int("synAckTime", record.synAckTime)
            writer.int("synAckRetransmissions", record.synAckRetransmissions)
            writer.int("handshakeAckTime", record.handshakeAckTime)
            writer.int("handshakeRTT", record.handshakeRTT)
            if let direction = record.synDirection, direction != .unknown {
                writer.string("synDirection", direction.description)
            }
            writer.string("resetBy", record.resetBy?.rawValue)
            writer.string("closedBy", record.closedBy?.rawValue)
            writer.string("application", record.application.isEmpty ? nil : record.application)
            writer.int("httpExchanges", record.httpExchanges)
            writer.string("endReason", record.endReason.rawValue)
            writer.object("origStats") { Self.write(record.originatorSummary, to: &$0) }
            writer.object("respStats") { Self.write(record.responderSummary, to: &$0) }
        case .http(let exchange):
            writer.string("type", "http")
            writer.int("connectionID", exchange.connectionID)
            writer.string("capturePoint", point(exchange.capturePoint))
            writer.int("ts", exchange.requestFirstByte?.time ?? exchange.responseFirstByte?.time)
            writer.endpoint("client", exchange.client)
            writer.endpoint("server", exchange.server)
            writer.int("clientISN", exchange.clientISN)
            writer.int("serverISN", exchange.serverISN)
            writer.int("index", exchange.index)
            if let request = exchange.request {
                writer.string("method", request.method)
                writer.string("target", request.target)
                writer.string("host", request.host)
                writer.string("requestID", request.requestID)
                writer.string("traceparent", request.traceparent)
                writer.string("forwardedFor", request.forwardedFor)
                writer.string("userAgent", request.userAgent)
            }
            if let response = exchange.response {
                writer.int("status", response.status)
                writer.string("reason", response.reason)
            }
            if !exchange.interimStatuses.isEmpty { writer.intArray("interim", exchange.interimStatuses) }
            func write(_ name: StaticString, _ mark: StreamMark?) {
                guard let mark else { return }
                writer.object(name) {
                    $0.int("offset", mark.offset)
                    $0.int("time", mark.time)
                }
            }
            write("requestFirstByte", exchange.requestFirstByte)
            write("requestLastByte", exchange.requestLastByte)
            write("responseFirstByte", exchange.responseFirstByte)
            write("responseLastByte", exchange.responseLastByte)
            writer.int("latency", exchange.latency)
            writer.int("requestBodyLength", exchange.requestBodyLength)
            writer.int("responseBodyLength", exchange.responseBodyLength)
            writer.bool("requestGap", exchange.requestHasGap)
            writer.bool("responseGap", exchange.responseHasGap)
        case .dns(let transaction):
            writer.string("type", "dns")
            writer.string("capturePoint", point(transaction.capturePoint))
            writer.int("ts", transaction.queryTime ?? transaction.responseTime)
            writer.string("transport", transaction.transport.rawValue)
            writer.endpoint("client", transaction.client)
            writer.endpoint("server", transaction.server)
            writer.int("id", transaction.id)
            writer.string("query", transaction.question?.name)
            writer.string("qtype", transaction.question?.type.description)
            writer.int("queryTime", transaction.queryTime)
            writer.int("responseTime", transaction.responseTime)
            writer.string("rcode", transaction.rcode?.description)
            writer.int("latency", transaction.latency)
            writer.int("retransmissions", transaction.queryRetransmissions)
            writer.int("extraResponses", transaction.extraResponses)
            writer.bool("truncated", transaction.isTruncated)
            writer.array("answers", transaction.answers) { answer, record in
                answer.string("name", record.name)
                answer.string("type", record.type.description)
                answer.int("ttl", record.ttl)
                answer.string("data", record.data.description)
            }
        case .icmpError(let event):
            writer.string("type", "icmp")
            writer.string("capturePoint", point(event.capturePoint))
            writer.int("ts", event.time)
            writer.string("sender", event.sender.description)
            writer.string("destination", event.destination.description)
            writer.string("kind", event.kind)
            writer.int("icmpType", event.type)
            writer.int("icmpCode", event.code)
            writer.endpoint("quotedSource", event.quotedSource)
            writer.endpoint("quotedDestination", event.quotedDestination)
            writer.int("quotedProtocol", event.quotedProtocol.rawValue)
            writer.int("quotedSeq", event.quotedTCPSequence)
            writer.int("connectionID", event.connectionID)
        case .segment(let segment):
            writer.string("type", "segment")
            writer.int("connectionID", segment.connectionID)
            writer.string("capturePoint", point(segment.capturePoint))
            writer.int("ts", segment.time)
            writer.endpoint("src", segment.source)
            writer.endpoint("dst", segment.destination)
            writer.bool("fromOriginator", segment.fromOriginator)
            writer.int("relSeq", segment.relativeSeq)
            writer.int("relAck", segment.relativeAck)
            writer.int("length", segment.length)
            writer.string("flags", segment.flags.description)
            writer.int("ipID", segment.ipID)
            writer.int("payloadHash", segment.payloadHash)
        }
        return writer.finish()
    }

    private static func write(_ summary: TCPDirectionSummary, to writer: inout FlowJSONWriter) {
        writer.int("isn", summary.isn)
        writer.int("packets", summary.packets)
        writer.int("bytes", summary.bytes)
        writer.int("ipBytes", summary.ipBytes)
        writer.int("retransmissions", summary.retransmissions)
        writer.int("outOfOrder", summary.outOfOrder)
        writer.int("duplicateAcks", summary.duplicateAcks)
        writer.int("zeroWindows", summary.zeroWindows)
        writer.int("keepAlives", summary.keepAlives)
        writer.int("gaps", summary.gaps)
        writer.int("gapBytes", summary.gapBytes)
        writer.int("firstDataTime", summary.firstData?.time)
        writer.int("lastDataTime", summary.lastData?.time)
        writer.int("finTime", summary.fin?.time)
        writer.int("rstTime", summary.rstTime)
        writer.int("rstSeq", summary.rstSeq)
        writer.int("rstAck", summary.rstAck)
    }
}
