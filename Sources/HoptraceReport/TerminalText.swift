/// Text for a terminal: packet- and file-derived strings made harmless, and colour.
///
/// A string from a capture (a capture point name, an HTTP target, a DNS name) could carry escape sequences that
/// move the cursor, retitle the window or hide text. Before it is printed, every C0 control character (ESC
/// included), DEL and every C1 control (U+0080 to U+009F, which some terminals obey as escapes) becomes `\xHH`,
/// U+2028 and U+2029 become `\u2028` and `\u2029`, and the text is bounded (at most `limit` bytes of it, cut on a
/// character boundary, then `…`). Everything else (printable ASCII, other Unicode) is kept.
public enum TerminalText {
    /// ANSI colours for the few things the text records colour.
    public enum Color: UInt8, Sendable {
        /// Failures: 5xx, DNS errors, refused or reset connections, no answer.
        case red = 31
        /// Successes.
        case green = 32
        /// Client errors (4xx), warnings.
        case yellow = 33
    }

    /// Appends `text` made safe and bounded.
    public static func append(_ text: String, limit: Int = 256, to bytes: inout [UInt8]) {
        var text = text
        text.withUTF8 { self.append(utf8: UnsafeRawBufferPointer($0), limit: limit, to: &bytes) }
    }

    /// Appends valid UTF-8 `utf8` made safe and bounded.
    public static func append(utf8: UnsafeRawBufferPointer, limit: Int = 256, to bytes: inout [UInt8]) {
        let cut = utf8.count > limit ? JSONWriter.boundary(utf8, atMost: max(0, limit)) : utf8.count
        var index = 0
        var plainStart = 0
        while index < cut {
            let byte = utf8[index]
            var width = 0
            if byte < 0x20 || byte == 0x7F {
                width = 1
            } else if byte == 0xC2, index + 1 < cut, utf8[index + 1] >= 0x80, utf8[index + 1] < 0xA0 {
                width = 2
            } else if byte == 0xE2, index + 2 < cut, utf8[index + 1] == 0x80, utf8[index + 2] | 1 == 0xA9 {
                width = 3
            }
            guard width > 0 else {
                index += 1
                continue
            }
            if plainStart < index {
                bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: utf8[plainStart..<index]))
            }
            switch width {
            case 1: self.appendHex(UInt32(byte), digits: 2, prefix: UInt8(ascii: "x"), to: &bytes)
            case 2: self.appendHex(UInt32(utf8[index + 1]), digits: 2, prefix: UInt8(ascii: "x"), to: &bytes)
            default:
                self.appendHex(
                    utf8[index + 2] == 0xA8 ? 0x2028 : 0x2029,
                    digits: 4,
                    prefix: UInt8(ascii: "u"),
                    to: &bytes
                )
            }
            index += width
            plainStart = index
        }
        if plainStart < cut { bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: utf8[plainStart..<cut])) }
        if cut < utf8.count { bytes.append(contentsOf: [0xE2, 0x80, 0xA6]) }
    }

    /// `text` made safe and bounded, as a String.
    public static func safe(_ text: String, limit: Int = 256) -> String {
        var bytes: [UInt8] = []
        self.append(text, limit: limit, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `ESC[<color>m`.
    public static func beginColor(_ color: Color, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: [
            0x1B, UInt8(ascii: "["), UInt8(ascii: "3"), 0x30 + color.rawValue % 10, UInt8(ascii: "m"),
        ])
    }

    /// Appends `ESC[0m`.
    public static func endColor(to bytes: inout [UInt8]) {
        bytes.append(contentsOf: [0x1B, UInt8(ascii: "["), UInt8(ascii: "0"), UInt8(ascii: "m")])
    }

    /// `\x1b`, `\u2028`: a backslash, the prefix letter and `digits` lowercase hex digits.
    private static func appendHex(_ value: UInt32, digits: Int, prefix: UInt8, to bytes: inout [UInt8]) {
        let hex: StaticString = "0123456789abcdef"
        bytes.append(UInt8(ascii: "\\"))
        bytes.append(prefix)
        hex.withUTF8Buffer { table in
            for place in stride(from: digits - 1, through: 0, by: -1) {
                bytes.append(table[Int((value >> UInt32(place * 4)) & 0xF)])
            }
        }
    }
}
