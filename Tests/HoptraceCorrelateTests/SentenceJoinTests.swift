import Testing

@testable import HoptraceCorrelate

/// The sentences' joiner against the standard library's `joined()` of the same pieces: empty ones, non-ASCII ones, one
/// alone.
@Test func joinedPiecesAreTheJoinedText() {
    let cases: [[String]] = [
        ["GET", " ", "/ka/0", " completed", " 200", " in ", "4 µs"], ["", "", ""], ["only"], ["é", "", "✓→", "x"],
        [String(repeating: "long/", count: 40), " received the request at ", "node-a/cni0"],
    ]
    for pieces in cases {
        let joined: String
        switch pieces.count {
        case 1: joined = Diagnosis.join(pieces[0])
        case 3: joined = Diagnosis.join(pieces[0], pieces[1], pieces[2])
        case 4: joined = Diagnosis.join(pieces[0], pieces[1], pieces[2], pieces[3])
        default: joined = Diagnosis.join(pieces[0], pieces[1], pieces[2], pieces[3], pieces[4], pieces[5], pieces[6])
        }
        #expect(joined == pieces.joined(), "\(pieces)")
        #expect(joined.utf8.count == pieces.map(\.utf8.count).reduce(0, +))
    }
}
