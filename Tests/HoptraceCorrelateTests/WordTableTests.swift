import Testing

@testable import HoptraceCorrelate

/// The table behind the given-up tuples: zeroed at first, and every word written is read back.
struct WordTableTests {
    @Test func startsZeroedAndHoldsEveryWord() {
        // The given-up tuples' size (8 MiB) and an odd one that does not fill its last page.
        for count in [8 << 17, 1_000_003] {
            let table = WordTable(count: count)
            #expect(table.count == count)
            var zeros = true
            for index in 0..<count where table.words[index] != 0 { zeros = false }
            #expect(zeros)
            for index in 0..<count { table.words[index] = UInt64(index) &* 0x9E37_79B9_7F4A_7C15 }
            var same = true
            for index in 0..<count where table.words[index] != UInt64(index) &* 0x9E37_79B9_7F4A_7C15 { same = false }
            #expect(same)
        }
    }
}
