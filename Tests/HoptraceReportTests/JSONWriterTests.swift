import Foundation
import Testing

@testable import HoptraceReport

/// The JSON writer's output read back by Foundation's parser (an independent implementation): strings with every
/// kind of escape, integers at the edges of their types, and fixed-point doubles.
struct JSONWriterTests {
    static let strings = [
        "", "plain", "quote \" and backslash \\", "line\nfeed\rreturn\ttab", "\u{0}\u{1}\u{1f}\u{7f}",
        "héllo wörld ✓ 🚀", "GET /x?a=1&b=\"2\"", String(repeating: "long/", count: 100),
    ]

    @Test(arguments: strings)
    func stringsRoundTrip(_ text: String) throws {
        var json = JSONWriter()
        json.beginObject()
        json.field("value", text)
        json.endObject()
        let object = try JSONSerialization.jsonObject(with: Data(json.bytes)) as? [String: Any]
        #expect(object?["value"] as? String == text)
    }

    @Test func integersAtTheEdges() throws {
        var json = JSONWriter()
        json.beginArray()
        for value in [0, 1, -1, 9, 10, 99, 100, Int.max, Int.min] { json.int(value) }
        json.int(UInt64.max)
        json.int(UInt16(65535))
        json.endArray()
        let text = String(decoding: json.bytes, as: UTF8.self)
        #expect(
            text == "[0,1,-1,9,10,99,100,\(Int.max),\(Int.min),\(UInt64.max),65535]"
        )
        let array = try JSONSerialization.jsonObject(with: Data(json.bytes)) as? [NSNumber]
        #expect(array?.count == 11)
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
}

/// The eight-bytes-at-a-time scan against a byte-by-byte definition, for every byte value at every position of a
/// 19-byte string (two words and a tail).
@Test func escapeScanMatchesTheByteDefinition() {
    for position in 0..<19 {
        for value in 0...255 {
            var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 19)
            bytes[position] = UInt8(value)
            let expected = bytes.contains { $0 < 0x20 || $0 == 0x7F || $0 == 0x22 || $0 == 0x5C }
            #expect(bytes.withUnsafeBytes { JSONWriter.needsEscaping($0) } == expected)
        }
    }
}
