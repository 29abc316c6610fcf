/// A source whose interfaces all carry one node (or none): how the captures of several nodes read together keep
/// their interfaces apart (`node-a/eth0`, `node-b/eth0`). See ``CaptureSet``.
public final class LabeledPacketSource: PacketSource {
    private let base: any PacketSource
    /// The node of every interface (nil: none, even one the file names).
    public let node: String?
    private var labeled: [InterfaceDescription] = []

    /// Labels `base`'s interfaces with `node`.
    public init(_ base: any PacketSource, node: String?) {
        self.base = base
        self.node = node
    }

    /// The base source's interfaces, labeled (interfaces a pcapng file declares later are labeled as they come).
    public var interfaces: [InterfaceDescription] {
        let current = base.interfaces
        // Only the interfaces declared since (a file may declare one before each packet).
        while labeled.count < current.count {
            var interface = current[labeled.count]
            interface.node = node
            labeled.append(interface)
        }
        return labeled
    }

    /// The base source's next packet.
    public func next() throws(CaptureError) -> Packet? { try base.next() }

    /// The base source's count.
    public var timestampAnomalies: TimestampAnomalies { base.timestampAnomalies }
    /// The labeled source's bytes.
    public var bytesRead: UInt64 { base.bytesRead }
}
