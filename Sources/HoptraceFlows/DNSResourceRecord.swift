import HoptraceDecode

/// The data of one answer record, decoded for the types hoptrace uses.
public enum DNSRecordData: Hashable, Sendable, CustomStringConvertible {
    /// An A or AAAA address.
    case address(IPAddress)
    /// A CNAME, NS or PTR target name.
    case name(String)
    /// An SRV record.
    case service(priority: UInt16, weight: UInt16, port: UInt16, target: String)
    /// Any other type, or data that did not parse: its length only.
    case other(length: Int)

    /// Text as dig prints it.
    public var description: String {
        switch self {
        case .address(let address): return address.description
        case .name(let name): return name
        case .service(let priority, let weight, let port, let target): return "\(priority) \(weight) \(port) \(target)"
        case .other(let length): return "<\(length) bytes>"
        }
    }
}

/// One resource record of the answer section.
public struct DNSResourceRecord: Hashable, Sendable {
    /// The owner name.
    public var name: String
    /// The record type.
    public var type: DNSRecordType
    /// The class (1 = IN).
    public var recordClass: UInt16
    /// Time to live, seconds.
    public var ttl: UInt32
    /// The decoded data.
    public var data: DNSRecordData

    /// Makes a record.
    public init(name: String, type: DNSRecordType, recordClass: UInt16 = 1, ttl: UInt32, data: DNSRecordData) {
        self.name = name
        self.type = type
        self.recordClass = recordClass
        self.ttl = ttl
        self.data = data
    }
}

extension DNSRecordData: Codable {}

extension DNSResourceRecord: Codable {}
