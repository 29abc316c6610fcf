import Testing

@testable import HoptraceCorrelate

/// The candidate list against the array it replaces (append keeping the latest `cap`, remove every copy of an id, nil
/// once empty): the same ids in the same order after every step, over random notes and unnotes of a few ids (so that
/// lists grow, shrink back to one inline id and empty), with caps of 1, 2 and the engine's 64.
@Test(arguments: [1, 2, TraceEngine.candidatesPerKey])
func candidateListIsAnArray(cap: Int) {
    var state: UInt64 = UInt64(cap) &* 0x9E37_79B9_7F4A_7C15
    func next() -> Int {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int(truncatingIfNeeded: state >> 33)
    }
    var list: CandidateList?
    var reference: [Int]?
    for step in 0..<20_000 {
        // Ids from a small range (repeats and removals of ids listed), and now and then a long run of notes.
        let id = next() % (step % 1_000 < 900 ? 6 : 200)
        if next() % 3 == 0 {
            CandidateList.unnote(id, in: &list)
            if var ids = reference {
                ids.removeAll { $0 == id }
                reference = ids.isEmpty ? nil : ids
            }
        } else {
            CandidateList.note(id, in: &list, cap: cap)
            var ids = reference ?? []
            if ids.count >= cap { ids.removeFirst(ids.count - cap + 1) }
            ids.append(id)
            reference = ids
        }
        #expect(list.map(Array.init) == reference, "step \(step), cap \(cap)")
        if let list, list.count == 1, case .many = list { Issue.record("one id held in an array at step \(step)") }
    }
}
