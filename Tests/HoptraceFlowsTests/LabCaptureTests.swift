import Foundation
import HoptraceDecode
import Testing

@testable import HoptraceFlows

/// The lab's captures (several capture points per file) against tshark run on each capture point alone, and
/// against the lab's truth files.
///
/// tshark merges the sightings of one connection on several interfaces into one conversation (later sightings look
/// like retransmissions to it), so each interface is first extracted to its own file with a display filter, and the
/// oracle runs on that.
struct LabCaptureTests {
    static let fields = [
        "tcp.srcport", "tcp.stream", "http.request.method", "http.response.code", "http.time", "dns.id",
        "dns.flags.response", "dns.flags.rcode", "dns.time", "tcp.dstport", "udp.srcport", "udp.dstport",
    ]

    /// pcapng only: the SLL2 twin of each capture holds the same packets, and splitting is slow.
    @Test(arguments: LabCaptures.files.filter { $0.hasSuffix(".pcapng") })
    func eachCapturePointAgreesWithTshark(file: String) throws {
        let path = LabCaptures.root.appendingPathComponent(file).path
        let records = Corpus.analyzeFile(path)
        #expect(records.error == nil)
        // The capture points as the decoder names them: the pcapng interface's name when it has a real one (not
        // `any`), else the SLL2 interface index ("if<N>") when the packets carry one.
        let keys = try Corpus.tshark(
            arguments: [
                "-r", path, "-T", "fields", "-e", "sll.ifindex", "-e", "frame.interface_id", "-e",
                "frame.interface_name",
            ]
        )
        var points: [String: String] = [:]  // tshark filter -> our capture point name
        for row in keys where row.count >= 3 {
            let named = !row[2].isEmpty && row[2] != "any" && row[2] != "unknown"
            if !row[0].isEmpty, !named {
                points["sll.ifindex == \(row[0])"] = "if\(row[0])"
            } else {
                points["frame.interface_id == \(row[1])"] = named ? row[2] : row[1]
            }
        }
        #expect(!points.isEmpty)
        let oracle = CorpusOracleTests()
        for (filter, name) in points.sorted(by: { $0.key < $1.key }) {
            let split = FileManager.default.temporaryDirectory
                .appendingPathComponent("hoptrace-flows-\(UUID().uuidString).pcapng").path
            defer { try? FileManager.default.removeItem(atPath: split) }
            _ = try Corpus.tshark(arguments: ["-r", path, "-Y", filter, "-w", split])
            let rows = try Corpus.tshark(
                arguments: ["-r", split, "-T", "fields"] + Self.fields.flatMap { ["-e", $0] }
            )
            let mine = records.at(name)
            let label = "\(file) \(name)"
            oracle.checkConnections(label, rows, mine)
            oracle.checkHTTP(label, rows.filter { !$0[0].isEmpty }, mine.exchanges)
            oracle.checkDNS(label, rows, mine.dns)
        }
    }

    /// Every request the lab's client completed is found at the client's capture point with the addresses, path
    /// and status the client itself reported (curl's local/remote address and http_code).
    @Test(arguments: LabCaptures.files)
    func clientRequestsMatchTruth(file: String) throws {
        let truthURL = LabCaptures.truth(of: file)
        let data = try Data(contentsOf: truthURL)
        let truth = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let requests = truth["requests"] as? [[String: Any]] ?? []
        let exchanges = Corpus.analyzeFile(LabCaptures.root.appendingPathComponent(file).path).exchanges
        for request in requests {
            guard let timing = request["clientTiming"] as? [String: Any],
                let code = timing["http_code"] as? Int, code > 0,
                let localIP = timing["local_ip"] as? String, let localPort = timing["local_port"] as? Int,
                let remoteIP = timing["remote_ip"] as? String, let remotePort = timing["remote_port"] as? Int,
                let path = request["path"] as? String
            else { continue }
            let client = FlowEndpoint(address: try #require(IPAddress(localIP)), port: UInt16(localPort))
            let server = FlowEndpoint(address: try #require(IPAddress(remoteIP)), port: UInt16(remotePort))
            let found = exchanges.filter {
                $0.client == client && $0.server == server && $0.request?.target == path
            }
            // Once per capture point where the client's addresses are unchanged (one, or two for a direct pod IP).
            #expect(!found.isEmpty, "\(file): \(client) -> \(server) \(path)")
            #expect(found.allSatisfy { $0.response?.status == code }, "\(file): \(path) status")
        }
    }
}
