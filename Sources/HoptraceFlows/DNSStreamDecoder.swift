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
        while self.buffer.count >= 2 {
            let length = Int(self.buffer[0]) << 8 | Int(self.buffer[1])
            guard self.buffer.count >= 2 + length else { break }
            self.buffer.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[2..<(2 + length)])) }
            self.buffer.removeFirst(2 + length)
        }
    }

    /// Drops a partial message (after a hole).
    mutating func reset() {
        self.buffer.removeAll()
    }
}
