import Foundation
import HoptraceTestSupport
import Testing

// Every committed scenario, one node and two, as recorded by its four capture writers at once (tcpdump -i any,
// hoptrace capture -i any, dumpcap -i IF..., tcpdump -i IF per interface), checked against the truth the lab wrote
// and the writers' own exit counters, with tshark as the oracle. Nothing here runs hoptrace's analysis.

/// One node of one scenario (node nil on one node).
struct NodeCase: Sendable, CustomTestStringConvertible {
    var scenario: String
    var node: String?
    var testDescription: String { node.map { "\(scenario)/\($0)" } ?? scenario }

    static let all: [NodeCase] = Lab.scenarios.flatMap { scenario in
        let nodes = Lab.nodes(scenario)
        return nodes.isEmpty ? [NodeCase(scenario: scenario)] : nodes.map { NodeCase(scenario: scenario, node: $0) }
    }

    var captureSet: LabTruth.CaptureSet? {
        (try? Lab.truth(scenario))?.captureSets.first { $0.node == node }
    }
}

/// The number of packets in a classic pcap file, from its record headers (no dissection: fast); nil if it is not
/// one.
func pcapPacketCount(_ file: URL) throws -> Int? {
    let data = try Data(contentsOf: file)
    guard data.count >= 24 else { return nil }
    let magic = data.prefix(4).withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
    let swapped: Bool
    switch magic {
    case 0xa1b2_c3d4, 0xa1b2_3c4d: swapped = false
    case 0xd4c3_b2a1, 0x4d3c_b2a1: swapped = true
    default: return nil
    }
    var offset = 24
    var count = 0
    while offset + 16 <= data.count {
        let raw = data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self) }
        let captured = Int(swapped ? raw.byteSwapped : raw)
        offset += 16 + captured
        if offset > data.count { return nil }
        count += 1
    }
    return count
}

/// The number of packets in any capture file: pcap by its headers, pcapng by capinfos.
func packetCount(_ file: URL) throws -> Int {
    if let count = try pcapPacketCount(file) { return count }
    let info = try runProcess("/usr/bin/capinfos", ["-c", "-M", file.path])
    let line = info.stdout.split(separator: "\n").first { $0.contains("Number of packets") }
    return Int(line?.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "") ?? 0
}

/// tshark's `-T fields` rows of one file (VXLAN on flannel's port 8472 decoded, no TCP reassembly).
func tsharkFields(_ file: URL, _ filter: String, _ fields: [String]) throws -> [[String]] {
    try Tshark.run(file: file, filter: filter, fields: fields)
}

/// The capture point of a packet in a writer's file: the pcapng interface name, the SLL2 ifindex through the
/// truth's map, or (per-interface files) the file's stem.
func capturePointField(_ writer: Lab.Writer) -> String {
    writer == .tcpdumpAny ? "sll.ifindex" : "frame.interface_name"
}

@Suite("Lab writers: four at once on every node")
struct LabWriterTests {
    @Test("every writer's file exists and holds what the writer said it wrote", arguments: NodeCase.all)
    func everyWriterWrote(nodeCase: NodeCase) throws {
        let set = try #require(nodeCase.captureSet, "no capture set for \(nodeCase)")
        let dir = Lab.directory(nodeCase.scenario, node: nodeCase.node)
        #expect(set.files.contains("links.json"))
        for writer in Lab.Writer.singleFile {
            let file = Lab.file(nodeCase.scenario, writer, node: nodeCase.node)
            let count = try packetCount(file)
            #expect(count > 0, "\(file.path) holds no packet")
            let record = try #require(set.writers.first { $0.file == writer.rawValue }, "\(writer) not recorded")
            #expect(record.exitCode == 0, "\(writer) exit \(String(describing: record.exitCode))")
            switch writer {
            case .tcpdumpAny:
                #expect(record.counts.captured == count)
                #expect(record.counts.droppedByKernel == 0)
                // The kernel hands a packet socket every loopback packet twice (outgoing, then incoming); libpcap
                // drops the outgoing copy, which "received by filter" still counts. Nothing else is missing.
                let lo = set.interfaces.first { $0.value == "lo" }?.key ?? "1"
                let onLoopback = try tsharkFields(file, "sll.ifindex == \(lo)", ["frame.number"]).count
                #expect(
                    (record.counts.receivedByFilter ?? 0) - (record.counts.captured ?? 0) == onLoopback,
                    "\(record.stderr)"
                )
            case .hoptrace:
                #expect(record.counts.written == count)
            case .dumpcap:
                #expect(record.counts.received == count)
                #expect(record.counts.dropped == 0)
            case .perInterface:
                break
            }
        }
        // The per-interface files: each one as its tcpdump reported it, no kernel drops.
        for record in set.writers where record.writer == "tcpdump-if" {
            let file = dir.appendingPathComponent(record.file)
            #expect(FileManager.default.fileExists(atPath: file.path), "missing \(record.file)")
            let count = try packetCount(file)
            #expect(record.counts.captured == count, "\(record.file): tcpdump said \(record.stderr)")
            #expect(record.counts.droppedByKernel == 0)
            if record.interface == "lo" {
                #expect(record.counts.receivedByFilter == 2 * count, "lo: the outgoing copy of each packet dropped")
            } else {
                // A burst can arrive while the promiscuous writers exit (counted, not written); never the reverse.
                #expect((record.counts.receivedByFilter ?? 0) >= count)
            }
        }
    }

    @Test(
        "the per-interface files, dumpcap's interfaces and the truth's map are the interfaces of links.json",
        arguments: NodeCase.all
    )
    func interfacesAreTheLinks(nodeCase: NodeCase) throws {
        let links = Set(try Lab.linkNames(nodeCase.scenario, node: nodeCase.node))
        #expect(!links.isEmpty)
        #expect(Set(Lab.interfaceFiles(nodeCase.scenario, node: nodeCase.node).keys) == links)
        let set = try #require(nodeCase.captureSet)
        #expect(Set(set.interfaces.values) == links)
        let blocks = try runProcess(
            "/usr/bin/capinfos",
            ["-I", Lab.file(nodeCase.scenario, .dumpcap, node: nodeCase.node).path]
        )
        let names = blocks.stdout.split(separator: "\n").compactMap { line -> String? in
            let text = line.trimmingCharacters(in: .whitespaces)
            return text.hasPrefix("Name = ") ? String(text.dropFirst("Name = ".count)) : nil
        }
        #expect(Set(names) == links, "dumpcap's interface blocks: \(names)")
        // Every interface on which hoptrace capture saw the scenario's IP traffic (a few packets at least: a writer
        // that stops a moment earlier may miss a lone ARP or a last ACK) has a non-empty per-interface file.
        let sightings = try tsharkFields(
            Lab.file(nodeCase.scenario, .hoptrace, node: nodeCase.node),
            "ip",
            ["frame.interface_name"]
        ).compactMap(\.first)
        let seen = Dictionary(sightings.map { ($0, 1) }, uniquingKeysWith: +)
        #expect(Set(seen.keys).isSubset(of: links), "hoptrace capture names \(Set(seen.keys).subtracting(links))")
        for (name, count) in seen where count >= 5 {
            let file = try #require(Lab.interfaceFiles(nodeCase.scenario, node: nodeCase.node)[name])
            #expect(try packetCount(file) > 0, "if/\(name).pcap is empty, hoptrace saw \(count) IP packets there")
        }
    }

    @Test("dumpcap's pcapng has no direction flags; hoptrace's has one on every packet", arguments: NodeCase.all)
    func directionFlags(nodeCase: NodeCase) throws {
        let dumpcap = try tsharkFields(
            Lab.file(nodeCase.scenario, .dumpcap, node: nodeCase.node),
            "",
            ["frame.number", "frame.packet_flags_direction"]
        )
        #expect(!dumpcap.isEmpty)
        #expect(dumpcap.allSatisfy { $0.count < 2 || $0[1].isEmpty }, "dumpcap wrote direction flags")
        let hoptrace = try tsharkFields(
            Lab.file(nodeCase.scenario, .hoptrace, node: nodeCase.node),
            "",
            ["frame.number", "frame.packet_flags_direction"]
        )
        #expect(!hoptrace.isEmpty)
        // 1 inbound, 2 outbound.
        let flags = hoptrace.map { $0.count > 1 ? $0[1] : "" }
        #expect(flags.allSatisfy { ["0x00000001", "0x00000002", "0x1", "0x2", "1", "2"].contains($0) })
        #expect(Set(flags).count == 2, "both directions")
    }

    @Test("hoptrace capture's section header names the host it ran on", arguments: NodeCase.all)
    func sectionHeaderHostname(nodeCase: NodeCase) throws {
        let set = try #require(nodeCase.captureSet)
        let hostname = try #require(set.hostname)
        let info = try runProcess(
            "/usr/bin/capinfos",
            [Lab.file(nodeCase.scenario, .hoptrace, node: nodeCase.node).path]
        )
        #expect(info.stdout.contains("host \(hostname)"), "\(info.stdout.suffix(300))")
        if let node = nodeCase.node { #expect(hostname == node) }
    }
}

@Suite("Lab writers: the faulty request and the busy background")
struct LabRequestTests {
    /// The capture points (file, tshark filter naming the point) where `hop` (`node/interface` or `interface`) is
    /// found in each writer's files.
    static func points(_ scenario: String, hop: String) throws -> [(file: URL, filter: String, label: String)] {
        let truth = try Lab.truth(scenario)
        let parts = hop.split(separator: "/", maxSplits: 1).map(String.init)
        let node = truth.isMultiNode ? parts.first : nil
        let name = truth.isMultiNode ? (parts.count > 1 ? parts[1] : "") : hop
        let set = try #require(truth.captureSets.first { $0.node == node }, "no node \(String(describing: node))")
        let ifindex = try #require(set.interfaces.first { $0.value == name }?.key, "no interface \(name)")
        var out: [(URL, String, String)] = [
            (Lab.file(scenario, .tcpdumpAny, node: node), "sll.ifindex == \(ifindex)", "any.sll2.pcap"),
            (Lab.file(scenario, .hoptrace, node: node), "frame.interface_name == \"\(name)\"", "hoptrace.pcapng"),
            (Lab.file(scenario, .dumpcap, node: node), "frame.interface_name == \"\(name)\"", "dumpcap.pcapng"),
        ]
        if let file = Lab.interfaceFiles(scenario, node: node)[name] { out.append((file, "", "if/\(name).pcap")) }
        return out
    }

    static let withRequest = Lab.scenarios.filter { (try? Lab.truth($0).faultyRequest?.xRequestID) != nil }

    @Test(
        "the faulty request's X-Request-ID is on the wire where the truth says it went, in every writer",
        arguments: withRequest
    )
    func requestIDWhereTheTruthSaysIt(scenario: String) throws {
        let truth = try Lab.truth(scenario)
        let faulty = try #require(truth.faultyRequest)
        let id = try #require(faulty.xRequestID)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: Lab.truthFile(scenario))) as? [String: Any]
        )
        let client = object["client"] as? [String: Any] ?? [:]
        // The client's first capture point: its veth (or lo), or the node's NIC for the external client.
        let clientHop: String = {
            let veth = client["veth"] as? String ?? (client["via"] as? String ?? "eth0")
            return truth.isMultiNode ? "\(client["node"] as? String ?? "node-a")/\(veth)" : veth
        }()
        // Delivered to the server: the request reached the endpoint's veth.
        // The endpoint that served the request (its own log), else the only one.
        let endpoints = (object["endpoints"] as? [[String: Any]]) ?? []
        let servedBy = (object["request"] as? [String: Any])?["servedBy"] as? String
        let endpoint = endpoints.first { ($0["name"] as? String) == servedBy } ?? endpoints.first
        let endpointHop = endpoint.flatMap { e -> String? in
            guard let veth = e["veth"] as? String else { return nil }
            return truth.isMultiNode ? "\(e["node"] as? String ?? "")/\(veth)" : veth
        }
        let sent = !(truth.phase == "connect" || truth.phase == "dns" || truth.verdict == "rejected")
        let delivered =
            sent
            && (["ok", "slow", "no-response"].contains(truth.verdict)
                || (truth.verdict == "reset" && truth.phase == "response"))
        // An ID the client did not set (ingress-nginx's $request_id) exists from the proxy on, not at the client.
        let setByClient = (object["request"] as? [String: Any])?["xRequestID"] is String
        var hops: [String] = []
        if sent && setByClient { hops.append(clientHop) }
        if delivered, let endpointHop { hops.append(endpointHop) }
        for hop in hops {
            for point in try Self.points(scenario, hop: hop) {
                let filter = ["http.request.line contains \"X-Request-ID: \(id)\"", point.filter].filter {
                    !$0.isEmpty
                }.joined(separator: " && ")
                #expect(
                    try !tsharkFields(point.file, filter, ["frame.number"]).isEmpty,
                    "\(id) not in \(point.label) at \(hop)"
                )
            }
        }
        if !sent {
            let file = Lab.file(scenario, .tcpdumpAny, node: truth.isMultiNode ? "node-a" : nil)
            #expect(try tsharkFields(file, "http.request.line contains \"\(id)\"", ["frame.number"]).isEmpty)
        }
    }

    @Test(
        "every background request got a 200 on the wire, as the load client's log says",
        arguments: Lab.scenarios
    )
    func backgroundAnswered(scenario: String) throws {
        let truth = try Lab.truth(scenario)
        let background = try #require(truth.background)
        #expect(background.httpRequests >= 30)
        #expect(background.allSucceeded && background.httpSucceeded == background.httpRequests)
        #expect(background.newConnections > 0 && background.keepAliveRequests > 0)
        if let lookups = background.dnsLookups {
            #expect(lookups.count >= 10 && lookups.succeeded == lookups.count)
        }
        // Per load pod, at its veth: one request line per background request, one 200 back per request.
        var requests = 0
        var answers = 0
        let nodeCaptures = truth.captureSets.filter { $0.interfaces.values.contains { $0.hasPrefix("vethload") } }
        // (The loopback scenario records inside a pod: the load pods' veths are not there.)
        try #require(!nodeCaptures.isEmpty || scenario == "loopback", "no capture holds the load pods' veths")
        if nodeCaptures.isEmpty { return }
        for set in nodeCaptures {
            let file = Lab.file(scenario, .tcpdumpAny, node: set.node)
            for ip in background.podIPs {
                let veths = set.interfaces.filter { $0.value.hasPrefix("vethload") }.map(\.key)
                for ifindex in veths {
                    requests += try tsharkFields(
                        file,
                        "sll.ifindex == \(ifindex) && ip.src == \(ip) && http.request.line contains "
                            + "\"X-Request-ID: \(background.xRequestIDPrefix)\"",
                        ["frame.number"]
                    ).count
                    answers += try tsharkFields(
                        file,
                        "sll.ifindex == \(ifindex) && ip.dst == \(ip) && http.response.code == 200",
                        ["frame.number"]
                    ).count
                }
            }
        }
        #expect(requests == background.httpRequests, "\(requests) background requests on the wire")
        #expect(answers == background.httpRequests, "\(answers) answers on the wire")
    }
}

@Suite("Lab writers: scenario facts on the wire")
struct LabWireFactTests {
    @Test(
        "headers-only: every packet of any.s96.sll2.pcap is cut at 96 bytes, payload lost",
        arguments: Lab.scenarios.filter {
            FileManager.default.fileExists(atPath: Lab.headersOnlyFile($0).path)
        }
    )
    func headersOnly(scenario: String) throws {
        let rows = try tsharkFields(Lab.headersOnlyFile(scenario), "", ["frame.cap_len", "frame.len"])
        #expect(!rows.isEmpty)
        let captured = rows.compactMap { Int($0.first ?? "") }
        let lengths = rows.compactMap { $0.count > 1 ? Int($0[1]) : nil }
        #expect(captured.allSatisfy { $0 <= 96 })
        #expect(lengths.contains { $0 > 96 }, "some packets were longer than what was kept")
        // The full capture of the same scenario holds the slow request's headers; the cut one holds no HTTP body.
        let truth = try Lab.truth(scenario)
        let id = try #require(truth.faultyRequest?.xRequestID)
        #expect(
            try tsharkFields(Lab.headersOnlyFile(scenario), "http.request.line contains \"\(id)\"", ["frame.number"])
                .isEmpty
        )
        let record = try #require(truth.captureSets.first?.writers.first { $0.file == "any.s96.sll2.pcap" })
        #expect(record.snaplen == 96)
    }

    @Test(
        "two nodes: node-a's eth0 carries VXLAN (udp 8472) with the inner request or SYN",
        arguments: Lab.scenarios.filter { !Lab.nodes($0).isEmpty }
    )
    func vxlanOnTheUnderlay(scenario: String) throws {
        let truth = try Lab.truth(scenario)
        #expect(truth.nodes == ["node-a", "node-b"])
        let faulty = try #require(truth.faultyRequest)
        let id = try #require(faulty.xRequestID)
        let eth0 = try #require(Lab.interfaceFiles(scenario, node: "node-a")["eth0"])
        let inner =
            truth.phase == "connect"
            ? "tcp.flags.syn == 1 && tcp.flags.ack == 0" : "http.request.line contains \"\(id)\""
        let rows = try tsharkFields(
            eth0,
            "udp.dstport == 8472 && vxlan && \(inner)",
            ["vxlan.vni", "ip.src", "ip.dst"]
        )
        #expect(!rows.isEmpty, "no VXLAN packet carrying the request on node-a/eth0")
        #expect(rows.allSatisfy { $0.first == "1" }, "flannel's VNI is 1")
        // Outer addresses are the nodes'.
        #expect(
            rows.contains { ($0.count > 2) && $0[1].hasPrefix("192.168.60.11") && $0[2].hasPrefix("192.168.60.12") }
        )
        // And the underlay link carries only encapsulated pod traffic and ARP between the nodes.
        let bare = try tsharkFields(eth0, "ip && !vxlan && !icmp", ["ip.src"])
        #expect(bare.isEmpty, "unencapsulated IP on the underlay: \(bare.prefix(3))")
    }

    @Test(
        "two nodes: every file of a node takes `editcap -t` (the tests' clock shifts) and moves by exactly that",
        arguments: Lab.scenarios.filter { $0 == "xnode-ok" }
    )
    func editcapShiftsEveryFile(scenario: String) throws {
        let files =
            [Lab.Writer.tcpdumpAny, .hoptrace, .dumpcap].map { Lab.file(scenario, $0, node: "node-b") }
            + ["eth0", "flannel.1"].compactMap { Lab.interfaceFiles(scenario, node: "node-b")[$0] }
        for file in files {
            let shifted = FileManager.default.temporaryDirectory
                .appendingPathComponent("hoptrace-lab-shift-\(getpid())-\(file.lastPathComponent)")
            defer { try? FileManager.default.removeItem(at: shifted) }
            let edit = try runProcess("/usr/bin/editcap", ["-t", "-0.025", file.path, shifted.path])
            #expect(edit.status == 0, "\(edit.stderr)")
            let before = try tsharkFields(file, "", ["frame.time_epoch"]).compactMap { $0.first.flatMap(Double.init) }
            let after = try tsharkFields(shifted, "", ["frame.time_epoch"]).compactMap { $0.first.flatMap(Double.init) }
            #expect(before.count == after.count && !before.isEmpty)
            #expect(zip(before, after).allSatisfy { abs($0 - $1 - 0.025) < 2e-6 }, "\(file.lastPathComponent)")
        }
    }

    @Test(
        "loopback: on lo every writer records each packet once (kernel 6.18: no Out copy), as incoming to the host",
        arguments: Lab.scenarios.filter { $0 == "loopback" }
    )
    func loopbackTappedOnce(scenario: String) throws {
        let truth = try Lab.truth(scenario)
        let set = try #require(truth.captureSets.first)
        let lo = try #require(set.interfaces.first { $0.value == "lo" }?.key)
        let fields = ["tcp.seq_raw", "tcp.ack_raw", "tcp.len", "ip.id"]
        let any = try tsharkFields(
            Lab.file(scenario, .tcpdumpAny),
            "sll.ifindex == \(lo) && tcp",
            ["sll.pkttype"] + fields
        )
        #expect(any.count >= 10, "\(any.count) packets on lo")
        #expect(any.allSatisfy { $0.first == "0" }, "packet types on lo: \(Set(any.compactMap(\.first)))")
        let keys = any.map { Array($0.dropFirst()) }
        #expect(Set(keys.map { $0.joined(separator: " ") }).count == keys.count, "a packet recorded twice")
        // The same packets, once each, in the other writers.
        for (file, filter) in [
            (Lab.file(scenario, .hoptrace), "frame.interface_name == \"lo\" && tcp"),
            (Lab.file(scenario, .dumpcap), "frame.interface_name == \"lo\" && tcp"),
            (try #require(Lab.interfaceFiles(scenario)["lo"]), "tcp"),
        ] {
            #expect(try tsharkFields(file, filter, fields) == keys, "\(file.lastPathComponent)")
        }
    }
}

@Suite("Lab scenarios of issues 14 and 15 on the wire")
struct LabNewScenarioTests {
    private static let formats = CaptureFormat.allCases

    @Test(
        "hairpin on: the pod's SYN to its own Service comes back out of its veth DNATed and MASQUERADEd to cni0",
        arguments: LabPaths.scenarios { $0.scenario == "hairpin-on" },
        formats
    )
    func hairpinOn(scenario: String, format: CaptureFormat) throws {
        let truth = try Truth.load(scenario)
        let service = try #require(truth.service)
        let endpoint = try #require(truth.endpoints.first)
        #expect(truth.isHairpin)
        let syns = try Tshark.packets(scenario, format, truth: truth).filter(\.isSyn)
        let first = try #require(syns.first { $0.hop == endpoint.veth && $0.dst == service.clusterIP })
        #expect(
            syns.contains {
                $0.hop == endpoint.veth && $0.seq == first.seq && $0.src == truth.node.cni0 && $0.dst == endpoint.ip
                    && $0.dstPort == endpoint.port
            },
            "no hairpinned SYN from \(truth.node.cni0) back on \(endpoint.veth)"
        )
        #expect(truth.clientResult.exitCode == 0)
    }

    @Test(
        "hairpin off: the DNATed SYN reaches cni0 and never goes back out of the pod's veth",
        arguments: LabPaths.scenarios { $0.scenario == "hairpin-off" },
        formats
    )
    func hairpinOff(scenario: String, format: CaptureFormat) throws {
        let truth = try Truth.load(scenario)
        let service = try #require(truth.service)
        let endpoint = try #require(truth.endpoints.first)
        let fault = try #require(truth.fault)
        let syns = try Tshark.packets(scenario, format, truth: truth).filter(\.isSyn)
        let sent = syns.filter { $0.hop == endpoint.veth && $0.dst == service.clusterIP }
        #expect(sent.count >= 3, "retransmitted until curl's connect timeout")
        #expect(syns.contains { $0.hop == fault.hop && $0.dst == endpoint.ip }, "the DNATed SYN on \(fault.hop)")
        #expect(!syns.contains { $0.hop == endpoint.veth && $0.dst != service.clusterIP }, "hairpinned anyway")
        #expect(truth.clientResult.exitCode == 28)
    }

    @Test(
        "reset mid-response: the pod sends part of the body, then RST; the client gets the RST from the ClusterIP",
        arguments: LabPaths.scenarios { $0.fault?.kind == "reset-mid-response" },
        formats
    )
    func resetMidResponse(scenario: String, format: CaptureFormat) throws {
        let cut = try CutResponse(scenario, format, by: \.isRst)
        #expect(cut.before > 1000 && cut.before < 20_000, "\(cut.before) bytes before the RST")
        #expect(cut.atClient)
        #expect([18, 56].contains(cut.truth.clientResult.exitCode))
    }

    @Test(
        "truncated response: the pod sends part of the body, then a FIN and no RST; curl reports the bytes missing",
        arguments: LabPaths.scenarios { $0.fault?.kind == "truncated-response" },
        formats
    )
    func truncatedResponse(scenario: String, format: CaptureFormat) throws {
        let cut = try CutResponse(scenario, format, by: \.isFin)
        #expect(cut.before > 4000 && cut.before < 20_000, "\(cut.before) bytes before the FIN")
        #expect(!cut.packets.contains { $0.isRst }, "an RST: this scenario closes with a FIN")
        #expect(cut.atClient)
        #expect(cut.truth.clientResult.exitCode == 18)
    }

    /// A response the pod cut short with `end` (its RST or FIN): the body bytes the pod sent before it on its veth,
    /// and whether the client's hop saw the same end come from the ClusterIP.
    struct CutResponse {
        let truth: Truth
        let packets: [WirePacket]
        let before: Int
        let atClient: Bool

        init(_ scenario: String, _ format: CaptureFormat, by end: (WirePacket) -> Bool) throws {
            truth = try Truth.load(scenario)
            let service = try #require(truth.service)
            let endpoint = try #require(truth.endpoints.first)
            packets = try Tshark.packets(scenario, format, truth: truth)
            let fromPod = packets.filter { $0.hop == endpoint.veth && $0.src == endpoint.ip }
            let ends = fromPod.filter { end($0) }
            let last = try #require(ends.first, "no end of the response from the pod on \(endpoint.veth)")
            before = fromPod.filter { $0.time <= last.time }.reduce(0) { $0 + $1.tcpLen }
            let clientHop = truth.clientHop
            atClient = packets.contains { end($0) && $0.hop == clientHop && $0.src == service.clusterIP }
        }
    }

    @Test(
        "accept-queue overflow: SYN-ACK retransmitted, the request never ACKed and retransmitted, then the RST",
        arguments: LabPaths.scenarios { $0.fault?.kind == "accept-queue-overflow" },
        formats
    )
    func acceptQueueOverflow(scenario: String, format: CaptureFormat) throws {
        let truth = try Truth.load(scenario)
        let endpoint = try #require(truth.endpoints.first)
        let port = try #require(truth.request.clientTiming?.local_port, "no overflowed connection in the truth")
        let packets = try Tshark.packets(scenario, format, truth: truth).filter {
            $0.hop == endpoint.veth && ($0.srcPort == port || $0.dstPort == port)
        }
        let synAcks = packets.filter(\.isSynAck)
        #expect(synAcks.count >= 2 && Set(synAcks.map(\.seq)).count == 1, "SYN-ACK retransmitted")
        let data = packets.filter { $0.srcPort == port && $0.tcpLen > 0 }
        #expect(data.count >= 3 && Set(data.map(\.seq)).count == 1, "the request retransmitted")
        let reset = try #require(packets.first { $0.isRst && $0.src == endpoint.ip }, "no RST from the listener")
        #expect(data.contains { $0.time < reset.time })
        // The server never acknowledged a byte of the request: every packet it sent is a SYN-ACK or the RST.
        #expect(packets.filter { $0.src == endpoint.ip }.allSatisfy { $0.isSynAck || $0.isRst })
        #expect(truth.expected.verdict.hops == [endpoint.veth])
    }
}
