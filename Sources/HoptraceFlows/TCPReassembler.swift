// One direction of a TCP connection reassembled into a byte stream.
//
// Sequence numbers are 32-bit and wrap; they are compared with serial arithmetic (RFC 1982): a number is unwrapped
// to a 64-bit offset relative to the ISN by taking its signed 32-bit distance from the next expected byte. The first
// data byte has relative offset 1 (the SYN takes offset 0), as in Wireshark's relative sequence numbers.
//
// In-order data is handed to the consumer straight from the packet's bytes, no copy. Data ahead of a hole is copied
// and held, up to `maxBufferedBytes`; the hole is declared a gap (bytes this capture never saw) when the peer
// acknowledges past it, when the buffer is full, or when the stream ends. Held segments are at most
// `maxHeldSegments`; past it, runs of held segments that join are merged first (`compactHeld`), and only if that
// leaves too many is the hole declared a gap: data split into many tiny segments out of order is not lost while its
// bytes fit.

/// What the reassembler hands to its consumer, in stream order.
enum StreamChunk {
    /// Bytes starting at relative offset `offset`, captured at `time`. Borrowed: valid during the call only.
    case data(UnsafeRawBufferPointer, offset: UInt64, time: Int64)
    /// `length` bytes starting at `offset` that were never captured.
    case gap(offset: UInt64, length: UInt64, time: Int64)
}

/// How a segment relates to what its direction's stream had already seen.
public enum SegmentKind: Hashable, Sendable {
    /// No payload.
    case empty
    /// The next bytes of the stream.
    case inOrder
    /// It fills a hole: later bytes had already arrived.
    case outOfOrder
    /// It starts past a hole: held until the hole fills.
    case ahead
    /// All or part of it had already arrived.
    case retransmission
    /// A keep-alive probe (zero or one byte just below the next expected byte).
    case keepAlive
}

/// Where one direction's stream stands: plain values, cheap to copy (no buffers).
struct StreamPosition {
    var base: UInt32
    var isAnchored: Bool
    var next: UInt64
    var highest: UInt64
    var isFinished: Bool

    /// The relative offset of `seq`, unwrapped near the next expected byte.
    @inline(__always)
    func relative(_ seq: UInt32) -> UInt64 {
        let reference = self.base &+ UInt32(truncatingIfNeeded: self.next)
        let delta = Int64(Int32(bitPattern: seq &- reference))
        let value = Int64(bitPattern: self.next) &+ delta
        return value < 0 ? 0 : UInt64(value)
    }
}

struct TCPStreamReassembler {
    /// Most bytes held ahead of a hole per direction.
    static let maxBufferedBytes = 256 * 1024
    /// Most segments held ahead of a hole per direction (segments cut to nothing by the snapshot length hold no
    /// bytes, but each is an entry to search and shift). Past it, held segments that join are merged before the hole
    /// is given up (`compactHeld`): this cap bounds the cost of a search and a shift, the byte cap bounds memory.
    /// After a pass that freed less than an eighth of it, the next pass waits until an eighth more are held (at most
    /// 1,152 entries).
    static let maxHeldSegments = 1024

    /// Bytes held ahead of a hole: one segment as it came, or (past `maxHeldSegments`) a run of segments merged.
    struct Held {
        var start: UInt64
        var bytes: [UInt8]
        var wireLength: Int
        var time: Int64

        /// One past its last relative offset on the wire.
        var end: UInt64 { self.start + UInt64(self.wireLength) }
        /// Whether every byte on the wire was captured (the snapshot length cut none of it).
        var isWhole: Bool { self.bytes.count == self.wireLength }
    }

    /// The sequence number of relative offset 0 (the ISN, or the first sequence number seen minus one).
    private(set) var base: UInt32 = 0
    /// Whether `base` is set.
    private(set) var isAnchored = false
    /// The next expected relative offset.
    private(set) var next: UInt64 = 1
    /// One past the highest relative offset seen in data.
    private(set) var highest: UInt64 = 1
    /// The relative offset the FIN occupies, once seen.
    private(set) var finOffset: UInt64?
    /// Whether the FIN was reached in order.
    private(set) var isFinished = false
    /// Whether the last pass merging held segments left more than seven eighths of the cap (see `segment`).
    private var compactsLate = false
    private var held: [Held] = []
    private var heldBytes = 0
    /// Holes declared so far.
    private(set) var gapCount = 0
    /// Bytes in those holes.
    private(set) var gapBytes: UInt64 = 0

    /// Anchors on a SYN's sequence number (the ISN).
    mutating func anchor(isn: UInt32) {
        if self.isAnchored && self.next > 1 { return }
        self.base = isn
        self.isAnchored = true
        self.next = 1
        self.highest = 1
    }

    /// Anchors on the first segment of a direction whose SYN was not seen.
    mutating func anchorMidstream(seq: UInt32) {
        guard !self.isAnchored else { return }
        self.base = seq &- 1
        self.isAnchored = true
        self.next = 1
        self.highest = 1
    }

    /// How many segments may be held before a pass merges them: the cap, or an eighth more after a pass that freed
    /// little (see `segment`).
    private var heldSegmentLimit: Int {
        let cap = TCPStreamReassembler.maxHeldSegments
        return self.compactsLate ? cap + cap / 8 : cap
    }

    /// The relative offset of `seq`, unwrapped near the next expected byte.
    @inline(__always)
    func relative(_ seq: UInt32) -> UInt64 { self.position.relative(seq) }

    /// The scalar state, without the held bytes.
    @inline(__always)
    var position: StreamPosition {
        StreamPosition(
            base: self.base,
            isAnchored: self.isAnchored,
            next: self.next,
            highest: self.highest,
            isFinished: self.isFinished
        )
    }

    /// Whether bytes are held ahead of a hole.
    var hasHeldData: Bool { !self.held.isEmpty }

    /// The bytes held ahead of holes.
    var heldByteCount: Int { self.heldBytes }

    /// One segment's payload.
    /// - Parameters:
    ///   - seq: the segment's sequence number (for a SYN carrying data, the ISN + 1).
    ///   - payload: the captured payload (may be shorter than `wireLength` when the snapshot length cut it).
    ///   - wireLength: the payload's length on the wire.
    ///   - fin: whether the segment carries FIN (which follows its payload).
    mutating func segment(
        seq: UInt32,
        payload: UnsafeRawBufferPointer,
        wireLength: Int,
        fin: Bool,
        time: Int64,
        deliver: (StreamChunk) -> Void
    ) -> SegmentKind {
        let start = self.relative(seq)
        let end = start + UInt64(wireLength)
        if fin, self.finOffset == nil { self.finOffset = end }
        if wireLength == 0 {
            if wireLength == 0, !fin, start + 1 == self.next, self.next > 1 { return .keepAlive }
            self.consumeFinIfReached()
            return .empty
        }
        let previousHighest = self.highest
        if end > self.highest { self.highest = end }
        if end <= self.next {
            if wireLength == 1 && start + 1 == self.next && !fin { return .keepAlive }
            return .retransmission
        }
        if start <= self.next {
            let kind: SegmentKind =
                start < self.next
                ? .retransmission : (previousHighest > end || self.hasHeldData ? .outOfOrder : .inOrder)
            self.deliverInOrder(payload, start: start, wireLength: wireLength, time: time, deliver: deliver)
            self.drainHeld(deliver: deliver)
            self.consumeFinIfReached()
            return kind
        }
        // Ahead of a hole.
        if self.held.contains(where: { $0.start <= start && $0.start + UInt64($0.wireLength) >= end }) {
            return .retransmission
        }
        self.hold(Held(start: start, bytes: Array(payload), wireLength: wireLength, time: time))
        if self.held.count > self.heldSegmentLimit {
            self.compactHeld()
            // The hole is given up only when merging cannot bring the segments held down to the cap.
            while self.held.count > TCPStreamReassembler.maxHeldSegments, let first = self.held.first {
                self.declareGap(upTo: first.start, time: time, deliver: deliver)
                self.drainHeld(deliver: deliver)
            }
            // A pass that left nearly as many segments as the cap waits for an eighth more before the next: each
            // pass copies the runs it merges (up to the byte cap), and passes that free a segment or two each must
            // not come at every segment (a run grown one byte at a time in front of ~1,000 separate segments).
            self.compactsLate = self.held.count > TCPStreamReassembler.maxHeldSegments * 7 / 8
        }
        while self.heldBytes > TCPStreamReassembler.maxBufferedBytes, let first = self.held.first {
            self.declareGap(upTo: first.start, time: time, deliver: deliver)
            self.drainHeld(deliver: deliver)
        }
        self.consumeFinIfReached()
        return .ahead
    }

    /// The peer acknowledged up to `ack`: bytes before it that this capture never saw are a hole.
    mutating func acknowledged(_ ack: UInt32, time: Int64, deliver: (StreamChunk) -> Void) {
        guard self.isAnchored else { return }
        var acked = self.relative(ack)
        if let fin = self.finOffset, acked > fin { acked = fin }
        guard acked > self.next, acked - self.next < 1 << 30 else { return }
        if let first = self.held.first, first.start < acked {
            self.declareGap(upTo: first.start, time: time, deliver: deliver)
            self.drainHeld(deliver: deliver)
        } else if self.held.isEmpty {
            self.declareGap(upTo: acked, time: time, deliver: deliver)
            if acked > self.highest { self.highest = acked }
        }
        self.consumeFinIfReached()
    }

    /// The stream ends: held bytes are delivered with gaps before them.
    mutating func flush(time: Int64, deliver: (StreamChunk) -> Void) {
        while let first = self.held.first {
            self.declareGap(upTo: first.start, time: time, deliver: deliver)
            self.drainHeld(deliver: deliver)
        }
        self.consumeFinIfReached()
    }

    private mutating func declareGap(upTo end: UInt64, time: Int64, deliver: (StreamChunk) -> Void) {
        guard end > self.next else { return }
        let length = end - self.next
        self.gapCount += 1
        self.gapBytes += length
        deliver(.gap(offset: self.next, length: length, time: time))
        self.next = end
    }

    private mutating func deliverInOrder(
        _ payload: UnsafeRawBufferPointer,
        start: UInt64,
        wireLength: Int,
        time: Int64,
        deliver: (StreamChunk) -> Void
    ) {
        let end = start + UInt64(wireLength)
        let skip = Int(self.next - start)
        let capturedEnd = start + UInt64(payload.count)
        if skip < payload.count {
            deliver(.data(UnsafeRawBufferPointer(rebasing: payload[skip...]), offset: self.next, time: time))
            self.next = capturedEnd
        }
        if capturedEnd < end {
            // The snapshot length cut the payload: the rest is a hole.
            self.declareGap(upTo: end, time: time, deliver: deliver)
        }
        self.next = max(self.next, end)
    }

    private mutating func drainHeld(deliver: (StreamChunk) -> Void) {
        while let first = self.held.first, first.start <= self.next {
            self.held.removeFirst()
            self.heldBytes -= first.bytes.count
            let end = first.start + UInt64(first.wireLength)
            if end > self.next {
                first.bytes.withUnsafeBytes { bytes in
                    self.deliverInOrder(
                        bytes,
                        start: first.start,
                        wireLength: first.wireLength,
                        time: first.time,
                        deliver: deliver
                    )
                }
            }
        }
    }

    /// Merges each run of held segments that join (each starts at or before the end of the ones before it) and were
    /// captured whole into one `Held`: its bytes are what `drainHeld` would deliver from the run, in order, each byte
    /// from the first segment (in `held`'s order) that holds it; bytes of the run's later segments already covered
    /// are dropped, and a segment wholly covered adds nothing, time included. A segment the snapshot length cut stays
    /// on its own (its tail is a hole, to be declared a gap where it is), and so splits the run it sits in.
    ///
    /// The time of a merged run is the latest of its segments' that add bytes: its bytes were all there only at that
    /// arrival. In the ordinary case, segments after one loss arriving in order, that is the run's last segment's
    /// time, so the end of a response keeps its time; the run's first bytes take it too (the cost of one entry per
    /// run), which only happens past `maxHeldSegments`.
    ///
    /// Called only when `held` passed `maxHeldSegments`, so captures below it are reassembled segment by segment as
    /// they always were. A pass is linear in the entries and copies the bytes of the runs it merges (at most the byte
    /// cap); passes come at most once every `maxHeldSegments / 8` segments held (see `segment`).
    private mutating func compactHeld() {
        // Entries before `kept` are final; those from `kept` up to `index` were moved out or merged.
        var kept = 0
        var index = 0
        let count = self.held.count
        while index < count {
            var runEnd = index + 1
            var end = self.held[index].end
            var time = self.held[index].time
            var runBytes = self.held[index].bytes.count
            if self.held[index].isWhole {
                while runEnd < count, self.held[runEnd].isWhole, self.held[runEnd].start <= end {
                    let next = self.held[runEnd].end
                    if next > end {
                        end = next
                        time = max(time, self.held[runEnd].time)
                    }
                    runBytes += self.held[runEnd].bytes.count
                    runEnd += 1
                }
            }
            if runEnd == index + 1 {
                self.held.swapAt(kept, index)
            } else {
                // The run's first bytes, taken out of `held` so that appending to them copies nothing else.
                var bytes: [UInt8] = []
                swap(&bytes, &self.held[index].bytes)
                var covered = self.held[index].end
                for member in (index + 1)..<runEnd where self.held[member].end > covered {
                    let skip = Int(covered - self.held[member].start)
                    let more = self.held[member].bytes
                    bytes.append(contentsOf: more[skip...])
                    covered = self.held[member].end
                }
                let start = self.held[index].start
                self.heldBytes -= runBytes - bytes.count
                self.held[kept] = Held(start: start, bytes: bytes, wireLength: Int(end - start), time: time)
            }
            kept += 1
            index = runEnd
        }
        self.held.removeSubrange(kept...)
    }

    private mutating func hold(_ segment: Held) {
        let index = self.held.firstIndex(where: { $0.start > segment.start }) ?? self.held.count
        self.held.insert(segment, at: index)
        self.heldBytes += segment.bytes.count
    }

    private mutating func consumeFinIfReached() {
        if !self.isFinished, let fin = self.finOffset, self.next >= fin, self.held.isEmpty {
            self.isFinished = true
            self.next = fin + 1
        }
    }
}
