import Testing

@testable import HoptraceCorrelate

/// A connection's traced exchanges (the first held inline, the rest in a set) against Swift's own Set, on every
/// sequence of insertions of 0-4 keys drawn from 5 (raw sequence number or none, index), asking for each of the 5.
@Test func exchangeKeySetIsASet() {
    let keys = [
        ExchangeKey(raw: nil, index: 0), ExchangeKey(raw: 7, index: 0), ExchangeKey(raw: 7, index: 1),
        ExchangeKey(raw: nil, index: 1), ExchangeKey(raw: 0, index: 0),
    ]
    var sequences: [[Int]] = [[]]
    var frontier: [[Int]] = [[]]
    for _ in 0..<4 {
        frontier = frontier.flatMap { sequence in keys.indices.map { sequence + [$0] } }
        sequences += frontier
    }
    #expect(sequences.count == 1 + 5 + 25 + 125 + 625)
    for sequence in sequences {
        var small = ExchangeKeySet()
        var reference = Set<ExchangeKey>()
        for index in sequence {
            small.insert(keys[index])
            reference.insert(keys[index])
            #expect(small.isEmpty == reference.isEmpty)
            for key in keys { #expect(small.contains(key) == reference.contains(key), "\(sequence)") }
        }
        #expect(small.isEmpty == sequence.isEmpty)
    }
}
