/// A JSON syntax error: what was expected and where (line and column, 1-based).
struct KubeJSONError: Error, CustomStringConvertible {
    var message: String
    var line: Int
    var column: Int

    var description: String { "\(message) at line \(line), column \(column)" }
}

/// A small JSON parser into ``KubeValue``, with a depth limit and errors that give the line and column.
///
/// A top-level object's `items` list (kubectl's `List`) is handed to a callback item by item instead of being kept,
/// so that a large cluster state never exists twice in memory (as a tree and as objects).
struct KubeJSONParser {
    static let maximumDepth = 128

    private let bytes: UnsafeRawBufferPointer
    private var offset = 0

    private init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// Parses one JSON document; each element of a top-level object's `items` array goes to `item` (with its index)
    /// and the array is left empty in the returned tree.
    static func parse(
        _ bytes: UnsafeRawBufferPointer,
        item: @escaping (Int, KubeValue) throws -> Void
    ) throws -> KubeValue {
        var parser = KubeJSONParser(bytes)
        parser.skipSpace()
        let value = try parser.value(depth: 0, item: item)
        parser.skipSpace()
        guard parser.offset == bytes.count else { throw parser.error("unexpected text after the JSON document") }
        return value
    }

    private func error(_ message: String) -> KubeJSONError {
        var line = 1
        var column = 1
        for index in 0..<min(offset, bytes.count) {
            if bytes[index] == 0x0A {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return KubeJSONError(message: message, line: line, column: column)
    }

    private mutating func skipSpace() {
        while offset < bytes.count {
            switch bytes[offset] {
            case 0x20, 0x09, 0x0A, 0x0D: offset += 1
            default: return
            }
        }
    }

    private mutating func expect(_ literal: StaticString, _ result: KubeValue) throws -> KubeValue {
        let count = literal.utf8CodeUnitCount
        guard offset + count <= bytes.count else { throw error("unexpected end of the file") }
        for index in 0..<count where bytes[offset + index] != literal.utf8Start[index] {
            throw error("expected \(literal)")
        }
        offset += count
        return result
    }

    private mutating func value(depth: Int, item: ((Int, KubeValue) throws -> Void)? = nil) throws -> KubeValue {
        guard depth < Self.maximumDepth else { throw error("nested more than \(Self.maximumDepth) levels deep") }
        guard offset < bytes.count else { throw error("unexpected end of the file") }
        switch bytes[offset] {
        case UInt8(ascii: "{"): return try object(depth: depth, item: item)
        case UInt8(ascii: "["):
            offset += 1
            return .array(try elements(depth: depth, each: nil))
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try expect("true", .bool(true))
        case UInt8(ascii: "f"): return try expect("false", .bool(false))
        case UInt8(ascii: "n"): return try expect("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw error("unexpected character")
        }
    }

    /// The elements of an array after its `[`; with `each`, handed over instead of kept.
    private mutating func elements(depth: Int, each: ((Int, KubeValue) throws -> Void)?) throws -> [KubeValue] {
        var result: [KubeValue] = []
        skipSpace()
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "]") {
            offset += 1
            return result
        }
        var index = 0
        while true {
            skipSpace()
            let element = try value(depth: depth + 1)
            if let each { try each(index, element) } else { result.append(element) }
            index += 1
            skipSpace()
            guard offset < bytes.count else { throw error("unexpected end of the file in a list") }
            if bytes[offset] == UInt8(ascii: ",") {
                offset += 1
            } else if bytes[offset] == UInt8(ascii: "]") {
                offset += 1
                return result
            } else {
                throw error("expected ',' or ']'")
            }
        }
    }

    private mutating func object(depth: Int, item: ((Int, KubeValue) throws -> Void)?) throws -> KubeValue {
        offset += 1
        var members: [String: KubeValue] = [:]
        skipSpace()
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "}") {
            offset += 1
            return .object(members)
        }
        while true {
            skipSpace()
            guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else { throw error("expected a key") }
            let key = try string()
            skipSpace()
            guard offset < bytes.count, bytes[offset] == UInt8(ascii: ":") else { throw error("expected ':'") }
            offset += 1
            skipSpace()
            if let item, key == "items", offset < bytes.count, bytes[offset] == UInt8(ascii: "[") {
                offset += 1
                members[key] = .array(try elements(depth: depth + 1, each: item))
            } else {
                members[key] = try value(depth: depth + 1)
            }
            skipSpace()
            guard offset < bytes.count else { throw error("unexpected end of the file in an object") }
            if bytes[offset] == UInt8(ascii: ",") {
                offset += 1
            } else if bytes[offset] == UInt8(ascii: "}") {
                offset += 1
                return .object(members)
            } else {
                throw error("expected ',' or '}'")
            }
        }
    }

    private mutating func number() throws -> KubeValue {
        let start = offset
        while offset < bytes.count {
            switch bytes[offset] {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."),
                UInt8(ascii: "e"), UInt8(ascii: "E"):
                offset += 1
            default:
                let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self)
                guard let number = Double(text) else { throw error("malformed number") }
                return .number(number)
            }
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self)
        guard let number = Double(text) else { throw error("malformed number") }
        return .number(number)
    }

    private mutating func hex4() throws -> UInt32 {
        guard offset + 4 <= bytes.count else { throw error("unexpected end of the file in a \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[offset]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw error("malformed \\u escape")
            }
            value = value << 4 | digit
            offset += 1
        }
        return value
    }

    /// A string after its opening quote; invalid UTF-8 becomes U+FFFD.
    private mutating func string() throws -> String {
        offset += 1
        let start = offset
        // Fast path: no escapes.
        while offset < bytes.count {
            let byte = bytes[offset]
            if byte == UInt8(ascii: "\"") {
                let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self)
                offset += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw error("control character in a string") }
            offset += 1
        }
        var scalars = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self)
        var run = offset
        while offset < bytes.count {
            let byte = bytes[offset]
            if byte == UInt8(ascii: "\"") {
                scalars += String(decoding: UnsafeRawBufferPointer(rebasing: bytes[run..<offset]), as: UTF8.self)
                offset += 1
                return scalars
            }
            if byte < 0x20 { throw error("control character in a string") }
            guard byte == UInt8(ascii: "\\") else {
                offset += 1
                continue
            }
            scalars += String(decoding: UnsafeRawBufferPointer(rebasing: bytes[run..<offset]), as: UTF8.self)
            offset += 1
            guard offset < bytes.count else { break }
            let escape = bytes[offset]
            offset += 1
            switch escape {
            case UInt8(ascii: "\""): scalars += "\""
            case UInt8(ascii: "\\"): scalars += "\\"
            case UInt8(ascii: "/"): scalars += "/"
            case UInt8(ascii: "b"): scalars += "\u{08}"
            case UInt8(ascii: "f"): scalars += "\u{0C}"
            case UInt8(ascii: "n"): scalars += "\n"
            case UInt8(ascii: "r"): scalars += "\r"
            case UInt8(ascii: "t"): scalars += "\t"
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800..<0xDC00).contains(code), offset + 6 <= bytes.count, bytes[offset] == UInt8(ascii: "\\"),
                    bytes[offset + 1] == UInt8(ascii: "u")
                {
                    offset += 2
                    let low = try hex4()
                    code =
                        (0xDC00..<0xE000).contains(low) ? 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00) : 0xFFFD
                }
                scalars.unicodeScalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
            default:
                offset -= 1
                throw error("unknown escape in a string")
            }
            run = offset
        }
        throw error("unexpected end of the file in a string")
    }
}
