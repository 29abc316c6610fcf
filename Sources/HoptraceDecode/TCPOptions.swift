/// One SACK block: the left and right edges of a received range (RFC 2018).
public struct SACKBlock: Hashable, Sendable {
    /// First sequence number of the block.
    public var left: UInt32
    /// Sequence number just past the block.
    public var right: UInt32

    /// A block from its edges.
    @inlinable
    public init(left: UInt32, right: UInt32) {
        self.left = left
        self.right = right
    }
}

/// Up to four SACK blocks, inline (no array, no allocation).
public struct SACKBlocks: Hashable, Sendable, RandomAccessCollection {
    @usableFromInline
    var storage: (SACKBlock, SACKBlock, SACKBlock, SACKBlock)
    @usableFromInline
    var _count: UInt8

    /// No blocks.
    @inlinable
    public init() {
        let zero = SACKBlock(left: 0, right: 0)
        self.storage = (zero, zero, zero, zero)
        self._count = 0
    }

    /// The first index.
    @inlinable
    public var startIndex: Int { 0 }
    /// One past the last block.
    @inlinable
    public var endIndex: Int { Int(self._count) }

    /// The block at `position`.
    @inlinable
    public subscript(position: Int) -> SACKBlock {
        switch position {
        case 0: return self.storage.0
        case 1: return self.storage.1
        case 2: return self.storage.2
        default: return self.storage.3
        }
    }

    /// Appends a block; a fifth and later are dropped (40 option bytes hold at most four).
    @inlinable
    mutating func append(_ block: SACKBlock) {
        switch self._count {
        case 0: self.storage.0 = block
        case 1: self.storage.1 = block
        case 2: self.storage.2 = block
        case 3: self.storage.3 = block
        default: return
        }
        self._count += 1
    }

    /// The same blocks in the same order.
    public static func == (lhs: SACKBlocks, rhs: SACKBlocks) -> Bool { lhs.elementsEqual(rhs) }

    /// Hashes the blocks in order.
    public func hash(into hasher: inout Hasher) {
        for block in self { hasher.combine(block) }
    }
}

/// The TCP timestamps option (RFC 7323): TSval and TSecr.
public struct TCPTimestampOption: Hashable, Sendable {
    /// TSval: the sender's clock.
    public var val: UInt32
    /// TSecr: the echoed peer clock.
    public var ecr: UInt32

    /// A timestamp option from its two fields.
    @inlinable
    public init(val: UInt32, ecr: UInt32) {
        self.val = val
        self.ecr = ecr
    }
}

/// The TCP options hoptrace understands, parsed from the option bytes.
public struct TCPOptions: Hashable, Sendable {
    /// Maximum segment size (kind 2).
    public var mss: UInt16?
    /// Window scale shift count (kind 3).
    public var windowScale: UInt8?
    /// SACK permitted (kind 4).
    public var sackPermitted: Bool
    /// Timestamps (kind 8).
    public var timestamp: TCPTimestampOption?
    /// SACK blocks (kind 5), at most four.
    public var sackBlocks: SACKBlocks
    /// How many options of other kinds were present (skipped by their length).
    public var unknownCount: Int
    /// Whether an option had a length that does not fit (decoding of options stopped there).
    public var malformed: Bool

    /// No options.
    @inlinable
    public init() {
        self.mss = nil
        self.windowScale = nil
        self.sackPermitted = false
        self.timestamp = nil
        self.sackBlocks = SACKBlocks()
        self.unknownCount = 0
        self.malformed = false
    }
}
