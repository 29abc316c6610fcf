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

    // Members after an object's first are written as runs: the comma, the key and the colon as one literal
    // (``JSONWriter/run(_:)``); every member is written, `null` when absent, so the layout is fixed.

    static func milliseconds(_ json: inout JSONWriter, _ run: StaticString, _ ns: Int64?) {
        json.run(run)
        if let ns { json.millisecondsSixDecimals(ns) } else { json.null() }
    }

    static func instant(_ json: inout JSONWriter, _ run: StaticString, _ nsRun: StaticString, _ ns: Int64?) {
        json.run(run)
        if let ns { json.rfc3339(ns) } else { json.null() }
        json.run(nsRun)
        if let ns { json.int(ns) } else { json.null() }
    }

    static func endpoint(_ json: inout JSONWriter, _ run: StaticString, _ value: FlowEndpoint?) {
        json.run(run)
        if let value { json.endpoint(value) } else { json.null() }
    }

    static func point(_ json: inout JSONWriter, _ run: StaticString, _ value: CapturePoint?) {
        json.run(run)
        point(&json, value)
    }

    static func point(_ json: inout JSONWriter, _ value: CapturePoint?) {
        if let value { json.string(joining: value.node, value.name) } else { json.null() }
    }

    /// Text from outside (packets, files): escaped.
    static func text(_ json: inout JSONWriter, _ run: StaticString, _ value: String?) {
        json.run(run)
        if let value { json.string(value) } else { json.null() }
    }

    /// hoptrace's own words (raw values of its enums).
    static func word(_ json: inout JSONWriter, _ run: StaticString, _ value: String?) {
        json.run(run)
        if let value { json.string(trusted: value) } else { json.null() }
    }

    static func integer<T: BinaryInteger>(_ json: inout JSONWriter, _ run: StaticString, _ value: T?) {
        json.run(run)
        if let value { json.int(value) } else { json.null() }
    }

    static func flag(_ json: inout JSONWriter, _ run: StaticString, _ value: Bool) {
        json.run(run)
        json.bool(value)
    }

    /// Writes one hop as a JSON object, read through `hop` field by field (a `Hop` argument would be a copy).
    static func write(hop: UnsafePointer<Hop>, into json: inout JSONWriter) {
        json.beginObject()
        json.key("capturePoint")
        point(&json, hop.pointee.point)
        text(&json, ",\"node\":", hop.pointee.point.node)
        text(&json, ",\"interface\":", hop.pointee.point.name)
        json.run(",\"directions\":")
        json.beginArray()
        for direction in hop.pointee.directions { json.string(trusted: direction.description) }
        json.endArray()
        endpoint(&json, ",\"source\":", hop.pointee.source)
        endpoint(&json, ",\"destination\":", hop.pointee.destination)
        word(&json, ",\"translation\":", hop.pointee.translation.rawValue)
        if let encapsulation = hop.pointee.encapsulation {
            text(&json, ",\"encapsulation\":{\"kind\":", encapsulation.kind)
            text(&json, ",\"outerSource\":", encapsulation.outerSource.description)
            text(&json, ",\"outerDestination\":", encapsulation.outerDestination.description)
            word(&json, "},\"evidence\":", hop.pointee.evidence.rawValue)
        } else {
            json.run(",\"encapsulation\":")
            json.null()
            word(&json, ",\"evidence\":", hop.pointee.evidence.rawValue)
        }
        integer(&json, ",\"connection\":", hop.pointee.connection)
        instant(&json, ",\"firstSeen\":", ",\"firstSeenNs\":", hop.pointee.firstSeen)
        milliseconds(&json, ",\"synDelay\":", hop.pointee.synDelay)
        milliseconds(&json, ",\"requestDelay\":", hop.pointee.requestDelay)
        milliseconds(&json, ",\"responseDelay\":", hop.pointee.responseDelay)
        milliseconds(&json, ",\"handshakeRTT\":", hop.pointee.handshakeRTT)
        integer(&json, ",\"syns\":", hop.pointee.synCount)
        integer(&json, ",\"retransmissions\":", hop.pointee.retransmissions)
        flag(&json, ",\"sawRequest\":", hop.pointee.sawRequest)
        flag(&json, ",\"sawResponse\":", hop.pointee.sawResponse)
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
        json.key("index")
        json.int(trace.index)
        word(&json, ",\"kind\":", trace.kind.rawValue)
        word(&json, ",\"mode\":", trace.mode.rawValue)
        word(&json, ",\"verdict\":{\"kind\":", trace.verdict.kind.rawValue)
        text(&json, ",\"sentence\":", trace.verdict.sentence)
        point(&json, ",\"location\":", trace.verdict.location)
        point(&json, ",\"next\":", trace.verdict.next)
        point(&json, ",\"segmentFrom\":", trace.verdict.segmentFrom)
        word(&json, ",\"phase\":", trace.verdict.phase?.rawValue)
        word(&json, ",\"slowPart\":", trace.verdict.slowPart?.rawValue)
        json.run("},\"findings\":")
        json.beginArray()
        for finding in trace.findings {
            json.beginObject()
            json.key("kind")
            json.string(trusted: finding.kind.rawValue)
            text(&json, ",\"detail\":", finding.detail)
            json.endObject()
        }
        json.endArray()
        if let request = trace.request {
            text(&json, ",\"request\":{\"method\":", request.method)
            text(&json, ",\"path\":", request.path)
            text(&json, ",\"host\":", request.host)
            text(&json, ",\"requestID\":", request.requestID)
            integer(&json, ",\"status\":", request.status)
            flag(&json, ",\"headTruncated\":", request.headTruncated)
            endpoint(&json, "},\"client\":", trace.client)
        } else {
            json.run(",\"request\":")
            json.null()
            endpoint(&json, ",\"client\":", trace.client)
        }
        endpoint(&json, ",\"service\":", trace.service)
        endpoint(&json, ",\"server\":", trace.server)
        json.run(",\"names\":")
        json.beginObject()
        if !trace.names.isEmpty {
            for (key, name) in trace.names.sorted(by: { $0.key < $1.key }) {
                json.key(text: key)
                write(name: name, into: &json, cache: cache)
            }
        }
        json.endObject()
        instant(&json, ",\"start\":", ",\"startNs\":", trace.start)
        instant(&json, ",\"end\":", ",\"endNs\":", trace.end)
        if let dns = trace.dns {
            text(&json, ",\"dns\":{\"name\":", dns.name)
            word(&json, ",\"outcome\":", dns.outcome.rawValue)
            text(&json, ",\"answer\":", dns.answer?.description)
            instant(&json, ",\"start\":", ",\"startNs\":", dns.start)
            milliseconds(&json, ",\"duration\":", dns.duration)
            json.run(",\"queries\":")
            json.beginArray()
            for query in dns.queries {
                json.beginObject()
                json.key("id")
                json.int(query.id)
                text(&json, ",\"name\":", query.name)
                text(&json, ",\"type\":", query.type.description)
                text(&json, ",\"rcode\":", query.rcode?.description)
                json.run(",\"addresses\":")
                json.beginArray()
                for address in query.addresses { json.string(address.description) }
                json.endArray()
                integer(&json, ",\"answeredRecords\":", query.answeredRecords)
                instant(&json, ",\"queryTime\":", ",\"queryTimeNs\":", query.queryTime)
                milliseconds(&json, ",\"duration\":", query.duration)
                integer(&json, ",\"sent\":", query.sent)
                endpoint(&json, ",\"client\":", query.client)
                endpoint(&json, ",\"server\":", query.server)
                word(&json, ",\"transport\":", query.transport.rawValue)
                json.run(",\"seenAt\":")
                json.beginArray()
                for point in query.seenAt { json.string(point.description) }
                json.endArray()
                json.endObject()
            }
            json.endArray()
            json.run("},\"hops\":")
        } else {
            json.run(",\"dns\":")
            json.null()
            json.run(",\"hops\":")
        }
        json.beginArray()
        // Each hop is read where it is (through the buffer: a loop variable, or an array subscript passed on, copies).
        trace.hops.withUnsafeBufferPointer { hops in
            guard let first = hops.baseAddress else { return }
            for index in hops.indices { write(hop: first + index, into: &json) }
        }
        json.endArray()
        let t = trace.timings
        milliseconds(&json, ",\"timings\":{\"dns\":", t.dns)
        milliseconds(&json, ",\"client\":", t.client)
        milliseconds(&json, ",\"connect\":", t.connect)
        milliseconds(&json, ",\"request\":", t.request)
        milliseconds(&json, ",\"network\":", t.network)
        milliseconds(&json, ",\"server\":", t.server)
        milliseconds(&json, ",\"response\":", t.response)
        milliseconds(&json, ",\"total\":", t.total)
        json.run("},\"clockOffsets\":")
        json.beginArray()
        for offset in trace.clockOffsets {
            json.beginObject()
            json.key("node")
            json.string(offset.node)
            text(&json, ",\"reference\":", offset.reference)
            milliseconds(&json, ",\"offset\":", offset.offset)
            milliseconds(&json, ",\"uncertainty\":", offset.uncertainty)
            integer(&json, ",\"samples\":", offset.samples)
            json.endObject()
        }
        json.endArray()
        integer(&json, ",\"evicted\":", max(evicted, trace.evictedSoFar))
        json.endObject()
    }
}
