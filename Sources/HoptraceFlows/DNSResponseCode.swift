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

/// Stored as its number.
extension DNSResponseCode: Codable {}
