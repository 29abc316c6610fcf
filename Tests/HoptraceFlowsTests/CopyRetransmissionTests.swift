import Foundation
import HoptraceCapture
import HoptraceTestSupport
import Testing

@testable import HoptraceFlows

/// One packet tapped twice at one capture point is one packet. The lab's captures hold such copies: `tcpdump -i cni0`
/// sees each packet kube-proxy's br_netfilter DNAT sends through the bridge twice (microseconds apart, with
/// different link addresses), and a bridge in promiscuous mode is handed its own copy of each frame it forwards.
/// tshark counts every copy as a retransmission; with the copies removed first by `editcap -D -I <link header>`
/// (duplicates ignoring the link-layer header), tshark's `tcp.analysis.retransmission` count is the oracle, and
/// hoptrace's count on the original file must equal it.
@Suite("copies are not retransmissions (tshark on the deduplicated capture)")
struct CopyRetransmissionTests {
    static func tool(_ name: String) -> String? {
        ["/usr/bin/\(name)", "/usr/local/bin/\(name)"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var path: String
        /// Bytes of link-layer header editcap ignores when comparing frames.
        var linkHeader: Int
        var testDescription: String { path.replacingOccurrences(of: Repository.captures.path + "/", with: "") }
    }

    /// The bridge's per-interface files (where the copies are) and the `-i any` captures of scenarios with real
    /// retransmissions (a dropped SYN, a full accept queue, a reset mid-response, a congested hop).
    static var cases: [Case] {
        let scenarios = [
            "clusterip-ok", "clusterip-drop", "accept-queue-overflow", "clusterip-congested-hop",
            "clusterip-reset-mid-response", "hairpin-on", "nodeport-ok",
        ].filter(Lab.scenarios.contains)
        return scenarios.flatMap { scenario -> [Case] in
            var cases: [Case] = []
            if let cni0 = Lab.interfaceFiles(scenario)["cni0"] { cases.append(Case(path: cni0.path, linkHeader: 14)) }
            cases.append(Case(path: Lab.file(scenario, .tcpdumpAny).path, linkHeader: 20))
            return cases
        }
    }

    static func hoptraceCounts(_ path: String) throws -> (retransmissions: Int, copies: Int) {
        var retransmissions = 0
        let result = try FlowPipeline().run(paths: [path]) { event in
            if case .connection(let record) = event {
                // tshark counts a SYN or SYN-ACK sent again as a retransmission too.
                retransmissions +=
                    record.originatorSummary.retransmissions + record.responderSummary.retransmissions
                    + record.synRetransmissions + record.synAckRetransmissions
            }
        }
        return (retransmissions, result.flowStatistics.copies)
    }

    /// tshark's retransmissions in one interface's capture, once editcap removed its copies; with editcap's count.
    static func tsharkCount(_ path: String, linkHeader: Int, in dir: URL) throws -> (retransmissions: Int, skipped: Int)
    {
        let tshark = try #require(Self.tool("tshark"))
        let editcap = try #require(Self.tool("editcap"))
        let deduplicated = dir.appendingPathComponent("dedup-\(UUID().uuidString).pcap").path
        let edit = try Command.run(editcap, ["-D", "16", "-I", String(linkHeader), path, deduplicated])
        try #require(edit.status == 0, "editcap: \(edit.stderr)")
        let skipped = Int(edit.stderr.firstMatch(of: #/([0-9]+) packets skipped/#)?.output.1 ?? "0") ?? 0
        let count = try Command.run(
            tshark,
            ["-n", "-r", deduplicated, "-Y", "tcp.analysis.retransmission", "-T", "fields", "-e", "frame.number"]
        )
        try #require(count.status == 0, "tshark: \(count.stderr)")
        return (count.stdout.split(separator: "\n").count, skipped)
    }

    @Test(
        "hoptrace's retransmissions are tshark's once the copies are gone",
        .enabled(if: tool("tshark") != nil && tool("editcap") != nil, "needs tshark and editcap"),
        arguments: cases
    )
    func agrees(_ labCase: Case) throws {
        let tshark = try #require(Self.tool("tshark"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hoptrace-dedup-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // tshark follows a TCP stream across interfaces; hoptrace counts at each capture point. An `-i any` capture
        // is split by interface first (what `tcpdump -i IF` on each would have written), each part compared.
        var parts = [labCase.path]
        if labCase.linkHeader == 20 {
            let indexes = try Command.run(tshark, ["-n", "-r", labCase.path, "-T", "fields", "-e", "sll.ifindex"])
            for index in Set(indexes.stdout.split(separator: "\n").map(String.init)).sorted() where !index.isEmpty {
                let part = dir.appendingPathComponent("if\(index).pcap").path
                let split = try Command.run(
                    tshark,
                    ["-n", "-r", labCase.path, "-Y", "sll.ifindex == \(index)", "-F", "pcap", "-w", part]
                )
                try #require(split.status == 0, "tshark: \(split.stderr)")
                parts.append(part)
            }
            parts.removeFirst()
        }
        var expected = 0
        var skipped = 0
        for part in parts {
            let counts = try Self.tsharkCount(part, linkHeader: labCase.linkHeader, in: dir)
            expected += counts.retransmissions
            skipped += counts.skipped
        }
        let ours = try Self.hoptraceCounts(labCase.path)
        #expect(ours.retransmissions == expected, "\(labCase): tshark \(expected), editcap skipped \(skipped)")
        // Every copy hoptrace dropped is a frame editcap found a duplicate of (editcap also drops non-TCP copies).
        #expect(ours.copies <= skipped, "\(labCase): \(ours.copies) copies, editcap \(skipped)")
    }
}
