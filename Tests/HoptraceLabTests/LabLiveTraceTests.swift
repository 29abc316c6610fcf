import Foundation
import Testing

// `hoptrace trace --live` and `hoptrace capture` run on the lab's node (namespace hl-node) while the lab makes a
// scenario's traffic (lab.py --exec), next to the lab's own tcpdump. Oracles: the truth file the lab writes, tshark
// on tcpdump's capture, the times the lab saw each output line. Skipped, with the reason, where the lab cannot run.

enum LiveLab {
    /// The debug build of hoptrace (`swift build` makes it; `swift test` builds it with the tests).
    static let binary: String? = {
        let path = LabPaths.packageRoot.appendingPathComponent(".build/debug/hoptrace").path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }()

    static let unavailableReason: String? = {
        if let reason = LabEnvironment.unavailableReason { return reason }
        if binary == nil { return "no .build/debug/hoptrace: run `swift build` first" }
        if Tshark.path == nil { return "tshark missing" }
        return nil
    }()

    /// Runs one scenario with `command` on the node; returns the output directory (removed by the caller).
    static func run(
        _ scenario: String,
        exec command: String,
        ready: String?,
        linger: Double,
        background: Bool = true
    ) throws -> URL {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("hv-live-\(getpid())-\(scenario)")
        try? FileManager.default.removeItem(at: out)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        var arguments = [
            "HOPTRACE_LAB_PREFIX=\(LabEnvironment.prefix)", "python3", LabPaths.labScript.path, scenario, "--out",
            out.path,
            "--exec", command.replacingOccurrences(of: "@OUT@", with: out.path), "--linger", String(linger),
        ]
        if let ready { arguments += ["--exec-ready", ready] }
        if !background { arguments.append("--no-background") }
        let result = try runProcess("/usr/bin/env", arguments)
        #expect(result.status == 0, "lab.py failed: \(result.stderr.suffix(800))")
        return out
    }

    struct ExecRecord {
        var lines: [(time: Double, line: String)]
        var stopped: Double
        var requestStart: Double
        var exitCode: Int?
    }

    static func execRecord(_ out: URL, _ scenario: String) throws -> ExecRecord {
        let data = try Data(contentsOf: out.appendingPathComponent("\(scenario)/exec.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let lines = (json["lines"] as? [[String: Any]] ?? []).compactMap { entry -> (Double, String)? in
            guard let t = entry["t"] as? Double, let line = entry["line"] as? String else { return nil }
            return (t, line)
        }
        return ExecRecord(
            lines: lines,
            stopped: json["stopped"] as? Double ?? 0,
            requestStart: json["requestStart"] as? Double ?? 0,
            exitCode: json["exitCode"] as? Int
        )
    }

    /// ifindex -> name of the lab node, from a truth file the lab wrote.
    static func interfaces(_ out: URL, _ scenario: String) throws -> [String: String] {
        let data = try Data(contentsOf: out.appendingPathComponent("\(scenario)/truth.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return json["interfaces"] as? [String: String] ?? [:]
    }

    /// TCP packets to or from the web Service's ports (80, 8080) per capture point, from tshark.
    static func webPackets(_ file: URL, names: [String: String]) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for packet in try Tshark.packets(file: file) where packet.isTCP {
            guard [80, 8080].contains(packet.srcPort ?? 0) || [80, 8080].contains(packet.dstPort ?? 0) else {
                continue
            }
            let hop =
                packet.hop.hasPrefix("ifindex-")
                ? names[String(packet.hop.dropFirst("ifindex-".count))] ?? packet.hop
                : packet.hop
            counts[hop, default: 0] += 1
        }
        return counts
    }
}

extension LabLiveTests {
    @Suite("live trace and capture on the node", .serialized)
    struct OnTheNode {
        @Test(
            "trace --live reports clusterip-drop's breakpoint while it happens, once, and -w records what tcpdump saw",
            .enabled(if: LiveLab.unavailableReason == nil, "\(LiveLab.unavailableReason ?? "")"),
            .timeLimit(.minutes(10))
        )
        func liveDrop() throws {
            let scenario = "clusterip-drop"
            let binary = try #require(LiveLab.binary)
            let out = try LiveLab.run(
                scenario,
                exec: "exec \(binary) trace --live -i any --service 10.96.0.100:80 --json -w @OUT@/live.pcapng",
                ready: "tracing live",
                linger: 6,
                // One request on the node: the test counts every trace printed.
                background: false
            )
            defer { try? FileManager.default.removeItem(at: out) }
            let truth =
                try JSONSerialization.jsonObject(
                    with: Data(contentsOf: out.appendingPathComponent("\(scenario)/truth.json"))
                ) as? [String: Any]
            let expected = try #require((truth?["expected"] as? [String: Any])?["verdict"] as? [String: Any])
            let record = try LiveLab.execRecord(out, scenario)
            #expect(record.exitCode == 0, "\(record.lines.map(\.line))")

            let traces = try record.lines.filter { $0.line.hasPrefix("{") }.map { entry in
                (
                    entry.time,
                    try #require(try JSONSerialization.jsonObject(with: Data(entry.line.utf8)) as? [String: Any])
                )
            }
            #expect(traces.count == 1, "\(traces.count) traces printed: \(record.lines.map(\.line))")
            let (printedAt, trace) = try #require(traces.first)
            let verdict = try #require(trace["verdict"] as? [String: Any])
            #expect(verdict["kind"] as? String == expected["kind"] as? String)
            #expect(verdict["location"] as? String == expected["hop"] as? String)
            // Printed while the capture ran, not at its stop.
            #expect(printedAt < record.stopped - 0.5, "printed \(record.stopped - printedAt) s before the stop")

            // The client's last SYN (tshark on the lab's own tcpdump capture) to the printed trace: the quiet period
            // (3 s) plus at most a poll interval and scheduling.
            let names = try LiveLab.interfaces(out, scenario)
            let syns = try Tshark.packets(file: out.appendingPathComponent("\(scenario)/any.sll2.pcap")).filter {
                $0.syn && !$0.ack && $0.ipSrc.first == "10.244.0.10" && $0.dstPort == 80
            }
            let lastSYN = try #require(syns.map(\.time).max())
            let latency = printedAt - lastSYN
            print("live trace: breakpoint printed \(String(format: "%.3f", latency)) s after the last SYN")
            #expect(latency >= 3.0 && latency <= 4.5, "latency \(latency) s")

            // No kernel drops, and -w holds, per interface, the web packets tcpdump captured.
            #expect(record.lines.contains { $0.line.hasSuffix(" 0 dropped by kernel") }, "\(record.lines.suffix(3))")
            let ours = try LiveLab.webPackets(out.appendingPathComponent("live.pcapng"), names: names)
            let theirs = try LiveLab.webPackets(out.appendingPathComponent("\(scenario)/any.sll2.pcap"), names: names)
            #expect(!ours.isEmpty)
            #expect(ours == theirs)

            // The recording replays: `hoptrace trace` on it names the capture points from its interface blocks and
            // finds the same breakpoint, at the truth's hop.
            let replay = try runProcess(
                binary,
                ["trace", out.appendingPathComponent("live.pcapng").path, "--service", "10.96.0.100:80", "--json"]
            )
            #expect(replay.status == 0, "\(replay.stderr)")
            let replayed = try #require(
                try JSONSerialization.jsonObject(with: Data((replay.stdout.split(separator: "\n").first ?? "").utf8))
                    as? [String: Any]
            )
            let replayedVerdict = replayed["verdict"] as? [String: Any]
            #expect(replayedVerdict?["kind"] as? String == expected["kind"] as? String)
            #expect(replayedVerdict?["location"] as? String == expected["hop"] as? String)
        }

        @Test(
            "capture --rotate-size in the lab: every file valid, no packet lost or doubled across the boundaries",
            .enabled(if: LiveLab.unavailableReason == nil, "\(LiveLab.unavailableReason ?? "")"),
            .timeLimit(.minutes(10))
        )
        func rotationLosesNothing() throws {
            let scenario = "keepalive-many"
            let binary = try #require(LiveLab.binary)
            let out = try LiveLab.run(
                scenario,
                exec: "exec \(binary) capture -i any --buffer-size 64 --rotate-size 4096 -w @OUT@/rot.pcapng",
                ready: nil,
                linger: 2
            )
            defer { try? FileManager.default.removeItem(at: out) }
            let record = try LiveLab.execRecord(out, scenario)
            #expect(record.exitCode == 0, "\(record.lines.map(\.line))")
            let files = try FileManager.default.contentsOfDirectory(atPath: out.path).filter {
                $0.hasPrefix("rot-") && $0.hasSuffix(".pcapng")
            }.sorted()
            #expect(files.count >= 2, "only \(files) written")
            #expect(
                record.lines.contains { $0.line.contains("written to \(files.count) files") },
                "\(record.lines.map(\.line))"
            )
            let names = try LiveLab.interfaces(out, scenario)
            var union: [String: Int] = [:]
            // A packet is doubled when the same sighting is in two files. Within one file equal keys are distinct
            // packets (a FIN and the ACK before it can share interface, direction, sequence number, length and
            // the 100 ns a Double time keeps), so the key is tshark's own text of the sighting, time to the
            // nanosecond and the IP id included, and it is compared across files only.
            let fields = [
                "frame.time_epoch", "sll.ifindex", "sll.pkttype", "ip.id", "ip.src", "ip.dst", "tcp.srcport",
                "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.len", "tcp.flags",
            ]
            var fileOf: [String: String] = [:]
            var doubled: [String] = []
            for file in files {
                let url = out.appendingPathComponent(file)
                let capinfos = try runProcess("/usr/bin/capinfos", ["-c", url.path])
                #expect(capinfos.status == 0, "\(file) does not open: \(capinfos.stderr)")
                for (hop, count) in try LiveLab.webPackets(url, names: names) { union[hop, default: 0] += count }
                for row in try Tshark.run(file: url, filter: "tcp", fields: fields) {
                    let key = row.joined(separator: " ")
                    if let other = fileOf[key], other != file {
                        doubled.append("\(key) in \(other) and \(file)")
                    } else {
                        fileOf[key] = file
                    }
                }
            }
            #expect(doubled.isEmpty, "in two files: \(doubled.prefix(3))")
            let theirs = try LiveLab.webPackets(out.appendingPathComponent("\(scenario)/any.sll2.pcap"), names: names)
            #expect(!theirs.isEmpty)
            #expect(union == theirs, "rotated files \(union), tcpdump \(theirs)")
            #expect(record.lines.contains { $0.line.hasSuffix(" 0 dropped by kernel") }, "\(record.lines.suffix(3))")
        }
    }
}
