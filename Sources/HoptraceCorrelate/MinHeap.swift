/// A binary min-heap: the least element first, insertion and removal in O(log n).
struct MinHeap<Element: Comparable> {
    private var elements: [Element] = []

    /// The elements held.
    var count: Int { elements.count }
    /// Whether it holds none.
    var isEmpty: Bool { elements.isEmpty }
    /// The least element.
    var min: Element? { elements.first }

    /// Adds an element.
    mutating func insert(_ element: Element) {
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
    @discardableResult
    mutating func removeMin() -> Element? {
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
    mutating func removeAll() { elements.removeAll() }
}
