/// An array kept in chunks of a fixed size: appending never copies what is held, so a table that grows to hundreds
/// of thousands of slots under a flood does not hold its old and its new storage at once while it doubles (a
/// 200,000-slot table of the onward index held 63 MB at the peak that way, a third of it the old copy).
struct ChunkedArray<Element> {
    /// Elements per chunk, as a shift.
    private static var shift: Int { 12 }
    private static var mask: Int { (1 << shift) - 1 }

    private var chunks: [[Element]] = []
    /// The elements held.
    private(set) var count = 0

    /// The element at `index` (`0 ..< count`).
    subscript(index: Int) -> Element {
        get { chunks[index >> Self.shift][index & Self.mask] }
        _modify { yield &chunks[index >> Self.shift][index & Self.mask] }
    }

    /// `0 ..< count`.
    var indices: Range<Int> { 0..<count }

    /// Appends an element (a new chunk when the last is full; a chunk grows as an array does, up to its size).
    mutating func append(_ element: Element) {
        if count & Self.mask == 0 { chunks.append([]) }
        chunks[chunks.count - 1].append(element)
        count += 1
    }

    /// Forgets every element and its storage.
    mutating func removeAll() {
        chunks = []
        count = 0
    }
}
