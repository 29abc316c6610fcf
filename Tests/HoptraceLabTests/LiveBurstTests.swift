import Foundation
import HoptraceTestSupport
import Testing

enum BurstEnvironment {
    static let unavailableReason: String? = {
        if getuid() != 0 { return "not root: needs network namespaces and capture" }
        for tool in ["/usr/bin/tcpdump", "/usr/bin/capinfos", "/usr/sbin/ip"]
        where !FileManager.default.isExecutableFile(atPath: tool) {
            return "\(tool) missing (tools/setup.sh test)"
        }
        return nil
    }()
}

/// `hoptrace capture` and tcpdump side by side on one veth, each with its defaults, receiving bursts of UDP datagrams
/// sent as fast as one sender can (tools/lab/burst.sh); capinfos counts each file. hoptrace must keep every datagram
/// tcpdump keeps, and when the kernel does drop (a deliberately tiny buffer) it must say how many.
@Suite(
    "live capture under bursts",
    .serialized,
    .enabled(if: BurstEnvironment.unavailableReason == nil, "\(BurstEnvironment.unavailableReason ?? "")")
)
struct LiveBurstTests {
    /// One run's line of burst.sh.
    struct Run: CustomStringConvertible {
        var fields: [String: String]
        var hoptrace: Int { Int(fields["hoptrace"] ?? "") ?? -1 }
        var tcpdump: Int { Int(fields["tcpdump"] ?? "") ?? -1 }
        var hoptraceDropped: Int { Int(fields["hoptrace_dropped"] ?? "") ?? -1 }
        var tcpdumpDropped: Int { Int(fields["tcpdump_dropped"] ?? "") ?? -1 }
        var description: String {
            fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
    }

    /// Runs burst.sh with the signal mask cleared (the test's threads block SIGINT and SIGTERM, and children inherit
    /// the mask: the tools it stops by PID would not stop).
    static func burst(count: Int, size: Int, mode: String, repeat times: Int, extra: [String] = []) throws -> [Run] {
        let script = Repository.root.appendingPathComponent("tools/lab/burst.sh").path
        let result = try Command.run(
            "/usr/bin/env",
            [
                "python3", "-c",
                "import os,signal,sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])",
                script, Command.hoptrace, String(count), String(size), mode, String(times), "--",
            ] + extra
        )
        try #require(result.status == 0, "burst.sh: \(result.stderr.suffix(800))")
        let runs = result.stdout.split(separator: "\n").map { line in
            Run(
                fields: Dictionary(
                    line.split(separator: " ").compactMap { pair in
                        let parts = pair.split(separator: "=", maxSplits: 1)
                        return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
                    },
                    uniquingKeysWith: { $1 }
                )
            )
        }
        try #require(runs.count == times, "burst.sh printed \(result.stdout)")
        return runs
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var count: Int
        var size: Int
        var mode: String
        var testDescription: String { "\(count) x \(size) B on \(mode == "any" ? "-i any" : "-i IF")" }
    }

    static let cases: [Case] = ["IF", "any"].flatMap { mode in
        [
            Case(count: 2_000, size: 20, mode: mode), Case(count: 2_000, size: 1_400, mode: mode),
            Case(count: 20_000, size: 20, mode: mode), Case(count: 20_000, size: 1_400, mode: mode),
            Case(count: 200_000, size: 20, mode: mode),
        ]
    }

    @Test("no drop where tcpdump has none: five bursts each, every datagram in both files", arguments: cases)
    func sideBySide(_ burst: Case) throws {
        for run in try Self.burst(count: burst.count, size: burst.size, mode: burst.mode, repeat: 5) {
            print("burst: \(run)")
            // tcpdump's own count is the reference; where it kept all, hoptrace must too, and report no drop.
            if run.tcpdump == burst.count && run.tcpdumpDropped == 0 {
                #expect(run.hoptrace == burst.count, "\(run)")
                #expect(run.hoptraceDropped == 0, "\(run)")
            } else {
                #expect(run.hoptrace >= run.tcpdump, "\(run)")
            }
        }
    }

    @Test("a 1 MiB buffer under a 200k burst: what is not in the file is counted as dropped, never silent")
    func tinyBufferReportsDrops() throws {
        for run in try Self.burst(count: 200_000, size: 1_400, mode: "IF", repeat: 2, extra: ["--buffer-size", "1"]) {
            print("burst: \(run)")
            #expect(run.hoptrace + run.hoptraceDropped == 200_000, "\(run)")
        }
    }
}
