// An incremental HTTP/1.x message parser for one direction of a reassembled TCP stream.
//
// The parser is fed in-order bytes as they arrive, any split, and reports where messages begin and end and when a
// head (start line + headers) is complete. It never stores a body: body bytes are counted down. Only the head is
// buffered, bounded by `maxHeadLength`. Framing follows RFC 9112 section 6: the caller, who knows the request method
// and the response status, sets a message's body framing once its head is parsed.
//
// A hole in the stream (`gap(_:)`) inside a body of known length is absorbed; anywhere else the parser drops into
// resynchronisation and waits for the next line that starts like a message.

/// How the body of a message is delimited (RFC 9112 6.3).
enum HTTPBodyFraming: Equatable {
    /// No body (requests without length, HEAD responses, 1xx, 204, 304).
    case none
    /// `Content-Length` bytes.
    case length(Int)
    /// `Transfer-Encoding: chunked`, then trailers.
    case chunked
    /// Until the connection closes (responses without length).
    case untilClose
    /// The connection leaves HTTP (101 Switching Protocols, CONNECT): nothing more is parsed.
    case upgrade
}

/// What the parser found; positions are indices into the bytes of the current `step` call.
enum HTTPParserEvent: Equatable {
    /// A message begins at the returned position.
    case messageBegin
    /// A head is complete; the caller must call `setBodyFraming(_:)` before the next step.
    case head(HTTPHead)
    /// The message ended just before the returned position.
    case messageEnd
    /// The first bytes of the stream are not HTTP; the parser ignores the rest of it.
    case notHTTP
}

/// What a hole in the stream did to the message in progress.
enum HTTPGapEffect: Equatable {
    /// Nothing in progress, or nothing lost that matters (a non-HTTP stream).
    case none
    /// The hole fell inside a body of known or close-delimited length: the message goes on, with missing bytes.
    case absorbed
    /// The hole ended a body exactly: the message ended inside the hole.
    case endedInGap
    /// The message in progress lost its framing; the parser resynchronises.
    case cut
    /// The hole fell between messages: whole messages may be lost; the parser resynchronises.
    case lostBetweenMessages
}

/// A head that stopped being stored: what parsed of it, how long it is so far, its last two bytes.
final class HeadTruncation {
    var head: HTTPHead?
    var seen = 0
    var last1: UInt8 = 0
    var last2: UInt8 = 0
}

/// One direction's HTTP/1.x parser.
struct HTTPMessageParser {
    enum State: Equatable {
        case idle
        case head
        case awaitingFraming
        case body(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd(seenCR: Bool)
        case trailers
        case untilClose
        case resync
        case notHTTP
        case upgraded
    }

    /// Longest head buffered.
    static let maxHeadLength = 64 * 1024
    /// Longest chunk-size or trailer line.
    static let maxLineLength = 4 * 1024

    // Declared largest-payload first with the flags together, so that the parser packs into 32 bytes.
    private(set) var state: State = .idle
    let isRequestSide: Bool
    /// Whether a message has begun on this stream (decides non-HTTP against resync).
    private(set) var sawMessage = false
    private var atLineStart = true
    /// Body bytes of the current message (gap bytes included).
    private(set) var bodyLength = 0
    /// Whether heads keep their text fields (else the method and the framing only; see
    /// ``FlowConfiguration/emitHTTP``).
    let keepsText: Bool
    private var buffer: [UInt8] = []
    /// The head in progress once it stopped being stored (nil otherwise: one word per parser).
    private var truncation: HeadTruncation?

    init(isRequestSide: Bool, keepsText: Bool = true) {
        self.isRequestSide = isRequestSide
        self.keepsText = keepsText
    }

    /// Consumes bytes up to the next event.
    ///
    /// - Returns: how many bytes were consumed and the event at that position, if any. The caller loops until all
    ///   bytes are consumed; a step that returns an event may consume nothing.
    mutating func step(_ bytes: UnsafeRawBufferPointer) -> (consumed: Int, event: HTTPParserEvent?) {
        switch self.state {
        case .idle:
            var index = 0
            while index < bytes.count, bytes[index] == 0x0d || bytes[index] == 0x0a { index += 1 }
            if index == bytes.count { return (index, nil) }
            switch HTTPMessageParser.looksLikeStart(bytes, from: index, request: self.isRequestSide) {
            case .some(false):
                if self.sawMessage {
                    self.state = .resync
                    self.atLineStart = index > 0
                    return (index, nil)
                }
                self.state = .notHTTP
                return (index, .notHTTP)
            case .some(true), .none:
                self.state = .head
                self.sawMessage = true
                self.truncation = nil
                self.buffer.removeAll(keepingCapacity: true)
                self.bodyLength = 0
                return (index, .messageBegin)
            }
        case .head:
            // Common case: the whole head is in this segment; parse it in place, no copy (a head longer than the cap
            // is parsed whole here, and flagged: the cap is on what is stored).
            if self.buffer.isEmpty, self.truncation == nil, let end = HTTPMessageParser.headEnd(bytes) {
                guard
                    var head = HTTPMessageParser.parseHead(
                        UnsafeRawBufferPointer(rebasing: bytes[0..<end]),
                        request: self.isRequestSide,
                        keepsText: self.keepsText
                    )
                else {
                    return (end, self.failHead())
                }
                head.isTruncated = end > HTTPMessageParser.maxHeadLength
                self.state = .awaitingFraming
                return (end, .head(head))
            }
            if self.truncation != nil { return self.scanTruncatedHead(bytes, from: 0) }
            for index in 0..<bytes.count {
                let byte = bytes[index]
                self.buffer.append(byte)
                if byte == 0x0a, self.buffer.count >= 2 {
                    let count = self.buffer.count
                    let blank =
                        self.buffer[count - 2] == 0x0a
                        || (count >= 3 && self.buffer[count - 2] == 0x0d && self.buffer[count - 3] == 0x0a)
                    if blank {
                        let head = self.buffer.withUnsafeBytes {
                            HTTPMessageParser.parseHead($0, request: self.isRequestSide, keepsText: self.keepsText)
                        }
                        guard let head else {
                            return (index + 1, self.failHead())
                        }
                        self.buffer = []  // a connection holds no head buffer between messages
                        self.state = .awaitingFraming
                        return (index + 1, .head(head))
                    }
                }
                if self.buffer.count >= HTTPMessageParser.maxHeadLength {
                    // The cap: what is stored so far is parsed now, and the rest of the head only scanned for its end.
                    _ = self.truncateHead()
                    return self.scanTruncatedHead(bytes, from: index + 1)
                }
            }
            return (bytes.count, nil)
        case .awaitingFraming:
            self.setBodyFraming(.none)
            return (0, .messageEnd)
        case .body(let remaining):
            let take = min(remaining, bytes.count)
            self.countBody(take)
            if take == remaining {
                self.state = .idle
                return (take, .messageEnd)
            }
            self.state = .body(remaining: remaining - take)
            return (take, nil)
        case .chunkSize:
            guard let (consumed, line) = self.readLine(bytes) else { return (bytes.count, nil) }
            guard let line, let size = line.withUnsafeBytes({ HTTPMessageParser.parseChunkSize($0) }) else {
                self.state = .resync
                self.atLineStart = true
                return (consumed, .messageEnd)
            }
            self.state = size == 0 ? .trailers : .chunkData(remaining: size)
            return (consumed, nil)
        case .chunkData(let remaining):
            let take = min(remaining, bytes.count)
            self.countBody(take)
            self.state = take == remaining ? .chunkDataEnd(seenCR: false) : .chunkData(remaining: remaining - take)
            return (take, nil)
        case .chunkDataEnd(let seenCR):
            guard let byte = bytes.first else { return (0, nil) }
            if byte == 0x0d && !seenCR {
                self.state = .chunkDataEnd(seenCR: true)
                return (1, nil)
            }
            if byte == 0x0a {
                self.state = .chunkSize
                self.buffer.removeAll(keepingCapacity: true)
                return (1, nil)
            }
            // Missing CRLF after chunk data: framing lost.
            self.state = .resync
            self.atLineStart = false
            return (0, .messageEnd)
        case .trailers:
            guard let (consumed, line) = self.readLine(bytes) else { return (bytes.count, nil) }
            if line == nil || line?.isEmpty == true {
                self.state = .idle
                return (consumed, .messageEnd)
            }
            return (consumed, nil)
        case .untilClose:
            self.countBody(bytes.count)
            return (bytes.count, nil)
        case .resync:
            if let start = self.findMessageStart(bytes) {
                self.state = .idle
                let next = self.step(UnsafeRawBufferPointer(rebasing: bytes[start...]))
                return (start + next.consumed, next.event)
            }
            if let last = bytes.last { self.atLineStart = last == 0x0a }
            return (bytes.count, nil)
        case .notHTTP, .upgraded:
            return (bytes.count, nil)
        }
    }

    /// Sets the framing of the body of the message whose head was just reported.
    mutating func setBodyFraming(_ framing: HTTPBodyFraming) {
        switch framing {
        case .none, .length(0):
            self.state = .idle
        case .length(let count):
            self.state = .body(remaining: count)
        case .chunked:
            self.state = .chunkSize
            self.buffer.removeAll(keepingCapacity: true)
        case .untilClose:
            self.state = .untilClose
        case .upgrade:
            self.state = .upgraded
        }
    }

    /// A hole of `length` bytes in the stream.
    mutating func gap(_ length: UInt64) -> HTTPGapEffect {
        switch self.state {
        case .notHTTP, .upgraded:
            return .none
        case .untilClose:
            self.countBody(Int(clamping: length))
            return .absorbed
        case .body(let remaining):
            if length < UInt64(remaining) {
                self.countBody(Int(length))
                self.state = .body(remaining: remaining - Int(length))
                return .absorbed
            }
            self.countBody(remaining)
            if length == UInt64(remaining) {
                self.state = .idle
                return .endedInGap
            }
            self.enterResync()
            return .cut
        case .chunkData(let remaining):
            if length < UInt64(remaining) {
                self.countBody(Int(length))
                self.state = .chunkData(remaining: remaining - Int(length))
                return .absorbed
            }
            self.enterResync()
            return .cut
        case .idle:
            self.enterResync()
            return .lostBetweenMessages
        case .resync:
            return .none
        case .head, .awaitingFraming, .chunkSize, .chunkDataEnd, .trailers:
            self.enterResync()
            return .cut
        }
    }

    /// The stream ended. True when that ends a close-delimited body (the message is complete).
    mutating func finish() -> Bool {
        if self.state == .untilClose {
            self.state = .idle
            return true
        }
        return false
    }

    /// Adds body bytes to ``bodyLength``, saturating (a close-delimited body fed gaps forever cannot overflow it).
    @inline(__always)
    private mutating func countBody(_ count: Int) {
        let (sum, overflow) = self.bodyLength.addingReportingOverflow(count)
        self.bodyLength = overflow ? .max : sum
    }

    private mutating func enterResync() {
        self.truncation = nil
        self.state = .resync
        self.atLineStart = true
        self.sawMessage = true
        self.buffer.removeAll(keepingCapacity: true)
    }

    /// Bytes stored for a head in progress (the memory ``truncateHead()`` would release).
    var bufferedHeadBytes: Int { self.state == .head ? self.buffer.count : 0 }

    /// Stops storing the head in progress: what was stored is parsed now (a request keeps its method and target, a
    /// response its status, if their lines were complete or at least begun) and released; the head goes on being
    /// scanned for its end, where it is reported flagged ``HTTPHead/isTruncated``. For the per-head cap and for the
    /// flow stage's budget of head bytes across connections. Returns the bytes released.
    mutating func truncateHead() -> Int {
        guard self.state == .head, self.truncation == nil, !self.buffer.isEmpty else { return 0 }
        let released = self.buffer.count
        let truncation = HeadTruncation()
        truncation.head = self.buffer.withUnsafeBytes {
            HTTPMessageParser.parseTruncatedHead($0, request: self.isRequestSide, keepsText: self.keepsText)
        }
        truncation.seen = released
        truncation.last1 = self.buffer[released - 1]
        truncation.last2 = released >= 2 ? self.buffer[released - 2] : 0
        self.truncation = truncation
        self.buffer = []
        return released
    }

    /// Scans a truncated head from `bytes[from...]` for its blank line (memchr from line feed to line feed).
    private mutating func scanTruncatedHead(_ bytes: UnsafeRawBufferPointer, from start: Int) -> (Int, HTTPParserEvent?)
    {
        guard let truncation = self.truncation else { return (start, nil) }
        var from = start
        while let lineFeed = HTTPMessageParser.lineFeed(in: bytes, from: from) {
            let previous = lineFeed >= 1 ? bytes[lineFeed - 1] : truncation.last1
            let beforeThat = lineFeed >= 2 ? bytes[lineFeed - 2] : (lineFeed == 1 ? truncation.last1 : truncation.last2)
            if previous == 0x0a || (previous == 0x0d && beforeThat == 0x0a) {
                truncation.seen &+= lineFeed + 1 - start
                self.truncation = nil
                guard var head = truncation.head else { return (lineFeed + 1, self.failHead()) }
                head.headLength = truncation.seen
                head.isTruncated = true
                self.state = .awaitingFraming
                return (lineFeed + 1, .head(head))
            }
            from = lineFeed + 1
        }
        truncation.seen &+= bytes.count - start
        if bytes.count - start >= 2 {
            truncation.last2 = bytes[bytes.count - 2]
            truncation.last1 = bytes[bytes.count - 1]
        } else if bytes.count - start == 1 {
            truncation.last2 = truncation.last1
            truncation.last1 = bytes[bytes.count - 1]
        }
        return (bytes.count, nil)
    }

    private mutating func failHead() -> HTTPParserEvent {
        self.truncation = nil
        self.buffer = []
        self.state = .resync
        self.atLineStart = false
        return .messageEnd
    }

    /// Reads one line (bounded) into the buffer. nil when the bytes ran out first (all consumed); else the bytes
    /// consumed and the line without its terminator, or nil for an over-long line.
    private mutating func readLine(_ bytes: UnsafeRawBufferPointer) -> (Int, [UInt8]?)? {
        for index in 0..<bytes.count {
            let byte = bytes[index]
            if byte == 0x0a {
                var line = self.buffer
                if line.last == 0x0d { line.removeLast() }
                self.buffer.removeAll(keepingCapacity: true)
                return (index + 1, line)
            }
            if self.buffer.count >= HTTPMessageParser.maxLineLength {
                self.buffer.removeAll(keepingCapacity: true)
                return (index + 1, nil)
            }
            self.buffer.append(byte)
        }
        return nil
    }

    private mutating func findMessageStart(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var index = 0
        var lineStart = self.atLineStart
        while index < bytes.count {
            if lineStart,
                HTTPMessageParser.looksLikeStart(bytes, from: index, request: self.isRequestSide, strict: true)
                    == true
            {
                return index
            }
            lineStart = bytes[index] == 0x0a
            index += 1
        }
        return nil
    }

    static let methods: [[UInt8]] = [
        "GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE",
    ].map { Array($0.utf8) }
    static let responsePrefix: [UInt8] = Array("HTTP/1.".utf8)

    /// Whether the bytes from `from` look like the start of a message: true, false, or nil (too few bytes to say).
    /// Lenient (any upper-case token then a space) unless `strict` (a known method).
    static func looksLikeStart(
        _ bytes: UnsafeRawBufferPointer,
        from: Int,
        request: Bool,
        strict: Bool = false
    ) -> Bool? {
        let available = bytes.count - from
        if !request {
            let prefix = responsePrefix
            for index in 0..<min(available, prefix.count) where bytes[from + index] != prefix[index] {
                return false
            }
            return available >= prefix.count ? true : (strict ? false : nil)
        }
        if strict {
            for method in methods where available > method.count {
                var matches = bytes[from + method.count] == 0x20
                var index = 0
                while matches, index < method.count {
                    matches = bytes[from + index] == method[index]
                    index += 1
                }
                if matches { return true }
            }
            return false
        }
        var index = 0
        while index < available, index <= 20 {
            let byte = bytes[from + index]
            if byte == 0x20 { return index > 0 }
            guard (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || byte == UInt8(ascii: "-") else {
                return false
            }
            index += 1
        }
        return index > 20 ? false : nil
    }

    /// One past the blank line ending a head that starts at `bytes[0]` (CRLF CRLF or LF LF), if it is there.
    static func headEnd(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var index = 1
        while let lineFeed = lineFeed(in: bytes, from: index) {
            if lineFeed >= 1, bytes[lineFeed - 1] == 0x0a { return lineFeed + 1 }
            if lineFeed >= 2, bytes[lineFeed - 1] == 0x0d, bytes[lineFeed - 2] == 0x0a { return lineFeed + 1 }
            index = lineFeed + 1
        }
        return nil
    }

    /// Parses a chunk-size line: hex digits, optional `;extensions`.
    static func parseChunkSize(_ line: UnsafeRawBufferPointer) -> Int? {
        var value = 0
        var digits = 0
        for byte in line {
            let digit: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = Int(byte - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = Int(byte - UInt8(ascii: "A")) + 10
            case UInt8(ascii: ";"), UInt8(ascii: " "), UInt8(ascii: "\t"):
                return digits > 0 ? value : nil
            default: return nil
            }
            digits += 1
            guard digits <= 15 else { return nil }
            value = value << 4 | digit
        }
        return digits > 0 ? value : nil
    }
}
