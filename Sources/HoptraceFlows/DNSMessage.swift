// DNS message parsing (RFC 1035 section 4), over borrowed bytes.
//
//                                     1  1  1  1  1  1
//       0  1  2  3  4  5  6  7  8  9  0  1  2  3  4  5
//     +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//     |                      ID                       |
//     +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//     |QR|   Opcode  |AA|TC|RD|RA|   Z    |   RCODE   |
//     +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//     |          QDCOUNT / ANCOUNT / NSCOUNT / ARCOUNT |
//     +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//
// Names are sequences of length-prefixed labels, or end in a 2-byte pointer (top bits 11) to an earlier name in the
// message. Untrusted input: a name is at most 255 bytes on the wire, pointers must go strictly backwards (so a chain
// always terminates) and at most `maxPointerHops` of them are followed.

import HoptraceDecode

/// A parsed DNS message: the header, the first question and the answer section.
public struct DNSMessage: Hashable, Sendable {
    /// The transaction id.
    public var id: UInt16
    /// QR: a response (true) or a query (false).
    public var isResponse: Bool
    /// The opcode (0 = standard query).
    public var opcode: UInt8
    /// AA: authoritative answer.
    public var isAuthoritative: Bool
    /// TC: the message was truncated (retry over TCP).
    public var isTruncated: Bool
    /// RD: recursion desired.
    public var recursionDesired: Bool
    /// RA: recursion available.
    public var recursionAvailable: Bool
    /// The response code.
    public var rcode: DNSResponseCode
    /// QDCOUNT.
    public var questionCount: UInt16
    /// ANCOUNT.
    public var answerCount: UInt16
    /// NSCOUNT.
    public var authorityCount: UInt16
    /// ARCOUNT.
    public var additionalCount: UInt16
    /// The first question, if it parsed.
    public var question: DNSQuestion?
    /// The answer-section records that parsed (at most ``maxAnswers``).
    public var answers: [DNSResourceRecord]
    /// Whether some part after the header did not parse (truncated capture, corrupt name, bad lengths).
    public var isMalformed: Bool

    /// The most answer records kept per message.
    public static let maxAnswers = 64
    /// The most compression pointers followed in one name.
    public static let maxPointerHops = 32
    /// The longest name on the wire (RFC 1035 2.3.4).
    public static let maxNameLength = 255

    /// Parses a DNS message; nil when the bytes are shorter than the 12-byte header. Anything after the header that
    /// does not parse sets ``isMalformed`` and keeps what parsed before it.
    public init?(parsing bytes: UnsafeRawBufferPointer) {
        var cursor = ByteCursor(bytes)
        guard let id = cursor.readUInt16(), let flags = cursor.readUInt16(), let qd = cursor.readUInt16(),
            let an = cursor.readUInt16(), let ns = cursor.readUInt16(), let ar = cursor.readUInt16()
        else { return nil }
        self.id = id
        self.isResponse = flags & 0x8000 != 0
        self.opcode = UInt8((flags >> 11) & 0x0f)
        self.isAuthoritative = flags & 0x0400 != 0
        self.isTruncated = flags & 0x0200 != 0
        self.recursionDesired = flags & 0x0100 != 0
        self.recursionAvailable = flags & 0x0080 != 0
        self.rcode = DNSResponseCode(rawValue: UInt8(flags & 0x000f))
        self.questionCount = qd
        self.answerCount = an
        self.authorityCount = ns
        self.additionalCount = ar
        self.question = nil
        self.answers = []
        self.isMalformed = false

        // Names already read, by the offset they start at: a compression pointer to one of them (an answer's owner
        // pointing at the question, most often) reuses its String instead of building another.
        var names = NameMemo()

        // Questions: keep the first, skip the rest.
        for index in 0..<Int(qd) {
            guard let (name, end) = DNSMessage.readName(bytes, at: cursor.offset, memo: &names) else {
                self.isMalformed = true
                return
            }
            cursor.offset = end
            guard let type = cursor.readUInt16(), let qclass = cursor.readUInt16() else {
                self.isMalformed = true
                return
            }
            if index == 0 {
                self.question = DNSQuestion(name: name, type: DNSRecordType(rawValue: type), questionClass: qclass)
            }
        }
        if an > 0 { self.answers.reserveCapacity(min(Int(an), DNSMessage.maxAnswers)) }
        for _ in 0..<Int(an) {
            guard let (name, end) = DNSMessage.readName(bytes, at: cursor.offset, memo: &names) else {
                self.isMalformed = true
                return
            }
            cursor.offset = end
            guard let type = cursor.readUInt16(), let rclass = cursor.readUInt16(), let ttl = cursor.readUInt32(),
                let length = cursor.readUInt16()
            else {
                self.isMalformed = true
                return
            }
            let dataStart = cursor.offset
            guard cursor.skip(Int(length)) else {
                self.isMalformed = true
                return
            }
            let recordType = DNSRecordType(rawValue: type)
            let data = DNSMessage.readData(
                bytes,
                type: recordType,
                start: dataStart,
                length: Int(length),
                memo: &names
            )
            if self.answers.count < DNSMessage.maxAnswers {
                self.answers.append(
                    DNSResourceRecord(name: name, type: recordType, recordClass: rclass, ttl: ttl, data: data)
                )
            }
        }
    }

    /// Decodes the record data of the types hoptrace uses; `.other` for the rest or for data that does not parse.
    static func readData(
        _ bytes: UnsafeRawBufferPointer,
        type: DNSRecordType,
        start: Int,
        length: Int
    )
        -> DNSRecordData
    {
        var memo = NameMemo()
        return readData(bytes, type: type, start: start, length: length, memo: &memo)
    }

    /// ``readData(_:type:start:length:)`` reusing and noting names in `memo`.
    private static func readData(
        _ bytes: UnsafeRawBufferPointer,
        type: DNSRecordType,
        start: Int,
        length: Int,
        memo: inout NameMemo
    )
        -> DNSRecordData
    {
        var cursor = ByteCursor(bytes, offset: start)
        switch type {
        case .a where length == 4:
            if let value = cursor.readUInt32() { return .address(IPAddress(ipv4: value)) }
        case .aaaa where length == 16:
            if let high = cursor.readUInt64(), let low = cursor.readUInt64() {
                return .address(IPAddress(ipv6High: high, low: low))
            }
        case .cname, .ns, .ptr:
            if let (name, end) = readName(bytes, at: start, memo: &memo), end <= start + length { return .name(name) }
        case .srv where length >= 7:
            if let priority = cursor.readUInt16(), let weight = cursor.readUInt16(), let port = cursor.readUInt16(),
                let (target, end) = readName(bytes, at: cursor.offset, memo: &memo), end <= start + length
            {
                return .service(priority: priority, weight: weight, port: port, target: target)
            }
        default:
            break
        }
        return .other(length: length)
    }

    /// Reads a possibly compressed name starting at `start`.
    ///
    /// - Returns: the name in presentation form (no trailing dot; "" for the root; bytes outside letters, digits,
    ///   `-` and `_` escaped as `\DDD`, a dot inside a label as `\.`) and the offset just after the name where it
    ///   started (after its first pointer, if any); nil on a bad label type, a name over 255 bytes, a pointer that
    ///   does not go strictly backwards, too many pointers, or bytes running out.
    package static func readName(_ bytes: UnsafeRawBufferPointer, at start: Int) -> (name: String, end: Int)? {
        var hops = 0
        return readName(bytes, at: start, hops: &hops)
    }

    /// ``readName(_:at:)``, also giving the number of pointers followed.
    private static func readName(
        _ bytes: UnsafeRawBufferPointer,
        at start: Int,
        hops: inout Int
    ) -> (name: String, end: Int)? {
        // The text is built in a stack buffer and made a String once: a name has at most 255 wire bytes, each
        // escaped to at most 4 bytes.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4 * maxNameLength + 8) { text in
            var count = 0
            guard let end = readName(bytes, at: start, into: text, count: &count, hops: &hops) else { return nil }
            return (String(decoding: UnsafeBufferPointer(rebasing: text[0..<count]), as: UTF8.self), end)
        }
    }

    /// ``readName(_:at:)``, reusing the String of a name in `memo` when the name is only a pointer to where that
    /// one starts (and following it stays within the pointer limit), and noting the name read in `memo` otherwise.
    static func readName(
        _ bytes: UnsafeRawBufferPointer,
        at start: Int,
        memo: inout NameMemo
    ) -> (name: String, end: Int)? {
        if start >= 0, start + 1 < bytes.count, bytes[start] & 0xc0 == 0xc0 {
            let target = Int(bytes[start] & 0x3f) << 8 | Int(bytes[start + 1])
            // The checks of a full read: the pointer goes backwards, and one more hop stays within the limit.
            if target < start, let (name, hops) = memo.name(at: target), hops < maxPointerHops {
                return (name, start + 2)
            }
        }
        var hops = 0
        guard let (name, end) = readName(bytes, at: start, hops: &hops) else { return nil }
        memo.note(name, hops: hops, at: start)
        return (name, end)
    }

    private static func readName(
        _ bytes: UnsafeRawBufferPointer,
        at start: Int,
        into text: UnsafeMutableBufferPointer<UInt8>,
        count: inout Int,
        hops: inout Int
    ) -> Int? {
        var offset = start
        var lowestVisited = start
        var end: Int? = nil
        var wireLength = 1  // the final zero-length label
        while true {
            guard offset >= 0, offset < bytes.count else { return nil }
            let length = Int(bytes[offset])
            switch length & 0xc0 {
            case 0x00:
                if length == 0 {
                    return end ?? offset + 1
                }
                guard offset + 1 + length <= bytes.count else { return nil }
                wireLength += 1 + length
                guard wireLength <= maxNameLength else { return nil }
                if count > 0 {
                    text[count] = UInt8(ascii: ".")
                    count += 1
                }
                appendLabel(UnsafeRawBufferPointer(rebasing: bytes[(offset + 1)..<(offset + 1 + length)]), text, &count)
                offset += 1 + length
            case 0xc0:
                guard offset + 1 < bytes.count else { return nil }
                let target = (length & 0x3f) << 8 | Int(bytes[offset + 1])
                if end == nil { end = offset + 2 }
                hops += 1
                guard hops <= maxPointerHops, target < lowestVisited else { return nil }
                lowestVisited = target
                offset = target
            default:
                return nil  // 0x40 extended and 0x80 reserved label types
            }
        }
    }

    /// Appends a label's text: letters, digits, `-` and `_` as they are, `.` as `\.`, any other byte as `\DDD`.
    /// The caller's buffer holds 4 bytes per wire byte (the wire length is checked before).
    private static func appendLabel(
        _ label: UnsafeRawBufferPointer,
        _ text: UnsafeMutableBufferPointer<UInt8>,
        _ count: inout Int
    ) {
        for byte in label {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                text[count] = byte
                count += 1
            case UInt8(ascii: "."):
                text[count] = UInt8(ascii: "\\")
                text[count + 1] = UInt8(ascii: ".")
                count += 2
            default:
                text[count] = UInt8(ascii: "\\")
                text[count + 1] = UInt8(ascii: "0") + byte / 100
                text[count + 2] = UInt8(ascii: "0") + byte / 10 % 10
                text[count + 3] = UInt8(ascii: "0") + byte % 10
                count += 4
            }
        }
    }
}

/// The last few names of a message by the offset they start at (a fixed handful: no allocation of its own).
struct NameMemo {
    private var entries: (Entry?, Entry?, Entry?, Entry?) = (nil, nil, nil, nil)
    private var nextEntry = 0

    private struct Entry {
        var offset: Int
        var name: String
        var hops: Int
    }

    /// The name read starting at `offset` and the pointers its read followed, if it is remembered.
    func name(at offset: Int) -> (name: String, hops: Int)? {
        if let entry = self.entries.0, entry.offset == offset { return (entry.name, entry.hops) }
        if let entry = self.entries.1, entry.offset == offset { return (entry.name, entry.hops) }
        if let entry = self.entries.2, entry.offset == offset { return (entry.name, entry.hops) }
        if let entry = self.entries.3, entry.offset == offset { return (entry.name, entry.hops) }
        return nil
    }

    /// Remembers the name read starting at `offset` (following `hops` pointers), forgetting the oldest of four.
    mutating func note(_ name: String, hops: Int, at offset: Int) {
        let entry = Entry(offset: offset, name: name, hops: hops)
        switch self.nextEntry {
        case 0: self.entries.0 = entry
        case 1: self.entries.1 = entry
        case 2: self.entries.2 = entry
        default: self.entries.3 = entry
        }
        self.nextEntry = (self.nextEntry + 1) % 4
    }
}
