import HoptraceCapture
import HoptraceDecode
import HoptraceFlows

/// One record of `hoptrace requests` (docs/request.schema.json): a DNS transaction or an HTTP/1.x exchange at one
/// capture point.
public enum RequestRecord {
    /// A DNS query and its answer (`"type":"dns"`).
    case dns(DNSTransaction)
    /// An HTTP request and its response (`"type":"http"`).
    case http(HTTPExchange)

    /// When it started: the query sent or the request's first byte (else the answer's, the response's).
    public var time: Int64 {
        switch self {
        case .dns(let transaction): return transaction.queryTime ?? transaction.responseTime ?? 0
        case .http(let exchange): return exchange.requestFirstByte?.time ?? exchange.responseFirstByte?.time ?? 0
        }
    }
}

/// `hoptrace requests`' text: `TIME POINT CLIENT SERVER DNS TYPE NAME RCODE LATENCY` or `TIME POINT CLIENT SERVER
/// HTTP METHOD HOST/PATH STATUS LATENCY`; `-` for what was not seen (no answer, a lost request), `,TC` for a truncated
/// answer, `,retx=N` for retransmitted queries, `,gap` for an exchange with missing bytes. With colour, the status is
/// green (NOERROR, 1xx-3xx), yellow (4xx) or red (DNS errors, 5xx, no answer).
public struct RequestTextWriter: RecordWriter {
    /// Colour or not.
    public var style: TextStyle

    /// A writer.
    public init(style: TextStyle = TextStyle()) {
        self.style = style
    }

    /// The column line.
    public mutating func writeHeader(to out: BufferedOutput) {
        out.append("#time capturePoint client server protocol request status latency\n" as StaticString)
    }

    /// One line.
    public mutating func write(_ record: RequestRecord, context: RecordContext, to out: BufferedOutput) {
        switch record {
        case .dns(let transaction):
            Self.appendStart(record.time, context, transaction.client, transaction.server, to: out)
            out.append(" DNS " as StaticString)
            if let question = transaction.question {
                out.append(question.type.description)
                out.append(UInt8(ascii: " "))
                if question.name.isEmpty {
                    out.append(UInt8(ascii: "."))
                } else {
                    out.appendTerminal(question.name, limit: 512)
                }
            } else {
                out.append(UInt8(ascii: "?"))
            }
            out.append(UInt8(ascii: " "))
            if self.style.color { TerminalText.beginColor(transaction.rcode == .noError ? .green : .red, to: out) }
            if let rcode = transaction.rcode {
                out.append(rcode.description)
            } else {
                out.append(UInt8(ascii: "-"))
            }
            if self.style.color { TerminalText.endColor(to: out) }
            if transaction.isTruncated { out.append(",TC" as StaticString) }
            if transaction.queryRetransmissions > 0 {
                out.append(",retx=" as StaticString)
                out.appendNumber(transaction.queryRetransmissions)
            }
            Self.appendLatency(transaction.latency, to: out)
        case .http(let exchange):
            Self.appendStart(record.time, context, exchange.client, exchange.server, to: out)
            out.append(" HTTP " as StaticString)
            if let request = exchange.request {
                out.appendTerminal(request.method, limit: 32)
                out.append(UInt8(ascii: " "))
                if let host = request.host { out.appendTerminal(host, limit: 256) }
                out.appendTerminal(request.target, limit: 1024)
            } else {
                out.append("? (request not seen)" as StaticString)
            }
            out.append(UInt8(ascii: " "))
            let status = exchange.response?.status
            if self.style.color {
                let color: TerminalText.Color =
                    switch status {
                    case .some(500...): .red
                    case .some(400..<500): .yellow
                    case .some: .green
                    case nil: .red
                    }
                TerminalText.beginColor(color, to: out)
            }
            if let status {
                out.appendNumber(status)
            } else {
                out.append(UInt8(ascii: "-"))
            }
            if self.style.color { TerminalText.endColor(to: out) }
            if exchange.requestHasGap || exchange.responseHasGap { out.append(",gap" as StaticString) }
            Self.appendLatency(exchange.latency, to: out)
        }
        NamesComment.append(context.names, to: out)
        out.append(0x0A)
    }

    /// `TIME POINT CLIENT SERVER`.
    private static func appendStart(
        _ time: Int64,
        _ context: RecordContext,
        _ client: FlowEndpoint,
        _ server: FlowEndpoint,
        to out: BufferedOutput
    ) {
        out.appendRFC3339(time)
        out.append(UInt8(ascii: " "))
        out.appendTerminal(context.capturePoint, limit: 64)
        out.append(UInt8(ascii: " "))
        out.appendEndpoint(client)
        out.append(UInt8(ascii: " "))
        out.appendEndpoint(server)
    }

    private static func appendLatency(_ latency: Int64?, to out: BufferedOutput) {
        out.append(UInt8(ascii: " "))
        if let latency {
            out.appendDuration(latency)
        } else {
            out.append(UInt8(ascii: "-"))
        }
    }
}

/// `hoptrace requests --format json` (docs/request.schema.json).
public struct RequestJSONWriter: RecordWriter {
    /// The line being written, reused.
    private var json = JSONWriter()

    /// A writer.
    public init() {}

    /// One JSON line.
    public mutating func write(_ record: RequestRecord, context: RecordContext, to out: BufferedOutput) {
        self.json.reset()
        Self.write(record, context: context, into: &self.json)
        self.json.withUnsafeBytes { out.append($0) }
        out.append(0x0A)
    }

    /// The record's object.
    static func write(_ record: RequestRecord, context: RecordContext, into json: inout JSONWriter) {
        json.beginObject()
        switch record {
        case .dns(let transaction):
            json.member("type", "dns")
            json.member("capturePoint", context.capturePoint, limit: 256)
            json.instant("time", "timeNs", record.time)
            json.member("transport", transaction.transport.rawValue)
            json.member("client", endpoint: transaction.client)
            json.member("server", endpoint: transaction.server)
            json.member("id", transaction.id)
            json.member("query", transaction.question?.name, limit: 1024)
            json.member("qtype", transaction.question?.type.description)
            json.instant("queryTime", "queryTimeNs", transaction.queryTime)
            json.instant("responseTime", "responseTimeNs", transaction.responseTime)
            json.member("rcode", transaction.rcode?.description)
            json.milliseconds("latency", transaction.latency)
            json.member("retransmissions", transaction.queryRetransmissions)
            json.member("extraResponses", transaction.extraResponses)
            json.member("truncated", transaction.isTruncated)
            json.key("answers")
            json.beginArray()
            for answer in transaction.answers {
                json.beginObject()
                json.member("name", answer.name, limit: 1024)
                json.member("type", answer.type.description)
                json.member("ttl", answer.ttl)
                json.member("data", answer.data.description, limit: 1024)
                json.endObject()
            }
            json.endArray()
        case .http(let exchange):
            json.member("type", "http")
            json.member("connectionID", exchange.connectionID)
            json.member("capturePoint", context.capturePoint, limit: 256)
            json.instant("time", "timeNs", record.time)
            json.member("client", endpoint: exchange.client)
            json.member("server", endpoint: exchange.server)
            json.member("transport", "tcp")
            json.member("clientISN", exchange.clientISN)
            json.member("serverISN", exchange.serverISN)
            json.member("index", exchange.index)
            if let request = exchange.request {
                json.member("method", request.method, limit: 256)
                json.member("target", request.target, limit: 4096)
                json.member("host", request.host, limit: 1024)
                json.member("requestID", request.requestID, limit: 1024)
                json.member("traceparent", request.traceparent, limit: 1024)
                json.member("forwardedFor", request.forwardedFor, limit: 1024)
                json.member("userAgent", request.userAgent, limit: 1024)
            }
            if let response = exchange.response {
                json.member("status", response.status)
                json.member("reason", response.reason, limit: 1024)
            }
            json.member("interim", integers: exchange.interimStatuses)
            Self.write("requestFirstByte", exchange.requestFirstByte, into: &json)
            Self.write("requestLastByte", exchange.requestLastByte, into: &json)
            Self.write("responseFirstByte", exchange.responseFirstByte, into: &json)
            Self.write("responseLastByte", exchange.responseLastByte, into: &json)
            json.milliseconds("latency", exchange.latency)
            json.member("requestBodyLength", exchange.requestBodyLength)
            json.member("responseBodyLength", exchange.responseBodyLength)
            json.member("requestGap", exchange.requestHasGap)
            json.member("responseGap", exchange.responseHasGap)
        }
        json.names(context.names)
        json.endObject()
    }

    /// `"key":{"offset":n,"time":"…","timeNs":n}`, left out when nil.
    private static func write(_ key: StaticString, _ mark: StreamMark?, into json: inout JSONWriter) {
        guard let mark else { return }
        json.object(key) {
            $0.member("offset", mark.offset)
            $0.instant("time", "timeNs", mark.time)
        }
    }
}

/// `hoptrace requests --format tsv`: Zeek TSV with `#path requests`. DNS transactions and HTTP exchanges share the
/// columns (`type` says which; what does not apply is unset, `-`).
public struct RequestTSVWriter: RecordWriter {
    /// Whether the log has a `names` column (cluster state given).
    public var names: Bool
    /// The line being written, reused.
    private var line: [UInt8] = []

    /// A writer; `names` adds the `names` column.
    public init(names: Bool = false) {
        self.names = names
    }

    /// The columns.
    public var fields: [ZeekTSV.Field] {
        [
            .init("type", "string"), .init("time", "time"), .init("capturePoint", "string"),
            .init("client", "string"), .init("server", "string"), .init("latency", "interval"),
            .init("transport", "string"), .init("id", "count"), .init("query", "string"), .init("qtype", "string"),
            .init("rcode", "string"), .init("answers.data", "vector[string]"), .init("retransmissions", "count"),
            .init("truncated", "bool"), .init("method", "string"), .init("host", "string"),
            .init("target", "string"), .init("status", "count"), .init("reason", "string"),
            .init("requestID", "string"), .init("requestBodyLength", "count"),
            .init("responseBodyLength", "count"), .init("requestGap", "bool"), .init("responseGap", "bool"),
        ] + (self.names ? [.init("names", "set[string]")] : [])
    }

    /// The `#` block.
    public mutating func writeHeader(to out: BufferedOutput) {
        ZeekTSV.appendHeader(path: "requests", fields: self.fields, to: out)
    }

    /// One line.
    public mutating func write(_ record: RequestRecord, context: RecordContext, to out: BufferedOutput) {
        var row = TSVRow(appendingTo: &self.line)
        switch record {
        case .dns(let transaction):
            row.string("dns")
            row.seconds(record.time)
            row.string(context.capturePoint, limit: 256)
            row.endpoint(transaction.client)
            row.endpoint(transaction.server)
            row.seconds(transaction.latency)
            row.string(transaction.transport.rawValue)
            row.integer(transaction.id)
            row.string(transaction.question?.name, limit: 1024)
            row.string(transaction.question?.type.description)
            row.string(transaction.rcode?.description)
            row.strings(transaction.answers.lazy.map { $0.data.description }, limit: 1024)
            row.integer(transaction.queryRetransmissions)
            row.bool(transaction.isTruncated)
            for _ in 0..<10 { row.unset() }
        case .http(let exchange):
            row.string("http")
            row.seconds(record.time)
            row.string(context.capturePoint, limit: 256)
            row.endpoint(exchange.client)
            row.endpoint(exchange.server)
            row.seconds(exchange.latency)
            row.string("tcp")
            for _ in 0..<7 { row.unset() }
            row.string(exchange.request?.method, limit: 256)
            row.string(exchange.request?.host, limit: 1024)
            row.string(exchange.request?.target, limit: 4096)
            row.integer(exchange.response?.status)
            row.string(exchange.response?.reason, limit: 1024)
            row.string(exchange.request?.requestID, limit: 1024)
            row.integer(exchange.requestBodyLength)
            row.integer(exchange.responseBodyLength)
            row.bool(exchange.requestHasGap)
            row.bool(exchange.responseHasGap)
        }
        if self.names { row.strings(NamesComment.entries(context.names)) }
        row.finish(into: &self.line)
        out.append(contentsOf: self.line)
        self.line.removeAll(keepingCapacity: true)
    }

    /// `#close`.
    public mutating func writeFooter(to out: BufferedOutput) {
        ZeekTSV.appendClose(to: out)
    }
}
