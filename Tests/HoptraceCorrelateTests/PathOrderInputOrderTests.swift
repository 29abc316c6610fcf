import Foundation
import HoptraceDecode
import HoptraceFlows
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// The order of a connection's capture points is a function of what they saw, not of the order their records reached
/// the correlator (which the flow stage's emission decides, and which changed whenever what it emits changed).
@Suite("path order: independent of the records' arrival")
struct PathOrderInputOrderTests {
    /// The lab's ClusterIP request that was never answered (`tcpdump -i any`), whose bridge copies (cni0, after
    /// kube-proxy's DNAT) are timestamped after the server's veth saw the frames: its two-way delays against the
    /// veth disagree in sign measured from either side. Every order of its three records gives one path, the lab's:
    /// the client's veth, the bridge, the server's veth (links.json names them; truth.json puts the fault at vethweb1).
    @Test("every arrival order of the lab's three views of one connection gives the lab's path")
    func labConnection() throws {
        let directory = Lab.directory("clusterip-no-response")
        let capture = directory.appendingPathComponent("any.sll2.pcap")
        try #require(FileManager.default.fileExists(atPath: capture.path))
        // ifindex -> name, as the node's `ip -j link` recorded it.
        let links = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("links.json")))
                as? [[String: Any]]
        )
        var names: [String: String] = [:]
        for link in links {
            if let index = link["ifindex"] as? Int, let name = link["ifname"] as? String { names["if\(index)"] = name }
        }
        let truth = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("truth.json")))
                as? [String: Any]
        )
        let location = try #require((truth["location"] as? [String: Any])?["hop"] as? String)

        let table = CapturePointTable()
        var records: [ConnectionRecord] = []
        _ = try FlowPipeline(configuration: Correlator.flowConfiguration()).run(
            paths: [capture.path],
            capturePoints: table,
            sink: { event in
                if case .connection(let record) = event, record.originator.port == 43_804 { records.append(record) }
            }
        )
        try #require(records.count == 3)
        let points = table.points
        let sightings = records.map {
            Sighting(record: $0, isFinal: true, point: points[$0.capturePoint], pointID: $0.capturePoint)
        }
        let original = try #require(sightings.first { $0.server.port == 80 })
        let order = PathOrder(topology: Topology())
        for permutation in [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] {
            let path = order.order(permutation.map { sightings[$0] }, original: (original.client, original.server))
            let named = path.map { names[$0.0.point.name] ?? $0.0.point.name }
            #expect(named == ["vethclient0", "cni0", location], "arrival order \(permutation)")
        }
    }
}
