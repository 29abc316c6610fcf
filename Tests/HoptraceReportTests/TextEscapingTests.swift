import Foundation
import HoptraceTestSupport
import Testing

@testable import HoptraceReport

/// Packet-derived text made safe for a terminal and for Zeek's TSV, against definitions written here: ECMA-48's
/// C0 and C1 control ranges for the terminal, Zeek's documented `\xHH` escaping (read back by the test's own Zeek
/// reader) for TSV.
struct TextEscapingTests {
    static let hostile = [
        "eth0\u{1B}[31m\n", "\u{9B}2J", "tab\there", "back\\slash", "-", "(empty)", "", "ünï ✓", "a\u{2028}b",
        String(repeating: "x", count: 300), "\u{7F}del",
    ]

    @Test(arguments: hostile)
    func terminalTextHasNoControls(_ text: String) {
        let safe = TerminalText.safe(text, limit: 64)
        for scalar in safe.unicodeScalars {
            // C0, DEL and C1 (ECMA-48) never reach the terminal; nor do the Unicode line separators.
            #expect(!(scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028))
        }
        #expect(safe.utf8.count <= 64 + 3)
        if text.utf8.count <= 64
            && !text.unicodeScalars.contains(where: {
                $0.value < 0x20 || (0x7F...0x9F).contains($0.value) || $0.value == 0x2028
            })
        {
            #expect(safe == text)
        }
    }

    @Test func terminalEscapesAreVisible() {
        #expect(TerminalText.safe("eth0\u{1B}[31m\n") == "eth0\\x1b[31m\\x0a")
        #expect(TerminalText.safe("\u{9B}x") == "\\x9bx")
        #expect(TerminalText.safe(String(repeating: "x", count: 10), limit: 8) == "xxxxxxxx…")
    }

    @Test(arguments: hostile)
    func zeekFieldsReadBack(_ text: String) throws {
        var bytes: [UInt8] = []
        ZeekTSV.appendHeader(path: "test", fields: [.init("a", "string"), .init("b", "string")], open: 0, to: &bytes)
        var row = TSVRow(appendingTo: &bytes)
        row.string(text, limit: 1024)
        row.string(nil)
        row.finish(into: &bytes)
        ZeekTSV.appendClose(at: 0, to: &bytes)
        let written = String(decoding: bytes, as: UTF8.self)
        let log = try ZeekLog(written)
        #expect(log.rows.count == 1)
        let row0 = try #require(log.rows.first)
        // Zeek's documented rules: `-` is unset, `(empty)` the empty string, anything else unescaped from \xHH.
        #expect(log.value("a", in: row0) == text)
        #expect(log.value("b", in: row0) == nil)
        // Nothing but printable ASCII and the separators on the wire.
        #expect(bytes.allSatisfy { $0 == 0x09 || $0 == 0x0A || (0x20..<0x7F).contains($0) })
    }
}
