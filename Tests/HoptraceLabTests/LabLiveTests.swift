import Foundation
import Testing

// Runs the lab itself (root, network namespaces) for two quick scenarios into a temporary directory and
// checks that both captures, the truth and the cluster state were produced. Skipped, with the reason,
// where the lab cannot run.

enum LabEnvironment {
    /// Why the live lab cannot run here, or nil when it can.
    static let unavailableReason: String? = {
        if getuid() != 0 { return "not root: the lab needs network namespaces and iptables" }
        for tool in ["/usr/bin/tcpdump", "/usr/bin/dumpcap", "/usr/sbin/dnsmasq", "/usr/sbin/nginx", "/usr/bin/curl"]
        where !FileManager.default.isExecutableFile(atPath: tool) {
            return "\(tool) missing (tools/setup.sh test)"
        }
        guard
            let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first(where: {
                FileManager.default.isExecutableFile(atPath: $0)
            })
        else { return "iproute2 missing" }
        let probe = "hl\(getpid() % 100_000)p-probe"
        guard let added = try? runProcess(ip, ["netns", "add", probe]), added.status == 0 else {
            return "`ip netns add` fails here: no network namespaces"
        }
        _ = try? runProcess(ip, ["netns", "del", probe])
        return nil
    }()

    static var available: Bool { unavailableReason == nil }

    /// This test process's lab namespace prefix (HOPTRACE_LAB_PREFIX): `hl` + the pid, unlike any other run's.
    static let prefix = "hlt\(getpid() % 100_000)"
}

// Serialized, with the suites nested in it (LabLiveTraceTests.swift): each test runs the lab, and the check that no
// hl- namespace survives a run would see another test's lab. Their time limits only catch a hang: they run beside
// the whole suite on CI's two cores, where one lab run of two scenarios once took 301 s (under 2 minutes alone).
@Suite("Lab, live", .serialized)
struct LabLiveTests {
    @Test(
        "lab.py builds the node, captures two scenarios in both formats and writes their truth",
        .enabled(if: LabEnvironment.available, "\(LabEnvironment.unavailableReason ?? "")"),
        .timeLimit(.minutes(10))
    )
    func labRunsLive() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("hoptrace-lab-live-\(getpid())")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: out) }
        let scenarios = ["clusterip-ok", "clusterip-noendpoints"]
        // A prefix of its own: other lab runs (other worktrees, other tests) may be running on this machine.
        let prefix = LabEnvironment.prefix
        let result = try runProcess(
            "/usr/bin/env",
            ["HOPTRACE_LAB_PREFIX=\(prefix)", "python3", LabPaths.labScript.path] + scenarios + ["--out", out.path]
        )
        #expect(result.status == 0, "lab.py failed: \(result.stderr.suffix(600))")
        for scenario in scenarios {
            for name in ["any.sll2.pcap", "hoptrace.pcapng", "dumpcap.pcapng", "links.json", "truth.json", "k8s.json"] {
                let file = out.appendingPathComponent("\(scenario)/\(name)")
                let size = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0
                #expect(size > 0, "\(scenario)/\(name) not produced")
            }
            let truthURL = out.appendingPathComponent("\(scenario)/truth.json")
            let truth = try JSONSerialization.jsonObject(with: Data(contentsOf: truthURL)) as? [String: Any]
            #expect(truth?["scenario"] as? String == scenario)
            // tcpdump was stopped by its SIGINT (it prints its counters), not killed.
            let sll2 = (truth?["capture"] as? [String: Any])?["sll2"] as? [String: Any]
            #expect((sll2?["stderr"] as? [String])?.contains { $0.hasSuffix("packets captured") } == true)
            // The captures really hold the client's SYN to the ClusterIP, in both formats.
            for file in ["\(scenario)/any.sll2.pcap", "\(scenario)/hoptrace.pcapng", "\(scenario)/dumpcap.pcapng"] {
                let packets = try Tshark.packets(file: out.appendingPathComponent(file))
                #expect(
                    packets.contains { $0.isSyn && $0.src == "10.244.0.10" },
                    "no SYN from the client pod in \(file)"
                )
            }
        }
        // Nothing left behind: no namespace of this run survives it.
        let left = try runProcess("/usr/bin/env", ["ip", "netns", "list"])
        let ours = left.stdout.split(separator: "\n").filter {
            String($0.split(separator: " ").first ?? "").hasPrefix("\(prefix)-")
        }
        #expect(ours.isEmpty, "namespaces left behind: \(ours)")
    }

    @Test("lab.py refuses unknown scenarios with a one-line message")
    func unknownScenario() throws {
        let result = try runProcess("/usr/bin/env", ["python3", LabPaths.labScript.path, "no-such-scenario"])
        #expect(result.status == 2)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(result.stderr.contains("unknown scenario"))
    }
}
