import Foundation
import HoptraceCorrelate
import HoptraceFlows
import HoptraceKube
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// The lab's captures traced as `hoptrace trace --all --k8s captures/<scenario>.k8s.json` does, checked against the
/// names and addresses the lab's truth file records from its own configuration (never against hoptrace's output).
enum LabFiles {
    /// Scenarios with a capture, a truth file and a cluster state.
    static var cases: [LabCaptures.Case] {
        LabCaptures.cases.filter {
            FileManager.default.fileExists(atPath: LabCaptures.path("\($0.scenario).k8s.json"))
        }
    }
}

@Test(
    "each lab trace speaks in the names of the lab's pods, Services and node",
    .enabled(if: !LabFiles.cases.isEmpty, "no lab captures with .k8s.json under captures/"),
    arguments: LabFiles.cases
)
func labTraceNames(_ labCase: LabCaptures.Case) throws {
    let truth = try LabCaptures.truth(labCase.scenario)
    let traces = try LabCaptures.trace(labCase, truth: truth, k8s: true)
    let requests = (truth["requests"] as? [[String: Any]]) ?? []
    let paths = Set(requests.compactMap { $0["path"] as? String })
    // The lab's own requests: by path, or, for traces without a request (a refused connection, a lookup), by the
    // lab client's address. The busy background's other pods are not this test's subject.
    let clientIP = (truth["client"] as? [String: Any])?["ip"] as? String
    let relevant = traces.filter { trace in
        guard let request = trace.request else {
            return clientIP == nil || trace.client?.address.description == clientIP
        }
        return paths.isEmpty || paths.contains(request.path)
    }
    try #require(!relevant.isEmpty, "no trace of the lab's request in \(labCase)")
    let mode = try #require(truth["mode"] as? String)
    #expect(relevant.contains { $0.mode.rawValue == mode }, "mode \(mode) lost: \(relevant.map(\.mode))")

    // The truth's topology: pod, Service and node names by address.
    let topology = try #require(truth["topology"] as? [String: Any])
    var podByIP: [String: String] = [:]
    let nodeIP = ((topology["node"] as? [String: Any])?["ip"] as? String) ?? ""
    for pod in (topology["pods"] as? [[String: Any]]) ?? [] {
        if let ip = pod["ip"] as? String, ip != nodeIP, let ns = pod["namespace"] as? String,
            let name = pod["name"] as? String
        {
            podByIP[ip] = "pod \(ns)/\(name)"
        }
    }
    var serviceByEndpoint: [String: String] = [:]
    var nodePortByPort: [String: String] = [:]
    for service in (topology["services"] as? [[String: Any]]) ?? [] {
        guard let ns = service["namespace"] as? String, let name = service["name"] as? String,
            let clusterIP = service["clusterIP"] as? String
        else { continue }
        for port in (service["ports"] as? [[String: Any]]) ?? [] {
            if let number = port["port"] as? Int {
                serviceByEndpoint["\(clusterIP):\(number)"] = "service \(ns)/\(name):\(number)"
            }
            if let nodePort = port["nodePort"] as? Int {
                nodePortByPort["\(nodeIP):\(nodePort)"] = "nodeport \(ns)/\(name):\(nodePort)"
            }
        }
    }
    let nodeName = try #require((topology["node"] as? [String: Any])?["name"] as? String)

    for trace in relevant {
        // Every name given to an address the lab configured is the lab's own name for it.
        for (key, name) in trace.names.mapValues(\.description) {
            if let expected = podByIP[key] { #expect(name == expected, "\(key) in #\(trace.index)") }
            if let expected = serviceByEndpoint[key] { #expect(name == expected, "\(key) in #\(trace.index)") }
            if let expected = nodePortByPort[key] { #expect(name == expected, "\(key) in #\(trace.index)") }
            if key == nodeIP { #expect(name == "node \(nodeName)") }
        }
        // The client: the lab's client pod by name; an external client is no pod.
        let client = try #require(truth["client"] as? [String: Any])
        let clientAddress = try #require(trace.client?.address.description)
        if let ns = client["namespace"] as? String, let name = client["name"] as? String {
            #expect(trace.names[clientAddress]?.description == "pod \(ns)/\(name)", "client of #\(trace.index)")
        } else {
            #expect(trace.names[clientAddress]?.description == nil, "external client \(clientAddress) named")
        }
        // The server: the pod that served the request, by the lab's name.
        if let request = trace.request, let entry = requests.first(where: { $0["path"] as? String == request.path }),
            let servedBy = entry["servedBy"] as? String, let server = trace.server
        {
            #expect(
                trace.names[server.address.description]?.description.hasSuffix("/\(servedBy)") == true,
                "server of #\(trace.index)"
            )
        }
    }

    // The Service: named where the client addressed it (ClusterIP or node port), or as the Ingress rule's backend.
    let connected = relevant.filter { !$0.hops.isEmpty }
    if let service = truth["service"] as? [String: Any], let name = service["name"] as? String,
        let ns = service["namespace"] as? String, let port = service["port"] as? Int, !connected.isEmpty
    {
        let label = "\(ns)/\(name)"
        switch mode {
        case "clusterip":
            #expect(
                connected.contains { trace in
                    trace.service.flatMap { trace.names[$0.description]?.description } == "service \(label):\(port)"
                },
                "\(connected.map(\.names))"
            )
        case "nodeport":
            let nodePort = try #require(service["nodePort"] as? Int)
            #expect(
                connected.contains { trace in
                    trace.service.flatMap { trace.names[$0.description]?.description }
                        == "nodeport \(label):\(nodePort)"
                }
            )
        case "ingress":
            #expect(
                connected.contains { trace in
                    trace.findings.contains {
                        $0.kind.rawValue == "ingress-rule" && $0.detail.hasSuffix("service \(label):\(port)")
                    }
                },
                "\(connected.map(\.findings))"
            )
            // The entry point: the controller the lab placed, by name.
            let ingress = try #require(truth["ingress"] as? [String: Any])
            let controller = try #require(ingress["controller"] as? [String: Any])
            let controllerName = try #require(controller["name"] as? String)
            #expect(
                connected.contains { trace in
                    trace.names.values.contains { $0.description.contains(controllerName) }
                },
                "controller \(controllerName) not named: \(connected.map(\.names))"
            )
        default:
            break
        }
    }
    // An endpoint pod of the truth's Service is named as the server.
    let endpointNames = Set(
        ((truth["endpoints"] as? [[String: Any]]) ?? []).compactMap { endpoint -> String? in
            guard let ns = endpoint["namespace"] as? String, let name = endpoint["name"] as? String else { return nil }
            return "pod \(ns)/\(name)"
        }
    )
    // (Where the capture saw the translated connection: a drop before the DNAT shows no endpoint, and the trace
    // then has no server.)
    if !endpointNames.isEmpty, connected.contains(where: { $0.server != nil && $0.server != $0.service }) {
        #expect(
            connected.contains { trace in
                trace.server.flatMap { trace.names[$0.address.description]?.description }.map(endpointNames.contains)
                    == true
            },
            "no server named as one of \(endpointNames): \(connected.map(\.names))"
        )
    }

    // A request stopped before the DNAT: the endpoints it would have reached are the lab's.
    for trace in relevant
    where trace.verdict.kind == .breakpoint && (trace.server == nil || trace.server == trace.service) {
        if !endpointNames.isEmpty {
            let finding = trace.findings.first { $0.kind.rawValue == "expected-endpoints" }
            #expect(endpointNames.allSatisfy { finding?.detail.contains("(\($0))") == true }, "\(trace.findings)")
        }
    }

    // Findings from the cluster state appear where the lab caused them, and nowhere else.
    let fault = (truth["fault"] as? [String: Any])?["kind"] as? String
    let stateFindings: Set<String> = ["no-ready-endpoints", "dnat-to-non-endpoint", "not-ready-endpoint"]
    if fault == "no-endpoints" {
        let service = try #require(truth["service"] as? [String: Any])
        let label = "\(service["namespace"] as? String ?? "")/\(service["name"] as? String ?? "")"
        let rejected = relevant.filter { $0.verdict.kind == .rejected }
        #expect(!rejected.isEmpty)
        for trace in rejected {
            #expect(
                trace.findings.contains { $0.kind.rawValue == "no-ready-endpoints" && $0.detail.contains(label) },
                "\(trace.findings)"
            )
            #expect(trace.verdict.sentence.contains(label), "verdict does not name \(label): \(trace.verdict.sentence)")
        }
    } else if fault == "not-listening" {
        // The lab's Service still lists the pod that does not listen.
        let reset = relevant.filter { $0.verdict.kind == .reset }
        #expect(!reset.isEmpty)
        for trace in reset {
            #expect(
                trace.findings.contains { finding in
                    finding.kind.rawValue == "ready-endpoint-refused"
                        && endpointNames.contains { finding.detail.hasPrefix($0) }
                },
                "\(trace.findings)"
            )
        }
    } else {
        for trace in relevant {
            let raised = trace.findings.filter { stateFindings.contains($0.kind.rawValue) }
            #expect(raised.isEmpty, "false alarm in #\(trace.index): \(raised)")
        }
    }
}
