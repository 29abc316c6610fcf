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
    /// The sources with a head packet, least (head timestamp, source index) first.
    private var heap = MinHeap<Head>()

    /// A source's place in the heap: its head packet's time, ties by the order the sources were given.
    private struct Head: Comparable {
        var timestamp: Int64
        var source: Int

        static func < (a: Head, b: Head) -> Bool { (a.timestamp, a.source) < (b.timestamp, b.source) }
    }
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
        guard let top = heap.removeMin()?.source else {
            if let firstError {
                self.firstError = nil
                throw firstError
            }
            return nil
        }
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
        if let head = heads[index] {
            heap.insert(Head(timestamp: head.timestamp, source: index))
        }
    }

    private func syncInterfaces(of index: Int) {
        let local = sources[index].interfaces
        while interfaceMaps[index].count < local.count {
            interfaceMaps[index].append(interfaces.count)
            interfaces.append(local[interfaceMaps[index].count - 1])
        }
    }
}
