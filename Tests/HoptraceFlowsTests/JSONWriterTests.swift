import Foundation
import HoptraceDecode
import HoptraceTestSupport
import Testing

@testable import HoptraceFlows

/// The one JSON writer against independent facts: Foundation's JSON parser reads back what it wrote, and its
/// string escaping equals a definition written here from RFC 8259 section 7 (plus U+2028/U+2029, for JavaScript),
/// scalar by scalar.
struct JSONWriterTests {
    static let strings = [
        "", "plain", "quote \" and backslash \\", "line\nfeed\rreturn\ttab", "\u{0}\u{1}\u{1f}\u{7f}",
        "héllo wörld ✓ 🚀", "GET /x?a=1&b=\"2\"", String(repeating: "long/", count: 100), "line\u{2028}para\u{2029}end",
        "\u{2027}\u{202A}…→", "\u{1B}[31mred\u{1B}[0m", "\u{85}\u{9B}c1", "ünïcödé", "a\u{0}b",
    ]

    /// RFC 8259 section 7, scalar by scalar: `"` and `\` escaped, the two-character escapes for \b \f \n \r \t, other
    /// controls (and DEL) as \u00xx; U+2028 and U+2029 as \u2028 and \u2029; every other scalar as its UTF-8.
    static func reference(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    static func written(_ value: String, limit: Int = .max) -> String {
        var json = JSONWriter()
        json.string(value, limit: limit)
        return String(decoding: json.bytes, as: UTF8.self)
    }

    @Test(arguments: strings)
    func stringsRoundTripAndFollowTheDefinition(_ text: String) throws {
        #expect(Self.written(text) == Self.reference(text))
        var json = JSONWriter()
        json.beginObject()
        json.field("value", text)
        json.endObject()
        let object = try JSONSerialization.jsonObject(with: Data(json.bytes)) as? [String: Any]
        #expect(object?["value"] as? String == text)
    }

    @Test func randomTextFollowsTheDefinition() throws {
        // Scalars from the ranges that matter: controls and ASCII, Latin-1 with C1, the U+2028 block, astral.
        let pools: [ClosedRange<UInt32>] = [0...0x7F, 0x80...0x2FF, 0x2000...0x206F, 0x1F600...0x1F64F]
        var random: UInt64 = 99
        for _ in 0..<3_000 {
            var text = String.UnicodeScalarView()
            for _ in 0..<Int(random % 40) {
                random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let pool = pools[Int(random >> 60) % pools.count]
                if let scalar = Unicode.Scalar(pool.lowerBound + UInt32((random >> 20) % UInt64(pool.count))) {
                    text.append(scalar)
                }
            }
            random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let string = String(text)
            #expect(Self.written(string) == Self.reference(string))
            let parsed = try JSONSerialization.jsonObject(with: Data("[\(Self.written(string))]".utf8)) as? [String]
            #expect(parsed == [string])
        }
    }

    @Test func invalidUTF8IsReplacedAsStringDecodingDoes() throws {
        let cases: [[UInt8]] = [
            [0x61, 0xFF, 0x62], [0xC3], [0xE2, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC0, 0xAF],
            Array("plain ascii \" \\ \n".utf8), [0xE2, 0x80, 0xA8], [0x80, 0x80, 0x41],
        ]
        for bytes in cases {
            var json = JSONWriter()
            bytes.withUnsafeBytes { json.string(utf8: $0) }
            let expected = String(decoding: bytes, as: UTF8.self)
            #expect(String(decoding: json.bytes, as: UTF8.self) == Self.reference(expected), "\(bytes)")
            let parsed =
                try JSONSerialization.jsonObject(with: Data(([UInt8]("[".utf8) + json.bytes + [0x5D]))) as? [String]
            #expect(parsed == [expected])
        }
    }

    @Test func packetTextIsBoundedOnACharacterBoundary() throws {
        let text = String(repeating: "é", count: 100)  // two bytes each
        let bounded = Self.written(text, limit: 11)
        let parsed = try JSONSerialization.jsonObject(with: Data("[\(bounded)]".utf8)) as? [String]
        #expect(parsed == [String(repeating: "é", count: 5) + "…"])
        #expect(Self.written("short", limit: 11) == "\"short\"")
    }

    @Test func integersAtTheEdges() throws {
        var json = JSONWriter()
        json.beginArray()
        for value in [0, 1, -1, 9, 10, 99, 100, Int.max, Int.min] { json.int(value) }
        json.int(UInt64.max)
        json.int(UInt16(65535))
        json.endArray()
        let text = String(decoding: json.bytes, as: UTF8.self)
        #expect(text == "[0,1,-1,9,10,99,100,\(Int.max),\(Int.min),\(UInt64.max),65535]")
        let array = try JSONSerialization.jsonObject(with: Data(json.bytes)) as? [NSNumber]
        #expect(array?.count == 11)
    }

    /// Durations in nanoseconds written as milliseconds with six decimals from the integer: the same text as printf's
    /// `%.6f` of `ns / 1e6` (Foundation's `String(format:)`), including negatives, the digits carried and the cut-over
    /// to the double beyond 2^50.
    @Test func millisecondsFromIntegersMatchFixedPointDecimals() {
        var values: [Int64] = [
            0, 1, -1, 999, 1_000, 999_999, 1_000_000, 1_000_001, -1_000_001, 123_456_789, 86_400_000_000_000,
            (1 << 50) - 1, 1 << 50, -(1 << 50), Int64.max, Int64.min + 1,
        ]
        var random = SystemRandomNumberGenerator()
        for _ in 0..<2_000 { values.append(Int64.random(in: -(1 << 45)...(1 << 45), using: &random)) }
        for value in values {
            var json = JSONWriter()
            json.millisecondsSixDecimals(value)
            let text = String(decoding: json.bytes, as: UTF8.self)
            var expected = String(format: "%.6f", Double(value) / 1e6)
            if expected.hasPrefix("-"), expected.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) {
                expected.removeFirst()  // printf keeps the sign of a negative zero; a duration has none
            }
            if value.magnitude < 1 << 50 {
                #expect(text == expected, "\(value)")
            } else {
                var double = JSONWriter()
                double.double(Double(value) / 1e6, decimals: 6)
                #expect(json.bytes == double.bytes, "\(value)")
            }
        }
    }

    @Test func doublesAreFixedPoint() {
        var json = JSONWriter()
        json.beginArray()
        json.double(0)
        json.double(1.5)
        json.double(0.0004)  // rounds to 0.000
        json.double(-2.25, decimals: 1)  // -22.5 rounds to -23 tenths (half away from zero)
        json.double(12.3456789, decimals: 6)
        json.double(.infinity)
        json.double(3, decimals: 0)
        json.endArray()
        #expect(String(decoding: json.bytes, as: UTF8.self) == "[0.000,1.500,0.000,-2.3,12.345679,null,3]")
    }

    @Test func recordMembersFollowTheDialect() throws {
        var bytes = Array("prefix ".utf8)
        var json = JSONWriter()
        json.beginObject()
        json.instant("time", "timeNs", 1_795_361_169_514_824_472)
        json.milliseconds("latency", 525_123)
        json.milliseconds("absent", nil)
        json.member("orig", endpoint: FlowEndpoint(address: IPAddress("10.0.0.1")!, port: 80))
        json.member("resp", endpoint: FlowEndpoint(address: IPAddress("fd00::1")!, port: 8080))
        json.member("count", Int?.none)
        json.object("inner") { $0.member("ok", true) }
        json.member("list", integers: [3, -4])
        json.names(["10.0.0.1": "pod default/client"])
        json.endObject()
        json.finish(appendingTo: &bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("prefix {"))
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(text.dropFirst(7).utf8)) as? [String: Any]
        )
        #expect(object["time"] as? String == "2026-11-22T15:26:09.514824472Z")
        #expect(object["timeNs"] as? Int == 1_795_361_169_514_824_472)
        #expect(object["latency"] as? Double == 0.525123)
        #expect(object["absent"] == nil && object["count"] == nil)
        #expect(object["orig"] as? String == "10.0.0.1:80")
        #expect(object["resp"] as? String == "[fd00::1]:8080")
        #expect((object["inner"] as? [String: Any])?["ok"] as? Bool == true)
        #expect(object["list"] as? [Int] == [3, -4])
        #expect((object["names"] as? [String: String]) == ["10.0.0.1": "pod default/client"])
    }
}

/// The writer's buffer: grown far past its first allocation, shared by a copy only until one of them writes, and
/// left alone by a copy's reset; what each wrote is read back by Foundation's parser.
@Test func copiesWriteOnTheirOwnAndTheBufferGrows() throws {
    var json = JSONWriter(capacity: 1)
    json.beginArray()
    for index in 0..<10_000 {
        json.int(index)
        json.string("s\(index)\n")
    }
    var copy = json
    json.int(-1)
    json.endArray()
    copy.string("copy")
    copy.endArray()
    let original = try #require(try JSONSerialization.jsonObject(with: Data(json.bytes)) as? [Any])
    let copied = try #require(try JSONSerialization.jsonObject(with: Data(copy.bytes)) as? [Any])
    #expect(original.count == 20_001 && original.last as? Int == -1)
    #expect(copied.count == 20_001 && copied.last as? String == "copy")
    #expect(original[19_999] as? String == "s9999\n" && copied[19_998] as? Int == 9_999)
    let before = copy.bytes
    var emptied = copy
    emptied.reset()
    emptied.null()
    #expect(String(decoding: emptied.bytes, as: UTF8.self) == "null")
    #expect(copy.bytes == before && copy.count == before.count)
}

/// The eight-bytes-at-a-time scan against a byte-by-byte definition, for every byte value at every position of
/// strings of every length up to 19 (shorter than a word, whole words, two words and a tail), and for the empty one.
@Test func escapeScanMatchesTheByteDefinition() {
    #expect(!JSONWriter.needsEscaping(UnsafeRawBufferPointer(start: nil, count: 0)))
    for length in 1...19 {
        for position in 0..<length {
            for value in 0...255 {
                var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                bytes[position] = UInt8(value)
                let expected = bytes.contains { $0 < 0x20 || $0 == 0x7F || $0 == 0x22 || $0 == 0x5C || $0 == 0xE2 }
                #expect(bytes.withUnsafeBytes { JSONWriter.needsEscaping($0) } == expected)
                let ascii = bytes.allSatisfy { $0 < 0x80 }
                #expect(bytes.withUnsafeBytes { JSONWriter.isASCII($0) } == ascii)
            }
        }
    }
}

/// Instants in one writer, which keeps the date of the last second it wrote: the same second again, the next, one
/// before it, another day, before 1970; each as gmtime(3) spells it, read back by Foundation's parser.
@Test func instantsReuseOnlyTheirOwnSecond() throws {
    let second: Int64 = 1_795_000_000
    let values: [Int64] = [
        second * 1_000_000_000 + 80_000, second * 1_000_000_000 + 999_999_999, (second + 1) * 1_000_000_000,
        (second - 1) * 1_000_000_000 + 5, (second + 86_400) * 1_000_000_000 + 1, second * 1_000_000_000 + 7,
        -1, 0, -1_000_000_000, second * 1_000_000_000 + 7,
    ]
    var json = JSONWriter()
    json.beginArray()
    for value in values { json.rfc3339(value) }
    json.endArray()
    let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.bytes)) as? [String])
    #expect(parsed.count == values.count)
    for (value, text) in zip(values, parsed) {
        #expect(text == Gmtime.rfc3339(value), "\(value)")
    }
}

/// Keys and literals of every length up to past the short copy's 32 bytes, each copied without `memmove`: Foundation
/// reads back each key and its value, and the line is the keys' text with nothing lost or doubled at a word's seam.
@Test func keysOfEveryLengthAreCopiedWhole() throws {
    // StaticString keys of lengths 1...40 (a key is a literal, so the lengths are spelled out).
    let keys: [StaticString] = [
        "a", "ab", "abc", "abcd", "abcde", "abcdef", "abcdefg", "abcdefgh", "abcdefghi", "abcdefghij", "abcdefghijk",
        "abcdefghijkl", "abcdefghijklm", "abcdefghijklmn", "abcdefghijklmno", "abcdefghijklmnop",
        "abcdefghijklmnopq", "abcdefghijklmnopqr", "abcdefghijklmnopqrs", "abcdefghijklmnopqrst",
        "abcdefghijklmnopqrstu", "abcdefghijklmnopqrstuv", "abcdefghijklmnopqrstuvw", "abcdefghijklmnopqrstuvwx",
        "abcdefghijklmnopqrstuvwxy", "abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxyz0",
        "abcdefghijklmnopqrstuvwxyz01", "abcdefghijklmnopqrstuvwxyz012", "abcdefghijklmnopqrstuvwxyz0123",
        "abcdefghijklmnopqrstuvwxyz01234", "abcdefghijklmnopqrstuvwxyz012345", "abcdefghijklmnopqrstuvwxyz0123456",
        "abcdefghijklmnopqrstuvwxyz01234567", "abcdefghijklmnopqrstuvwxyz012345678",
        "abcdefghijklmnopqrstuvwxyz0123456789", "abcdefghijklmnopqrstuvwxyz0123456789A",
        "abcdefghijklmnopqrstuvwxyz0123456789AB", "abcdefghijklmnopqrstuvwxyz0123456789ABC",
        "abcdefghijklmnopqrstuvwxyz0123456789ABCD",
    ]
    var json = JSONWriter(capacity: 16)
    json.beginObject()
    for (index, key) in keys.enumerated() {
        json.key(key)
        if index % 3 == 0 { json.null() } else if index % 3 == 1 { json.bool(index % 2 == 0) } else { json.int(index) }
    }
    json.endObject()
    let text = String(decoding: json.bytes, as: UTF8.self)
    let object = try #require(JSONSerialization.jsonObject(with: Data(json.bytes)) as? [String: Any])
    #expect(object.count == keys.count)
    var expected = "{"
    for (index, key) in keys.enumerated() {
        let value = index % 3 == 0 ? "null" : index % 3 == 1 ? String(index % 2 == 0) : String(index)
        expected += (index > 0 ? "," : "") + "\"\(key)\":" + value
    }
    #expect(text == expected + "}")
}

/// What hoptrace writes without the escape scan (its own words) or without joining first (a capture point's
/// `node/interface`) is the RFC 8259 definition's text (``JSONWriterTests/reference(_:)``) of the word, and of the
/// capture point's description; a node or interface name that needs escaping (it comes from a file) is escaped all
/// the same.
@Test func trustedAndJoinedStringsFollowTheDefinition() throws {
    for word in ["", "ok", "incomplete", "dnat+snat", "noResponse", "acceptQueueFull-and-a-longer-word-than-32-bytes"] {
        var fast = JSONWriter()
        fast.beginArray()
        fast.string(trusted: word)
        fast.string(trusted: word)
        fast.endArray()
        let quoted = JSONWriterTests.reference(word)
        #expect(String(decoding: fast.bytes, as: UTF8.self) == "[\(quoted),\(quoted)]", "\(word)")
    }
    let pairs: [(String?, String)] = [
        (nil, "eth0"), ("node-a", "cni0"), ("", "lo"), ("node\u{1B}[31m", "veth\"x"), ("n", "a\\b\u{2028}"),
        (String(repeating: "n", count: 300), "eth0"),
    ]
    for (node, name) in pairs {
        var joined = JSONWriter()
        joined.beginArray()
        joined.string(joining: node, name)
        joined.endArray()
        let description = CapturePoint(name: name, node: node).description
        #expect(
            String(decoding: joined.bytes, as: UTF8.self) == "[" + JSONWriterTests.reference(description) + "]",
            "\(String(describing: node)) \(name)"
        )
        #expect(try JSONSerialization.jsonObject(with: Data(joined.bytes)) as? [String] == [description])
    }
}

/// An object written with runs (its first member by key, the others as `,"key":` literals, a nested object opened and
/// closed inside runs, an array between runs), nested in an array after another value (where the writer's own commas
/// are due), is the JSON text written out here by hand, as is the same object written with keys; Foundation reads it.
@Test func runsWriteWhatKeysWrite() throws {
    var keyed = JSONWriter()
    keyed.beginArray()
    keyed.int(1)
    keyed.beginObject()
    keyed.field("a", "x")
    keyed.key("b")
    keyed.beginObject()
    keyed.field("c", 2)
    keyed.field("d", nil as String?)
    keyed.endObject()
    keyed.key("e")
    keyed.beginArray()
    keyed.int(3)
    keyed.beginObject()
    keyed.field("f", 4)
    keyed.endObject()
    keyed.endArray()
    keyed.field("g", true ? "y" : nil)
    keyed.endObject()
    keyed.int(5)
    keyed.endArray()

    var runs = JSONWriter()
    runs.beginArray()
    runs.int(1)
    runs.beginObject()
    runs.key("a")
    runs.string("x")
    runs.run(",\"b\":{\"c\":")
    runs.int(2)
    runs.run(",\"d\":")
    runs.null()
    runs.run("},\"e\":")
    runs.beginArray()
    runs.int(3)
    runs.beginObject()
    runs.key("f")
    runs.int(4)
    runs.endObject()
    runs.endArray()
    runs.run(",\"g\":")
    runs.string("y")
    runs.endObject()
    runs.int(5)
    runs.endArray()

    let expected = #"[1,{"a":"x","b":{"c":2,"d":null},"e":[3,{"f":4}],"g":"y"},5]"#
    #expect(String(decoding: runs.bytes, as: UTF8.self) == expected)
    #expect(String(decoding: keyed.bytes, as: UTF8.self) == expected)
    #expect(try JSONSerialization.jsonObject(with: Data(runs.bytes)) is [Any])
}
