/// An ARP (or RARP) message over Ethernet/IPv4: recognised, not IP.
public struct ARPMessage: Hashable, Sendable {
    /// 1 request, 2 reply (3/4 RARP).
    public var operation: UInt16
    /// Sender hardware address (when 6 bytes long).
    public var senderMAC: MACAddress?
    /// Sender protocol address (when IPv4).
    public var senderIP: IPAddress?
    /// Target hardware address (when 6 bytes long).
    public var targetMAC: MACAddress?
    /// Target protocol address (when IPv4).
    public var targetIP: IPAddress?
    /// The ARP message's length on the wire (the frame after its link-layer header, padding included, as tcpdump
    /// counts it).
    public var length: Int

    /// An ARP message from its fields.
    public init(
        operation: UInt16,
        senderMAC: MACAddress?,
        senderIP: IPAddress?,
        targetMAC: MACAddress?,
        targetIP: IPAddress?,
        length: Int = 28
    ) {
        self.operation = operation
        self.senderMAC = senderMAC
        self.senderIP = senderIP
        self.targetMAC = targetMAC
        self.targetIP = targetIP
        self.length = length
    }
}
