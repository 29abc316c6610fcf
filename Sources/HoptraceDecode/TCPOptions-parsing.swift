// TCP options (RFC 9293 section 3.2): kind 0 end of list, kind 1 no-operation (one byte each); every other kind is
// kind(1) | length(1, counting both) | data. MSS (2, length 4), window scale (3, length 3, RFC 7323), SACK permitted
// (4, length 2) and SACK (5, length 2 + 8n, RFC 2018), timestamps (8, length 10, RFC 7323).

/// One option as met in the option bytes.
public struct TCPOptionElement: Sendable {
    /// The option kind.
    public var kind: UInt8
    /// Offset of the option's first byte (its kind) within the option bytes.
    public var offset: Int
    /// The option's length in bytes (1 for EOL and NOP).
    public var length: Int
}

/// Walks TCP option bytes one option at a time; stops at EOL, at the end, or at a length that does not fit
/// (``malformed`` is then true).
public struct TCPOptionIterator: IteratorProtocol {
    @usableFromInline
    let bytes: UnsafeRawBufferPointer
    @usableFromInline
    var offset: Int = 0
    /// Whether the walk stopped at an option whose length field does not fit.
    public private(set) var malformed: Bool = false

    /// An iterator over the option bytes (the bytes after the fixed 20-byte TCP header, up to the data offset).
    public init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// The next option, or nil at the end (EOL is returned once, then the walk ends).
    public mutating func next() -> TCPOptionElement? {
        guard self.offset < self.bytes.count else { return nil }
        let at = self.offset
        let kind = self.bytes.u8(at)
        switch kind {
        case 0:
            self.offset = self.bytes.count
            return TCPOptionElement(kind: 0, offset: at, length: 1)
        case 1:
            self.offset = at + 1
            return TCPOptionElement(kind: 1, offset: at, length: 1)
        default:
            guard self.bytes.has(2, at: at) else {
                self.malformed = true
                self.offset = self.bytes.count
                return nil
            }
            let length = Int(self.bytes.u8(at + 1))
            guard length >= 2, self.bytes.has(length, at: at) else {
                self.malformed = true
                self.offset = self.bytes.count
                return nil
            }
            self.offset = at + length
            return TCPOptionElement(kind: kind, offset: at, length: length)
        }
    }
}

extension TCPOptions {
    /// Parses the option bytes (after the fixed 20-byte header, up to the data offset).
    ///
    /// A known option with the wrong length, or a length that runs past the options, sets ``malformed``.
    public init(parsing bytes: UnsafeRawBufferPointer) {
        self.init()
        // Fast path for what nearly every segment of an established Linux connection carries: NOP, NOP, timestamps
        // (the walk below gives the same result).
        if bytes.count == 12, bytes.be32(0) == 0x0101_080a {
            self.timestamp = TCPTimestampOption(val: bytes.be32(4), ecr: bytes.be32(8))
            return
        }
        var iterator = TCPOptionIterator(bytes)
        while let option = iterator.next() {
            let at = option.offset
            switch option.kind {
            case 0, 1:
                break
            case 2:
                if option.length == 4 { self.mss = bytes.be16(at + 2) } else { self.malformed = true }
            case 3:
                if option.length == 3 { self.windowScale = bytes.u8(at + 2) } else { self.malformed = true }
            case 4:
                if option.length == 2 { self.sackPermitted = true } else { self.malformed = true }
            case 5:
                if (option.length - 2) % 8 == 0 && option.length > 2 {
                    var block = at + 2
                    while block + 8 <= at + option.length {
                        self.sackBlocks.append(SACKBlock(left: bytes.be32(block), right: bytes.be32(block + 4)))
                        block += 8
                    }
                } else {
                    self.malformed = true
                }
            case 8:
                if option.length == 10 {
                    self.timestamp = TCPTimestampOption(val: bytes.be32(at + 2), ecr: bytes.be32(at + 6))
                } else {
                    self.malformed = true
                }
            default:
                self.unknownCount += 1
            }
        }
        if iterator.malformed { self.malformed = true }
    }
}
