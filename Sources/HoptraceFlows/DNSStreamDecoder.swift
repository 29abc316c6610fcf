// DNS over TCP (RFC 1035 4.2.2, RFC 7766): each message is preceded by a two-byte length. Several messages may share
// a segment and one message may span many; a hole in the stream loses the framing, so the buffer is dropped and the
// next segment is assumed to start a message.

/// Splits one direction of a DNS-over-TCP stream into messages.
struct DNSStreamDecoder {
    private var buffer: [UInt8] = []

    /// Appends bytes and hands each complete message to `body`.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
        var input = bytes
        // Fast path: whole messages straight from the segment, no copy.
        if self.buffer.isEmpty {
            while input.count >= 2 {
                let length = Int(input[0]) << 8 | Int(input[1])
                guard input.count >= 2 + length else { break }
                body(UnsafeRawBufferPointer(rebasing: input[2..<(2 + length)]))
                input = UnsafeRawBufferPointer(rebasing: input[(2 + length)...])
            }
            if input.isEmpty { return }
        }
        self.buffer.append(contentsOf: input)
        // Messages are taken from the front by index, and the consumed prefix dropped once at the end (removing each
        // message from the front of a large buffer was quadratic).
        var start = 0
        while self.buffer.count - start >= 2 {
            let length = Int(self.buffer[start]) << 8 | Int(self.buffer[start + 1])
            guard self.buffer.count - start >= 2 + length else { break }
            let first = start + 2
            self.buffer.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[first..<(first + length)])) }
            start = first + length
        }
        if start == self.buffer.count {
            self.buffer = []
        } else if start > 0 {
            self.buffer.removeFirst(start)
        }
    }

    /// Bytes held of a partial message.
    var bufferedBytes: Int { self.buffer.count }

    /// Drops a partial message (after a hole).
    mutating func reset() {
        self.buffer.removeAll()
    }
}
