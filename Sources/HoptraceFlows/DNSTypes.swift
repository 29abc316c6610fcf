import HoptraceDecode

/// A DNS resource record type (RFC 1035 TYPE), as a named constant.
public struct DNSRecordType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The 16-bit TYPE value.
    public var rawValue: UInt16
    /// Wraps a TYPE value.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// IPv4 address.
    public static let a = DNSRecordType(rawValue: 1)
    /// Authoritative name server.
    public static let ns = DNSRecordType(rawValue: 2)
    /// Canonical name (alias).
    public static let cname = DNSRecordType(rawValue: 5)
    /// Start of authority.
    public static let soa = DNSRecordType(rawValue: 6)
    /// Domain name pointer (reverse lookup).
    public static let ptr = DNSRecordType(rawValue: 12)
    /// Mail exchange.
    public static let mx = DNSRecordType(rawValue: 15)
    /// Text.
    public static let txt = DNSRecordType(rawValue: 16)
    /// IPv6 address.
    public static let aaaa = DNSRecordType(rawValue: 28)
    /// Service locator.
    public static let srv = DNSRecordType(rawValue: 33)
    /// EDNS(0) pseudo-record.
    public static let opt = DNSRecordType(rawValue: 41)
    /// Service binding.
    public static let svcb = DNSRecordType(rawValue: 64)
    /// HTTPS service binding.
    public static let https = DNSRecordType(rawValue: 65)
    /// Any type (query only).
    public static let any = DNSRecordType(rawValue: 255)

    /// The mnemonic ("A", "AAAA") or "TYPE<n>".
    public var description: String {
        switch self {
        case .a: return "A"
        case .ns: return "NS"
        case .cname: return "CNAME"
        case .soa: return "SOA"
        case .ptr: return "PTR"
        case .mx: return "MX"
        case .txt: return "TXT"
        case .aaaa: return "AAAA"
        case .srv: return "SRV"
        case .opt: return "OPT"
        case .svcb: return "SVCB"
        case .https: return "HTTPS"
        case .any: return "ANY"
        default: return "TYPE\(self.rawValue)"
        }
    }
}

/// A DNS response code (RFC 1035 RCODE, the low 4 bits of the header).
public struct DNSResponseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The RCODE value.
    public var rawValue: UInt8
    /// Wraps an RCODE value.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// No error.
    public static let noError = DNSResponseCode(rawValue: 0)
    /// The server could not interpret the query.
    public static let formatError = DNSResponseCode(rawValue: 1)
    /// The server failed.
    public static let serverFailure = DNSResponseCode(rawValue: 2)
    /// The name does not exist.
    public static let nameError = DNSResponseCode(rawValue: 3)
    /// The server does not implement the query kind.
    public static let notImplemented = DNSResponseCode(rawValue: 4)
    /// The server refused.
    public static let refused = DNSResponseCode(rawValue: 5)

    /// The conventional name ("NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED") or "RCODE<n>".
    public var description: String {
        switch self {
        case .noError: return "NOERROR"
        case .formatError: return "FORMERR"
        case .serverFailure: return "SERVFAIL"
        case .nameError: return "NXDOMAIN"
        case .notImplemented: return "NOTIMP"
        case .refused: return "REFUSED"
        default: return "RCODE\(self.rawValue)"
        }
    }
}

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

/// The (first) question of a DNS message.
public struct DNSQuestion: Hashable, Sendable {
    /// The name asked for, in presentation form without the trailing dot ("" for the root).
    public var name: String
    /// The type asked for.
    public var type: DNSRecordType
    /// The class (1 = IN).
    public var questionClass: UInt16

    /// Makes a question.
    public init(name: String, type: DNSRecordType, questionClass: UInt16 = 1) {
        self.name = name
        self.type = type
        self.questionClass = questionClass
    }
}
