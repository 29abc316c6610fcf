import Testing

@testable import HoptraceCapture

@Suite("Copy-on-write fields")
struct CopyOnWriteTests {
    struct Fields: Hashable {
        var name: String
        var values: [Int]
    }

    @Test("a copy written is its own; the original keeps its fields")
    func copiesAreValues() {
        let original = CopyOnWrite(Fields(name: "a", values: [1, 2]))
        var copy = original
        #expect(copy.box === original.box)
        copy.fields.values.append(3)
        copy.fields.name = "b"
        #expect(copy.box !== original.box)
        #expect(original.fields == Fields(name: "a", values: [1, 2]))
        #expect(copy.fields == Fields(name: "b", values: [1, 2, 3]))
    }

    @Test("a value written alone keeps its box")
    func uniqueWritesInPlace() {
        var value = CopyOnWrite(Fields(name: "a", values: []))
        let box = ObjectIdentifier(value.box)
        value.fields.values.append(1)
        #expect(ObjectIdentifier(value.box) == box)
    }

    @Test("equal by fields, shared or not; hashed as the fields")
    func equalityAndHash() {
        let one = CopyOnWrite(Fields(name: "a", values: [1]))
        let two = CopyOnWrite(Fields(name: "a", values: [1]))
        #expect(one == two)
        #expect(one.hashValue == Fields(name: "a", values: [1]).hashValue)
        var three = two
        three.fields.name = "c"
        #expect(three != two)
    }
}
