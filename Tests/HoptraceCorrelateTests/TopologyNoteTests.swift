import HoptraceDecode
import Testing

@testable import HoptraceCorrelate

/// A point's home address is the one every connection seen there involved. Once a point lists its few connections,
/// ``Topology/note(point:capturePoint:group:_:_:)`` returns early for connections holding its common addresses: a
/// later connection without them must still make the point shared.
@Suite("topology: a point's home address")
struct TopologyNoteTests {
    @Test("twenty connections of one pod keep it the home; one without it makes the point shared, and it stays so")
    func settledPointStillLearns() {
        let topology = Topology()
        let point = CapturePoint(name: "veth1")
        let pod = IPAddress(10, 244, 0, 10)
        for i in 0..<20 {
            topology.note(point: 0, capturePoint: point, group: i, pod, IPAddress(10, 96, 0, UInt8(i + 1)))
        }
        #expect(topology.home(of: 0) == pod)
        topology.note(point: 0, capturePoint: point, group: 20, IPAddress(10, 244, 0, 11), IPAddress(10, 96, 0, 1))
        #expect(topology.home(of: 0) == nil)
        topology.note(point: 0, capturePoint: point, group: 21, pod, IPAddress(10, 96, 0, 2))
        #expect(topology.home(of: 0) == nil)
    }
}
