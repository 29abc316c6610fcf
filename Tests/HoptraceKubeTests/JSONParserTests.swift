import Foundation
import Testing

@testable import HoptraceKube

/// The cluster-state JSON parser against Foundation's JSONSerialization (the oracle) on tricky documents, and its
/// errors (line and column, as counted by hand in the literal).
@Suite("cluster-state JSON parser")
struct JSONParserTests {
    static func parse(_ text: String) throws -> KubeValue {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBytes { try KubeJSONParser.parse($0, item: { _, _ in }) }
    }

    /// JSONSerialization's value in the same tree shape (its NSNumber booleans told apart by their JSON text).
    static func oracle(_ any: Any) -> KubeValue {
        switch any {
        case let text as String: return .string(text)
        case let array as [Any]: return .array(array.map(oracle))
        case let object as [String: Any]: return .object(object.mapValues(oracle))
        case let number as NSNumber: return .number(number.doubleValue)
        default: return .null
        }
    }

    static let documents = [
        #"{"a": "caf\u00e9 \ud83d\ude00 \"q\" \\ \/ \b\f\n\r\t", "b": [1, -2.5, 3e2, 0], "c": {}, "d": [], "e": null}"#,
        #"["ünïcödé", "tab\tin", "\u0000\u001f", {"nested": {"deep": [[[]]]}}]"#,
        "  {\"labels\": {\"kubernetes.io/service-name\": \"web\"}, \"n\": 12345678901234}  \n",
    ]

    @Test("the same tree as JSONSerialization", arguments: documents)
    func matchesFoundation(_ text: String) throws {
        let expected = Self.oracle(
            try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        )
        #expect(try Self.parse(text) == expected)
    }

    @Test("booleans stay booleans")
    func booleans() throws {
        #expect(try Self.parse("[true, false, null]") == .array([.bool(true), .bool(false), .null]))
    }

    struct Bad: CustomTestStringConvertible, Sendable {
        var text: String
        var line: Int
        var column: Int
        var testDescription: String { text.replacingOccurrences(of: "\n", with: "⏎") }
    }

    static let bad = [
        Bad(text: "{\"a\": 1,\n \"b\": 2\n \"c\": 3}", line: 3, column: 2),
        Bad(text: "{\"a\": tru}", line: 1, column: 7),
        Bad(text: "[1, 2", line: 1, column: 6),
        Bad(text: "{\"a\": \"x\ny\"}", line: 1, column: 9),
        Bad(text: "{} {}", line: 1, column: 4),
        Bad(text: "{\"a\": \"\\q\"}", line: 1, column: 9),
        Bad(text: "{\"a\": 1.2.3}", line: 1, column: 12),
    ]

    @Test("syntax errors say where", arguments: bad)
    func errors(_ bad: Bad) throws {
        #expect(throws: KubeJSONError.self) { try Self.parse(bad.text) }
        do {
            _ = try Self.parse(bad.text)
        } catch let error as KubeJSONError {
            #expect(error.line == bad.line && error.column == bad.column, "\(error)")
            #expect((try? JSONSerialization.jsonObject(with: Data(bad.text.utf8))) == nil)
        }
    }

    @Test("nesting deeper than the limit is refused, not a stack overflow")
    func depth() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: KubeJSONError.self) { try Self.parse(deep) }
    }
}
