import HoptraceCapture

/// Up to three VLAN IDs (802.1Q, 802.1ad QinQ, QinQinQ), outermost first, inline.
public struct VLANTags: Hashable, Sendable, RandomAccessCollection {
    @usableFromInline
    var storage: (UInt16, UInt16, UInt16) = (0, 0, 0)
    @usableFromInline
    var _tagCount: Int = 0

    /// How many tags the frame carried, counting those beyond the three kept.
    @inlinable
    public var tagCount: Int { self._tagCount }

    /// No tags.
    @inlinable
    public init() {}

    /// The first index.
    @inlinable
    public var startIndex: Int { 0 }
    /// One past the last kept tag.
    @inlinable
    public var endIndex: Int { Swift.min(self._tagCount, 3) }

    /// The VLAN ID at `position` (0 is outermost).
    @inlinable
    public subscript(position: Int) -> UInt16 {
        switch position {
        case 0: return self.storage.0
        case 1: return self.storage.1
        default: return self.storage.2
        }
    }

    /// Appends a tag (only the first three are kept, all are counted).
    @inlinable
    mutating func append(_ id: UInt16) {
        switch self._tagCount {
        case 0: self.storage.0 = id
        case 1: self.storage.1 = id
        case 2: self.storage.2 = id
        default: break
        }
        self._tagCount += 1
    }

    /// The same tags in the same order.
    public static func == (lhs: VLANTags, rhs: VLANTags) -> Bool {
        lhs.elementsEqual(rhs) && lhs.tagCount == rhs.tagCount
    }

    /// Hashes the tags in order.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.tagCount)
        for id in self { hasher.combine(id) }
    }
}

/// What the link layer said about a packet.
public struct LinkInfo: Hashable, Sendable {
    /// The link-layer header type the packet was captured with.
    public var linkType: LinkType
    /// The SLL2 interface index; -1 when the link layer has none.
    public var ifIndex: Int32
    /// The SLL/SLL2 packet type (direction), nil for other link types.
    public var packetType: SLLPacketType?
    /// The ARPHRD type of an SLL/SLL2 header (1 Ethernet, 772 loopback, 65534 none), nil for other link types.
    public var arphrdType: UInt16?
    /// Source MAC (Ethernet; SLL/SLL2 when the address is 6 bytes long).
    public var srcMAC: MACAddress?
    /// Destination MAC (Ethernet only).
    public var dstMAC: MACAddress?
    /// VLAN tags, outermost first.
    public var vlanIDs: VLANTags
    /// The EtherType of the payload after VLAN tags (for NULL/LOOP/NFLOG/raw: the one the family maps to).
    public var etherType: EtherType?

    /// Link information with nothing known but the type.
    @inlinable
    public init(linkType: LinkType) {
        self.linkType = linkType
        self.ifIndex = -1
        self.packetType = nil
        self.arphrdType = nil
        self.srcMAC = nil
        self.dstMAC = nil
        self.vlanIDs = VLANTags()
        self.etherType = nil
    }
}
