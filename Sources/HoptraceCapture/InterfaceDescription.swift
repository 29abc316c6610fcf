/// One interface a source captures on, or one pcapng Interface Description Block.
public struct InterfaceDescription: Sendable, Hashable {
    /// The interface name (`eth0`, `cni0`, `any`); for a classic pcap file, the file's base name.
    public var name: String
    /// Free-text description (pcapng `if_description`), if any.
    public var description: String?
    /// The link-layer header type of this interface's packets.
    public var linkType: LinkType
    /// The snapshot length; 0 means unlimited.
    public var snapLength: UInt32
    /// Timestamp units per second on the wire (1_000_000 for µs, 1_000_000_000 for ns).
    public var timestampsPerSecond: UInt64
    /// Whether `name` names a real interface (a live capture, a pcapng `if_name`) rather than standing in for one
    /// (a classic pcap file's base name, a pcapng interface without a name).
    public var isNamed: Bool
    /// The node (host) the interface belongs to: from a pcapng section header (`hoptrace capture` writes the host's
    /// name there), or given when several nodes' captures are read together.
    public var node: String?
    /// The file the interface was read from, as the user named it (nil: a live capture).
    public var file: String?

    /// Creates a value with these fields.
    public init(
        name: String,
        description: String? = nil,
        linkType: LinkType,
        snapLength: UInt32 = 0,
        timestampsPerSecond: UInt64 = 1_000_000,
        isNamed: Bool = true,
        node: String? = nil,
        file: String? = nil
    ) {
        self.name = name
        self.description = description
        self.linkType = linkType
        self.snapLength = snapLength
        self.timestampsPerSecond = timestampsPerSecond
        self.isNamed = isNamed
        self.node = node
        self.file = file
    }
}
