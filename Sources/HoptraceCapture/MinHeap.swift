/// A binary min-heap: the least element first, insertion and removal in O(log n). Used wherever a pass must take
/// the earliest of many (the merge of capture files by time, the correlator's timer wheel, DNS lookups' deadlines);
/// inlinable, so that each use is specialized for its element. Public rather than `package`: with Swift 6.3 the
/// other modules called the unspecialized generic code of the `package` form (every comparison through a witness
/// table, ~10,000 instructions to take the earliest of the DNS lookups' deadlines).
public struct MinHeap<Element: Comparable> {
    @usableFromInline var elements: [Element] = []

    /// An empty heap.
    @inlinable public init() {}

    /// The elements held.
    @inlinable public var count: Int { elements.count }
    /// Whether it holds none.
    @inlinable public var isEmpty: Bool { elements.isEmpty }
    /// The least element.
    @inlinable public var min: Element? { elements.first }

    /// Reserves room for `capacity` elements.
    @inlinable public mutating func reserveCapacity(_ capacity: Int) { elements.reserveCapacity(capacity) }

    /// Adds an element.
    @inlinable public mutating func insert(_ element: Element) {
        elements.append(element)
        var child = elements.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard elements[child] < elements[parent] else { break }
            elements.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the least element.
    @inlinable @discardableResult public mutating func removeMin() -> Element? {
        guard let first = elements.first else { return nil }
        let last = elements.removeLast()
        guard !elements.isEmpty else { return first }
        elements[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < elements.count, elements[left] < elements[smallest] { smallest = left }
            if right < elements.count, elements[right] < elements[smallest] { smallest = right }
            if smallest == parent { break }
            elements.swapAt(parent, smallest)
            parent = smallest
        }
        return first
    }

    /// Forgets every element.
    @inlinable public mutating func removeAll() { elements.removeAll() }
}
