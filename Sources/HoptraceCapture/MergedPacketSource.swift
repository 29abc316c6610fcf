/// Several packet sources merged into one stream in timestamp order (a min-heap over the sources' head packets).
///
/// Each source keeps its own buffer, so the head packets of the sources not chosen stay valid while one source
/// advances; a source is advanced only when the next packet is asked for, so the packet last returned stays valid
/// until then, as ``PacketSource`` promises. Equal timestamps keep the order of the sources as given.
///
/// The interface tables are concatenated: a source's interface `i` appears as `offset + i`, interfaces being added
/// to ``interfaces`` as each source reveals them. A source that fails is dropped; the others are read to the end
/// and then its error is thrown (the first error, if several fail).
public final class MergedPacketSource: PacketSource {
    /// The interfaces of all sources, each source's in its own order, in the order they were first seen.
    public private(set) var interfaces: [InterfaceDescription] = []

    private let sources: [any PacketSource]
    /// For each source, its local interface index -> global index.
    private var interfaceMaps: [[Int]]
    private var heads: [Packet?]
    /// Source indices ordered as a binary min-heap on (head timestamp, source index).
    private var heap: [Int] = []
    /// The source whose packet was returned last; it is advanced at the next call.
    private var toAdvance: Int?
    private var firstError: CaptureError?
    private var started = false

    /// Merges `sources`, in the order given for equal timestamps.
    public init(_ sources: [any PacketSource]) {
        self.sources = sources
        self.interfaceMaps = Array(repeating: [], count: sources.count)
        self.heads = Array(repeating: nil, count: sources.count)
        heap.reserveCapacity(sources.count)
        for index in sources.indices {
            syncInterfaces(of: index)
        }
    }

    /// The bytes every file has consumed.
    public var bytesRead: UInt64 { sources.reduce(0) { $0 &+ $1.bytesRead } }

    /// The sources' counts, summed.
    public var timestampAnomalies: TimestampAnomalies {
        sources.reduce(TimestampAnomalies()) { $0 + $1.timestampAnomalies }
    }

    /// The packet with the smallest timestamp among the sources' heads; its bytes are valid until the next call.
    public func next() throws(CaptureError) -> Packet? {
        if !started {
            started = true
            for index in sources.indices {
                advance(index)
            }
        } else if let index = toAdvance {
            advance(index)
        }
        toAdvance = nil
        guard let top = heap.first else {
            if let firstError {
                self.firstError = nil
                throw firstError
            }
            return nil
        }
        popHeap()
        toAdvance = top
        guard var packet = heads[top] else {
            return nil
        }
        if packet.interfaceID >= interfaceMaps[top].count {
            syncInterfaces(of: top)
        }
        let map = interfaceMaps[top]
        packet.interfaceID = packet.interfaceID >= 0 && packet.interfaceID < map.count ? map[packet.interfaceID] : -1
        return packet
    }

    private func advance(_ index: Int) {
        do {
            heads[index] = try sources[index].next()
        } catch {
            heads[index] = nil
            if firstError == nil {
                firstError = error
            }
        }
        if heads[index] != nil {
            pushHeap(index)
        }
    }

    private func syncInterfaces(of index: Int) {
        let local = sources[index].interfaces
        while interfaceMaps[index].count < local.count {
            interfaceMaps[index].append(interfaces.count)
            interfaces.append(local[interfaceMaps[index].count - 1])
        }
    }

    // MARK: - Heap

    private func less(_ a: Int, _ b: Int) -> Bool {
        let ta = heads[a]?.timestamp ?? Int64.max
        let tb = heads[b]?.timestamp ?? Int64.max
        return ta < tb || (ta == tb && a < b)
    }

    private func pushHeap(_ index: Int) {
        heap.append(index)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private func popHeap() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count && less(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count && less(heap[right], heap[smallest]) { smallest = right }
            if smallest == parent { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
