import HoptraceDecode
import Testing

@testable import HoptraceCorrelate

/// The point an address lives behind (a pod's link: every connection seen there involved it) is looked up for each
/// unanswered request's "next expected" point. It is found among the points that ever had that address alone in
/// common, not by sorting every point: the same answer as the definition, over random captures.
@Suite("topology: the first home of an address")
struct TopologyHomeTests {
    @Test(
        "against the definitions (every point sorted: the first whose home is the address; the one bridge), 300 captures"
    )
    func matchesDefinition() {
        var generator = SystemRandomNumberGenerator()
        let addresses = (1...6).map { IPAddress(10, 0, 0, UInt8($0)) }
        let names = ["veth", "cni0", "eth0", "lo", "tunl0", "pod"]
        for round in 0..<300 {
            let topology = Topology()
            var ids: [Int] = []
            for step in 0..<200 {
                let point = Int.random(in: 0..<30, using: &generator)
                let capturePoint = CapturePoint(name: names[point % names.count] + "\(point)")
                if Int.random(in: 0..<40, using: &generator) == 0 {
                    topology.noteRouter(point)
                } else {
                    // Mostly one address per point with another, as a pod's link sees; sometimes any two.
                    let home = addresses[point % addresses.count]
                    let other = addresses.randomElement(using: &generator)!
                    let a = Int.random(in: 0..<8, using: &generator) == 0 ? other : home
                    topology.note(point: point, capturePoint: capturePoint, group: step, a, other)
                    // Points are known once a connection was noted there.
                    if !ids.contains(point) { ids.append(point) }
                }
                guard let excluded = ids.randomElement(using: &generator) else { continue }
                let address = addresses.randomElement(using: &generator)!
                let expected = ids.sorted().first { $0 != excluded && topology.home(of: $0) == address }
                #expect(topology.firstHome(of: address, excluding: excluded) == expected, "round \(round) step \(step)")
                // The node's one bridge, when it has exactly one (cni*, by name).
                let bridges = ids.sorted().filter { names[$0 % names.count] == "cni0" }
                #expect(topology.soleBridge(on: nil) == (bridges.count == 1 ? bridges[0] : nil))
            }
        }
    }
}
