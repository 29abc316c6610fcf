import HoptraceCapture

/// A capture point: the interface a packet was seen on.
///
/// For pcapng files and live captures with real interface names it is the source's interface; for SLL2 packets
/// (`tcpdump -i any`) it is the SLL2 interface index, named `if<N>` unless a name map is known.
public struct CapturePoint: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The interface's name (`eth0`, `cni0`, `if7`).
    public var name: String
    /// The SLL2 interface index this point stands for, or -1 when it stands for a source interface.
    public var ifIndex: Int32
    /// The node the interface belongs to, when captures of several nodes are read together (nil for one node).
    public var node: String?

    /// A capture point.
    public init(name: String, ifIndex: Int32 = -1, node: String? = nil) {
        self.name = name
        self.ifIndex = ifIndex
        self.node = node
    }

    /// `node/interface` when the node is known, else the interface's name.
    public var description: String {
        guard let node else { return self.name }
        return node + "/" + self.name
    }

    /// Orders by node, then interface name.
    public static func < (lhs: CapturePoint, rhs: CapturePoint) -> Bool {
        (lhs.node ?? "", lhs.name, lhs.ifIndex) < (rhs.node ?? "", rhs.name, rhs.ifIndex)
    }
}

/// Gives each capture point a small integer id, stable for the table's life.
///
/// Looking up a known point does not allocate.
public final class CapturePointTable {
    @usableFromInline
    enum Key: Hashable {
        case source(node: String?, name: String)
        case ifIndex(node: String?, Int32)
    }

    /// The capture points by id.
    public private(set) var points: [CapturePoint] = []
    @usableFromInline
    var ids: [Key: Int] = [:]
    private var ifIndexNames: [Int32: String] = [:]
    /// Per node, names of its SLL2 interface indexes (each node's `ip link`).
    private var nodeIfIndexNames: [String: [Int32: String]] = [:]
    /// Ids by SLL2 interface index (-1: not yet seen), for indexes below 4096.
    private var byIfIndex: [Int] = []
    /// Ids of source interfaces' names by interface id (-1: not yet seen), valid while the source has
    /// `bySourceCount` interfaces.
    private var bySource: [Int] = []
    /// Whether a source interface's name wins over the SLL2 index (1), or not (0), by interface id (-1: not yet seen).
    private var sourceWins: [Int8] = []
    private var bySourceCount = -1
    /// A direct-mapped cache of ids given to (interface id, SLL2 interface index) pairs of packets whose interface id
    /// the source knew; such a pair's id never changes (interfaces only grow, an id once given stays). Keys are
    /// `cacheSlots` words (`UInt64.max`: empty), ids beside them; `let` pointers, so a hit costs no exclusivity check.
    @usableFromInline
    let cacheKeys: UnsafeMutablePointer<UInt64>
    @usableFromInline
    let cacheIDs: UnsafeMutablePointer<Int>
    @usableFromInline
    static var cacheSlots: Int { 64 }

    /// An empty table.
    public init() {
        self.cacheKeys = .allocate(capacity: Self.cacheSlots)
        self.cacheKeys.initialize(repeating: .max, count: Self.cacheSlots)
        self.cacheIDs = .allocate(capacity: Self.cacheSlots)
        self.cacheIDs.initialize(repeating: 0, count: Self.cacheSlots)
    }

    deinit {
        self.cacheKeys.deallocate()
        self.cacheIDs.deallocate()
    }

    /// The names by id.
    public var names: [String] { self.points.map(\.description) }

    /// Names SLL2 interface indexes (from `ip link` of the captured host, or a capture's metadata). Points already
    /// given an id are renamed.
    ///
    /// - Parameter node: the node these names are of, when captures of several nodes are read (nil: every node
    ///   without names of its own).
    public func setIfIndexNames(_ names: [Int32: String], node: String? = nil) {
        if let node { self.nodeIfIndexNames[node] = names } else { self.ifIndexNames = names }
        for (index, point) in self.points.enumerated() where point.ifIndex >= 0 {
            if let name = self.ifIndexName(point.ifIndex, node: point.node) {
                self.points[index].name = name
                self.renames += 1
            }
        }
    }

    private func ifIndexName(_ index: Int32, node: String?) -> String? {
        if let node, let name = self.nodeIfIndexNames[node]?[index] { return name }
        return self.ifIndexNames[index]
    }

    /// The id of the capture point of `decoded`: its source interface when that has a real name (other than `any`),
    /// else its SLL2 interface index when it has one, else the source's stand-in name.
    ///
    /// - Parameters:
    ///   - decoded: the packet.
    ///   - interfaces: the source's interface table (``PacketSource/interfaces``).
    public func id(for decoded: DecodedPacket, interfaces: [InterfaceDescription]) -> Int {
        self.id(interfaceID: decoded.interfaceID, ifIndex: decoded.link.ifIndex, interfaces: interfaces)
    }

    /// ``id(for:interfaces:)`` from the two fields of the packet it reads.
    @usableFromInline
    func id(interfaceID: Int, ifIndex: Int32, interfaces: [InterfaceDescription]) -> Int {
        // Fast paths, no hashing: per source interface id, whether its name wins over the SLL2 index (as in
        // `slowID`) and the id of its name; per small SLL2 interface index, its id.
        let hasSource = interfaceID >= 0 && interfaceID < interfaces.count
        if hasSource {
            if interfaces.count != self.bySourceCount {
                self.bySourceCount = interfaces.count
                self.bySource = []
                self.sourceWins = []
            }
            if interfaceID >= self.sourceWins.count {
                self.bySource += repeatElement(-1, count: interfaceID + 1 - self.sourceWins.count)
                self.sourceWins += repeatElement(-1, count: interfaceID + 1 - self.sourceWins.count)
            }
            if self.sourceWins[interfaceID] < 0 {
                let source = interfaces[interfaceID]
                self.sourceWins[interfaceID] = source.isNamed && source.name != "any" ? 1 : 0
            }
            let byName = self.sourceWins[interfaceID] == 1 || ifIndex < 0
            if byName, self.bySource[interfaceID] >= 0 { return self.bySource[interfaceID] }
            // SLL2 indexes are per node: the index table serves the captures without a node only.
            let single = interfaces[interfaceID].node == nil
            if !byName, single, ifIndex < self.byIfIndex.count, self.byIfIndex[Int(ifIndex)] >= 0 {
                return self.byIfIndex[Int(ifIndex)]
            }
            let id = self.slowID(interfaceID: interfaceID, ifIndex: ifIndex, interfaces: interfaces)
            if byName {
                self.bySource[interfaceID] = id
            } else if single {
                self.cache(ifIndex: ifIndex, id: id)
            }
            return id
        }
        if ifIndex >= 0, ifIndex < self.byIfIndex.count, self.byIfIndex[Int(ifIndex)] >= 0 {
            return self.byIfIndex[Int(ifIndex)]
        }
        let id = self.slowID(interfaceID: interfaceID, ifIndex: ifIndex, interfaces: interfaces)
        if ifIndex >= 0 { self.cache(ifIndex: ifIndex, id: id) }
        return id
    }

    /// ``id(for:interfaces:)`` for a packet of `source`, reading the source's interface table only the first time a
    /// pair of (interface id, SLL2 interface index) is met: the per-packet form, without hashing or reference
    /// counting.
    ///
    /// - Parameters:
    ///   - decoded: the packet.
    ///   - source: the source it came from.
    @inlinable
    public func id<Source: PacketSource>(for decoded: borrowing DecodedPacket, in source: Source) -> Int {
        let interfaceID = decoded.interfaceID
        let key =
            UInt64(UInt32(truncatingIfNeeded: interfaceID)) << 32 | UInt64(UInt32(bitPattern: decoded.link.ifIndex))
        let slot = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 58)  // 64 slots.
        if self.cacheKeys[slot] == key, interfaceID >= 0 {
            return self.cacheIDs[slot]
        }
        let interfaces = source.interfaces
        let id = self.id(interfaceID: interfaceID, ifIndex: decoded.link.ifIndex, interfaces: interfaces)
        if interfaceID >= 0, interfaceID < interfaces.count, interfaceID <= Int(UInt32.max) {
            self.cacheKeys[slot] = key
            self.cacheIDs[slot] = id
        }
        return id
    }

    private func cache(ifIndex: Int32, id: Int) {
        guard ifIndex >= 0, ifIndex < 4096 else { return }
        if self.byIfIndex.count <= Int(ifIndex) {
            self.byIfIndex += repeatElement(-1, count: Int(ifIndex) + 1 - self.byIfIndex.count)
        }
        self.byIfIndex[Int(ifIndex)] = id
    }

    private func slowID(interfaceID: Int, ifIndex: Int32, interfaces: [InterfaceDescription]) -> Int {
        let key: Key
        let source = interfaceID >= 0 && interfaceID < interfaces.count ? interfaces[interfaceID] : nil
        if ifIndex >= 0, source.map({ !$0.isNamed || $0.name == "any" }) ?? true {
            // `-i any` (SLL2 in a classic pcap, or a pcapng interface named "any"): the packet's own interface.
            key = .ifIndex(node: source?.node, ifIndex)
        } else if let source {
            // A named interface (pcapng `if_name`, live): its name, even when its packets are SLL2 (hoptrace
            // capture -i any writes one named interface block per real interface).
            key = .source(node: source.node, name: source.name)
        } else {
            key = .source(node: nil, name: "if\(interfaceID)")
        }
        if let id = self.ids[key] { return id }
        if self.points.count >= Self.maxPoints {
            // A new interface past the cap: its packets go to the node's point for the rest (made past the cap too,
            // one per node, so that no packet is lost).
            self.overflowed += 1
            let other = Key.source(node: source?.node, name: Self.otherInterfaces)
            if let id = self.ids[other] { return id }
            let id = self.points.count
            self.points.append(CapturePoint(name: Self.otherInterfaces, node: source?.node))
            self.ids[other] = id
            return id
        }
        let point: CapturePoint
        switch key {
        case .ifIndex(let node, let index):
            point = CapturePoint(name: self.ifIndexName(index, node: node) ?? "if\(index)", ifIndex: index, node: node)
        case .source(let node, let name):
            point = CapturePoint(name: name, node: node)
        }
        let id = self.points.count
        self.points.append(point)
        self.ids[key] = id
        return id
    }

    /// The capture point with this id.
    public subscript(id: Int) -> CapturePoint { self.points[id] }

    /// Most capture points given a point of their own. A node has tens to a few thousand interfaces (a veth per pod),
    /// and captures of a cluster's nodes a few hundred nodes' worth; a capture naming a new interface in every packet
    /// (corrupt, or written to exhaust the reader) would otherwise hold a point, and the correlator's knowledge of
    /// it, for each packet. Past the cap, each node's packets on interfaces not seen before are counted at one point,
    /// ``otherInterfaces``.
    public static let maxPoints = 65_536

    /// The name of a node's point for the interfaces past ``maxPoints`` (a space: no real interface is named so).
    public static let otherInterfaces = "(other interfaces)"

    /// How many times a packet's interface was past ``maxPoints`` and counted at ``otherInterfaces`` (0: never; the
    /// count is of lookups, at least one per interface past the cap).
    public private(set) var overflowed = 0

    /// How many names of points changed since the table was made (SLL2 indexes named after their points were
    /// given): a reader that keeps the names by id reads them again when this moves, else only the new ones.
    public private(set) var renames = 0
}
