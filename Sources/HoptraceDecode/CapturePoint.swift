/// A capture point: the interface a packet was seen on.
///
/// For pcapng files and live captures with real interface names it is the source's interface; for SLL2 packets
/// (`tcpdump -i any`) it is the SLL2 interface index, named `if<N>` unless a name map is known.
public struct CapturePoint: Hashable, Sendable, CustomStringConvertible {
    /// The name shown to users (`eth0`, `cni0`, `if7`).
    public var name: String
    /// The SLL2 interface index this point stands for, or -1 when it stands for a source interface.
    public var ifIndex: Int32

    /// A capture point.
    public init(name: String, ifIndex: Int32 = -1) {
        self.name = name
        self.ifIndex = ifIndex
    }

    /// The name.
    public var description: String { self.name }
}

/// Gives each capture point a small integer id, stable for the table's life.
///
/// Looking up a known point does not allocate.
public final class CapturePointTable {
    @usableFromInline
    enum Key: Hashable {
        case source(name: String)
        case ifIndex(Int32)
    }

    /// The capture points by id.
    public private(set) var points: [CapturePoint] = []
    @usableFromInline
    var ids: [Key: Int] = [:]
    private var ifIndexNames: [Int32: String] = [:]

    /// An empty table.
    public init() {}

    /// The names by id.
    public var names: [String] { self.points.map(\.name) }

    /// Names SLL2 interface indexes (from `ip link` of the captured host, or a capture's metadata). Points already
    /// given an id are renamed.
    public func setIfIndexNames(_ names: [Int32: String]) {
        self.ifIndexNames = names
        for (index, point) in self.points.enumerated() where point.ifIndex >= 0 {
            if let name = names[point.ifIndex] { self.points[index].name = name }
        }
    }

    /// The id of the capture point of `decoded`: its source interface when that has a real name (other than `any`),
    /// else its SLL2 interface index when it has one, else the source's stand-in name.
    ///
    /// - Parameters:
    ///   - decoded: the packet.
    ///   - interfaces: the source's interface table (``PacketSource/interfaces``).
    public func id(for decoded: DecodedPacket, interfaces: [InterfaceDescription]) -> Int {
        let key: Key
        let source =
            decoded.interfaceID >= 0 && decoded.interfaceID < interfaces.count
            ? interfaces[decoded.interfaceID] : nil
        if decoded.link.ifIndex >= 0, source.map({ !$0.isNamed || $0.name == "any" }) ?? true {
            // `-i any` (SLL2 in a classic pcap, or a pcapng interface named "any"): the packet's own interface.
            key = .ifIndex(decoded.link.ifIndex)
        } else if let source {
            // A named interface (pcapng `if_name`, live): its name, even when its packets are SLL2 (hoptrace
            // capture -i any writes one named interface block per real interface).
            key = .source(name: source.name)
        } else {
            key = .source(name: "if\(decoded.interfaceID)")
        }
        if let id = self.ids[key] { return id }
        let point: CapturePoint
        switch key {
        case .ifIndex(let index):
            point = CapturePoint(name: self.ifIndexNames[index] ?? "if\(index)", ifIndex: index)
        case .source(let name):
            point = CapturePoint(name: name)
        }
        let id = self.points.count
        self.points.append(point)
        self.ids[key] = id
        return id
    }

    /// The capture point with this id.
    public subscript(id: Int) -> CapturePoint { self.points[id] }
}
