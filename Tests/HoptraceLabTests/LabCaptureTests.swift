import Foundation
import HoptraceTestSupport
import Testing

// Each committed lab capture, in both formats, checked against the truth file the lab wrote from what it
// did (tools/lab/lab.py), with tshark as the oracle. Nothing here runs hoptrace.

private let formats = CaptureFormat.allCases

private func scenarios(_ predicate: @escaping (Truth) -> Bool) -> [String] {
    LabPaths.scenarios(where: predicate)
}

/// Scenarios whose client opens a TCP connection that kube-proxy DNATs to an endpoint.
/// (Hairpin scenarios, whose client is the endpoint itself, have their own test.)
private let clusterIPConnections = scenarios {
    $0.mode == "clusterip" && !$0.endpoints.isEmpty && $0.expected.verdict.kind != "dns-failure"
        && !$0.isHairpin
}

@Suite("Lab captures: committed and consistent")
struct LabCommittedTests {
    @Test("every scenario of lab.py has both captures, its truth and its cluster state committed, all small")
    func everyScenarioCommitted() throws {
        let listed = try runProcess("/usr/bin/env", ["python3", LabPaths.labScript.path, "list"])
        #expect(listed.status == 0, "lab.py list: \(listed.stderr)")
        let names = listed.stdout.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
        #expect(names.count >= 15)
        for name in names {
            var files = [Lab.truthFile(name), Lab.clusterStateFile(name)]
            for node in Lab.nodes(name).isEmpty ? [nil] : Lab.nodes(name).map(Optional.some) {
                files += [Lab.file(name, .tcpdumpAny, node: node), Lab.file(name, .hoptrace, node: node)]
            }
            for url in files {
                let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? nil
                #expect(size != nil, "missing \(url.path); regenerate with `make lab`")
                if let size {
                    #expect(size > 0 && size < 400_000, "\(url.lastPathComponent) is \(size) bytes")
                }
            }
        }
        #expect(Set(names) == Set(Lab.scenarios), "captures/ and `lab.py list` disagree")
    }

    @Test(
        "the truth names the scenario, its files and a clean capture (no kernel drops)",
        // Captured on the node (loopback captures in a pod: LabWriterTests checks its counters).
        arguments: LabPaths.scenarios { $0.interfaces.values.contains("cni0") }
    )
    func truthIsSelfConsistent(scenario: String) throws {
        let truth = try Truth.load(scenario)
        #expect(truth.scenario == scenario)
        #expect(truth.capture.sll2.file == Lab.Writer.tcpdumpAny.rawValue)
        #expect(truth.capture.pcapng.file == Lab.Writer.hoptrace.rawValue)
        #expect(truth.capture.sll2.exitCode == 0)
        // Both writers were stopped by SIGINT and flushed (tcpdump prints its counters, no kernel drops).
        #expect(truth.capture.sll2.stderr?.contains { $0.hasSuffix("packets captured") } == true)
        #expect(truth.capture.sll2.stderr?.contains("0 packets dropped by kernel") == true)
        // Everything the kernel handed to tcpdump was written (no block left in the ring at SIGINT).
        let counters = (truth.capture.sll2.stderr ?? []).compactMap { line -> (String, Int)? in
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let n = Int(parts[0]) else { return nil }
            return (String(parts[1]), n)
        }
        let captured = counters.first { $0.0 == "packets captured" }?.1
        #expect(captured != nil && captured == counters.first { $0.0 == "packets received by filter" }?.1)
        #expect(truth.capture.pcapng.exitCode == 0)
        let writerDrops = (truth.capture.pcapng.stderr ?? []).filter {
            ($0.contains("dropped by kernel") && !$0.contains(" 0 dropped by kernel"))
                || ($0.hasPrefix("Packets received/dropped") && !$0.contains("/0 ("))
        }
        #expect(writerDrops.isEmpty, "the pcapng writer lost packets: \(writerDrops)")
        #expect(["clusterip", "nodeport", "ingress", "direct"].contains(truth.mode))
        #expect(
            ["ok", "dns-failure", "rejected", "breakpoint", "reset", "no-response", "slow", "truncated"].contains(
                truth.expected.verdict.kind
            )
        )
        // The pcapng writer captured exactly the node's interfaces.
        #expect(Set(truth.capture.pcapng.interfaces ?? []) == Set(truth.interfaces.values))
        if let fault = truth.fault {
            #expect(Set(truth.interfaces.values).contains(fault.hop), "fault hop \(fault.hop) is no capture point")
        }
    }

    @Test("the cluster state is kubectl's List with real kinds and apiVersions", arguments: LabPaths.scenarios)
    func clusterStateIsAKubectlList(scenario: String) throws {
        let url = Lab.clusterStateFile(scenario)
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
        #expect(object?["apiVersion"] as? String == "v1")
        #expect(object?["kind"] as? String == "List")
        let items = object?["items"] as? [[String: Any]] ?? []
        var kinds: [String: String] = [:]
        for item in items {
            if let kind = item["kind"] as? String { kinds[kind] = item["apiVersion"] as? String }
        }
        #expect(kinds["Pod"] == "v1")
        #expect(kinds["Service"] == "v1")
        #expect(kinds["Node"] == "v1")
        #expect(kinds["EndpointSlice"] == "discovery.k8s.io/v1")
        #expect(kinds["Ingress"] == "networking.k8s.io/v1")
        // The web Service's EndpointSlice lists exactly the truth's endpoints.
        let truth = try Truth.load(scenario)
        if let service = truth.service {
            let slice = items.first {
                ($0["kind"] as? String) == "EndpointSlice"
                    && (($0["metadata"] as? [String: Any])?["labels"] as? [String: String])?[
                        "kubernetes.io/service-name"
                    ]
                        == service.name
            }
            let addresses = ((slice?["endpoints"] as? [[String: Any]]) ?? []).flatMap {
                $0["addresses"] as? [String] ?? []
            }
            #expect(Set(addresses) == Set(truth.endpoints.map(\.ip)))
            let svc = items.first {
                ($0["kind"] as? String) == "Service"
                    && (($0["metadata"] as? [String: Any])?["name"] as? String)
                        == service.name
            }
            #expect((svc?["spec"] as? [String: Any])?["clusterIP"] as? String == service.clusterIP)
        }
    }
}

@Suite("Lab captures: capture points")
struct LabCapturePointTests {
    @Test("every packet's capture point is an interface of the node's map", arguments: LabPaths.scenarios, formats)
    func capturePointsAreKnown(scenario: String, format: CaptureFormat) throws {
        let truth = try Truth.load(scenario)
        let packets = try Tshark.packets(scenario, format, truth: truth)
        #expect(!packets.isEmpty)
        let unknown = Set(packets.map(\.hop)).subtracting(truth.interfaces.values)
        #expect(unknown.isEmpty, "capture points not in the truth's interface map: \(unknown.sorted())")
        // The client's own packets enter the node where the truth says the client is.
        #expect(
            packets.contains { $0.src == truth.client.ip && $0.hop == truth.clientHop },
            "no packet from \(truth.client.ip) on \(truth.clientHop)"
        )
    }

    @Test(
        "SLL2 ifindexes name the right interfaces: sender MACs match the truth's topology",
        arguments: LabPaths.scenarios { $0.interfaces.values.contains("cni0") }  // captured on the node
    )
    func sll2IfindexesMatchTheInterfaceMap(scenario: String) throws {
        let truth = try Truth.load(scenario)
        let topology = try TopologyMACs.load(scenario)
        var checked = 0
        for packet in try Tshark.packets(scenario, .sll2, truth: truth) {
            let outgoing = packet.pktType == 4
            if !outgoing, let podMAC = topology.podMACByVeth[packet.hop] {
                // Received on a pod's host-side veth: sent by that pod.
                #expect(packet.srcMAC == podMAC, "\(packet.hop): frame from \(packet.srcMAC), the pod is \(podMAC)")
                checked += 1
            } else if !outgoing, packet.hop == "eth0", let ext = topology.externalMAC {
                #expect(packet.srcMAC == ext, "eth0: frame from \(packet.srcMAC), the external client is \(ext)")
                checked += 1
            } else if outgoing, packet.hop == "eth0" || packet.hop == "cni0",
                let own = topology.nodeMACByName[packet.hop]
            {
                // Sent by the node's own stack on eth0 / cni0.
                #expect(packet.srcMAC == own, "\(packet.hop): sent from \(packet.srcMAC), the interface is \(own)")
                checked += 1
            }
        }
        #expect(checked > 0)
    }

    @Test("both formats saw the same packets on each capture point", arguments: LabPaths.scenarios)
    func bothFormatsAgree(scenario: String) throws {
        let truth = try Truth.load(scenario)
        func counts(_ format: CaptureFormat) throws -> [String: Int] {
            try Tshark.packets(scenario, format, truth: truth).reduce(into: [:]) { $0[$1.hop, default: 0] += 1 }
        }
        let sll2 = try counts(.sll2)
        #expect(sll2 == (try counts(.pcapng)))
        #expect(!sll2.isEmpty)
    }
}

@Suite("Lab captures: NAT and modes")
struct LabModeTests {
    @Test(
        "ClusterIP: the SYN to the ClusterIP is DNATed to an endpoint, same sequence number",
        arguments: clusterIPConnections,
        formats
    )
    func clusterIPIsDNATed(scenario: String, format: CaptureFormat) throws {
        let truth = try Truth.load(scenario)
        let service = try #require(truth.service)
        let packets = try Tshark.packets(scenario, format, truth: truth)
        let first = try #require(
            packets.first {
                $0.isSyn && $0.hop == truth.clientHop && $0.dst == service.clusterIP && $0.dstPort == service.port
            },
            "no SYN to \(service.clusterIP):\(service.port) on \(truth.clientHop)"
        )
        #expect(first.src == truth.client.ip)
        let endpointIPs = Set(truth.endpoints.map(\.ip))
        let translated = packets.filter {
            $0.isSyn && $0.seq == first.seq && endpointIPs.contains($0.dst) && $0.dstPort == service.targetPort
        }
        #expect(!translated.isEmpty, "the SYN (seq \(first.seq ?? 0)) never appears DNATed to an endpoint")
        #expect(!translated.contains { $0.hop == truth.clientHop }, "DNATed copy on the client's own veth")
        #expect(translated.allSatisfy { $0.src == truth.client.ip }, "pod to ClusterIP keeps the pod's address")
    }

    @Test(
        "DNS: queries to the kube-dns ClusterIP reach the DNS pod DNATed; answers come back from the ClusterIP",
        arguments: scenarios { $0.dns != nil },
        formats
    )
    func dnsIsDNATedToTheDNSPod(scenario: String, format: CaptureFormat) throws {
        let truth = try Truth.load(scenario)
        let dns = try #require(truth.dns)
        let first = try #require(dns.expectedQueries.first)
        let packets = try Tshark.packets(scenario, format, truth: truth)
        let queries = packets.filter { $0.isDNS && !$0.dnsResponse && $0.dnsName == first.name }
        #expect(queries.contains { $0.hop == truth.clientHop && $0.dst == dns.nameserver })
        #expect(queries.contains { $0.hop == dns.server.veth && $0.dst == dns.server.ip })
        if let answer = dns.answer {
            #expect(
                packets.contains {
                    $0.dnsResponse && $0.dnsA.contains(answer) && $0.hop == truth.clientHop && $0.src == dns.nameserver
                },
                "no answer \(answer) from \(dns.nameserver) at \(truth.clientHop)"
            )
        }
    }

    @Test(
        "NodePort: the SYN to nodeIP:nodePort on eth0 is DNATed and MASQUERADEd to the pod",
        arguments: scenarios { $0.mode == "nodeport" },
        formats
    )
    func nodePortIsDNATedAndMasqueraded(scenario: String, format: CaptureFormat) throws {
        let truth = try Truth.load(scenario)
        let service = try #require(truth.service)
        let nodePort = try #require(service.nodePort)
        let packets = try Tshark.packets(scenario, format, truth: truth)
        let first = try #require(
            packets.first {
                $0.isSyn && $0.hop == "eth0" && $0.src == truth.client.ip && $0.dst == truth.node.ip
                    && $0.dstPort == nodePort
            },
            "no SYN to \(truth.node.ip):\(nodePort) on eth0"
        )
        let masqueraded = packets.filter { $0.isSyn && $0.seq == first.seq && $0.src == truth.node.cni0 }
        if truth.expected.verdict.kind == "ok" {
            let endpoint = try #require(truth.servingEndpoint(truth.request))
            #expect(
                masqueraded.contains {
                    $0.hop == endpoint.veth && $0.dst == endpoint.ip && $0.dstPort == endpoint.port
                },
                "no SYN from the node (\(truth.node.cni0)) to \(endpoint.ip):\(endpoint.port) on \(endpoint.veth)"
            )
        } else {
            #expect(masqueraded.isEmpty, "the dropped SYN still shows up translated: \(masqueraded.map(\.hop))")
        }
    }

    @Test(
        "Ingress: the proxy forwards on a new connection with X-Request-ID and X-Forwarded-For",
        arguments: scenarios { $0.mode == "ingress" },
        formats
    )
    func ingressProxiesWithRequestID(scenario: String, format: CaptureFormat) throws {
        let truth = try Truth.load(scenario)
        let ingress = try #require(truth.ingress)
        let log = try #require(ingress.accessLog.first, "nginx logged nothing")
        let endpoint = try #require(truth.servingEndpoint(truth.request))
        let packets = try Tshark.packets(scenario, format, truth: truth)
        let requests = packets.filter { $0.httpURI == truth.request.path }
        // Inbound, as the external client sent it (on eth0).
        let inbound = try #require(requests.first { $0.hop == "eth0" }, "no inbound request on eth0")
        #expect(inbound.header("Host") == ingress.host)
        #expect(inbound.header("X-Request-ID") == truth.request.xRequestID)
        // Outbound, as the proxy sent it, at the serving pod's veth.
        let outbound = try #require(requests.first { $0.hop == endpoint.veth }, "no request at \(endpoint.veth)")
        #expect(outbound.header("X-Request-ID") == log.req_id, "outbound lacks nginx's request id")
        #expect(outbound.header("X-Forwarded-For") == log.remote_addr)
        #expect(truth.request.receivedXRequestID == log.req_id)
        if let id = truth.request.xRequestID { #expect(log.req_id == id, "a client-set X-Request-ID is kept") }
        // The proxy opened its own connection: a different initial sequence number.
        let inboundSyn = try #require(packets.first { $0.isSyn && $0.src == truth.client.ip })
        let outboundSyn = try #require(packets.first { $0.isSyn && $0.dst == endpoint.ip && $0.hop == endpoint.veth })
        #expect(inboundSyn.seq != outboundSyn.seq)
        if ingress.placement == "pod", let controller = ingress.controller.veth {
            // Behind the ingress Service's NodePort the controller sees the node's address (MASQUERADE).
            #expect(requests.contains { $0.hop == controller && $0.src == truth.node.cni0 })
            #expect(log.remote_addr == truth.node.cni0)
        }
    }

    @Test(
        "Direct: the client connects to the pod IP, no ClusterIP on the wire",
        arguments: scenarios { $0.mode == "direct" && $0.expected.verdict.kind == "ok" },
        formats
    )
    func directHasNoTranslation(scenario: String, format: CaptureFormat) throws {
        let truth = try Truth.load(scenario)
        let endpoint = try #require(truth.servingEndpoint(truth.request))
        let syns = try Tshark.packets(scenario, format, truth: truth).filter(\.isSyn)
        #expect(syns.contains { $0.hop == truth.clientHop && $0.dst == endpoint.ip && $0.dstPort == endpoint.port })
        #expect(syns.allSatisfy { $0.dst == endpoint.ip })
    }
}

/// MACs recorded by the lab (`ip -j link` in each namespace), for the SLL2 ifindex check.
struct TopologyMACs {
    var podMACByVeth: [String: String] = [:]
    var nodeMACByName: [String: String] = [:]
    var externalMAC: String?

    static func load(_ scenario: String) throws -> TopologyMACs {
        let object =
            try JSONSerialization.jsonObject(with: Data(contentsOf: Lab.truthFile(scenario))) as? [String: Any] ?? [:]
        var result = TopologyMACs()
        let topology = object["topology"] as? [String: Any] ?? [:]
        for pod in topology["pods"] as? [[String: Any]] ?? [] {
            if let veth = pod["veth"] as? String, let mac = pod["mac"] as? String { result.podMACByVeth[veth] = mac }
        }
        result.externalMAC = (topology["external"] as? [String: Any])?["mac"] as? String
        for link in object["interfaceDetails"] as? [[String: Any]] ?? [] {
            if let name = link["name"] as? String, let mac = link["mac"] as? String { result.nodeMACByName[name] = mac }
        }
        return result
    }
}
