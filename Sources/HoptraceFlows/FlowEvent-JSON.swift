// JSON lines for the flow stage's records (`hoptrace flows --json`, `hoptrace requests --json`): hand-rolled, one
// object per line, strings escaped by RFC 8259 rules (``JSONObjectWriter/appendString(_:to:)``). Times are integer
// nanoseconds since the Unix epoch; absent values are left out.

/// Builds one JSON object, with the nesting the flow records need.
public struct FlowJSONWriter {
    /// The text so far.
    public private(set) var text = "{"
    private var first = true

    /// An empty object.
    public init() {}

    private mutating func key(_ key: String) {
        if !self.first { self.text += "," }
        self.first = false
        JSONObjectWriter.appendString(key, to: &self.text)
        self.text += ":"
    }

    /// `"key":"value"`, skipped when nil.
    public mutating func string(_ key: String, _ value: String?) {
        guard let value else { return }
        self.key(key)
        JSONObjectWriter.appendString(value, to: &self.text)
    }

    /// `"key":n`, skipped when nil.
    public mutating func int<T: BinaryInteger>(_ key: String, _ value: T?) {
        guard let value else { return }
        self.key(key)
        self.text += String(value)
    }

    /// `"key":true|false`.
    public mutating func bool(_ key: String, _ value: Bool) {
        self.key(key)
        self.text += value ? "true" : "false"
    }

    /// `"key":{...}`.
    public mutating func object(_ key: String, _ build: (inout FlowJSONWriter) -> Void) {
        var inner = FlowJSONWriter()
        build(&inner)
        self.key(key)
        self.text += inner.finished
    }

    /// `"key":[{...},...]`.
    public mutating func array<S: Sequence>(
        _ key: String,
        _ values: S,
        _ build: (inout FlowJSONWriter, S.Element) -> Void
    ) {
        self.key(key)
        self.text += "["
        var first = true
        for value in values {
            if !first { self.text += "," }
            first = false
            var inner = FlowJSONWriter()
            build(&inner, value)
            self.text += inner.finished
        }
        self.text += "]"
    }

    /// `"key":[n,...]`.
    public mutating func intArray(_ key: String, _ values: [Int]) {
        self.key(key)
        self.text += "[" + values.map { String($0) }.joined(separator: ",") + "]"
    }

    /// The object closed.
    public var finished: String { self.text + "}" }
}

extension FlowEvent {
    /// One JSON object (no newline) for this record; `capturePoints` names the capture point ids.
    public func jsonLine(capturePoints: [String]) -> String {
        var writer = FlowJSONWriter()
        func point(_ id: Int) -> String { id >= 0 && id < capturePoints.count ? capturePoints[id] : "cp\(id)" }
        switch self {
        case .connection(let record):
            writer.string("type", "conn")
            writer.int("id", record.id)
            writer.string("capturePoint", point(record.capturePoint))
            writer.int("ts", record.startTime)
            writer.string("orig", record.originator.description)
            writer.string("resp", record.responder.description)
            writer.int("duration", record.duration)
            writer.string("connState", record.state.rawValue)
            writer.string("history", record.history)
            writer.int("synTime", record.synTime)
            writer.int("synRetransmissions", record.synRetransmissions)
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
            writer.string("client", exchange.client.description)
            writer.string("server", exchange.server.description)
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
            for (name, mark) in [
                ("requestFirstByte", exchange.requestFirstByte), ("requestLastByte", exchange.requestLastByte),
                ("responseFirstByte", exchange.responseFirstByte), ("responseLastByte", exchange.responseLastByte),
            ] {
                if let mark {
                    writer.object(name) {
                        $0.int("offset", mark.offset)
                        $0.int("time", mark.time)
                    }
                }
            }
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
            writer.string("client", transaction.client.description)
            writer.string("server", transaction.server.description)
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
            writer.string("quotedSource", event.quotedSource.description)
            writer.string("quotedDestination", event.quotedDestination.description)
            writer.int("quotedProtocol", event.quotedProtocol.rawValue)
            writer.int("quotedSeq", event.quotedTCPSequence)
            writer.int("connectionID", event.connectionID)
        case .segment(let segment):
            writer.string("type", "segment")
            writer.int("connectionID", segment.connectionID)
            writer.string("capturePoint", point(segment.capturePoint))
            writer.int("ts", segment.time)
            writer.string("src", segment.source.description)
            writer.string("dst", segment.destination.description)
            writer.bool("fromOriginator", segment.fromOriginator)
            writer.int("relSeq", segment.relativeSeq)
            writer.int("relAck", segment.relativeAck)
            writer.int("length", segment.length)
            writer.string("flags", segment.flags.description)
            writer.int("ipID", segment.ipID)
            writer.int("payloadHash", segment.payloadHash)
        }
        return writer.finished
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
