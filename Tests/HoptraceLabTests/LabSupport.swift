import Foundation
import HoptraceTestSupport
import Testing

// Support for the lab tests: where the bundled captures are (HoptraceTestSupport's `Lab`), the truth files the lab
// writes (tools/lab/lab.py), and tshark as the oracle.

/// The two `-i any` capture files of every single-node scenario that the first lab tests were written for.
enum CaptureFormat: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// `tcpdump -i any -y LINUX_SLL2`: ifindex and packet type per packet, no interface names.
    case sll2
    /// `hoptrace capture -i any`: one interface block per interface, names included.
    case pcapng

    var testDescription: String { rawValue }

    var writer: Lab.Writer { self == .sll2 ? .tcpdumpAny : .hoptrace }

    func file(_ scenario: String) -> URL { Lab.file(scenario, writer) }
}

/// Paths found from this file: the package root, `captures/`, `tools/lab/lab.py`.
enum LabPaths {
    static let packageRoot: URL = Repository.root

    static let captures: URL = Lab.root

    static let labScript = packageRoot.appendingPathComponent("tools/lab/lab.py")

    /// The single-node scenarios with a committed truth file, sorted (two-node ones: `Lab.scenarios`).
    static let scenarios: [String] = Lab.scenarios.filter { Lab.nodes($0).isEmpty }

    /// The two-node scenarios.
    static let multiNodeScenarios: [String] = Lab.scenarios.filter { !Lab.nodes($0).isEmpty }

    /// Committed single-node scenarios whose truth satisfies `predicate`.
    static func scenarios(where predicate: (Truth) -> Bool) -> [String] {
        scenarios.filter { name in (try? Truth.load(name)).map(predicate) ?? false }
    }
}

// MARK: - The truth file (what the lab did), decoded with only the fields the tests read.

struct Truth: Decodable, Sendable {
    struct Request: Decodable, Sendable {
        static let none = Request(
            index: 0,
            method: "",
            path: "",
            host: "",
            xRequestID: nil,
            receivedXRequestID: nil,
            servedBy: nil,
            serverDelayMs: nil,
            clientTiming: nil
        )
        let index: Int
        let method: String
        let path: String
        let host: String
        let xRequestID: String?
        let receivedXRequestID: String?
        let servedBy: String?
        let serverDelayMs: Int?
        let clientTiming: CurlTiming?
    }
    struct CurlTiming: Decodable, Sendable {
        let exitcode: Int?
        let num_connects: Int?
        let local_port: Int?
        let time_pretransfer: Double?
        let time_starttransfer: Double?
        let time_total: Double?
    }
    struct Party: Decodable, Sendable {
        let namespace: String?
        let name: String
        let ip: String
        let veth: String?
    }
    struct Endpoint: Decodable, Sendable {
        let name: String
        let ip: String
        let veth: String
        let port: Int
        let listening: Bool
    }
    struct Service: Decodable, Sendable {
        let namespace: String
        let name: String
        let clusterIP: String
        let port: Int
        let targetPort: Int
        let nodePort: Int?
    }
    struct Ingress: Decodable, Sendable {
        struct LogLine: Decodable, Sendable {
            let remote_addr: String
            let request: String
            let req_id: String
        }
        let placement: String
        let host: String
        let controller: Party
        let service: Service?
        let accessLog: [LogLine]
    }
    struct DNS: Decodable, Sendable {
        struct Query: Decodable, Sendable {
            let name: String
            let types: [String]
            let attempts: Int
        }
        let name: String
        let searchList: [String]
        let nameserver: String
        let server: Party
        let expectedQueries: [Query]
        let expectedRcode: String
        let answer: String?
    }
    struct Fault: Decodable, Sendable {
        let kind: String
        let hop: String
        let details: String
        let nextExpectedHop: String?
    }
    struct Verdict: Decodable, Sendable {
        let kind: String
        let hops: [String]
        let detail: String

        enum CodingKeys: String, CodingKey { case kind, hop, detail }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            kind = try c.decode(String.self, forKey: .kind)
            detail = try c.decode(String.self, forKey: .detail)
            if let one = try? c.decode(String.self, forKey: .hop) {
                hops = [one]
            } else {
                hops = try c.decode([String].self, forKey: .hop)
            }
        }
    }
    struct Expected: Decodable, Sendable { let verdict: Verdict }
    struct Observed: Decodable, Sendable {
        struct ServerLogLine: Decodable, Sendable {
            let pod: String
            let path: String
            let client: String
            let xRequestID: String?
            let xForwardedFor: String?
        }
        let servedBy: [String]
        let serverLog: [ServerLogLine]
    }
    struct Node: Decodable, Sendable {
        let name: String
        let ip: String
        let cni0: String
    }
    struct CaptureFile: Decodable, Sendable {
        let file: String
        let bytes: Int?
        let exitCode: Int?
        let interfaces: [String]?
        let stderr: [String]?
    }
    struct Capture: Decodable, Sendable {
        let sll2: CaptureFile
        let pcapng: CaptureFile
    }
    struct ClientResult: Decodable, Sendable {
        let exitCode: Int
        let transfers: [CurlTiming]
    }
    struct Qdisc: Decodable, Sendable {
        let kind: String
        let dev: String
    }

    struct Background: Decodable, Sendable {
        let podIPs: [String]
    }

    let scenario: String
    let mode: String
    /// The scenario's request (nil for lookup-only scenarios: `request` is then an empty placeholder).
    let faulty: Request?
    let requests: [Request]
    let client: Party
    let service: Service?
    let endpoints: [Endpoint]
    let ingress: Ingress?
    let dns: DNS?
    let fault: Fault?
    let expected: Expected
    let observed: Observed
    let node: Node
    let interfaces: [String: String]
    let capture: Capture
    let clientResult: ClientResult
    let tc: [Qdisc]
    let background: Background?

    enum CodingKeys: String, CodingKey {
        case scenario, mode, requests, client, service, endpoints, ingress, dns, fault, expected, observed, node
        case interfaces, capture, clientResult, tc, background
        case faulty = "request"
    }

    var request: Request { faulty ?? .none }

    /// Addresses of the lab's background load pods: their packets are not the scenario's.
    var backgroundIPs: Set<String> { Set(background?.podIPs ?? []) }

    static func load(_ scenario: String) throws -> Truth {
        try JSONDecoder().decode(Truth.self, from: Data(contentsOf: Lab.truthFile(scenario)))
    }

    /// Whether the client is the Service's endpoint itself (a pod calling its own Service through the bridge).
    var isHairpin: Bool { endpoints.contains { $0.veth == client.veth } && mode == "clusterip" }

    /// The capture point where the client's packets enter the node: its veth, or eth0 for the external client.
    var clientHop: String { client.veth ?? "eth0" }

    /// The endpoint (pod) that served `request`, from the web servers' own logs.
    func servingEndpoint(_ request: Request) -> Endpoint? {
        endpoints.first { $0.name == request.servedBy }
    }
}

// MARK: - tshark as the oracle

/// One packet as tshark decodes it, at one capture point. tshark runs without TCP reassembly or sequence
/// analysis so that every sighting of a segment (cni0, then the pod's veth) is dissected on its own.
struct WirePacket: Sendable {
    /// The capture point: the pcapng interface name, or the SLL2 ifindex named through the truth's map.
    var hop: String
    var time: Double
    /// SLL2 packet type (0 host, 3 otherhost, 4 outgoing, ...); nil in pcapng.
    var pktType: Int?
    var srcMAC: String
    /// IPv4 addresses, outer header first, then any header quoted inside ICMP.
    var ipSrc: [String]
    var ipDst: [String]
    var srcPort: Int?
    var dstPort: Int?
    var isTCP: Bool
    var seq: UInt32?
    var tcpLen: Int
    var syn: Bool
    var ack: Bool
    var rst: Bool
    var fin: Bool
    var stream: Int?
    var isDNS: Bool
    var dnsResponse: Bool
    var dnsName: String
    var dnsType: Int?
    var dnsRcode: Int?
    var dnsA: [String]
    var icmpType: Int?
    var icmpCode: Int?
    var httpURI: String?
    var httpLines: [String]
    var httpCode: Int?

    var src: String { ipSrc.first ?? "" }
    var dst: String { ipDst.first ?? "" }
    var isICMP: Bool { icmpType != nil }
    /// A TCP SYN of the packet itself (not one quoted in an ICMP error).
    var isSyn: Bool { isTCP && !isICMP && syn && !ack }
    var isSynAck: Bool { isTCP && !isICMP && syn && ack }
    var isRst: Bool { isTCP && !isICMP && rst }
    var isFin: Bool { isTCP && !isICMP && fin }
    var isHTTPRequest: Bool { httpURI != nil }

    /// The value of a request header as sent (first occurrence), e.g. `header("X-Request-ID")`.
    func header(_ name: String) -> String? {
        let prefix = name.lowercased() + ":"
        for line in httpLines where line.lowercased().hasPrefix(prefix) {
            var value = line.dropFirst(prefix.count)
            while value.hasSuffix("\\r\\n") || value.hasSuffix("\\n") || value.hasSuffix("\\r") {
                value = value.dropLast(value.hasSuffix("\\r\\n") ? 4 : 2)
            }
            return value.trimmingCharacters(in: .whitespaces)
        }
        return nil
    }
}

enum TsharkError: Error, CustomStringConvertible {
    case missing
    case failed(String)

    var description: String {
        switch self {
        case .missing: "tshark not found; install it (tools/setup.sh test)"
        case .failed(let message): "tshark failed: \(message)"
        }
    }
}

enum Tshark {
    static let path: String? = {
        for dir in ["/usr/bin", "/usr/local/bin", "/bin"] {
            let candidate = dir + "/tshark"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }()

    private static let fields = [
        "sll.ifindex", "frame.interface_name", "frame.time_epoch", "sll.pkttype", "sll.src.eth", "ip.src", "ip.dst",
        "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport", "tcp.seq_raw", "tcp.len", "tcp.flags.syn",
        "tcp.flags.ack", "tcp.flags.reset", "tcp.flags.fin", "tcp.stream", "dns.flags.response", "dns.qry.name",
        "dns.qry.type",
        "dns.flags.rcode", "dns.a", "icmp.type", "icmp.code", "http.request.uri", "http.request.line",
        "http.response.code",
    ]

    private static let cache = PacketCache()

    /// Every packet of a scenario's capture in one format, decoded once per test run.
    static func packets(_ scenario: String, _ format: CaptureFormat, truth: Truth) throws -> [WirePacket] {
        let key = "\(scenario).\(format.rawValue)"
        if let hit = cache.get(key) { return hit }
        let rows = try run(file: format.file(scenario), filter: "ip", fields: fields)
        // The scenario's own packets: the healthy background around it (load pods) is left out here.
        let background = truth.backgroundIPs
        let packets = rows.map { decode($0, interfaces: truth.interfaces) }.filter { packet in
            background.isEmpty || !(packet.ipSrc + packet.ipDst).contains { background.contains($0) }
        }
        cache.set(key, packets)
        return packets
    }

    /// Packets of a capture file outside captures/ (the live test), with pcapng names or raw ifindexes.
    static func packets(file: URL) throws -> [WirePacket] {
        try run(file: file, filter: "ip", fields: fields).map { decode($0, interfaces: [:]) }
    }

    private static func decode(_ row: [String], interfaces: [String: String]) -> WirePacket {
        func col(_ name: String) -> String {
            guard let i = fields.firstIndex(of: name), i < row.count else { return "" }
            return row[i]
        }
        func list(_ name: String) -> [String] { col(name).split(separator: "|").map(String.init) }
        func int(_ name: String) -> Int? { list(name).first.flatMap { Int($0) } }
        func flag(_ name: String) -> Bool {
            let v = list(name).first ?? ""
            return v == "1" || v == "True"
        }
        let ifindex = col("sll.ifindex")
        let hop = ifindex.isEmpty ? col("frame.interface_name") : (interfaces[ifindex] ?? "ifindex-\(ifindex)")
        let isTCP = !col("tcp.srcport").isEmpty
        return WirePacket(
            hop: hop,
            time: Double(col("frame.time_epoch")) ?? .nan,
            pktType: Int(col("sll.pkttype")),
            srcMAC: col("sll.src.eth"),
            ipSrc: list("ip.src"),
            ipDst: list("ip.dst"),
            srcPort: int(isTCP ? "tcp.srcport" : "udp.srcport"),
            dstPort: int(isTCP ? "tcp.dstport" : "udp.dstport"),
            isTCP: isTCP,
            seq: list("tcp.seq_raw").first.flatMap { UInt32($0) },
            tcpLen: int("tcp.len") ?? 0,
            syn: flag("tcp.flags.syn"),
            ack: flag("tcp.flags.ack"),
            rst: flag("tcp.flags.reset"),
            fin: flag("tcp.flags.fin"),
            stream: int("tcp.stream"),
            isDNS: !col("dns.flags.response").isEmpty,
            dnsResponse: flag("dns.flags.response"),
            dnsName: list("dns.qry.name").first ?? "",
            dnsType: int("dns.qry.type"),
            dnsRcode: int("dns.flags.rcode"),
            dnsA: list("dns.a"),
            icmpType: int("icmp.type"),
            icmpCode: int("icmp.code"),
            httpURI: list("http.request.uri").first,
            httpLines: list("http.request.line"),
            httpCode: int("http.response.code")
        )
    }

    /// `tshark -r FILE -Y FILTER -T fields -e ...`, rows split on tabs; multiple occurrences joined by `|`.
    static func run(file: URL, filter: String, fields: [String]) throws -> [[String]] {
        guard let path else { throw TsharkError.missing }
        var arguments = ["-n", "-r", file.path] + (filter.isEmpty ? [] : ["-Y", filter])
        arguments += ["-T", "fields", "-E", "separator=/t"]
        arguments += ["-E", "occurrence=a", "-E", "aggregator=|"]
        // Dissect every sighting on its own (no reassembly, no retransmission analysis across capture points).
        arguments += ["-o", "tcp.desegment_tcp_streams:FALSE", "-o", "tcp.analyze_sequence_numbers:FALSE"]
        // NodePorts carry HTTP too; tshark only knows the usual HTTP ports.
        arguments += ["-d", "tcp.port==30080,http", "-d", "tcp.port==30880,http", "-d", "tcp.port==9090,http"]
        // flannel's VXLAN port (tshark knows 4789 only).
        arguments += ["-d", "udp.port==8472,vxlan"]
        for field in fields { arguments += ["-e", field] }
        let result = try runProcess(path, arguments)
        guard result.status == 0 else { throw TsharkError.failed(result.stderr) }
        return result.stdout.split(separator: "\n", omittingEmptySubsequences: true).map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
    }
}

/// Decoded captures shared by the tests of one run (tests run in parallel; the lock guards the dictionary).
private final class PacketCache: @unchecked Sendable {
    // @unchecked: `entries` is only touched under `lock`.
    private let lock = NSLock()
    private var entries: [String: [WirePacket]] = [:]

    func get(_ key: String) -> [WirePacket]? {
        lock.lock()
        defer { lock.unlock() }
        return entries[key]
    }

    func set(_ key: String, _ value: [WirePacket]) {
        lock.lock()
        entries[key] = value
        lock.unlock()
    }
}

struct ProcessResult: Sendable {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// Runs a program to completion, reading both pipes concurrently (no deadlock on large output).
func runProcess(_ executable: String, _ arguments: [String], cwd: URL? = nil) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let cwd { process.currentDirectoryURL = cwd }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let errData = ErrorCollector()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errData.set(err.fileHandleForReading.readDataToEndOfFile())
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return ProcessResult(
        status: process.terminationStatus,
        stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData.get(), as: UTF8.self)
    )
}

/// Holds the stderr bytes read on another queue; the lock makes the hand-over safe.
private final class ErrorCollector: @unchecked Sendable {
    // @unchecked: `data` is only touched under `lock`.
    private let lock = NSLock()
    private var data = Data()

    func set(_ value: Data) {
        lock.lock()
        data = value
        lock.unlock()
    }

    func get() -> Data {
        lock.lock()
        defer { lock.unlock() }
        return data
    }
}
