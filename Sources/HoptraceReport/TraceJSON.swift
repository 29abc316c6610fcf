import HoptraceCapture
import HoptraceCorrelate
import HoptraceDecode
import HoptraceFlows
import HoptraceKube

/// `hoptrace trace --json`: one JSON object per request, following `docs/trace.schema.json`.
///
/// The dialect of every hoptrace record: camelCase keys; instants as RFC 3339 UTC strings with nanoseconds plus the
/// integer nanoseconds beside them (`start`, `startNs`); durations in milliseconds (numbers, up to six decimals).
public enum TraceJSON {
    /// The trace as one line of JSON.
    public static func render(_ trace: RequestTrace, evicted: Int = 0) -> String {
        var json = JSONWriter()
        write(trace, evicted: evicted, into: &json)
        return json.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// The JSON of the address names written last: a capture's traces name the same few Services, pods and nodes
    /// again and again, and each name is an object of seven members (a fifth of the writing, measured on the
    /// benchmark). A few dozen, found by comparing (a name's strings share the directory's storage, so comparing two
    /// is quick, where hashing one cost about what writing it does); emptied when full.
    public final class NameCache {
        var names: [AddressName] = []
        var objects: [[UInt8]] = []
        static let capacity = 32

        /// An empty cache.
        public init() {}

        func json(of name: AddressName) -> [UInt8]? {
            let found = names.withUnsafeBufferPointer { names in names.indices.first { names[$0] == name } }
            return found.map { objects[$0] }
        }

        func keep(_ json: [UInt8], for name: AddressName) {
            if names.count >= Self.capacity {
                names.removeAll(keepingCapacity: true)
                objects.removeAll(keepingCapacity: true)
            }
            names.append(name)
            objects.append(json)
        }
    }

    /// Writes the trace as one line of JSON (with its newline) to `out`, reusing `json`'s storage and, when given,
    /// the names written before.
    public static func write(
        _ trace: RequestTrace,
        evicted: Int = 0,
        to out: BufferedOutput,
        using json: inout JSONWriter,
        names: NameCache? = nil
    ) {
        json.reset()
        write(trace, evicted: evicted, into: &json, names: names)
        json.withUnsafeBytes { out.append($0) }
        out.append(UInt8(ascii: "\n"))
    }

    /// Writes one address name as a JSON object.
    static func write(name: AddressName, into json: inout JSONWriter) {
        json.beginObject()
        json.field("role", trusted: name.role.rawValue)
        json.field("namespace", name.object.flatMap { $0.namespace.isEmpty ? nil : $0.namespace })
        json.field("name", name.object?.name)
        json.field("port", name.port)
        json.field("source", trusted: name.source.rawValue)
        json.field("qualifier", name.qualifier)
        json.field("text", name.description)
        json.endObject()
    }

    /// Writes a name's object, from the cache when it is there.
    static func write(name: AddressName, into json: inout JSONWriter, cache: NameCache?) {
        guard let cache else {
            write(name: name, into: &json)
            return
        }
        if let object = cache.json(of: name) {
            object.withUnsafeBytes { json.json($0) }
            return
        }
        var own = JSONWriter(capacity: 256)
        write(name: name, into: &own)
        let object = own.bytes
        cache.keep(object, for: name)
        object.withUnsafeBytes { json.json($0) }
    }

    static func milliseconds(_ json: inout JSONWriter, _ name: StaticString, _ ns: Int64?) {
        json.key(name)
        if let ns { json.millisecondsSixDecimals(ns) } else { json.null() }
    }

    static func instant(_ json: inout JSONWriter, _ name: StaticString, _ nsName: StaticString, _ ns: Int64?) {
        json.key(name)
        if let ns { json.rfc3339(ns) } else { json.null() }
        json.key(nsName)
        if let ns { json.int(ns) } else { json.null() }
    }

    static func endpoint(_ json: inout JSONWriter, _ name: StaticString, _ value: FlowEndpoint?) {
        json.key(name)
        if let value { json.endpoint(value) } else { json.null() }
    }

    static func point(_ json: inout JSONWriter, _ name: StaticString, _ value: CapturePoint?) {
        json.key(name)
        if let value { json.string(joining: value.node, value.name) } else { json.null() }
    }

    /// Writes one hop as a JSON object, read through `hop` field by field (a `Hop` argument would be a copy).
    static func write(hop: UnsafePointer<Hop>, into json: inout JSONWriter) {
        json.beginObject()
        point(&json, "capturePoint", hop.pointee.point)
        json.field("node", hop.pointee.point.node)
        json.field("interface", hop.pointee.point.name)
        json.key("directions")
        json.beginArray()
        for direction in hop.pointee.directions { json.string(trusted: direction.description) }
        json.endArray()
        endpoint(&json, "source", hop.pointee.source)
        endpoint(&json, "destination", hop.pointee.destination)
        json.field("translation", trusted: hop.pointee.translation.rawValue)
        json.key("encapsulation")
        if let encapsulation = hop.pointee.encapsulation {
            json.beginObject()
            json.field("kind", encapsulation.kind)
            json.field("outerSource", encapsulation.outerSource.description)
            json.field("outerDestination", encapsulation.outerDestination.description)
            json.endObject()
        } else {
            json.null()
        }
        json.field("evidence", trusted: hop.pointee.evidence.rawValue)
        json.field("connection", hop.pointee.connection)
        instant(&json, "firstSeen", "firstSeenNs", hop.pointee.firstSeen)
        milliseconds(&json, "synDelay", hop.pointee.synDelay)
        milliseconds(&json, "requestDelay", hop.pointee.requestDelay)
        milliseconds(&json, "responseDelay", hop.pointee.responseDelay)
        milliseconds(&json, "handshakeRTT", hop.pointee.handshakeRTT)
        json.field("syns", hop.pointee.synCount)
        json.field("retransmissions", hop.pointee.retransmissions)
        json.key("sawRequest")
        json.bool(hop.pointee.sawRequest)
        json.key("sawResponse")
        json.bool(hop.pointee.sawResponse)
        json.endObject()
    }

    /// Writes one trace as a JSON object (its names' objects from `cache` when one is given).
    public static func write(
        _ trace: RequestTrace,
        evicted: Int = 0,
        into json: inout JSONWriter,
        names cache: NameCache? = nil
    ) {
        json.beginObject()
        json.field("index", trace.index)
        json.field("kind", trusted: trace.kind.rawValue)
        json.field("mode", trusted: trace.mode.rawValue)
        json.key("verdict")
        json.beginObject()
        json.field("kind", trusted: trace.verdict.kind.rawValue)
        json.field("sentence", trace.verdict.sentence)
        point(&json, "location", trace.verdict.location)
        point(&json, "next", trace.verdict.next)
        point(&json, "segmentFrom", trace.verdict.segmentFrom)
        json.field("phase", trusted: trace.verdict.phase?.rawValue)
        json.field("slowPart", trusted: trace.verdict.slowPart?.rawValue)
        json.endObject()
        json.key("findings")
        json.beginArray()
        for finding in trace.findings {
            json.beginObject()
            json.field("kind", trusted: finding.kind.rawValue)
            json.field("detail", finding.detail)
            json.endObject()
        }
        json.endArray()
        json.key("request")
        if let request = trace.request {
            json.beginObject()
            json.field("method", request.method)
            json.field("path", request.path)
            json.field("host", request.host)
            json.field("requestID", request.requestID)
            json.field("status", request.status)
            json.key("headTruncated")
            json.bool(request.headTruncated)
            json.endObject()
        } else {
            json.null()
        }
        endpoint(&json, "client", trace.client)
        endpoint(&json, "service", trace.service)
        endpoint(&json, "server", trace.server)
        json.key("names")
        json.beginObject()
        for (key, name) in trace.names.sorted(by: { $0.key < $1.key }) {
            json.key(text: key)
            write(name: name, into: &json, cache: cache)
        }
        json.endObject()
        instant(&json, "start", "startNs", trace.start)
        instant(&json, "end", "endNs", trace.end)
        json.key("dns")
        if let dns = trace.dns {
            json.beginObject()
            json.field("name", dns.name)
            json.field("outcome", trusted: dns.outcome.rawValue)
            json.field("answer", dns.answer?.description)
            instant(&json, "start", "startNs", dns.start)
            milliseconds(&json, "duration", dns.duration)
            json.key("queries")
            json.beginArray()
            for query in dns.queries {
                json.beginObject()
                json.field("id", query.id)
                json.field("name", query.name)
                json.field("type", query.type.description)
                json.field("rcode", query.rcode?.description)
                json.key("addresses")
                json.beginArray()
                for address in query.addresses { json.string(address.description) }
                json.endArray()
                json.field("answeredRecords", query.answeredRecords)
                instant(&json, "queryTime", "queryTimeNs", query.queryTime)
                milliseconds(&json, "duration", query.duration)
                json.field("sent", query.sent)
                endpoint(&json, "client", query.client)
                endpoint(&json, "server", query.server)
                json.field("transport", trusted: query.transport.rawValue)
                json.key("seenAt")
                json.beginArray()
                for point in query.seenAt { json.string(point.description) }
                json.endArray()
                json.endObject()
            }
            json.endArray()
            json.endObject()
        } else {
            json.null()
        }
        json.key("hops")
        json.beginArray()
        // Each hop is read where it is (through the buffer: a loop variable, or an array subscript passed on, copies).
        trace.hops.withUnsafeBufferPointer { hops in
            guard let first = hops.baseAddress else { return }
            for index in hops.indices { write(hop: first + index, into: &json) }
        }
        json.endArray()
        json.key("timings")
        json.beginObject()
        let t = trace.timings
        milliseconds(&json, "dns", t.dns)
        milliseconds(&json, "client", t.client)
        milliseconds(&json, "connect", t.connect)
        milliseconds(&json, "request", t.request)
        milliseconds(&json, "network", t.network)
        milliseconds(&json, "server", t.server)
        milliseconds(&json, "response", t.response)
        milliseconds(&json, "total", t.total)
        json.endObject()
        json.key("clockOffsets")
        json.beginArray()
        for offset in trace.clockOffsets {
            json.beginObject()
            json.field("node", offset.node)
            json.field("reference", offset.reference)
            milliseconds(&json, "offset", offset.offset)
            milliseconds(&json, "uncertainty", offset.uncertainty)
            json.field("samples", offset.samples)
            json.endObject()
        }
        json.endArray()
        json.field("evicted", max(evicted, trace.evictedSoFar))
        json.endObject()
    }
}
