import Testing

@testable import HoptraceCorrelate

/// A deterministic generator (SplitMix64), so that a failure names the operation it happened at.
private struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The id table against Swift's Dictionary: the same inserts, replacements, removals and filtered removals, in the
/// shapes the correlator makes (consecutive ids inserted and removed in a sliding window, ids at random, the extreme
/// keys), and after every step the same answer for every key asked, the same count and the same values.
@Test(arguments: [0, 1, 2])
func idTableIsADictionary(shape: Int) {
    var random = SplitMix(state: UInt64(shape) &+ 7)
    var table = IDTable<UInt64, Int>()
    var reference: [UInt64: Int] = [:]
    var asked: [UInt64] = [0, 1, .max, .max - 1]
    var next: UInt64 = 0
    for step in 0..<30_000 {
        let key: UInt64
        switch shape {
        case 0:
            // A window of consecutive ids: the newest inserted, the oldest removed (records as a flood makes them).
            key = random.next() % 4 == 0 ? next &- 200 : next
            if key == next { next += 1 }
        case 1:
            key = random.next() % 5_000
        default:
            key = [0, 1, .max, .max - 1, 1 << 63, random.next()][Int(random.next() % 6)]
        }
        asked.append(key)
        switch random.next() % 10 {
        case 0..<6:
            let value = Int(truncatingIfNeeded: random.next())
            table[key] = value
            reference[key] = value
        case 6..<9:
            table[key] = nil
            reference[key] = nil
        default:
            if step % 97 == 0 {
                let cut = random.next()
                table.removeAll { key, _ in key < cut }
                reference = reference.filter { $0.key >= cut }
            }
        }
        #expect(table.count == reference.count, "step \(step)")
        for probe in asked.suffix(16) {
            #expect(table[probe] == reference[probe], "step \(step), key \(probe)")
        }
    }
    for key in asked { #expect(table[key] == reference[key], "key \(key)") }
    #expect(table.values.sorted() == reference.values.sorted())
    #expect(table.isEmpty == reference.isEmpty)
}

/// Negative Int keys (group ids are not, but the table takes any) map to keys of their own, -1 included (the one
/// held apart).
@Test func idTableTakesNegativeInts() {
    var table = IDTable<Int, String>()
    for key in [-1, -2, 0, 1, Int.min, Int.max] { table[key] = "\(key)" }
    #expect(table.count == 6)
    for key in [-1, -2, 0, 1, Int.min, Int.max] { #expect(table[key] == "\(key)") }
    table[-1] = nil
    #expect(table[-1] == nil)
    #expect(table.count == 5)
    #expect(table.values.sorted() == ["-2", "-9223372036854775808", "0", "1", "9223372036854775807"])
}
