import HoptraceTestSupport
import Testing

@testable import HoptraceFlows

/// A request split into one-byte segments sent out of order: past the 1,024 segments a direction holds ahead of a
/// hole, the held segments that join are merged, so the request is still reassembled while its bytes fit the 256 KiB
/// held per direction. The facts are the hand-built packets: the request's bytes, method and path, the segments'
/// order, the response's status.
@Suite("requests split into tiny segments out of order")
struct TinySegmentReassemblyTests {
    static let client = FlowEndpoint.v4("10.244.0.5", 41_234)
    static let server = FlowEndpoint.v4("10.96.0.10", 80)
    static let clientISN: UInt32 = 7_000
    static let serverISN: UInt32 = 90_000
    static let response = [UInt8](text: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    /// A GET for `path` padded with a header to exactly `length` bytes.
    static func request(path: String, length: Int) -> [UInt8] {
        let start = "GET \(path) HTTP/1.1\r\nHost: svc\r\nX-Pad: "
        let end = "\r\n\r\n"
        let pad = length - start.utf8.count - end.utf8.count
        precondition(pad >= 0)
        let bytes = [UInt8](text: start + String(repeating: "p", count: pad) + end)
        precondition(bytes.count == length)
        return bytes
    }

    /// A path of `length` bytes that says where each byte is (so a byte moved or lost changes it).
    static func path(length: Int) -> String {
        let digits = Array("0123456789abcdefghijklmnopqrstuvwxyz")
        return "/" + String((1..<length).map { digits[$0 % digits.count] })
    }

    /// One segment of the client's stream: its offset in the request, its bytes on the wire, and how many of them were
    /// captured.
    struct Piece {
        var offset: Int
        var length: Int
        var captured: Int
    }

    /// A handshake, `pieces` of `request` in the order given (one every 10 us), the server's ACK of all of it and a
    /// 200, FINs both ways. Returns the time of each piece, in the order sent.
    @discardableResult
    static func conversation(
        _ harness: FlowHarness,
        request: [UInt8],
        pieces: [Piece],
        response: [UInt8] = response
    ) -> [Int64] {
        let (cl, sv, c, s) = (client, server, clientISN, serverISN)
        let q = UInt32(request.count)
        let r = UInt32(response.count)
        harness.tcp(cl, sv, [.syn], seq: c, at: 0)
        harness.tcp(sv, cl, [.syn, .ack], seq: s, ack: c &+ 1, at: 1_000)
        harness.tcp(cl, sv, [.ack], seq: c &+ 1, ack: s &+ 1, at: 2_000)
        var time: Int64 = 10_000
        var times: [Int64] = []
        for piece in pieces {
            let payload = Array(request[piece.offset..<(piece.offset + piece.captured)])
            harness.tcp(
                cl,
                sv,
                [.ack, .psh],
                seq: c &+ 1 &+ UInt32(piece.offset),
                ack: s &+ 1,
                payload: payload,
                wireLength: piece.length,
                at: time
            )
            times.append(time)
            time += 10_000
        }
        harness.tcp(sv, cl, [.ack], seq: s &+ 1, ack: c &+ 1 &+ q, at: time)
        harness.tcp(sv, cl, [.ack, .psh], seq: s &+ 1, ack: c &+ 1 &+ q, payload: response, at: time + 1_000_000)
        harness.tcp(cl, sv, [.ack], seq: c &+ 1 &+ q, ack: s &+ 1 &+ r, at: time + 1_001_000)
        harness.tcp(cl, sv, [.fin, .ack], seq: c &+ 1 &+ q, ack: s &+ 1 &+ r, at: time + 1_002_000)
        harness.tcp(sv, cl, [.fin, .ack], seq: s &+ 1 &+ r, ack: c &+ 2 &+ q, at: time + 1_003_000)
        harness.tcp(cl, sv, [.ack], seq: c &+ 2 &+ q, ack: s &+ 2 &+ r, at: time + 1_004_000)
        return times
    }

    /// One-byte pieces, at the offsets given.
    static func bytes(_ offsets: [Int]) -> [Piece] { offsets.map { Piece(offset: $0, length: 1, captured: 1) } }

    /// A seeded shuffle (SplitMix64 and Fisher-Yates), the same on every platform.
    static func shuffled(_ values: [Int], seed: UInt64) -> [Int] {
        var state = seed
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var out = values
        for index in stride(from: out.count - 1, to: 0, by: -1) {
            let other = Int(next() % UInt64(index + 1))
            out.swapAt(index, other)
        }
        return out
    }

    /// The request is seen whole, with the method and path built, answered 200, and the client's stream has no gap.
    static func expectWhole(_ harness: FlowHarness, request: [UInt8], path: String) throws {
        harness.analyzer.finish()
        #expect(harness.exchanges.count == 1)
        let exchange = try #require(harness.exchanges.first)
        #expect(exchange.request?.method == "GET")
        #expect(exchange.request?.target == path)
        #expect(exchange.request?.host == "svc")
        #expect(exchange.request?.headLength == request.count)
        #expect(exchange.requestHasGap == false)
        #expect(exchange.requestFirstByte?.offset == 1)
        #expect(exchange.requestLastByte?.offset == UInt64(request.count))
        #expect(exchange.response?.status == 200)
        #expect(exchange.isResponseComplete)
        let record = try #require(harness.connections.first)
        #expect(record.originatorSummary.gaps == 0)
        #expect(record.originatorSummary.gapBytes == 0)
        #expect(record.originatorSummary.bytes == UInt64(request.count))
        #expect(record.state == .sf)
    }

    @Test(
        "one-byte segments in reverse order: the request is seen whole past 1,024 segments held",
        arguments: [(1_100, 40), (5_000, 250)]
    )
    func reverse(size: (length: Int, pathLength: Int)) throws {
        let path = Self.path(length: size.pathLength)
        let request = Self.request(path: path, length: size.length)
        let harness = FlowHarness()
        let times = Self.conversation(
            harness,
            request: request,
            pieces: Self.bytes(Array((0..<request.count).reversed()))
        )
        try Self.expectWhole(harness, request: request, path: path)
        // The first byte came last, in order: its own time.
        #expect(harness.exchanges.first?.requestFirstByte?.time == times.last)
    }

    @Test("one-byte segments in a seeded random order, the first byte after more than 1,024 others")
    func randomOrder() throws {
        let path = Self.path(length: 200)
        let request = Self.request(path: path, length: 3_000)
        let order = Self.shuffled(Array(0..<request.count), seed: 2021)
        // The order is what the test is about: the first byte comes after more than 1,024 later ones are held.
        #expect(try #require(order.firstIndex(of: 0)) > 1_024)
        let harness = FlowHarness()
        Self.conversation(harness, request: request, pieces: Self.bytes(order))
        try Self.expectWhole(harness, request: request, path: path)
    }

    @Test("two-byte segments, each overlapping the next by a byte, in reverse order")
    func overlappingReverse() throws {
        let path = Self.path(length: 100)
        let request = Self.request(path: path, length: 2_000)
        let pieces = (0..<(request.count - 1)).reversed().map { Piece(offset: $0, length: 2, captured: 2) }
        let harness = FlowHarness()
        Self.conversation(harness, request: request, pieces: pieces)
        try Self.expectWhole(harness, request: request, path: path)
    }

    @Test("a segment the snapshot length cut, in a run of one-byte segments: only its missing bytes are a gap")
    func snapCutInTheRun() throws {
        // A POST whose 1,500-byte body is sent in one-byte segments but for one of 100 bytes at body offset 700, of
        // which the capture kept 40, then a pipelined GET; all of it in reverse order. Were the cut segment merged
        // with the bytes after it, those would move 60 bytes early and the GET would not be where it is.
        let path = "/upload/tiny"
        let body = (0..<1_500).map { UInt8(ascii: "a") + UInt8($0 % 26) }
        let head = [UInt8](text: "POST \(path) HTTP/1.1\r\nHost: svc\r\nContent-Length: 1500\r\n\r\n")
        let second = [UInt8](text: "GET /second/after-the-cut HTTP/1.1\r\nHost: svc\r\n\r\n")
        let request = head + body + second
        let cut = head.count + 700
        var pieces = Self.bytes(Array(0..<cut))
        pieces.append(Piece(offset: cut, length: 100, captured: 40))
        pieces += Self.bytes(Array((cut + 100)..<request.count))
        #expect(pieces.count > TCPStreamReassembler.maxHeldSegments + 1)
        let harness = FlowHarness()
        Self.conversation(harness, request: request, pieces: pieces.reversed(), response: Self.response + Self.response)
        harness.analyzer.finish()
        #expect(harness.exchanges.count == 2)
        let exchange = try #require(harness.exchanges.first)
        #expect(exchange.request?.method == "POST")
        #expect(exchange.request?.target == path)
        #expect(exchange.request?.headLength == head.count)
        #expect(exchange.requestBodyLength == 1_500)
        #expect(exchange.requestHasGap)
        #expect(exchange.requestLastByte?.offset == UInt64(head.count + body.count))
        #expect(exchange.response?.status == 200)
        let next = try #require(harness.exchanges.last)
        #expect(next.request?.method == "GET")
        #expect(next.request?.target == "/second/after-the-cut")
        #expect(next.requestHasGap == false)
        #expect(next.requestFirstByte?.offset == UInt64(head.count + body.count + 1))
        #expect(next.requestLastByte?.offset == UInt64(request.count))
        #expect(next.response?.status == 200)
        let record = try #require(harness.connections.first)
        #expect(record.originatorSummary.gaps == 1)
        #expect(record.originatorSummary.gapBytes == 60)
        #expect(record.originatorSummary.bytes == UInt64(request.count))
    }

    /// A POST of `segments` segments of `size` bytes, in reverse order: more than the 256 KiB held per direction.
    static func overByteCap(segments: Int, size: Int) -> FlowHarness {
        let bodyLength = segments * size - 64
        var head = [UInt8](text: "POST /big HTTP/1.1\r\nContent-Length: \(bodyLength)\r\nX-Pad: ")
        head += [UInt8](repeating: UInt8(ascii: "p"), count: 64 - head.count - 4) + [UInt8](text: "\r\n\r\n")
        let request = head + [UInt8](repeating: UInt8(ascii: "b"), count: bodyLength)
        precondition(request.count == segments * size)
        let pieces = (0..<segments).reversed().map { Piece(offset: $0 * size, length: size, captured: size) }
        let harness = FlowHarness()
        Self.conversation(harness, request: request, pieces: pieces)
        harness.analyzer.finish()
        return harness
    }

    @Test("past 256 KiB held in 1,000-byte segments (fewer than 1,024 held), the hole is a gap as before")
    func byteCapUnchanged() throws {
        // 300 segments from the last: at the 263rd, 263,000 bytes are held, over 262,144; the hole before them,
        // the first 37 segments, is a gap, and those segments, arriving later, are retransmissions.
        let harness = Self.overByteCap(segments: 300, size: 1_000)
        let record = try #require(harness.connections.first)
        #expect(record.originatorSummary.gaps == 1)
        #expect(record.originatorSummary.gapBytes == 37_000)
        #expect(record.originatorSummary.retransmissions == 37)
        #expect(harness.exchanges.allSatisfy { $0.request == nil })
    }

    @Test("past 256 KiB held in 64-byte segments (more than 1,024 held), the hole is a gap at the byte cap")
    func byteCapWithMerging() throws {
        // 5,000 segments from the last: at the 4,097th, 262,208 bytes are held, over 262,144 (and long past 1,024
        // segments); the hole before them, the first 903 segments, is a gap.
        let harness = Self.overByteCap(segments: 5_000, size: 64)
        let record = try #require(harness.connections.first)
        #expect(record.originatorSummary.gaps == 1)
        #expect(record.originatorSummary.gapBytes == 903 * 64)
        #expect(record.originatorSummary.retransmissions == 903)
        #expect(harness.exchanges.allSatisfy { $0.request == nil })
    }
}

/// The defect as measured with `hoptrace trace`: the same through a capture file and the whole flow pipeline.
@Suite("tiny segments out of order through a capture file")
struct TinySegmentCaptureTests {
    @Test("a 1,100-byte request in one-byte segments in reverse order: the request and its 200 are seen")
    func reverseInAFile() throws {
        var capture = HandBuiltCapture()
        let (client, server) = ("10.0.0.1:40000", "10.0.0.2:80")
        let t0: Int64 = 1_700_000_000_000_000_000
        let path = TinySegmentReassemblyTests.path(length: 64)
        let request = TinySegmentReassemblyTests.request(path: path, length: 1_100)
        let response = TinySegmentReassemblyTests.response
        capture.tcp(at: t0, client, server, .syn, seq: 999)
        capture.tcp(at: t0 + 1_000, server, client, [.syn, .ack], seq: 4999, ack: 1000)
        capture.tcp(at: t0 + 2_000, client, server, .ack, seq: 1000, ack: 5000)
        var time = t0 + 10_000
        for offset in (0..<request.count).reversed() {
            let payload = [request[offset]]
            capture.tcp(
                at: time,
                client,
                server,
                [.ack, .psh],
                seq: 1000 + UInt32(offset),
                ack: 5000,
                payload: payload
            )
            time += 10_000
        }
        let end = 1000 + UInt32(request.count)
        let responseEnd = 5000 + UInt32(response.count)
        capture.tcp(at: time, server, client, .ack, seq: 5000, ack: end)
        capture.tcp(at: time + 1_000_000, server, client, [.ack, .psh], seq: 5000, ack: end, payload: response)
        capture.tcp(at: time + 1_001_000, client, server, [.fin, .ack], seq: end, ack: responseEnd)
        capture.tcp(at: time + 1_002_000, server, client, [.fin, .ack], seq: responseEnd, ack: end + 1)
        capture.tcp(at: time + 1_003_000, client, server, .ack, seq: end + 1, ack: responseEnd + 1)
        let file = try capture.write(name: "tiny-segments-reverse.pcap")
        var exchanges: [HTTPExchange] = []
        var connections: [ConnectionRecord] = []
        let result = try FlowPipeline().run(paths: [file]) { event in
            switch event {
            case .http(let exchange): exchanges.append(exchange)
            case .connection(let record): connections.append(record)
            default: break
            }
        }
        #expect(result.error == nil)
        #expect(exchanges.count == 1)
        let exchange = try #require(exchanges.first)
        #expect(exchange.request?.method == "GET")
        #expect(exchange.request?.target == path)
        #expect(exchange.requestHasGap == false)
        #expect(exchange.response?.status == 200)
        #expect(exchange.isResponseComplete)
        let record = try #require(connections.first)
        #expect(record.originatorSummary.gaps == 0)
        #expect(record.originatorSummary.bytes == 1_100)
    }
}

/// The reassembler itself: what it delivers when held segments were merged.
@Suite("TCPStreamReassembler merging held segments")
struct TCPStreamReassemblerMergeTests {
    /// A delivered chunk, copied.
    enum Chunk: Equatable {
        case data(offset: UInt64, bytes: [UInt8], time: Int64)
        case gap(offset: UInt64, length: UInt64)
    }

    /// Feeds one-byte (or longer) segments of `stream` at relative offsets `1 + offset`, each at its own time, and
    /// returns what was delivered.
    static func feed(
        _ reassembler: inout TCPStreamReassembler,
        _ stream: [UInt8],
        segments: [(offset: Int, length: Int, time: Int64)]
    ) -> [Chunk] {
        var chunks: [Chunk] = []
        for segment in segments {
            let payload = Array(stream[segment.offset..<(segment.offset + segment.length)])
            _ = payload.withUnsafeBytes { bytes in
                reassembler.segment(
                    seq: 1_000 &+ 1 &+ UInt32(segment.offset),
                    payload: bytes,
                    wireLength: segment.length,
                    fin: false,
                    time: segment.time
                ) { chunk in
                    switch chunk {
                    case .data(let bytes, let offset, let time):
                        chunks.append(.data(offset: offset, bytes: Array(bytes), time: time))
                    case .gap(let offset, let length, _):
                        chunks.append(.gap(offset: offset, length: length))
                    }
                }
            }
        }
        return chunks
    }

    static let stream: [UInt8] = (0..<1_500).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }

    @Test("1,500 one-byte segments in reverse order: every byte delivered in order, no gap, nothing left held")
    func reverse() throws {
        var reassembler = TCPStreamReassembler()
        reassembler.anchor(isn: 1_000)
        let segments = (0..<Self.stream.count).reversed().enumerated().map {
            (offset: $0.element, length: 1, time: Int64($0.offset))
        }
        let chunks = Self.feed(&reassembler, Self.stream, segments: segments)
        #expect(reassembler.gapCount == 0)
        #expect(!reassembler.hasHeldData)
        #expect(reassembler.heldByteCount == 0)
        var delivered: [UInt8] = []
        var misplaced: [UInt64] = []
        var misdated: [UInt64] = []
        for chunk in chunks {
            guard case .data(let offset, let bytes, let time) = chunk else {
                Issue.record("a gap: \(chunk)")
                continue
            }
            if offset != UInt64(delivered.count) + 1 { misplaced.append(offset) }
            delivered += bytes
            // A chunk carries the time its last-arriving byte came: byte i (offset i + 1) arrived at count - 1 - i,
            // so the chunk's first byte came last.
            if time != Int64(Self.stream.count) - Int64(offset) { misdated.append(offset) }
        }
        #expect(delivered == Self.stream)
        #expect(misplaced.isEmpty)
        #expect(misdated.isEmpty)
    }

    @Test("one segment lost, the 1,499 after it in order: the merged run ends at its last segment's time")
    func inOrderAfterOneLoss() throws {
        var reassembler = TCPStreamReassembler()
        reassembler.anchor(isn: 1_000)
        var segments = (1..<Self.stream.count).map { (offset: $0, length: 1, time: Int64($0) * 100) }
        segments.append((offset: 0, length: 1, time: 1_000_000))
        let chunks = Self.feed(&reassembler, Self.stream, segments: segments)
        #expect(reassembler.gapCount == 0)
        #expect(!reassembler.hasHeldData)
        let data = chunks.compactMap { if case .data(_, let bytes, _) = $0 { bytes } else { nil } }
        #expect(data.flatMap { $0 } == Self.stream)
        // The last byte's chunk carries the time the last byte arrived.
        guard case .data(_, _, let lastTime) = try #require(chunks.last) else {
            Issue.record("the last chunk is a gap")
            return
        }
        #expect(lastTime == Int64(Self.stream.count - 1) * 100)
    }

    @Test("1,025 separate one-byte segments: no merging can make room, the hole before them is a gap")
    func nothingToMerge() throws {
        var reassembler = TCPStreamReassembler()
        reassembler.anchor(isn: 1_000)
        let stream = (0..<2_100).map { UInt8(truncatingIfNeeded: $0 &* 11 &+ 1) }
        // Every other byte from stream offset 1: relative offsets 2, 4, ..., 2,050.
        let segments = (0..<1_025).map { (offset: 1 + 2 * $0, length: 1, time: Int64($0)) }
        let chunks = Self.feed(&reassembler, stream, segments: segments)
        // At the 1,025th the bytes before the first held one (relative offset 1) are a gap, and it is delivered.
        #expect(chunks == [.gap(offset: 1, length: 1), .data(offset: 2, bytes: [stream[1]], time: 0)])
        #expect(reassembler.gapCount == 1)
        #expect(reassembler.heldByteCount == 1_024)
    }

    @Test("a run grown one byte at a time in front of 1,000 separate segments: all of it delivered, no gap")
    func runGrownBeforeSeparateSegments() throws {
        var reassembler = TCPStreamReassembler()
        reassembler.anchor(isn: 1_000)
        let stream = (0..<4_000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }
        // 1,000 separate bytes at the end, every other one; then the bytes before them from the last to the second;
        // then the 1,000 between the separate ones; then the first. Each pass merging the run frees few segments.
        let separate = (1...1_000).map { stream.count - 2 * $0 }
        let run = Array((1..<(stream.count - 2_000)).reversed())
        let between = (1...1_000).map { stream.count - 2 * $0 + 1 }
        let order = separate + run + between + [0]
        #expect(Set(order).count == stream.count)
        let segments = order.enumerated().map { (offset: $0.element, length: 1, time: Int64($0.offset)) }
        let chunks = Self.feed(&reassembler, stream, segments: segments)
        #expect(reassembler.gapCount == 0)
        #expect(!reassembler.hasHeldData)
        let data = chunks.compactMap { if case .data(_, let bytes, _) = $0 { bytes } else { nil } }
        #expect(data.flatMap { $0 } == stream)
    }

    @Test("held bytes count what is held once: overlapping segments merged count their bytes once")
    func heldBytesOfOverlaps() throws {
        var reassembler = TCPStreamReassembler()
        reassembler.anchor(isn: 1_000)
        // Two-byte segments overlapping by one, from the end, the first byte never sent: 1,025 segments (2,050
        // bytes) held, one over the cap, merged into one run of the 1,026 bytes they cover.
        let segments = (1..<1_026).reversed().map { (offset: $0, length: 2, time: Int64($0)) }
        let chunks = Self.feed(&reassembler, Self.stream, segments: segments)
        #expect(chunks.isEmpty)
        #expect(reassembler.gapCount == 0)
        #expect(reassembler.heldByteCount == 1_026)
        var flushed: [Chunk] = []
        reassembler.flush(time: 0) { chunk in
            switch chunk {
            case .data(let bytes, let offset, let time):
                flushed.append(.data(offset: offset, bytes: Array(bytes), time: time))
            case .gap(let offset, let length, _):
                flushed.append(.gap(offset: offset, length: length))
            }
        }
        #expect(flushed.first == .gap(offset: 1, length: 1))
        let data = flushed.dropFirst().compactMap { if case .data(_, let bytes, _) = $0 { bytes } else { nil } }
        #expect(data.flatMap { $0 } == Array(Self.stream[1..<1_027]))
        #expect(reassembler.heldByteCount == 0)
    }
}
