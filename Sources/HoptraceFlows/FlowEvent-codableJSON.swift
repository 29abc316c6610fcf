import HoptraceDecode

// The flow records' `Codable` form (what `JSONEncoder` writes for them and `JSONDecoder` reads back), written by hand
// through ``JSONWriter``: the agent stores one per record (HoptraceStore's `FlowRow.event`), and `JSONEncoder` was
// most of its CPU. The keys are the synthesized ones (the stored properties' names, optionals left out when nil,
// enums with associated values as `{"case":{"label":value}}`, unlabeled ones as `_0`); a test decodes every record of
// the repository's captures from both and compares (FlowsTests' `CodableJSONTests`).

/// A type whose `Codable` form is also written by hand, byte by byte.
protocol CodableJSONWritable {
    /// Writes the value as its `Codable` form would encode it.
    func writeCodableJSON(to writer: inout JSONWriter)
}

extension JSONWriter {
    /// `"key":value` in its `Codable` form, left out when nil (as `encodeIfPresent`).
    mutating func codable<T: CodableJSONWritable>(_ key: StaticString, _ value: T?) {
        guard let value else { return }
        self.key(key)
        value.writeCodableJSON(to: &self)
    }

    /// `"key":"10.0.0.1"` (``IPAddress``'s `Codable` form), left out when nil.
    mutating func codable(_ key: StaticString, _ value: IPAddress?) {
        self.member(key, address: value)
    }
}

extension FlowEvent {
    /// Writes the record (not the case) in its `Codable` form: the JSON `JSONDecoder` reads back as the record's type
    /// (``ConnectionRecord``, ``HTTPExchange``, ``DNSTransaction``, ``ICMPErrorEvent``, ``SegmentObservation`` aside).
    ///
    /// - Returns: false for a segment (nothing written).
    package func writeCodableJSON(to writer: inout JSONWriter) -> Bool {
        switch self {
        case .opened(let record), .connection(let record): record.writeCodableJSON(to: &writer)
        case .http(let exchange): exchange.writeCodableJSON(to: &writer)
        case .dns(let transaction): transaction.writeCodableJSON(to: &writer)
        case .icmpError(let error): error.writeCodableJSON(to: &writer)
        case .segment: return false
        }
        return true
    }
}

extension FlowEndpoint: CodableJSONWritable {
    func writeCodableJSON(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.codable("address", self.address)
        writer.member("port", self.port)
        writer.endObject()
    }
}

extension StreamMark: CodableJSONWritable {
    func writeCodableJSON(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.member("offset", self.offset)
        writer.member("time", self.time)
        writer.endObject()
    }
}

extension TunnelInfo: CodableJSONWritable {
    func writeCodableJSON(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("kind")
        writer.beginObject()
        switch self.kind {
        case .vxlan(let vni): writer.object("vxlan") { $0.member("vni", vni) }
        case .geneve(let vni): writer.object("geneve") { $0.member("vni", vni) }
        case .ipip: writer.object("ipip") { _ in }
        case .gre(let key): writer.object("gre") { $0.member("key", key) }
        }
        writer.endObject()
        writer.codable("outerSrc", self.outerSrc)
        writer.codable("outerDst", self.outerDst)
        writer.member("outerSrcPort", self.outerSrcPort)
        writer.member("outerDstPort", self.outerDstPort)
        writer.member("depth", self.depth)
        writer.endObject()
    }
}

extension FirstPacketEvidence: CodableJSONWritable {
    func writeCodableJSON(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.member("ttl", self.ttl)
        writer.member("ipID", self.ipID)
        writer.member("sourceMAC", self.sourceMAC?.rawValue)
        writer.member("destinationMAC", self.destinationMAC?.rawValue)
        writer.member("direction", self.direction.rawValue)
        writer.codable("tunnel", self.tunnel)
        writer.endObject()
    }
}

extension ConnectionRecord: CodableJSONWritable {
    func writeCodableJSON(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.member("id", self.id)
        writer.member("capturePoint", self.capturePoint)
        writer.codable("originator", self.originator)
        writer.codable("responder", self.responder)
        writer.member("startTime", self.startTime)
        writer.member("endTime", self.endTime)
        writer.member("state", self.state.rawValue)
        writer.member("history", self.history)
        writer.codable("originatorSummary", self.originatorSummary)
        writer.codable("responderSummary", self.responderSummary)
        writer.member("synTime", self.synTime)
        writer.member("synRetransmissions", self.synRetransmissions)
        writer.key("synRetransmissionTimes")
        writer.beginArray()
        for time in self.synRetransmissionTimes { writer.int(time) }
        writer.endArray()
        writer.member("synAckTime", self.synAckTime)
        writer.member("synAckRetransmissions", self.synAckRetransmissions)
        writer.member("handshakeAckTime", self.handshakeAckTime)
        writer.member("synDirection", self.synDirection?.rawValue)
        writer.member("resetBy", self.resetBy?.rawValue)
        writer.member("closedBy", self.closedBy?.rawValue)
        writer.member("application", self.application)
        writer.member("httpExchanges", self.httpExchanges)
        writer.member("endReason", self.endReason.rawValue)
        writer.codable("originatorFirst", self.originatorFirst)
        writer.codable("responderFirst", self.responderFirst)
        writer.member("originatorBase", self.originatorBase)
        writer.member("responderBase", self.responderBase)
        writer.endObject()
    }
}

extension HTTPHead: CodableJSONWritable {
    func writeCodableJSON(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.object("text") { writer in
            writer.member("method", self.method)
            writer.member("target", self.target)
            writer.member("reason", self.reason)
            writer.member("host", self.host)
            writer.member("requestID", self.requestID)
            writer.member("traceparent", self.traceparent)
            writer.member("forwardedFor", self.forwardedFor)
            writer.member("userAgent", self.userAgent)
        }
        writer.member("isRequest", self.isRequest)
        writer.member("status", self.status)
        writer.member("minorVersion", self.minorVersion)
        writer.member("contentLength", self.contentLength)
        writer.member("isChunked", self.isChunked)
        writer.member("connectionClose", self.connectionClose)
        writer.member("expectsContinue", self.expectsContinue)
        writer.member("isUpgrade", self.isUpgrade)
        writer.member("headLength", self.headLength)
        writer.member("isTruncated", self.isTruncated)
        writer.endObject()
    }
}

extension HTTPExchange: CodableJSONWritable {
    func writeCodableJSON(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.member("connectionID", self.connectionID)
        writer.member("capturePoint", self.capturePoint)
        writer.codable("client", self.client)
        writer.codable("server", self.server)
        writer.member("clientISN", self.clientISN)
        writer.member("serverISN", self.serverISN)
        writer.member("index", self.index)
        writer.codable("request", self.request)
        writer.codable("response", self.response)
        writer.key("interimStatuses")
        writer.beginArray()
        for status in self.interimStatuses { writer.int(status) }
        writer.endArray()
        writer.codable("requestFirstByte", self.requestFirstByte)
        writer.codable("requestLastByte", self.requestLastByte)
        writer.codable("responseFirstByte", self.responseFirstByte)
        writer.codable("responseLastByte", self.responseLastByte)
        writer.member("requestBodyLength", self.requestBodyLength)
        writer.member("responseBodyLength", self.responseBodyLength)
        writer.member("requestHasGap", self.requestHasGap)
        writer.member("responseHasGap", self.responseHasGap)
        writer.endObject()
    }
}

extension DNSQuestion: CodableJSONWritable {
    func writeCodableJSON(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.member("name", self.name)
        writer.member("type", self.type.rawValue)
        writer.member("questionClass", self.questionClass)
        writer.endObject()
    }
}

extension DNSResourceRecord: CodableJSONWritable {
    func writeCodableJSON(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.member("name", self.name)
        writer.member("type", self.type.rawValue)
        writer.member("recordClass", self.recordClass)
        writer.member("ttl", self.ttl)
        writer.key("data")
        writer.beginObject()
        switch self.data {
        case .address(let address): writer.object("address") { $0.codable("_0", address) }
        case .name(let name): writer.object("name") { $0.member("_0", name) }
        case .service(let priority, let weight, let port, let target):
            writer.object("service") { writer in
                writer.member("priority", priority)
                writer.member("weight", weight)
                writer.member("port", port)
                writer.member("target", target)
            }
        case .other(let length): writer.object("other") { $0.member("length", length) }
        }
        writer.endObject()
        writer.endObject()
    }
}

extension DNSTransaction: CodableJSONWritable {
    func writeCodableJSON(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.member("capturePoint", self.capturePoint)
        writer.member("transport", self.transport.rawValue)
        writer.codable("client", self.client)
        writer.codable("server", self.server)
        writer.member("id", self.id)
        writer.codable("question", self.question)
        writer.member("queryTime", self.queryTime)
        writer.member("responseTime", self.responseTime)
        writer.member("rcode", self.rcode?.rawValue)
        writer.key("answers")
        writer.beginArray()
        for answer in self.answers { answer.writeCodableJSON(to: &writer) }
        writer.endArray()
        writer.member("queryRetransmissions", self.queryRetransmissions)
        writer.member("extraResponses", self.extraResponses)
        writer.member("isTruncated", self.isTruncated)
        writer.member("isAuthoritative", self.isAuthoritative)
        writer.member("connectionID", self.connectionID)
        writer.member("isEvicted", self.isEvicted)
        writer.endObject()
    }
}

extension ICMPErrorEvent: CodableJSONWritable {
    func writeCodableJSON(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.member("capturePoint", self.capturePoint)
        writer.member("time", self.time)
        writer.codable("sender", self.sender)
        writer.codable("destination", self.destination)
        writer.member("type", self.type)
        writer.member("code", self.code)
        writer.member("isV6", self.isV6)
        writer.codable("quotedSource", self.quotedSource)
        writer.codable("quotedDestination", self.quotedDestination)
        writer.member("quotedProtocol", self.quotedProtocol.rawValue)
        writer.member("quotedTCPSequence", self.quotedTCPSequence)
        writer.member("connectionID", self.connectionID)
        writer.endObject()
    }
}
