import Foundation
import Testing

/// tools/bench/gen.py at a tiny scale: the benchmark capture is what it claims to be (tshark and capinfos as the
/// oracles), and `hoptrace requests` finds in it the HTTP requests tshark finds. Not a timing test.
@Suite("benchmark capture generator")
struct BenchCaptureTests {
    typealias CLI = PacketsCommandTests

    /// Generates the tiny capture once per test into a temporary directory; returns its prefix.
    static func generate() throws -> (prefix: String, directory: URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hoptrace-gen-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let prefix = directory.appendingPathComponent("tiny").path
        let script = CLI.packageRoot.appendingPathComponent("tools/bench/gen.py").path
        let run = try CLI.run("/usr/bin/python3", [script, "--scale", "0.002", "--concurrency", "20", prefix])
        #expect(run.status == 0, "\(run.stderr)")
        return (prefix, directory)
    }

    static func fields(_ file: String, _ filter: String, _ fields: [String]) throws -> [String] {
        let run = try CLI.run(
            "/usr/bin/tshark",
            ["-r", file, "-Y", filter, "-T", "fields"] + fields.flatMap { ["-e", $0] }
        )
        return run.stdout.split(separator: "\n").map(String.init)
    }

    @Test("Both formats hold the same packets; every packet at three capture points, DNAT only past the client veth")
    func formatsAndCapturePoints() throws {
        let (prefix, directory) = try Self.generate()
        defer { try? FileManager.default.removeItem(at: directory) }
        let sll2 = try Self.fields(prefix + ".sll2.pcap", "frame", ["sll.ifindex"])
        let pcapng = try Self.fields(prefix + ".pcapng", "frame", ["frame.interface_name"])
        #expect(sll2.count > 1000)
        #expect(sll2.count == pcapng.count)
        #expect(sll2.count % 3 == 0)
        #expect(try Self.fields(prefix + ".pcapng", "_ws.malformed || _ws.expert.severity >= error", []).isEmpty)
        // The ClusterIP is the destination only on a client's veth (pre-DNAT); cni0 and the server's veth see the pod.
        let toService = try Self.fields(prefix + ".pcapng", "ip.dst == 10.96.0.100", ["frame.interface_name"])
        #expect(!toService.isEmpty)
        #expect(toService.allSatisfy { $0.hasPrefix("vethcli") })
        let onCNI = try Self.fields(prefix + ".pcapng", "frame.interface_name == \"cni0\"", ["frame.number"])
        #expect(onCNI.count * 3 == pcapng.count)
        // SLL2: the same split by interface index (cni0 is ifindex 2), packet types 3 (from the pod) and 4 (outgoing).
        #expect(sll2.filter { $0 == "2" }.count == onCNI.count)
        let types = Set(try Self.fields(prefix + ".sll2.pcap", "frame", ["sll.pkttype"]))
        #expect(types.isSubset(of: ["0", "3", "4"]))
    }

    // tshark dissects HTTP once per TCP 4-tuple and segment: the server veth's copy repeats cni0's tuple (both
    // post-DNAT) and is marked a retransmission, so tshark's request counts are taken on the client veths and cni0.
    @Test("hoptrace requests finds every HTTP request tshark finds, on the client veths and on cni0")
    func requestsAgreeWithTshark() throws {
        let (prefix, directory) = try Self.generate()
        defer { try? FileManager.default.removeItem(at: directory) }
        let files = [
            (prefix + ".pcapng", "frame.interface_name contains \"vethcli\"", "frame.interface_name == \"cni0\""),
            (prefix + ".sll2.pcap", "sll.ifindex >= 10 && sll.ifindex < 18", "sll.ifindex == 2"),
        ]
        for (file, clients, bridge) in files {
            let onClients = try Self.fields(file, "http.request && (\(clients))", ["frame.number"]).count
            let onBridge = try Self.fields(file, "http.request && (\(bridge))", ["frame.number"]).count
            let run = try CLI.run(CLI.binary, ["requests", file])
            #expect(run.status == 0)
            // Columns: time, capture point, client, server, protocol, ...
            var points: [String] = []
            for line in run.stdout.split(separator: "\n") {
                let columns = line.split(separator: " ")
                if columns.count > 4 && columns[4] == "HTTP" { points.append(String(columns[1])) }
            }
            let clientIndexes: Set<String> = Set((10..<18).map { "if\($0)" })
            #expect(onClients > 0)
            let onClientPoints = points.filter { $0.hasPrefix("vethcli") || clientIndexes.contains($0) }
            #expect(onClientPoints.count == onClients)
            #expect(points.filter { $0 == "cni0" || $0 == "if2" }.count == onBridge)
            #expect(onBridge == onClients)
        }
    }

    /// A busy healthy node: 400 concurrent keep-alive connections, a DNS lookup before each, every answer in 1-5 ms
    /// (tools/bench/gen.py at scale 0.12, 334 thousand packets). `trace --all` finds every request the generator
    /// wrote, each once, and raises no alarm.
    @Test("a busy healthy node of 330 thousand packets: every request traced once, every one ok")
    func busyHealthyNode() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hoptrace-busy-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let prefix = directory.appendingPathComponent("busy").path
        let script = CLI.packageRoot.appendingPathComponent("tools/bench/gen.py").path
        let generated = try CLI.run("/usr/bin/python3", [script, "--scale", "0.12", "--format", "sll2", prefix])
        try #require(generated.status == 0, "\(generated.stderr)")
        let written = try #require(
            Int(generated.stderr.firstMatch(of: #/([0-9]+) HTTP requests/#)?.output.1 ?? ""),
            "\(generated.stderr)"
        )
        let packets = Int(generated.stderr.firstMatch(of: #/([0-9]+) packets/#)?.output.1 ?? "") ?? 0
        #expect(packets >= 300_000)
        let run = try CLI.run(CLI.binary, ["trace", "--all", "--json", prefix + ".sll2.pcap"])
        #expect(run.status == 0, "\(run.stderr)")
        var ids: [String: Int] = [:]
        var verdicts: [String: Int] = [:]
        for line in run.stdout.split(separator: "\n") {
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            )
            let verdict = (object["verdict"] as? [String: Any])?["kind"] as? String ?? "?"
            verdicts[verdict, default: 0] += 1
            if let request = object["request"] as? [String: Any], let id = request["requestID"] as? String {
                ids[id, default: 0] += 1
            }
        }
        #expect(verdicts.keys.allSatisfy { $0 == "ok" }, "\(verdicts)")
        #expect(ids.count == written, "traced \(ids.count) of \(written) requests")
        #expect(ids.values.allSatisfy { $0 == 1 }, "traced twice: \(ids.filter { $0.value > 1 }.keys.prefix(5))")
    }
}
