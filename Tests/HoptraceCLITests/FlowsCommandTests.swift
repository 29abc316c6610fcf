import Foundation
import HoptraceTestSupport
import Testing

/// `hoptrace flows` and `hoptrace requests`, run as the built binary: their lines and JSON against tshark and the
/// corpus facts, the filters, exit codes and one-line errors.
@Suite("hoptrace flows and requests")
struct FlowsCommandTests {
    typealias CLI = PacketsCommandTests

    static func corpus(_ relative: String) -> String { CLI.corpus.appendingPathComponent(relative).path }

    /// Output lines without the `#` header.
    static func records(_ output: String) -> [[Substring]] {
        output.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { $0.split(separator: " ") }
    }

    static func tshark(_ file: String, _ filter: String, _ fields: [String]) throws -> [[String]] {
        let run = try CLI.run(
            "/usr/bin/tshark",
            ["-r", file, "-Y", filter, "-T", "fields"] + fields.flatMap { ["-e", $0] }
        )
        return run.stdout.split(separator: "\n").map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
    }

    /// Zeek's conn_state and history for the reset traces (corpus README), selected from the TSV as zeek-cut
    /// selects columns: by the names of the `#fields` line.
    @Test func flowsPrintsZeekStates() throws {
        let files = ["single-rst", "syn-then-rst", "syn-then-ack-then-rst", "syn-then-stuff-then-rst"].map {
            Self.corpus("zeek/tcp/\($0).pcap")
        }
        let run = try CLI.run(CLI.binary, ["flows", "--format", "tsv"] + files)
        #expect(run.status == 0)
        let log = try ZeekLog(run.stdout)
        #expect(Set(log.cut(["connState", "history"])) == ["OTH\tR", "RSTOS0\tSR", "RSTOS0\tSaR", "OTH\tSaFR"])
        // The text lines say the same, state then history after the two-word duration.
        let text = try CLI.run(CLI.binary, ["flows"] + files)
        #expect(
            Set(Self.records(text.stdout).map { "\($0[8]) \($0[9])" }) == [
                "OTH R", "RSTOS0 SR", "RSTOS0 SaR", "OTH SaFR",
            ]
        )
    }

    @Test func requestsJSONAgreesWithTshark() throws {
        let file = Self.corpus("zeek/http/pipelined-requests.pcap")
        let run = try CLI.run(CLI.binary, ["requests", "--json", file])
        #expect(run.status == 0)
        let objects = try run.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        let expected = try Self.tshark(file, "http.response", ["http.time"]).compactMap { Double($0[0]) }
        #expect(objects.count == expected.count)
        #expect(objects.allSatisfy { $0["type"] as? String == "http" && $0["status"] as? Int == 200 })
        // Latencies are milliseconds in the JSON dialect; tshark's http.time is seconds.
        let latencies = objects.compactMap { ($0["latency"] as? Double).map { $0 / 1e3 } }.sorted()
        for (mine, theirs) in zip(latencies, expected.sorted()) { #expect(abs(mine - theirs) <= 1e-6) }
    }

    @Test func filters() throws {
        let file = Self.corpus("zeek/http/pipelined-requests.pcap")
        let slow = try Self.tshark(file, "http.time > 0.010", ["http.time"]).count
        let run = try CLI.run(CLI.binary, ["requests", "--slower-than", "10ms", "--status", "2xx", file])
        #expect(run.status == 0)
        #expect(Self.records(run.stdout).count == slow)
        #expect(Self.records(try CLI.run(CLI.binary, ["requests", "--status", "404", file]).stdout).isEmpty)
        #expect(
            Self.records(try CLI.run(CLI.binary, ["requests", "--host", "www.mozilla.org", file]).stdout).count == 5
        )
        #expect(Self.records(try CLI.run(CLI.binary, ["requests", "--host", "example.org", file]).stdout).isEmpty)
        let dns = Self.corpus("skydive/eth-ip4-arp-dns-req-http-google.pcap")
        let onlyDNS = Self.records(try CLI.run(CLI.binary, ["requests", "--port", "53", dns]).stdout)
        #expect(!onlyDNS.isEmpty)
        #expect(onlyDNS.allSatisfy { $0[4] == "DNS" })
    }

    @Test func errors() throws {
        let missing = try CLI.run(CLI.binary, ["flows", "/nonexistent/capture.pcap"])
        #expect(missing.status == 1)
        #expect(missing.stdout.isEmpty)
        #expect(missing.stderr.split(separator: "\n").count == 1)
        #expect(missing.stderr.hasPrefix("hoptrace: "))

        // A file cut inside its 10th packet: the connection read so far is printed, then the error.
        let source = try Data(contentsOf: URL(fileURLWithPath: Self.corpus("zeek/http/get.pcap")))
        let cut = FileManager.default.temporaryDirectory.appendingPathComponent("hoptrace-flows-cut-\(getpid()).pcap")
        try source.prefix(6000).write(to: cut)
        defer { try? FileManager.default.removeItem(at: cut) }
        let truncated = try CLI.run(CLI.binary, ["flows", cut.path])
        #expect(truncated.status == 1)
        #expect(Self.records(truncated.stdout).count == 1)
        #expect(truncated.stderr.split(separator: "\n").count == 1)

        let usage = try CLI.run(CLI.binary, ["requests", "--slower-than", "fast", Self.corpus("zeek/http/get.pcap")])
        #expect(usage.status == 2)  // usage errors exit 2 (issue 2)
        #expect(try CLI.run(CLI.binary, ["flows"]).status == 2)
    }

    @Test func help() throws {
        let flows = try CLI.run(CLI.binary, ["flows", "--help"])
        #expect(flows.status == 0)
        #expect(flows.stdout.contains("conn.log"))
        for option in ["--json", "--host", "--port", "--status", "--slower-than"] {
            #expect(flows.stdout.contains(option))
        }
        let requests = try CLI.run(CLI.binary, ["requests", "--help"])
        #expect(requests.stdout.contains("http.time"))
    }
}
