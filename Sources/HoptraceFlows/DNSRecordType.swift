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

/// Stored as its number.
extension DNSRecordType: Codable {}
