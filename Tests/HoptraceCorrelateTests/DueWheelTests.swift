import Testing

@testable import HoptraceCorrelate

/// The wheel of due seconds keeps stale entries (a group moved later, or traced) until their bucket comes up, and
/// drops them when compacted: what is due, and in what order, does not change.
@Suite("due wheel")
struct DueWheelTests {
    /// Pops everything due by `second`.
    static func drain(_ wheel: inout DueWheel, through second: Int64) -> [(Int64, [Int])] {
        var popped: [(Int64, [Int])] = []
        while let bucket = wheel.popDue(through: second) { popped.append(bucket) }
        return popped
    }

    @Test("compacting keeps the live entries, in their order, and drops empty buckets")
    func compact() {
        var wheel = DueWheel()
        // Group 1 due at 10, then moved to 20; group 2 at 10; group 3 at 30, then traced; group 4 at 10 after 2.
        wheel.insert(10, 1)
        wheel.insert(10, 2)
        wheel.insert(20, 1)
        wheel.insert(30, 3)
        wheel.insert(10, 4)
        #expect(wheel.count == 5)
        let live: [Int: Int64] = [1: 20, 2: 10, 4: 10]
        wheel.compact { second, id in live[id] == second }
        #expect(wheel.count == 3)
        let popped = Self.drain(&wheel, through: 100)
        #expect(popped.map(\.0) == [10, 20])
        #expect(popped.map(\.1) == [[2, 4], [1]])
        #expect(wheel.count == 0)
    }

    @Test("what is due by a second comes out in time order whether or not the wheel was compacted")
    func sameOrder() {
        var plain = DueWheel()
        var compacted = DueWheel()
        var live: [Int: Int64] = [:]
        // 3,000 groups, each scheduled up to three times (later each time); every fifth is traced (gone).
        for id in 0..<3_000 {
            for step in 0..<(1 + id % 3) {
                let second = Int64(id % 97 + step * 13)
                plain.insert(second, id)
                compacted.insert(second, id)
                live[id] = second
            }
            if id % 5 == 0 { live[id] = nil }
        }
        compacted.compact { second, id in live[id] == second }
        #expect(compacted.count == live.count)
        let keep: ((Int64, [Int])) -> (Int64, [Int]) = { bucket in (bucket.0, bucket.1.filter { live[$0] == bucket.0 })
        }
        for through: Int64 in [5, 50, 500] {
            let expected = Self.drain(&plain, through: through).map(keep).filter { !$0.1.isEmpty }
            let got = Self.drain(&compacted, through: through)
            #expect(got.map(\.0) == expected.map(\.0))
            #expect(got.map(\.1) == expected.map(\.1))
        }
    }

    @Test("inserts and pops interleaved give what a dictionary of buckets gives, seconds reused after their pop")
    func matchesBuckets() {
        var wheel = DueWheel()
        var model: [Int64: [Int]] = [:]
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33) % bound
        }
        var now: Int64 = 0
        for id in 0..<20_000 {
            // Mostly the same second as the last insert (a burst), sometimes one already due or popped.
            let second = now + Int64(next(4)) - 1
            wheel.insert(second, id)
            model[second, default: []].append(id)
            if next(50) == 0 {
                now += 1
                while let (second, ids) = wheel.popDue(through: now) {
                    let expected = model.keys.min()
                    #expect(second == expected)
                    #expect(ids == model.removeValue(forKey: second))
                }
                #expect(model.keys.allSatisfy { $0 > now })
            }
            #expect(wheel.count == model.values.reduce(0) { $0 + $1.count })
        }
    }
}
