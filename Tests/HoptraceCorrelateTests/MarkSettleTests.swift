import Testing

@testable import HoptraceCorrelate

/// A sighting's marks (the packets another point can recognise) are one per key, sorted by key, and of marks sharing
/// a key the last one added stands: what filling a dictionary key by key and sorting its pairs gives.
@Suite("path order: a sighting's marks, one per key")
struct MarkSettleTests {
    @Test("against a dictionary filled in order, over 5,000 random lists of up to 40 marks with repeated keys")
    func matchesDictionary() {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<5_000 {
            let count = Int.random(in: 0...40, using: &generator)
            // Few distinct keys, so that many repeat.
            let keySpace = UInt64.random(in: 1...12, using: &generator)
            var marks: PathOrder.Marks = []
            var reference: [UInt64: Int64] = [:]
            for _ in 0..<count {
                let key = UInt64.random(in: 0..<keySpace, using: &generator) << 32 | 7
                let time = Int64.random(in: -1_000...1_000, using: &generator)
                marks.append((key, time))
                reference[key] = time
            }
            PathOrder.settle(&marks)
            let expected = reference.sorted { $0.key < $1.key }
            #expect(marks.map(\.key) == expected.map(\.key), "round \(round)")
            #expect(marks.map(\.time) == expected.map(\.value), "round \(round)")
        }
    }
}
