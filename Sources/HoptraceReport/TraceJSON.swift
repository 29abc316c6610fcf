import HoptraceCapture
import HoptraceCorrelate

/// `hoptrace trace --json`: one JSON document per request, following `docs/trace.schema.json`.
///
/// Durations are milliseconds (numbers with microsecond precision); instants are RFC 3339 UTC strings with
/// nanoseconds.
public enum TraceJSON {
    /// The trace as one line of JSON.
    public static func render(_ trace: RequestTrace) -> String {
        var json = JSONWriter()
        write(trace, into: &json)
        return String(decoding: json.bytes, as: UTF8.self)
    }

    static func milliseconds(_ json: inout JSONWriter, _ name: String, _ ns: Int64?) {
        json.key(name)
        if let ns { json.double(Double(ns) / 1e6, decimals: 3) } else { json.null() }
    }

    static func endpoint(_ json: inout JSONWriter, _ name: String, _ value: Endpoint?) {
        json.key(name)
        guard let value else {
            json.null()
            return
        }
        json.string(value.description)
    }

    /// Writes one trace as a JSON object.
    public static func write(_ trace: RequestTrace, into json: inout JSONWriter) {
        json.beginObject()
        json.field("index", trace.index)
        json.field("mode", trace.mode.rawValue)
        json.key("verdict")
        json.beginObject()
        json.field("kind", trace.verdict.kind.rawValue)
        json.field("detail", trace.verdict.detail)
        json.field("hop", trace.verdict.hop)
        json.field("nextHop", trace.verdict.nextHop)
        json.endObject()
        json.key("findings")
        json.beginArray()
        for finding in trace.findings {
            json.beginObject()
            json.field("kind", finding.kind)
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
            json.endObject()
        } else {
            json.null()
        }
        endpoint(&json, "client", trace.client)
        endpoint(&json, "service", trace.service)
        endpoint(&json, "server", trace.server)
        json.key("names")
        json.beginObject()
        for (key, name) in trace.names.sorted(by: { $0.key < $1.key }) { json.field(key, name) }
        json.endObject()
        json.field("start", TimeFormat.rfc3339(trace.start))
        json.field("end", TimeFormat.rfc3339(trace.end))
        json.key("dns")
        if let dns = trace.dns {
            json.beginObject()
            json.field("name", dns.name)
            json.field("outcome", dns.outcome)
            json.field("answer", dns.answer)
            milliseconds(&json, "duration", dns.duration)
            json.key("queries")
            json.beginArray()
            for query in dns.queries {
                json.beginObject()
                json.field("name", query.name)
                json.field("type", query.type)
                json.field("rcode", query.rcode)
                json.key("answers")
                json.beginArray()
                for address in query.addresses { json.string(address) }
                json.endArray()
                json.field("sent", TimeFormat.rfc3339(query.queryTime))
                milliseconds(&json, "duration", query.duration)
                json.field("queries", query.queryCount)
                json.field("server", query.server.description)
                json.endObject()
            }
            json.endArray()
            json.endObject()
        } else {
            json.null()
        }
        json.key("hops")
        json.beginArray()
        for hop in trace.hops {
            json.beginObject()
            json.field("capturePoint", hop.capturePoint)
            json.key("directions")
            json.beginArray()
            for direction in hop.directions { json.string(direction.description) }
            json.endArray()
            json.field("src", hop.src.description)
            json.field("dst", hop.dst.description)
            json.field("translation", hop.translation.rawValue)
            json.field("firstSeen", TimeFormat.rfc3339(hop.firstSeen))
            json.field("connection", hop.connection)
            milliseconds(&json, "synDelay", hop.synDelay)
            milliseconds(&json, "dataDelay", hop.dataDelay)
            milliseconds(&json, "handshakeRTT", hop.handshakeRTT)
            json.key("clockNoise")
            json.bool(hop.clockNoise)
            json.field("syns", hop.synCount)
            json.field("retransmissions", hop.retransmissions)
            json.endObject()
        }
        json.endArray()
        json.key("timings")
        json.beginObject()
        let t = trace.timings
        milliseconds(&json, "dns", t.dns)
        milliseconds(&json, "connect", t.connect)
        milliseconds(&json, "request", t.request)
        milliseconds(&json, "server", t.server)
        milliseconds(&json, "network", t.network)
        milliseconds(&json, "response", t.response)
        milliseconds(&json, "client", t.client)
        milliseconds(&json, "total", t.total)
        json.endObject()
        json.endObject()
    }
}
