import Testing

@testable import HoptraceFlows

/// Whatever the network carries stays data in the flow stage: DNS names with dots, backslashes and control bytes
/// inside labels come out escaped (RFC 1035's \DDD, `\.`), compression loops and long pointer chains end the name
/// instead of the program, HTTP paths and headers with terminal escapes, `<script>`, quotes and NUL are kept as
/// printable ASCII with `\xNN` escapes and at most ``HTTPHead/maxFieldLength`` bytes, and protocols on each other's
/// ports are not taken for what they are not. The facts are the hand-built bytes.
@Suite("hostile text stays text")
struct HostileTextTests {
    static let client = FlowEndpoint.v4("10.244.0.5", 41_000)
    static let resolver = FlowEndpoint.v4("10.96.0.10", 53)
    static let web = FlowEndpoint.v4("10.96.0.20", 80)

    static func header(id: UInt16, flags: UInt16, qd: UInt16 = 1, an: UInt16 = 0) -> [UInt8] {
        [
            UInt8(id >> 8), UInt8(id & 0xff), UInt8(flags >> 8), UInt8(flags & 0xff), 0, UInt8(qd), 0, UInt8(an), 0, 0,
            0, 0,
        ]
    }

    /// Only printable ASCII, and at most `limit` bytes before escaping (4 per escaped byte after).
    static func isInert(_ text: String, limit: Int = HTTPHead.maxFieldLength) -> Bool {
        text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7f } && text.utf8.count <= limit + 3
    }

    @Test("DNS labels with dots, backslashes, NUL, ESC and UTF-8 are escaped, not split or interpreted")
    func dnsLabels() throws {
        let harness = FlowHarness()
        // a . b \ NUL ESC [ 3 1 m é
        let label: [UInt8] = [0x61, 0x2e, 0x62, 0x5c, 0x00, 0x1b, 0x5b, 0x33, 0x31, 0x6d, 0xc3, 0xa9]
        let query =
            Self.header(id: 7, flags: 0x0100) + [UInt8(label.count)] + label + [3, 0x63, 0x6f, 0x6d, 0, 0, 1, 0, 1]
        harness.udp(Self.client, Self.resolver, payload: query, at: 0)
        harness.analyzer.finish()
        let name = try #require(harness.dns.first?.question?.name)
        #expect(name == "a\\.b\\092\\000\\027\\09131m\\195\\169.com")
        #expect(name.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7f })
    }

    @Test("compression loops, pointer chains past the limit and over-long names end the name, not the program")
    func dnsPointers() throws {
        let harness = FlowHarness()
        // A name that points at itself (offset 12).
        let loop = Self.header(id: 1, flags: 0x0100) + [0xc0, 12, 0, 1, 0, 1]
        // A forward pointer (to offset 200, past the end).
        let forward = Self.header(id: 2, flags: 0x0100) + [0xc0, 200, 0, 1, 0, 1]
        // A response whose second answer's owner is the end of a chain of 40 pointers (each to the one before, laid
        // in the first answer's data): more than the 32 hops followed. The first answer stays; the second does not.
        var chain = Self.header(id: 3, flags: 0x8180, an: 2) + [1, 0x78, 0, 0, 1, 0, 1]
        chain += [0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 80]
        let base = chain.count
        for k in 0..<40 {
            let target = k == 0 ? 12 : base + 2 * (k - 1)
            chain += [0xc0 | UInt8(target >> 8), UInt8(target & 0xff)]
        }
        let last = base + 2 * 39
        chain += [0xc0 | UInt8(last >> 8), UInt8(last & 0xff), 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1]
        // 300 bytes of labels: over the 255 a name may have.
        var long = Self.header(id: 4, flags: 0x0100)
        for _ in 0..<10 { long += [29] + [UInt8](repeating: 0x61, count: 29) }
        long += [0, 0, 1, 0, 1]
        for (index, message) in [loop, forward, chain, long].enumerated() {
            harness.udp(Self.client, Self.resolver, payload: message, at: Int64(index))
        }
        harness.analyzer.finish()
        #expect(harness.dns.count == 4)
        let byID = Dictionary(uniqueKeysWithValues: harness.dns.map { ($0.id, $0) })
        for id: UInt16 in [1, 2, 4] { #expect(byID[id]?.question == nil, "\(id)") }
        #expect(byID[3]?.question?.name == "x")
        #expect(byID[3]?.answers.count == 1)
    }

    @Test("terminal escapes, OSC, <script>, quotes and NUL in HTTP paths and headers are stored inert and bounded")
    func httpText() throws {
        let harness = FlowHarness()
        let nasty = "\u{1b}[31mred\u{1b}]0;owned\u{7}<script>alert(\"x\")</script>'\u{0}\\"
        let request = [UInt8](
            text:
                "GET /\(nasty)?\(String(repeating: "q", count: 1000)) HTTP/1.1\r\nHost: \(nasty)\r\nUser-Agent: \(nasty)\r\n"
                + "X-Request-ID: \(nasty)\r\nX-Forwarded-For: \(nasty)\r\ntraceparent: \(nasty)\r\n\r\n"
        )
        let response = [UInt8](text: "HTTP/1.1 200 \(nasty)\r\nContent-Length: 0\r\n\r\n")
        harness.tcp(Self.client, Self.web, [.syn], seq: 0, at: 0)
        harness.tcp(Self.web, Self.client, [.syn, .ack], seq: 0, ack: 1, at: 1)
        harness.tcp(Self.client, Self.web, [.ack, .psh], seq: 1, ack: 1, payload: request, at: 2)
        harness.tcp(
            Self.web,
            Self.client,
            [.ack, .psh],
            seq: 1,
            ack: 1 + UInt32(request.count),
            payload: response,
            at: 3
        )
        harness.analyzer.finish()
        let exchange = try #require(harness.exchanges.first)
        let head = try #require(exchange.request)
        for text in [
            head.method, head.target, head.host, head.userAgent, head.requestID, head.forwardedFor, head.traceparent,
        ] {
            let value = try #require(text)
            #expect(Self.isInert(value), "\(value)")
        }
        #expect(head.target.hasPrefix("/\\x1b[31mred\\x1b]0;owned\\x07<script>alert(\"x\")</script>'\\x00\\x5c"))
        #expect(Self.isInert(exchange.response?.reason ?? ""))
        #expect(exchange.response?.status == 200)
    }

    @Test("DNS on port 80 is not HTTP; HTTP on port 53 is not taken for DNS messages")
    func swappedPorts() throws {
        let harness = FlowHarness()
        // DNS over TCP to port 80.
        let query = Self.header(id: 9, flags: 0x0100) + [1, 0x78, 0, 0, 1, 0, 1]
        let framed = [UInt8(query.count >> 8), UInt8(query.count & 0xff)] + query
        harness.tcp(Self.client, Self.web, [.syn], seq: 0, at: 0)
        harness.tcp(Self.web, Self.client, [.syn, .ack], seq: 0, ack: 1, at: 1)
        harness.tcp(Self.client, Self.web, [.ack, .psh], seq: 1, ack: 1, payload: framed, at: 2)
        // HTTP to port 53 over TCP and UDP.
        let other = FlowEndpoint.v4("10.244.0.6", 41_001)
        let get = [UInt8](text: "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        harness.tcp(other, Self.resolver, [.syn], seq: 0, at: 3)
        harness.tcp(Self.resolver, other, [.syn, .ack], seq: 0, ack: 1, at: 4)
        harness.tcp(other, Self.resolver, [.ack, .psh], seq: 1, ack: 1, payload: get, at: 5)
        harness.udp(other, Self.resolver, payload: get, at: 6)
        harness.analyzer.finish()
        #expect(harness.exchanges.isEmpty)
        let applications = Dictionary(
            uniqueKeysWithValues: harness.connections.map { ($0.responder.port, $0.application) }
        )
        #expect(applications[80] == "not-http")
        #expect(applications[53] == "dns")
        // The HTTP text read as a DNS header over UDP is a message with garbage fields, never a crash.
        #expect(harness.dns.count <= 1)
    }
}
