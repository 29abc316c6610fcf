import HoptraceDecode
import Testing

@testable import HoptraceFlows

/// The flow records' byte-level JSON string escaping against the String-level escaper of `hoptrace packets --json`
/// (HoptraceDecode's JSONObjectWriter), which follows RFC 8259.
struct FlowJSONWriterTests {
    static func escaped(_ value: String) -> String {
        var bytes: [UInt8] = []
        FlowJSONWriter.appendString(value, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    static func reference(_ value: String) -> String {
        var text = ""
        JSONObjectWriter.appendString(value, to: &text)
        return text
    }

    @Test(arguments: [
        "", "plain", "GET /a?b=c&d=\"e\"", "back\\slash", "tab\tnew\nline\rret", "\u{08}\u{0C}\u{00}\u{01}\u{1F}\u{7F}",
        "line\u{2028}para\u{2029}end", "\u{2027}\u{202A}", "ünïcödé ✓ 🚀", "\u{E2}", "a\u{0}b",
    ])
    func escapesLikeTheReference(_ value: String) {
        #expect(Self.escaped(value) == Self.reference(value))
    }

    @Test func escapesRandomTextLikeTheReference() {
        // Scalars drawn from the ranges that matter: controls, ASCII, Latin-1, the U+2028 block, astral.
        let pools: [ClosedRange<UInt32>] = [0...0x7F, 0x80...0x2FF, 0x2000...0x206F, 0x1F600...0x1F64F]
        var random: UInt64 = 99
        for _ in 0..<2_000 {
            var text = String.UnicodeScalarView()
            for _ in 0..<Int(random % 24) {
                random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let pool = pools[Int(random >> 60) % pools.count]
                let value = pool.lowerBound + UInt32((random >> 20) % UInt64(pool.count))
                if let scalar = Unicode.Scalar(value) { text.append(scalar) }
            }
            random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let string = String(text)
            #expect(Self.escaped(string) == Self.reference(string))
        }
    }

    @Test func nestedObjectsAndArrays() {
        var writer = FlowJSONWriter()
        writer.string("type", "x\"y")
        writer.int("n", Int64(-42))
        writer.int("absent", Int?.none)
        writer.endpoint("ep", FlowEndpoint(address: IPAddress(10, 0, 0, 1), port: 53))
        writer.object("inner") { $0.bool("ok", true) }
        writer.array("list", [1, 2]) { inner, value in inner.int("v", value) }
        writer.intArray("ints", [3, -4])
        #expect(
            String(decoding: writer.finish(), as: UTF8.self)
                == #"{"type":"x\"y","n":-42,"ep":"10.0.0.1:53","inner":{"ok":true},"list":[{"v":1},{"v":2}],"ints":[3,-4]}"#
        )
    }
}
