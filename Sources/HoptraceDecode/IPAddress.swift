/// An IPv4 or IPv6 address as a value: 16 bytes inline plus a family tag, no allocation.
///
/// IPv4 addresses are stored as IPv4-mapped IPv6 (`::ffff:a.b.c.d`) with ``isIPv4`` set, so the two families never
/// compare equal. IPv4 sorts before IPv6; within a family, numerically.
public struct IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The first 8 bytes of the 16-byte form, big-endian.
    public var high: UInt64
    /// The last 8 bytes of the 16-byte form, big-endian.
    public var low: UInt64
    /// Whether this is an IPv4 address.
    public var isIPv4: Bool

    /// The IPv4 address `value` (host order: `0x0a000001` is 10.0.0.1).
    @inlinable
    public init(ipv4 value: UInt32) {
        self.high = 0
        self.low = 0x0000_ffff_0000_0000 | UInt64(value)
        self.isIPv4 = true
    }

    /// The IPv6 address whose 16 bytes, read big-endian, are `high` then `low`.
    @inlinable
    public init(ipv6High high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
        self.isIPv4 = false
    }

    /// The IPv4 address `a.b.c.d`.
    @inlinable
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        self.init(ipv4: UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d))
    }

    /// The IPv4 address as a host-order integer (0 for IPv6).
    /// Hashes the address as one word: its two halves folded (an IPv4 address and the same bits as IPv6 collide,
    /// and are told apart by `==`). The synthesized form fed 17 bytes through SipHash, which cost more than the rest
    /// of a dictionary lookup; the hasher is still seeded per process, so which addresses collide is not predictable
    /// from the wire.
    @inlinable
    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.folded)
    }

    /// The address as one word, its halves folded: what ``hash(into:)`` feeds the hasher, and what a caller mixing
    /// an address into a key of its own takes.
    @inlinable
    public var folded: UInt64 { self.high &* 0x9E37_79B9_7F4A_7C15 ^ self.low }

    @inlinable
    public var ipv4Value: UInt32 {
        self.isIPv4 ? UInt32(truncatingIfNeeded: self.low) : 0
    }

    /// Reads an IPv4 address at `offset`. The caller has checked 4 bytes are there.
    @inlinable
    static func ipv4(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> IPAddress {
        IPAddress(ipv4: bytes.be32(offset))
    }

    /// Reads an IPv6 address at `offset`. The caller has checked 16 bytes are there.
    @inlinable
    static func ipv6(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> IPAddress {
        IPAddress(ipv6High: bytes.be64(offset), low: bytes.be64(offset + 8))
    }

    /// Parses dotted-quad IPv4 (`10.96.0.10`) or textual IPv6 (`fe80::1`, `::ffff:1.2.3.4`); nil if malformed.
    public init?(_ string: String) {
        if !string.contains(":") {
            guard let v4 = IPAddress.parseIPv4(Substring(string)) else { return nil }
            self.init(ipv4: v4)
            return
        }
        guard let (high, low) = IPAddress.parseIPv6(string) else { return nil }
        self.init(ipv6High: high, low: low)
    }

    private static func parseIPv4(_ s: Substring) -> UInt32? {
        var value: UInt32 = 0
        var parts = 0
        for part in s.split(separator: ".", omittingEmptySubsequences: false) {
            guard !part.isEmpty, part.count <= 3, let octet = UInt8(part) else { return nil }
            value = value << 8 | UInt32(octet)
            parts += 1
        }
        return parts == 4 ? value : nil
    }

    private static func parseIPv6(_ s: String) -> (UInt64, UInt64)? {
        var groups: [UInt16] = []
        var gap: Int? = nil
        var halves: [String] = [s]
        if let gapRange = s.firstRange(of: "::") {
            halves = [String(s[..<gapRange.lowerBound]), String(s[gapRange.upperBound...])]
            guard halves[1].firstRange(of: "::") == nil else { return nil }
        }
        func parseGroups(_ text: String, allowV4Tail: Bool) -> [UInt16]? {
            if text.isEmpty { return [] }
            var result: [UInt16] = []
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            for (index, part) in parts.enumerated() {
                if allowV4Tail, index == parts.count - 1, part.contains(".") {
                    guard let v4 = parseIPv4(part) else { return nil }
                    result.append(UInt16(v4 >> 16))
                    result.append(UInt16(v4 & 0xffff))
                } else {
                    guard !part.isEmpty, part.count <= 4, let group = UInt16(part, radix: 16) else { return nil }
                    result.append(group)
                }
            }
            return result
        }
        if halves.count == 2 {
            guard let head = parseGroups(halves[0], allowV4Tail: false),
                let tail = parseGroups(halves[1], allowV4Tail: true), head.count + tail.count <= 7
            else { return nil }
            groups = head
            gap = 8 - head.count - tail.count
            groups += [UInt16](repeating: 0, count: gap ?? 0) + tail
        } else {
            guard let all = parseGroups(s, allowV4Tail: true), all.count == 8 else { return nil }
            groups = all
        }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for i in 0..<4 { high = high << 16 | UInt64(groups[i]) }
        for i in 4..<8 { low = low << 16 | UInt64(groups[i]) }
        return (high, low)
    }

    /// IPv4 before IPv6, then by value.
    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        if lhs.isIPv4 != rhs.isIPv4 { return lhs.isIPv4 }
        return (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }

    /// Appends the text form (as ``description``) to `bytes`; IPv4 without building a String.
    package func appendDescription(to bytes: inout [UInt8]) {
        guard self.isIPv4 else {
            bytes.append(contentsOf: self.description.utf8)
            return
        }
        let v = self.ipv4Value
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 15) { scratch in
            let count = Self.writeDottedQuad(v, into: scratch)
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: scratch[0..<count]))
        }
    }

    /// Writes an IPv4 address's dotted quad at `out` (room for 15 bytes); returns the bytes written. (For IPv6,
    /// ``appendDescription(to:)``.)
    package func writeIPv4Description(to out: UnsafeMutablePointer<UInt8>) -> Int {
        assert(self.isIPv4, "writeIPv4Description of an IPv6 address")
        return Self.writeDottedQuad(self.ipv4Value, into: UnsafeMutableBufferPointer(start: out, count: 15))
    }

    /// Writes `v` as a dotted quad into `out` (15 bytes at least); returns the bytes written.
    private static func writeDottedQuad(_ v: UInt32, into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var at = 0
        for shift in stride(from: 24, through: 0, by: -8) {
            let octet = Int(truncatingIfNeeded: v >> UInt32(shift)) & 0xff
            if octet >= 100 {
                out[at] = UInt8(truncatingIfNeeded: 0x30 + octet / 100)
                at += 1
            }
            if octet >= 10 {
                out[at] = UInt8(truncatingIfNeeded: 0x30 + octet / 10 % 10)
                at += 1
            }
            out[at] = UInt8(truncatingIfNeeded: 0x30 + octet % 10)
            at += 1
            if shift > 0 {
                out[at] = UInt8(ascii: ".")
                at += 1
            }
        }
        return at
    }

    /// `10.96.0.10` or the RFC 5952 form of an IPv6 address (`fe80::1`).
    public var description: String {
        if self.isIPv4 {
            // Dotted quad written digit by digit: at most 15 bytes, a small string (no allocation).
            let v = self.ipv4Value
            return String(unsafeUninitializedCapacity: 15) { Self.writeDottedQuad(v, into: $0) }
        }
        var groups = [UInt16](repeating: 0, count: 8)
        for i in 0..<4 {
            groups[i] = UInt16(truncatingIfNeeded: self.high >> (48 - 16 * UInt64(i)))
            groups[i + 4] = UInt16(truncatingIfNeeded: self.low >> (48 - 16 * UInt64(i)))
        }
        // Longest run of two or more zero groups, first one on ties (RFC 5952 4.2).
        var bestStart = -1
        var bestLength = 1
        var i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8, groups[j] == 0 { j += 1 }
                if j - i > bestLength {
                    bestStart = i
                    bestLength = j - i
                }
                i = j
            } else {
                i += 1
            }
        }
        func hex(_ range: Range<Int>) -> String {
            groups[range].map { String($0, radix: 16) }.joined(separator: ":")
        }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }
}

/// Stored as its text (``description``), read back with ``init(_:)``: `10.96.0.10`, `fe80::1`. The family survives the
/// trip (an IPv4-mapped IPv6 address is written with colons and read back as IPv6).
extension IPAddress: Codable {
    /// Reads the text form.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let address = IPAddress(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not an IP address")
        }
        self = address
    }

    /// Writes the text form.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.description)
    }
}
