import HoptraceDecode
import HoptraceFlows
import Testing

@testable import HoptraceCorrelate

/// The lookup builder asked directly with hand-written queries of one client: which lookups are over when, and in
/// what order, follows from the resolver rules (a quarter second after the last answer, nothing waiting) alone.
@Suite("DNS lookup builder")
struct DNSLookupBuilderTests {
    static let client = IPAddress(10, 244, 0, 5)
    static let resolver = FlowEndpoint(address: IPAddress(10, 96, 0, 10), port: 53)
    static let ms: Int64 = 1_000_000

    static func query(_ name: String, port: UInt16, at time: Int64, answered: IPAddress? = nil) -> DNSQuery {
        DNSQuery(
            name: name,
            type: .a,
            rcode: answered == nil ? .nameError : .noError,
            addresses: answered.map { [$0] } ?? [],
            answeredRecords: answered == nil ? 0 : 1,
            queryTime: time,
            responseTime: time + ms,
            sent: 1,
            client: FlowEndpoint(address: client, port: port),
            server: resolver,
            transport: .udp,
            seenAt: []
        )
    }

    @Test("lookups are over in the order they began; one whose deadline moved later stays open and takes its walk")
    func orderAndMovedDeadline() {
        var builder = DNSLookupBuilder()
        // a's walk: first name at 0 (over at 1 + 250 ms unless continued), b at 10 ms (over at 261 ms).
        #expect(builder.add(Self.query("a.default.svc.cluster.local", port: 1000, at: 0)).isEmpty)
        #expect(builder.add(Self.query("b.default.svc.cluster.local", port: 2000, at: 10 * Self.ms)).isEmpty)
        // a's next name from its socket at 200 ms: its deadline moves to 451 ms.
        #expect(builder.add(Self.query("a.svc.cluster.local", port: 1000, at: 200 * Self.ms)).isEmpty)
        #expect(builder.openCount == 2)
        // At 300 ms only b is over, though a began first.
        let over = builder.add(Self.query("c.default.svc.cluster.local", port: 3000, at: 300 * Self.ms))
        #expect(over.map(\.name) == ["b.default.svc.cluster.local"])
        // a takes its last name at 400 ms and succeeds.
        let answer = IPAddress(10, 96, 0, 1)
        #expect(builder.add(Self.query("a.cluster.local", port: 1000, at: 400 * Self.ms, answered: answer)).isEmpty)
        #expect(builder.openCount == 2)
        #expect(builder.anyOpenAnswered(answer))
        // Both over by 10 s: a (three names, resolved) before c, the order they began.
        let rest = builder.close(before: 10_000 * Self.ms)
        #expect(rest.map(\.queries.count) == [3, 1])
        #expect(rest.first?.answer == answer)
        #expect(rest.last?.queries.first?.name == "c.default.svc.cluster.local")
        #expect(builder.openCount == 0)
    }

    @Test("a client with thousands of lookups open: each is over a quarter second after its answer, in order")
    func manyOpen() {
        var builder = DNSLookupBuilder()
        var over: [DNSLookup] = []
        // One distinct name every 20 us for 2 s: about 12,500 open at once.
        for n in 0..<100_000 {
            over += builder.add(
                Self.query("h\(n).svc.cluster.local", port: UInt16(1024 + n % 60_000), at: Int64(n) * 20_000)
            )
        }
        // Those answered by 2 s - 250 ms are over, in the order they were sent; the rest are still open.
        let last = Int64(99_999) * 20_000 - 250 * Self.ms - Self.ms
        let expected = (0..<100_000).filter { Int64($0) * 20_000 < last }.count
        #expect(over.count == expected)
        #expect(over.map(\.start) == over.map(\.start).sorted())
        #expect(builder.openCount == 100_000 - expected)
        over += builder.close(before: .max)
        #expect(over.count == 100_000)
        #expect(over.map(\.queries[0].name) == (0..<100_000).map { "h\($0).svc.cluster.local" })
    }

    @Test("names compare lowercase without the root's dot; a plain name is returned as it is")
    func normalizedNames() {
        // RFC 4343: DNS names compare case-insensitively; `name.` and `name` are the same absolute name.
        let cases: [(String, String)] = [
            ("web.default.svc.cluster.local", "web.default.svc.cluster.local"),
            ("Web.Default.SVC.cluster.local.", "web.default.svc.cluster.local"),
            ("a.", "a"), ("A", "a"), ("", ""), (".", ""), ("x", "x"),
            ("short.name", "short.name"),  // a small string (stored inline)
            ("ÄPFEL.example", "äpfel.example"),  // beyond ASCII: lowercased as Unicode does
            (String(repeating: "abc.", count: 40) + "Z.", String(repeating: "abc.", count: 40) + "z"),
        ]
        for (name, expected) in cases {
            #expect(DNSLookupBuilder.normalized(name) == expected, "\(name)")
        }
    }
}
