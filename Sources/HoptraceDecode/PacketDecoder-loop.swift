import HoptraceCapture

/// What ``PacketDecoder/decodePackets(from:capturePoints:counts:filter:_:)`` has read so far.
public struct PacketLoopCounts: Sendable, Equatable {
    /// Packets read from the source (fragments swallowed by reassembly included).
    public var packets: Int
    /// The latest packet time seen (ns since the epoch), 0 when none.
    public var lastTime: Int64

    /// Nothing read.
    @inlinable
    public init() {
        self.packets = 0
        self.lastTime = 0
    }
}

extension PacketDecoder {
    /// Reads `source` to its end, decodes each packet, names its capture point, and lends each decoded packet to
    /// `body`: the read → decode loop `flows`, `requests` and `trace` run, without a copy of the decoded packet,
    /// without allocation, and without dynamic dispatch per packet for the file readers.
    ///
    /// - Parameters:
    ///   - source: the packets; a ``PcapFileReader``, ``PcapngFileReader``, ``MergedPacketSource`` or
    ///     ``LabeledPacketSource`` gets a loop of its own.
    ///   - capturePoints: gives each packet its capture point id.
    ///   - counts: packets read and the latest time, updated as the loop goes (also when it throws).
    ///   - filter: a BPF filter; packets it rejects are read and counted but not decoded (nil: every packet).
    ///   - body: gets each decoded packet (borrowed: valid only during the call) and its capture point id; fragments
    ///     that do not complete a datagram are not passed on (``DecodeOptions/swallowFragments``).
    /// - Throws: the source's error (a truncated or corrupt file), after every packet before it went to `body`; the
    ///   filter's, when it cannot be compiled for a link type met in the file.
    @inlinable
    public func decodePackets(
        from source: any PacketSource,
        capturePoints: CapturePointTable,
        counts: inout PacketLoopCounts,
        filter: PacketFilter? = nil,
        _ body: (borrowing DecodedPacket, Int) -> Void
    ) throws(CaptureError) {
        if let pcap = source as? PcapFileReader {
            try self.decodePackets(in: pcap, capturePoints: capturePoints, counts: &counts, filter: filter, body)
        } else if let pcapng = source as? PcapngFileReader {
            try self.decodePackets(in: pcapng, capturePoints: capturePoints, counts: &counts, filter: filter, body)
        } else if let merged = source as? MergedPacketSource {
            try self.decodePackets(in: merged, capturePoints: capturePoints, counts: &counts, filter: filter, body)
        } else if let labeled = source as? LabeledPacketSource {
            // A file of `CaptureSet` (every file `flows`, `requests` and `trace` read is labeled with its node): a
            // loop of its own too, one dynamic call per packet (to the file's reader), and the decoded packet lent
            // without a copy (the loop over `any PacketSource` copies it for each call of `body`).
            try self.decodePackets(in: labeled, capturePoints: capturePoints, counts: &counts, filter: filter, body)
        } else {
            try self.decodePackets(in: source, capturePoints: capturePoints, counts: &counts, filter: filter, body)
        }
    }

    /// ``decodePackets(from:capturePoints:counts:filter:_:)`` over a source of a known type.
    @inlinable
    public func decodePackets<Source: PacketSource>(
        in source: Source,
        capturePoints: CapturePointTable,
        counts: inout PacketLoopCounts,
        filter: PacketFilter? = nil,
        _ body: (borrowing DecodedPacket, Int) -> Void
    ) throws(CaptureError) {
        // The decoded packet lives behind a pointer so that lending it to `body` passes its address (a local `var`
        // is copied, 500-odd bytes, to a temporary for each call). It is trivial: no deinitialization needed.
        let decoded = UnsafeMutablePointer<DecodedPacket>.allocate(capacity: 1)
        decoded.initialize(to: .empty)
        var packets = counts.packets
        var lastTime = counts.lastTime
        defer {
            decoded.deallocate()
            counts.packets = packets
            counts.lastTime = lastTime
        }
        while let packet = try source.next() {
            packets &+= 1
            if packet.timestamp > lastTime { lastTime = packet.timestamp }
            if let filter, try !filter.matches(packet) { continue }
            guard self.decode(packet, into: &decoded.pointee) else { continue }
            let point = capturePoints.id(for: decoded.pointee, in: source)
            body(decoded.pointee, point)
        }
    }
}
