import Foundation
import HoptraceCorrelate
import HoptraceDecode
import HoptraceFlows
import HoptraceKube
import Testing

@testable import HoptraceReport

/// Kubernetes names in the three renderings: beside the addresses in the text report and its hop table, as a
/// `names` object in JSON (valid against the committed schema), escaped in HTML. The names come from hand-written
/// objects read by the cluster-state reader, not from the renderer's own output.
enum NamedTrace {
    static let cluster = """
        {"apiVersion": "v1", "kind": "List", "items": [
         {"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": "default", "name": "client"},
          "status": {"podIP": "10.244.0.2", "podIPs": [{"ip": "10.244.0.2"}]}},
         {"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": "default", "name": "web-6b8f9c7d5-k2x7p"},
          "status": {"podIPs": [{"ip": "fd00::5"}]}},
         {"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": "default", "name": "web"},
          "spec": {"clusterIP": "10.96.0.20", "ports": [{"port": 80, "targetPort": 8080}]}},
         {"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": "kube-system", "name": "<script>x</script>\\u001b[31m"},
          "status": {"podIPs": [{"ip": "10.96.0.10"}]}}
        ]}
        """

    /// The hostile trace with the names the cluster state gives its addresses (and address-port pairs).
    static func trace() throws -> RequestTrace {
        var trace = hostileTrace()
        let state = try ClusterState.parse(Data(cluster.utf8), source: "cluster.json")
        var endpoints = [trace.client, trace.service, trace.server].compactMap { $0 }
        for hop in trace.hops { endpoints += [hop.source, hop.destination] }
        for query in trace.dns?.queries ?? [] { endpoints += [query.client, query.server] }
        for endpoint in endpoints {
            if let name = state.addressName(of: endpoint.address.description, port: Int(endpoint.port)) {
                trace.names[endpoint.description] = name
            }
            if let name = state.addressName(of: endpoint.address.description) {
                trace.names[endpoint.address.description] = name
            }
        }
        if let answer = trace.dns?.answer, let name = state.addressName(of: answer.description) {
            trace.names[answer.description] = name
        }
        return trace
    }
}

@Test func textReportShowsNamesBesideAddresses() throws {
    let trace = try NamedTrace.trace()
    let text = TextReport(color: false).render(trace)
    #expect(text.contains("10.244.0.2:41000 (client, pod default/client)"))
    #expect(text.contains("10.96.0.20:80 (service default/web:80)"))
    #expect(text.contains("[fd00::5]:8080 (server, pod default/web-6b8f9c7d5-k2x7p)"))
    // The hop table: each hop's source and destination, and their names in the legend below it.
    let hopLine = try #require(text.split(separator: "\n").first { $0.contains("cni0") && $0.contains("DNAT") })
    #expect(hopLine.contains("10.244.0.2:41000 → [fd00::5]:8080"))
    let lines = text.split(separator: "\n").map {
        $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }
    #expect(lines.contains("10.244.0.2 pod default/client"))
    #expect(lines.contains("fd00::5 pod default/web-6b8f9c7d5-k2x7p"))
    #expect(text.contains("→ 10.96.0.20 (service default/web)"))
    #expect(!text.contains("\u{1B}"))
    // Without names, the report is as before.
    #expect(TextReport(color: false).render(hostileTrace()).contains("10.244.0.2:41000 (client) →"))
}

@Test func jsonCarriesNamesAndFollowsTheSchema() throws {
    let trace = try NamedTrace.trace()
    let line = TraceJSON.render(trace)
    let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    let names = try #require(object["names"] as? [String: [String: Any]])
    #expect(names["10.96.0.20:80"]?["text"] as? String == "service default/web:80")
    #expect(names["10.96.0.20:80"]?["role"] as? String == "service")
    #expect(names["10.96.0.20:80"]?["port"] as? Int == 80)
    #expect(names["10.244.0.2"]?["text"] as? String == "pod default/client")
    #expect(names["10.244.0.2"]?["namespace"] as? String == "default")
    #expect(names["fd00::5"]?["name"] as? String == "web-6b8f9c7d5-k2x7p")
    #expect(names["10.96.0.10"]?["text"] as? String == "pod kube-system/<script>x</script>\u{1B}[31m")
    let empty = try #require(
        try JSONSerialization.jsonObject(with: Data(TraceJSON.render(hostileTrace()).utf8)) as? [String: Any]
    )
    #expect((empty["names"] as? [String: Any])?.isEmpty == true)

    let (status, message) = try validateAgainstTraceSchema(line)
    #expect(status == 0, "schema validation failed: \(message)")
}

@Test func htmlShowsNamesEscaped() throws {
    let trace = try NamedTrace.trace()
    let html = HTMLReport.render([trace], title: "names")
    #expect(html.contains("client 10.244.0.2:41000 (pod default/client)"))
    #expect(html.contains("[fd00::5]:8080 (pod default/web-6b8f9c7d5-k2x7p)"))
    #expect(html.contains("service 10.96.0.20:80 (service default/web:80)"))
    #expect(!html.contains("<script>x"))
    #expect(!html.contains("\u{1B}"))
}

/// Names written from the cache of a long run read as the names of each trace: names that differ in one field only
/// (port, source, qualifier, object) each keep their own members, whichever was written first; the line is the one
/// written without a cache.
@Test func cachedNamesAreEachTracesOwn() throws {
    let web = ObjectRef(namespace: "default", name: "web")
    let variants: [AddressName] = [
        AddressName(role: .service, object: web, port: 80),
        AddressName(role: .service, object: web, port: 8080),
        AddressName(role: .service, object: web, port: 80, source: .learned),
        AddressName(role: .service, object: web),
        AddressName(role: .pod, object: web, qualifier: "host network"),
        AddressName(role: .pod, object: ObjectRef(namespace: "default", name: "web\"\u{1B}")),
    ]
    let cache = TraceJSON.NameCache()
    var json = JSONWriter()
    for round in 0..<2 {
        for (index, name) in variants.enumerated() {
            var trace = hostileTrace()
            trace.names = ["10.96.0.20:80": name, "10.0.0.\(index)": variants[(index + round) % variants.count]]
            json.reset()
            TraceJSON.write(trace, into: &json, names: cache)
            let line = String(decoding: json.bytes, as: UTF8.self)
            #expect(line == TraceJSON.render(trace))
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let names = try #require(object["names"] as? [String: [String: Any]])
            let written = try #require(names["10.96.0.20:80"])
            #expect(written["text"] as? String == name.description)
            #expect(written["port"] as? Int == name.port)
            #expect(written["source"] as? String == name.source.rawValue)
            #expect(written["qualifier"] as? String == name.qualifier)
            #expect(written["name"] as? String == name.object?.name)
        }
    }
}
