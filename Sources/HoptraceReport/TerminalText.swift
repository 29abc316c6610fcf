import HoptraceFlows

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
    public static func append(_ text: String, limit: Int = 256, to out: BufferedOutput) {
        let done: Void? = text.utf8.withContiguousStorageIfAvailable {
            self.append(utf8: UnsafeRawBufferPointer($0), limit: limit, to: out)
        }
        if done == nil {
            var text = text
            text.withUTF8 { self.append(utf8: UnsafeRawBufferPointer($0), limit: limit, to: out) }
        }
    }

    /// Appends valid UTF-8 `utf8` made safe and bounded.
    public static func append(utf8: UnsafeRawBufferPointer, limit: Int = 256, to out: BufferedOutput) {
        let cut = utf8.count > limit ? JSONWriter.boundary(utf8, atMost: max(0, limit)) : utf8.count
        let text = UnsafeRawBufferPointer(rebasing: utf8[0..<cut])
        // Copied and checked in one pass, eight bytes at a time; the first byte that may need escaping sends the
        // whole text to the byte-by-byte path.
        let target = UnsafeMutableRawPointer(out.reserve(cut))
        var index = 0
        var clean = true
        while index + 8 <= cut {
            let word = text.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            if Self.mayNeedEscaping(word) {
                clean = false
                break
            }
            target.storeBytes(of: word, toByteOffset: index, as: UInt64.self)
            index += 8
        }
        while clean && index < cut {
            let byte = text[index]
            if byte < 0x20 || byte == 0x7F || byte == 0xC2 || byte == 0xE2 {
                clean = false
                break
            }
            target.storeBytes(of: byte, toByteOffset: index, as: UInt8.self)
            index += 1
        }
        if clean {
            out.commit(cut)
        } else {
            Self.appendEscaped(text, to: out)
        }
        if cut < utf8.count { out.append("…") }
    }

    /// `text` made safe and bounded, as a String.
    public static func safe(_ text: String, limit: Int = 256) -> String {
        let out = BufferedOutput(inMemory: ())
        self.append(text, limit: limit, to: out)
        return out.text
    }

    /// The byte-by-byte escaping.
    static func appendEscaped(_ text: UnsafeRawBufferPointer, to out: BufferedOutput) {
        var index = 0
        var plainStart = 0
        while index < text.count {
            let byte = text[index]
            var width = 0
            if byte < 0x20 || byte == 0x7F {
                width = 1
            } else if byte == 0xC2, index + 1 < text.count, text[index + 1] >= 0x80, text[index + 1] < 0xA0 {
                width = 2
            } else if byte == 0xE2, index + 2 < text.count, text[index + 1] == 0x80, text[index + 2] | 1 == 0xA9 {
                width = 3
            }
            guard width > 0 else {
                index += 1
                continue
            }
            if plainStart < index { out.append(UnsafeRawBufferPointer(rebasing: text[plainStart..<index])) }
            switch width {
            case 1: self.appendHex(UInt32(byte), digits: 2, prefix: UInt8(ascii: "x"), to: out)
            case 2: self.appendHex(UInt32(text[index + 1]), digits: 2, prefix: UInt8(ascii: "x"), to: out)
            default:
                self.appendHex(text[index + 2] == 0xA8 ? 0x2028 : 0x2029, digits: 4, prefix: UInt8(ascii: "u"), to: out)
            }
            index += width
            plainStart = index
        }
        if plainStart < text.count { out.append(UnsafeRawBufferPointer(rebasing: text[plainStart...])) }
    }

    /// Whether any of the eight bytes of `word` is a C0 control, DEL, 0xC2 (the lead byte of C1 controls) or 0xE2
    /// (of U+2028 and U+2029) (SWAR, as ``JSONWriter`` scans: a byte below 0x20 or equal to c shows as a borrow into
    /// its top bit).
    @inline(__always)
    static func mayNeedEscaping(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        @inline(__always) func hasZeroByte(_ v: UInt64) -> Bool { (v &- ones) & ~v & high != 0 }
        return (word &- ones &* 0x20) & ~word & high != 0 || hasZeroByte(word ^ (ones &* 0x7F))
            || hasZeroByte(word ^ (ones &* 0xC2)) || hasZeroByte(word ^ (ones &* 0xE2))
    }

    /// ``mayNeedEscaping(_:)-(UInt64)`` over every byte of `bytes`.
    static func mayNeedEscaping(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        while index + 8 <= bytes.count {
            if Self.mayNeedEscaping(bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)) { return true }
            index += 8
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte < 0x20 || byte == 0x7F || byte == 0xC2 || byte == 0xE2 { return true }
            index += 1
        }
        return false
    }

    /// Appends `ESC[<color>m`.
    public static func beginColor(_ color: Color, to out: BufferedOutput) {
        let code = 0x30 + color.rawValue % 10
        for byte in [0x1B, UInt8(ascii: "["), UInt8(ascii: "3"), code, UInt8(ascii: "m")] { out.append(byte) }
    }

    /// Appends `ESC[0m`.
    public static func endColor(to out: BufferedOutput) {
        for byte in [0x1B, UInt8(ascii: "["), UInt8(ascii: "0"), UInt8(ascii: "m")] { out.append(byte) }
    }

    /// `\x1b`, `\u2028`: a backslash, the prefix letter and `digits` lowercase hex digits.
    private static func appendHex(_ value: UInt32, digits: Int, prefix: UInt8, to out: BufferedOutput) {
        let hex: StaticString = "0123456789abcdef"
        out.append(UInt8(ascii: "\\"))
        out.append(prefix)
        hex.withUTF8Buffer { table in
            for place in stride(from: digits - 1, through: 0, by: -1) {
                out.append(table[Int((value >> UInt32(place * 4)) & 0xF)])
            }
        }
    }
}
