import HoptraceCapture
import HoptraceDecode
import HoptraceFlows

/// One record of `hoptrace flows` (docs/connection.schema.json): a TCP connection at one capture point, in the
/// manner of Zeek's conn.log, or an ICMP error quoting a connection's packet (a rejected SYN, TTL exceeded).
public enum FlowRecord {
    /// A TCP connection (`"type":"conn"`).
    case connection(ConnectionRecord)
    /// An ICMP error (`"type":"icmp"`).
    case icmpError(ICMPErrorEvent)
}

/// `hoptrace flows`' text: one line per connection, `TIME POINT ORIG RESP DURATION ORIG_BYTES RESP_BYTES STATE
/// HISTORY RTT RETRANSMISSIONS` (originator/responder), and one per ICMP error, `TIME POINT ICMP kind from SENDER
/// quoting SRC > DST [seq N]`. With colour, failed states (REJ, S0, RST…) are red.
public struct FlowTextWriter: RecordWriter {
    /// Colour or not.
    public var style: TextStyle

    /// A writer.
    public init(style: TextStyle = TextStyle()) {
        self.style = style
    }

    /// The column line.
    public mutating func writeHeader(to out: BufferedOutput) {
        out.append(
            "#time capturePoint orig resp duration origBytes respBytes connState history handshakeRTT retransmissions\n"
                as StaticString
        )
    }

    /// One line.
    public mutating func write(_ record: FlowRecord, context: RecordContext, to out: BufferedOutput) {
        switch record {
        case .connection(let connection):
            out.appendRFC3339(connection.startTime)
            out.append(UInt8(ascii: " "))
            out.appendTerminal(context.capturePoint, limit: 64)
            out.append(UInt8(ascii: " "))
            out.appendEndpoint(connection.originator)
            out.append(UInt8(ascii: " "))
            out.appendEndpoint(connection.responder)
            out.append(UInt8(ascii: " "))
            out.appendDuration(connection.duration)
            out.append(UInt8(ascii: " "))
            out.appendNumber(connection.originatorSummary.bytes)
            out.append(UInt8(ascii: " "))
            out.appendNumber(connection.responderSummary.bytes)
            out.append(UInt8(ascii: " "))
            if self.style.color { TerminalText.beginColor(Self.isFailure(connection.state) ? .red : .green, to: out) }
            out.append(connection.state.rawValue)
            if self.style.color { TerminalText.endColor(to: out) }
            out.append(UInt8(ascii: " "))
            if connection.history.isEmpty {
                out.append(UInt8(ascii: "-"))
            } else {
                out.appendTerminal(connection.history, limit: 64)
            }
            out.append(UInt8(ascii: " "))
            if let rtt = connection.handshakeRTT {
                out.appendDuration(rtt)
            } else {
                out.append(UInt8(ascii: "-"))
            }
            out.append(UInt8(ascii: " "))
            out.appendNumber(connection.originatorSummary.retransmissions)
            out.append(UInt8(ascii: "/"))
            out.appendNumber(connection.responderSummary.retransmissions)
        case .icmpError(let icmp):
            out.appendRFC3339(icmp.time)
            out.append(UInt8(ascii: " "))
            out.appendTerminal(context.capturePoint, limit: 64)
            out.append(" ICMP " as StaticString)
            if self.style.color { TerminalText.beginColor(.red, to: out) }
            out.append(icmp.kind)
            if self.style.color { TerminalText.endColor(to: out) }
            out.append(" from " as StaticString)
            out.appendAddress(icmp.sender)
            out.append(" quoting " as StaticString)
            out.appendEndpoint(icmp.quotedSource)
            out.append(" > " as StaticString)
            out.appendEndpoint(icmp.quotedDestination)
            if let seq = icmp.quotedTCPSequence {
                out.append(" seq " as StaticString)
                out.appendNumber(seq)
            }
        }
        NamesComment.append(context.names, to: out)
        out.append(0x0A)
    }

    /// Whether a state means the connection did not work: no answer, refused, reset before completing.
    static func isFailure(_ state: ConnectionState) -> Bool {
        switch state {
        case .s0, .rej, .rstos0, .rstrh, .sh, .shr, .rsto, .rstr: return true
        default: return false
        }
    }
}

/// `hoptrace flows --format json` (docs/connection.schema.json).
public struct FlowJSONWriter: RecordWriter {
    /// The line being written, reused.
    private var json = JSONWriter()

    /// A writer.
    public init() {}

    /// One JSON line.
    public mutating func write(_ record: FlowRecord, context: RecordContext, to out: BufferedOutput) {
        self.json.reset()
        Self.write(record, context: context, into: &self.json)
        self.json.withUnsafeBytes { out.append($0) }
        out.append(0x0A)
    }

    /// The record's object.
    static func write(_ record: FlowRecord, context: RecordContext, into json: inout JSONWriter) {
        json.beginObject()
        switch record {
        case .connection(let connection):
            json.member("type", "conn")
            json.member("id", connection.id)
            json.member("capturePoint", context.capturePoint, limit: 256)
            json.instant("time", "timeNs", connection.startTime)
            json.member("orig", endpoint: connection.originator)
            json.member("resp", endpoint: connection.responder)
            json.milliseconds("duration", connection.duration)
            json.member("connState", connection.state.rawValue)
            json.member("history", connection.history, limit: 256)
            json.instant("synTime", "synTimeNs", connection.synTime)
            json.member("synRetransmissions", connection.synRetransmissions)
            if !connection.synRetransmissionTimes.isEmpty {
                json.key("synRetransmissionTimes")
                json.beginArray()
                for time in connection.synRetransmissionTimes { json.rfc3339(time) }
                json.endArray()
                json.member("synRetransmissionTimesNs", integers: connection.synRetransmissionTimes)
            }
            json.instant("synAckTime", "synAckTimeNs", connection.synAckTime)
            json.member("synAckRetransmissions", connection.synAckRetransmissions)
            json.instant("handshakeAckTime", "handshakeAckTimeNs", connection.handshakeAckTime)
            json.milliseconds("handshakeRTT", connection.handshakeRTT)
            if let direction = connection.synDirection, direction != .unknown {
                json.member("synDirection", direction.description)
            }
            json.member("resetBy", connection.resetBy?.rawValue)
            json.member("closedBy", connection.closedBy?.rawValue)
            json.member("application", connection.application.isEmpty ? nil : connection.application, limit: 64)
            json.member("httpExchanges", connection.httpExchanges)
            json.member("endReason", connection.endReason.rawValue)
            json.object("origStats") { Self.write(connection.originatorSummary, into: &$0) }
            json.object("respStats") { Self.write(connection.responderSummary, into: &$0) }
        case .icmpError(let icmp):
            json.member("type", "icmp")
            json.member("capturePoint", context.capturePoint, limit: 256)
            json.instant("time", "timeNs", icmp.time)
            json.member("sender", address: icmp.sender)
            json.member("destination", address: icmp.destination)
            json.member("kind", icmp.kind)
            json.member("icmpType", icmp.type)
            json.member("icmpCode", icmp.code)
            json.member("quotedSource", endpoint: icmp.quotedSource)
            json.member("quotedDestination", endpoint: icmp.quotedDestination)
            json.member("quotedProtocol", icmp.quotedProtocol.rawValue)
            json.member("quotedSeq", icmp.quotedTCPSequence)
            json.member("connectionID", icmp.connectionID)
        }
        json.names(context.names)
        json.endObject()
    }

    /// One direction's counters and marks.
    static func write(_ summary: TCPDirectionSummary, into json: inout JSONWriter) {
        json.member("isn", summary.isn)
        json.member("packets", summary.packets)
        json.member("bytes", summary.bytes)
        json.member("ipBytes", summary.ipBytes)
        json.member("retransmissions", summary.retransmissions)
        json.member("outOfOrder", summary.outOfOrder)
        json.member("duplicateAcks", summary.duplicateAcks)
        json.member("zeroWindows", summary.zeroWindows)
        json.member("keepAlives", summary.keepAlives)
        json.member("gaps", summary.gaps)
        json.member("gapBytes", summary.gapBytes)
        json.instant("firstDataTime", "firstDataTimeNs", summary.firstData?.time)
        json.instant("lastDataTime", "lastDataTimeNs", summary.lastData?.time)
        json.instant("finTime", "finTimeNs", summary.fin?.time)
        json.instant("rstTime", "rstTimeNs", summary.rstTime)
        json.member("rstSeq", summary.rstSeq)
        json.member("rstAck", summary.rstAck)
    }
}

/// `hoptrace flows --format tsv`: Zeek TSV with `#path flows`. Connections and ICMP errors share the columns
/// (`type` says which; what does not apply is unset, `-`).
public struct FlowTSVWriter: RecordWriter {
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
            .init("type", "string"), .init("time", "time"), .init("capturePoint", "string"), .init("id", "count"),
            .init("orig", "string"), .init("resp", "string"), .init("duration", "interval"),
            .init("connState", "string"), .init("history", "string"), .init("origStats.bytes", "count"),
            .init("respStats.bytes", "count"), .init("origStats.packets", "count"),
            .init("respStats.packets", "count"), .init("origStats.retransmissions", "count"),
            .init("respStats.retransmissions", "count"), .init("handshakeRTT", "interval"),
            .init("synRetransmissions", "count"), .init("resetBy", "string"), .init("closedBy", "string"),
            .init("application", "string"), .init("endReason", "string"), .init("sender", "addr"),
            .init("kind", "string"), .init("quotedSource", "string"), .init("quotedDestination", "string"),
            .init("quotedSeq", "count"),
        ] + (self.names ? [.init("names", "set[string]")] : [])
    }

    /// The `#` block.
    public mutating func writeHeader(to out: BufferedOutput) {
        ZeekTSV.appendHeader(path: "flows", fields: self.fields, to: out)
    }

    /// One line.
    public mutating func write(_ record: FlowRecord, context: RecordContext, to out: BufferedOutput) {
        var row = TSVRow(appendingTo: &self.line)
        switch record {
        case .connection(let connection):
            row.string("conn")
            row.seconds(connection.startTime)
            row.string(context.capturePoint, limit: 256)
            row.integer(connection.id)
            row.endpoint(connection.originator)
            row.endpoint(connection.responder)
            row.seconds(connection.duration)
            row.string(connection.state.rawValue)
            row.string(connection.history, limit: 256)
            row.integer(connection.originatorSummary.bytes)
            row.integer(connection.responderSummary.bytes)
            row.integer(connection.originatorSummary.packets)
            row.integer(connection.responderSummary.packets)
            row.integer(connection.originatorSummary.retransmissions)
            row.integer(connection.responderSummary.retransmissions)
            row.seconds(connection.handshakeRTT)
            row.integer(connection.synRetransmissions)
            row.string(connection.resetBy?.rawValue)
            row.string(connection.closedBy?.rawValue)
            row.string(connection.application.isEmpty ? nil : connection.application, limit: 64)
            row.string(connection.endReason.rawValue)
            for _ in 0..<5 { row.unset() }
        case .icmpError(let icmp):
            row.string("icmp")
            row.seconds(icmp.time)
            row.string(context.capturePoint, limit: 256)
            for _ in 0..<18 { row.unset() }
            row.address(icmp.sender)
            row.string(icmp.kind)
            row.endpoint(icmp.quotedSource)
            row.endpoint(icmp.quotedDestination)
            row.integer(icmp.quotedTCPSequence)
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
