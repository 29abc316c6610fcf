import HoptraceDecode
import Testing

@testable import HoptraceFlows

/// Hand-built DNS messages: header, compression, record data, and hostile names.
struct DNSMessageTests {
    /// Header for id, flags and counts.
    static func header(id: UInt16, flags: UInt16, qd: UInt16, an: UInt16) -> [UInt8] {
        [
            UInt8(id >> 8), UInt8(id & 0xff), UInt8(flags >> 8), UInt8(flags & 0xff), 0, UInt8(qd), 0, UInt8(an), 0, 0,
            0, 0,
        ]
    }

    static func name(_ labels: [String]) -> [UInt8] {
        var bytes: [UInt8] = []
        for label in labels {
            bytes.append(UInt8(label.utf8.count))
            bytes += Array(label.utf8)
        }
        return bytes + [0]
    }

    static func parse(_ bytes: [UInt8]) -> DNSMessage? {
        bytes.withUnsafeBytes { DNSMessage(parsing: $0) }
    }

    @Test func queryWithQuestion() throws {
        let bytes =
            Self.header(id: 0x1234, flags: 0x0100, qd: 1, an: 0) + Self.name(["web", "default", "svc"]) + [0, 1, 0, 1]
        let message = try #require(Self.parse(bytes))
        #expect(message.id == 0x1234)
        #expect(!message.isResponse)
        #expect(message.recursionDesired)
        #expect(message.question == DNSQuestion(name: "web.default.svc", type: .a))
        #expect(!message.isMalformed)
    }

    @Test func responseWithCompressedAnswers() throws {
        // Question at offset 12; answers point back to it (0xc00c).
        var bytes = Self.header(id: 7, flags: 0x8183, qd: 1, an: 4) + Self.name(["a", "example"]) + [0, 28, 0, 1]
        // CNAME -> b.<pointer to "example" at offset 14>
        bytes += [0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 4, 1, UInt8(ascii: "b"), 0xc0, 14]
        // A 10.96.0.10, TTL 30
        bytes += [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 96, 0, 10]
        // AAAA fe80::1
        bytes += [0xc0, 12, 0, 28, 0, 1, 0, 0, 1, 0, 0, 16, 0xfe, 0x80] + [UInt8](repeating: 0, count: 13) + [1]
        // SRV 1 2 8080 -> pointer to question
        bytes += [0xc0, 12, 0, 33, 0, 1, 0, 0, 0, 5, 0, 8, 0, 1, 0, 2, 0x1f, 0x90, 0xc0, 12]
        let message = try #require(Self.parse(bytes))
        #expect(message.isResponse)
        #expect(message.rcode == .nameError)
        #expect(message.rcode.description == "NXDOMAIN")
        #expect(message.answers.count == 4)
        #expect(message.answers[0].data == .name("b.example"))
        #expect(message.answers[0].type == .cname)
        #expect(message.answers[1].data == .address(IPAddress(10, 96, 0, 10)))
        #expect(message.answers[1].ttl == 30)
        #expect(message.answers[2].data == .address(try #require(IPAddress("fe80::1"))))
        #expect(message.answers[2].ttl == 256)
        #expect(message.answers[3].data == .service(priority: 1, weight: 2, port: 8080, target: "a.example"))
        #expect(!message.isMalformed)
    }

    @Test func pointerLoopIsRejected() throws {
        // A name that is a pointer to itself, and two pointers pointing at each other.
        let selfLoop = Self.header(id: 1, flags: 0, qd: 1, an: 0) + [0xc0, 12, 0, 1, 0, 1]
        let message = try #require(Self.parse(selfLoop))
        #expect(message.question == nil)
        #expect(message.isMalformed)
        let pair = Self.header(id: 1, flags: 0, qd: 1, an: 0) + [1, UInt8(ascii: "x"), 0xc0, 12, 0, 1, 0, 1]
        #expect(Self.parse(pair)?.isMalformed == true)
        // Forward pointer (to bytes after the name) is rejected too.
        let forward = Self.header(id: 1, flags: 0, qd: 1, an: 0) + [0xc0, 16, 0, 1, 1, UInt8(ascii: "y"), 0]
        #expect(Self.parse(forward)?.isMalformed == true)
    }

    @Test func overlongNameIsRejected() throws {
        // 5 labels of 63 bytes = 320 bytes on the wire > 255.
        let labels = [String](repeating: String(repeating: "a", count: 63), count: 5)
        let bytes = Self.header(id: 1, flags: 0, qd: 1, an: 0) + Self.name(labels) + [0, 1, 0, 1]
        #expect(Self.parse(bytes)?.isMalformed == true)
        // 3 labels of 63 + one of 61: 4*64 - 2 + 1 = 255 bytes: accepted.
        let fits =
            [String](repeating: String(repeating: "b", count: 63), count: 3) + [String(repeating: "c", count: 61)]
        let ok = Self.header(id: 1, flags: 0, qd: 1, an: 0) + Self.name(fits) + [0, 1, 0, 1]
        #expect(Self.parse(ok)?.question?.name.count == 63 * 3 + 61 + 3)
    }

    @Test func longPointerChainIsBounded() throws {
        // 40 pointers each pointing to the previous one, strictly backwards: the hop limit stops it.
        var bytes = Self.header(id: 1, flags: 0, qd: 0, an: 0) + [0]
        for index in 0..<40 {
            let target = index == 0 ? 12 : 13 + (index - 1) * 2
            bytes += [0xc0 | UInt8(target >> 8), UInt8(target & 0xff)]
        }
        let last = bytes.count - 2
        let result = bytes.withUnsafeBytes { DNSMessage.readName($0, at: last) }
        #expect(result == nil)
        let short = bytes.withUnsafeBytes { DNSMessage.readName($0, at: 13 + 4 * 2) }
        #expect(short?.name == "")
    }

    @Test func truncatedMessages() {
        #expect(Self.parse([0, 1, 2]) == nil)
        let full =
            Self.header(id: 9, flags: 0x8180, qd: 1, an: 1) + Self.name(["x"]) + [0, 1, 0, 1]
            + [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 0, 0, 1]
        for cut in 12..<full.count {
            let message = Self.parse(Array(full[0..<cut]))
            #expect(message?.id == 9)
            #expect(message?.isMalformed == true)
        }
        #expect(Self.parse(full)?.isMalformed == false)
    }

    @Test func oddLabelBytesAreEscaped() throws {
        let bytes =
            Self.header(id: 1, flags: 0, qd: 1, an: 0) + [3, UInt8(ascii: "a"), UInt8(ascii: "."), 0x07, 0] + [
                0, 1, 0, 1,
            ]
        let message = try #require(Self.parse(bytes))
        #expect(message.question?.name == "a\\.\\007")
    }

    /// A name that is only a pointer to an earlier name gets that name's text, and the pointer limit still holds
    /// when the earlier name already used it up: owner names of answers pointing at the question, at a CNAME's
    /// target, and at a name that took 32 pointers (one more is refused, as when read in full).
    @Test func pointersToEarlierNamesKeepTheLimits() throws {
        // Question "a.example" A at 12; answer 1: owner -> question, CNAME "b" + pointer to "example" (offset 14).
        var bytes = Self.header(id: 5, flags: 0x8180, qd: 1, an: 6) + Self.name(["a", "example"]) + [0, 1, 0, 1]
        bytes += [0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 4]
        let cnameTarget = bytes.count
        bytes += [1, UInt8(ascii: "b"), 0xc0, 14]
        // Answer 2: owner -> the CNAME target, A 10.0.0.2.
        bytes += [0xc0, UInt8(cnameTarget), 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 2]
        // Answer 3: owner -> question, TXT whose data holds a root name and 31 pointers, each to the one before.
        bytes += [0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 63]
        let root = bytes.count
        bytes.append(0)
        var previous = root
        for _ in 0..<31 {
            let here = bytes.count
            bytes += [0xc0 | UInt8(previous >> 8), UInt8(previous & 0xff)]
            previous = here
        }
        // Answer 4: owner -> the last pointer (1 + 31 = 32 pointers: the limit), A 10.0.0.4.
        let fourth = bytes.count
        bytes += [0xc0 | UInt8(previous >> 8), UInt8(previous & 0xff), 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 4]
        // Answer 5: owner -> answer 4's owner: 33 pointers, refused.
        bytes += [0xc0 | UInt8(fourth >> 8), UInt8(fourth & 0xff), 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 5]
        let message = try #require(Self.parse(bytes))
        #expect(message.answers.map(\.name) == ["a.example", "b.example", "a.example", ""])
        #expect(message.answers[1].data == .address(IPAddress(10, 0, 0, 2)))
        #expect(message.answers[3].data == .address(IPAddress(10, 0, 0, 4)))
        #expect(message.isMalformed)
        // Read on its own, answer 5's owner is refused the same way.
        #expect(bytes.withUnsafeBytes { DNSMessage.readName($0, at: fourth + 16) } == nil)
        #expect(bytes.withUnsafeBytes { DNSMessage.readName($0, at: fourth) }?.name == "")
    }
}
