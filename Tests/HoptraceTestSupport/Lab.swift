import Foundation

/// The lab's captures (`captures/`, written by `tools/lab/lab.py`): one directory per scenario holding, per node,
/// the files of four capture writers that recorded the scenario at the same time, `links.json` (`ip -j link` of the
/// node), and at the scenario level `truth.json` (what the lab did and saw) and `k8s.json` (the cluster state).
///
///     captures/<scenario>/{any.sll2.pcap, hoptrace.pcapng, dumpcap.pcapng, if/<ifname>.pcap, links.json,
///                          truth.json, k8s.json}                              one node
///     captures/<scenario>/<node>/{any.sll2.pcap, hoptrace.pcapng, dumpcap.pcapng, if/<ifname>.pcap, links.json}
///     captures/<scenario>/{truth.json, k8s.json}                              two nodes (node-a, node-b)
public enum Lab {
    /// The four writers (and the headers-only extra) of every node of every scenario.
    public enum Writer: String, CaseIterable, Sendable, CustomStringConvertible {
        /// `tcpdump -i any -y LINUX_SLL2`: ifindex and direction per packet, no interface names.
        case tcpdumpAny = "any.sll2.pcap"
        /// `hoptrace capture -i any`: pcapng, named interface blocks, direction flags.
        case hoptrace = "hoptrace.pcapng"
        /// `dumpcap -i IF ...`: pcapng, Ethernet interface blocks, no direction flags.
        case dumpcap = "dumpcap.pcapng"
        /// `tcpdump -i IF -w if/IF.pcap`, one plain pcap per interface: no name inside, no direction.
        case perInterface = "if"

        public var description: String { rawValue }

        /// The writers whose output is one file.
        public static let singleFile: [Writer] = [.tcpdumpAny, .hoptrace, .dumpcap]
    }

    /// `captures/`, or `$HOPTRACE_CAPTURES` when set.
    public static var root: URL {
        if let dir = ProcessInfo.processInfo.environment["HOPTRACE_CAPTURES"], !dir.isEmpty {
            return URL(fileURLWithPath: dir)
        }
        return Repository.captures
    }

    /// Every scenario with a truth file, sorted.
    public static var scenarios: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.filter {
            FileManager.default.fileExists(atPath: root.appendingPathComponent("\($0)/truth.json").path)
        }.sorted()
    }

    /// The seventeen scenarios of the first lab (one node, one SLL2 and one pcapng file each). The tests that
    /// assert hoptrace's own verdicts on the lab were written for these and still read only them (their SLL2 and
    /// hoptrace pcapng files); the later scenarios and writers are the lab's own tests' (HoptraceLabTests).
    public static let legacyScenarios: [String] = [
        "clusterip-congested-hop", "clusterip-drop", "clusterip-lb", "clusterip-no-response", "clusterip-noendpoints",
        "clusterip-ok", "clusterip-reset", "clusterip-slow-server", "direct-ok", "dns-nxdomain", "dns-timeout",
        "ingress-ok", "ingress-slow-server", "ingress-via-nodeport", "keepalive-many", "nodeport-drop", "nodeport-ok",
    ].filter { scenarios.contains($0) }

    /// The scenario's directory, or its node's subdirectory.
    public static func directory(_ scenario: String, node: String? = nil) -> URL {
        let base = root.appendingPathComponent(scenario)
        return node.map { base.appendingPathComponent($0) } ?? base
    }

    /// The nodes of a two-node scenario (its subdirectories with captures), or [] for one node.
    public static func nodes(_ scenario: String) -> [String] {
        let dir = directory(scenario)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter {
            FileManager.default.fileExists(atPath: dir.appendingPathComponent("\($0)/links.json").path)
        }.sorted()
    }

    /// A writer's file (for `.perInterface`, the `if/` directory).
    public static func file(_ scenario: String, _ writer: Writer, node: String? = nil) -> URL {
        directory(scenario, node: node).appendingPathComponent(writer.rawValue)
    }

    /// `tcpdump -i any -s 96` of the headers-only scenario, when there is one.
    public static func headersOnlyFile(_ scenario: String, node: String? = nil) -> URL {
        directory(scenario, node: node).appendingPathComponent("any.s96.sll2.pcap")
    }

    /// The per-interface files, by interface name (the file's stem).
    public static func interfaceFiles(_ scenario: String, node: String? = nil) -> [String: URL] {
        let dir = file(scenario, .perInterface, node: node)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        var files: [String: URL] = [:]
        for name in names where name.hasSuffix(".pcap") {
            files[String(name.dropLast(".pcap".count))] = dir.appendingPathComponent(name)
        }
        return files
    }

    public static func truthFile(_ scenario: String) -> URL {
        directory(scenario).appendingPathComponent("truth.json")
    }

    public static func clusterStateFile(_ scenario: String) -> URL {
        directory(scenario).appendingPathComponent("k8s.json")
    }

    public static func linksFile(_ scenario: String, node: String? = nil) -> URL {
        directory(scenario, node: node).appendingPathComponent("links.json")
    }

    /// The interface names `links.json` lists (`ip -j link` of the node).
    public static func linkNames(_ scenario: String, node: String? = nil) throws -> [String] {
        let data = try Data(contentsOf: linksFile(scenario, node: node))
        let links = try JSONSerialization.jsonObject(with: data) as? [[String: Any]] ?? []
        return links.compactMap { $0["ifname"] as? String }
    }

    /// A file of a first-lab scenario by its old flat name in `captures/`: `<scenario>.sll2.pcap` (tcpdump -i any),
    /// `<scenario>.pcapng` (hoptrace capture), `<scenario>.truth.json`, `<scenario>.k8s.json`.
    public static func legacyFile(_ flatName: String) -> URL {
        for (suffix, writer) in [(".sll2.pcap", Writer.tcpdumpAny), (".pcapng", .hoptrace)]
        where flatName.hasSuffix(suffix) {
            return file(String(flatName.dropLast(suffix.count)), writer)
        }
        if flatName.hasSuffix(".truth.json") { return truthFile(String(flatName.dropLast(".truth.json".count))) }
        if flatName.hasSuffix(".k8s.json") { return clusterStateFile(String(flatName.dropLast(".k8s.json".count))) }
        return root.appendingPathComponent(flatName)
    }

    /// A copy of a capture of `scenario` without the healthy background (every packet to or from the truth's
    /// `background.podIPs` left out, by tshark), for tests written for a capture holding only the scenario's own
    /// request. Made once per test process, in the temporary directory; the capture itself when there is no
    /// background or no tshark.
    public static func withoutBackground(_ capture: URL, scenario: String) throws -> URL {
        let ips = (try? truth(scenario))?.background?.podIPs ?? []
        guard !ips.isEmpty,
            let tshark = ["/usr/bin/tshark", "/usr/local/bin/tshark"].first(where: {
                FileManager.default.isExecutableFile(atPath: $0)
            })
        else { return capture }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hoptrace-lab-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let relative = capture.path.replacingOccurrences(of: root.path + "/", with: "")
        let out = dir.appendingPathComponent(relative.replacingOccurrences(of: "/", with: "_"))
        if FileManager.default.fileExists(atPath: out.path) { return out }
        let filter = "!(" + ips.map { "ip.addr == \($0)" }.joined(separator: " || ") + ")"
        let format = capture.pathExtension == "pcapng" ? "pcapng" : "pcap"
        // Tests run in parallel: each writes its own partial file and renames it into place (atomic; a file another
        // test already returned is replaced by an identical one, never removed).
        let partial = out.appendingPathExtension("\(UUID().uuidString).part")
        let result = try Command.run(tshark, ["-r", capture.path, "-Y", filter, "-F", format, "-w", partial.path])
        guard result.status == 0, rename(partial.path, out.path) == 0 else {
            try? FileManager.default.removeItem(at: partial)
            throw CocoaError(.fileWriteUnknown, userInfo: ["tshark": result.stderr])
        }
        return out
    }

    /// The truth file, decoded.
    public static func truth(_ scenario: String) throws -> LabTruth {
        try JSONDecoder().decode(LabTruth.self, from: Data(contentsOf: truthFile(scenario)))
    }
}

/// The parts of a lab truth file (`captures/<scenario>/truth.json`) that are the same for one and two nodes.
public struct LabTruth: Decodable, Sendable {
    /// Where the verdict is, as interface names (`node/interface` on two nodes).
    public struct Location: Decodable, Sendable, Equatable {
        /// One interface, or several (load balancing over two pods).
        public var hops: [String]
        public var nextHop: String?
        /// For slow: request | response | server.
        public var part: String?
        /// For slow: `"A → B"` or `server`.
        public var segment: String?

        enum CodingKeys: String, CodingKey { case hop, nextHop, part, segment }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            if let one = try? c.decode(String.self, forKey: .hop) {
                hops = [one]
            } else {
                hops = try c.decodeIfPresent([String].self, forKey: .hop) ?? []
            }
            nextHop = try c.decodeIfPresent(String.self, forKey: .nextHop)
            part = try c.decodeIfPresent(String.self, forKey: .part)
            segment = try c.decodeIfPresent(String.self, forKey: .segment)
        }
    }

    /// The request the scenario is about, as the client made it.
    public struct FaultyRequest: Decodable, Sendable {
        public var xRequestID: String?
        public var clientIP: String
        public var clientPorts: [Int]
        public var start: Double
        public var end: Double
    }

    public struct Background: Decodable, Sendable {
        public struct Lookups: Decodable, Sendable {
            public var name: String?
            public var count: Int
            public var succeeded: Int
        }
        public struct Request: Decodable, Sendable {
            public var xRequestID: String
            public var target: String
            public var kind: String
            public var status: Int?
            public var localPort: Int?
        }
        /// The load pods' addresses: every packet to or from them is background.
        public var podIPs: [String]
        public var xRequestIDPrefix: String
        public var httpRequests: Int
        public var httpSucceeded: Int
        public var allSucceeded: Bool
        public var newConnections: Int
        public var keepAliveRequests: Int
        public var requests: [Request]
        public var dnsLookups: Lookups?
    }

    /// What one writer recorded and printed on exit.
    public struct WriterRecord: Decodable, Sendable {
        public struct Counts: Decodable, Sendable {
            public var captured: Int?
            public var receivedByFilter: Int?
            public var droppedByKernel: Int?
            public var written: Int?
            public var received: Int?
            public var dropped: Int?
        }
        public var writer: String
        public var file: String
        public var interface: String?
        public var exitCode: Int?
        public var bytes: Int?
        public var snaplen: Int?
        public var counts: Counts
        public var stderr: [String]
    }

    /// One node's captures: its name (nil on one node), interfaces by ifindex, files and writers.
    public struct CaptureSet: Decodable, Sendable {
        public var node: String?
        public var hostname: String?
        public var interfaces: [String: String]
        public var files: [String]
        public var writers: [WriterRecord]
    }

    public var scenario: String
    public var mode: String
    public var verdict: String
    public var location: Location
    public var phase: String?
    public var nodes: [String]
    public var faultyRequest: FaultyRequest?
    public var background: Background?
    /// One per node, in the order of `nodes`.
    public var captureSets: [CaptureSet]

    enum CodingKeys: String, CodingKey {
        case scenario, mode, verdict, location, phase, nodes, faultyRequest, background, captureSets, capture
        case interfaces
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        scenario = try c.decode(String.self, forKey: .scenario)
        mode = try c.decode(String.self, forKey: .mode)
        verdict = try c.decode(String.self, forKey: .verdict)
        location = try c.decode(Location.self, forKey: .location)
        phase = try c.decodeIfPresent(String.self, forKey: .phase)
        nodes = try c.decodeIfPresent([String].self, forKey: .nodes) ?? []
        faultyRequest = try c.decodeIfPresent(FaultyRequest.self, forKey: .faultyRequest)
        background = try c.decodeIfPresent(Background.self, forKey: .background)
        if let sets = try c.decodeIfPresent([CaptureSet].self, forKey: .captureSets) {
            captureSets = sets
        } else {
            // One node: the capture block of the truth file, named by nothing (the scenario directory).
            var one = try c.decode(CaptureSet.self, forKey: .capture)
            one.node = nil
            one.interfaces = try c.decode([String: String].self, forKey: .interfaces)
            captureSets = [one]
        }
    }

    /// Whether the scenario ran on two nodes (captures in per-node subdirectories).
    public var isMultiNode: Bool { captureSets.count > 1 }
}

extension LabTruth.CaptureSet {
    enum Keys: String, CodingKey { case node, hostname, interfaces, files, writers }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        node = try c.decodeIfPresent(String.self, forKey: .node)
        hostname = try c.decodeIfPresent(String.self, forKey: .hostname)
        interfaces = try c.decodeIfPresent([String: String].self, forKey: .interfaces) ?? [:]
        files = try c.decode([String].self, forKey: .files)
        writers = try c.decode([LabTruth.WriterRecord].self, forKey: .writers)
    }
}
