import HoptraceCapture
import Testing

@testable import HoptraceDecode

/// A capture naming a new interface in every packet (SLL2 interface indexes are 32 bits, pcapng interface blocks
/// unbounded) gives points up to ``CapturePointTable/maxPoints``; past it each node's packets on new interfaces are
/// counted at one point, so that what the table (and the correlator's knowledge of each point) holds stays bounded.
@Suite("capture points: capped")
struct CapturePointCapTests {
    @Test("65,546 SLL2 interface indexes: 65,536 points, then one per node for the rest, and known ones keep theirs")
    func capped() {
        let table = CapturePointTable()
        let interfaces = [
            InterfaceDescription(name: "any", linkType: .linuxSLL2, isNamed: false),
            InterfaceDescription(name: "any", linkType: .linuxSLL2, isNamed: false, node: "node-b"),
        ]
        let cap = CapturePointTable.maxPoints
        var ids: [Int] = []
        for index in 0..<Int32(cap + 10) {
            ids.append(table.id(interfaceID: 0, ifIndex: index + 1, interfaces: interfaces))
        }
        #expect(Set(ids.prefix(cap)).count == cap)
        #expect(table[ids[cap - 1]].name == "if\(cap)")
        let other = ids[cap]
        #expect(ids.suffix(10).allSatisfy { $0 == other })
        #expect(table[other].name == CapturePointTable.otherInterfaces)
        #expect(table[other].node == nil)
        #expect(table.overflowed >= 10)
        // A point given before the cap keeps its id.
        #expect(table.id(interfaceID: 0, ifIndex: 7, interfaces: interfaces) == ids[6])
        // Another node's new interface past the cap: that node's own point for the rest.
        let otherB = table.id(interfaceID: 1, ifIndex: 3, interfaces: interfaces)
        #expect(otherB != other)
        #expect(table[otherB].name == CapturePointTable.otherInterfaces && table[otherB].node == "node-b")
        #expect(table.points.count == cap + 2)
    }
}
