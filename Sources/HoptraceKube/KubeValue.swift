import Yams

/// A JSON or YAML document as a tree: what kubectl prints, before it is read into Kubernetes objects.
///
/// Both formats become this one tree so that one reader (``KubeObjectReader``) handles both, and reports a wrong
/// field by its path (`items[3].spec.ports[0].port`) whatever the format.
indirect enum KubeValue: Sendable, Equatable {
    case object([String: KubeValue])
    case array([KubeValue])
    case string(String)
    case number(Double)
    case bool(Bool)
    case null

    /// The member `key` of an object; nil when missing, or when this is not an object.
    subscript(key: String) -> KubeValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    /// A short name of the value's type, for error messages.
    var typeName: String {
        switch self {
        case .object: return "an object"
        case .array: return "a list"
        case .string: return "a string"
        case .number: return "a number"
        case .bool: return "a boolean"
        case .null: return "null"
        }
    }
}

extension KubeValue {
    /// Nesting limit for YAML documents (JSONDecoder has its own): deeper is not kubectl output.
    static let maximumDepth = 256

    /// The value of one YAML node: scalars typed by the YAML core schema's resolution (a quoted `"80"` stays a
    /// string; `80` is a number; `null`, `~` and empty are null).
    init(yaml node: Node, depth: Int = 0) throws {
        guard depth < Self.maximumDepth else { throw KubeValueError.tooDeep }
        switch node {
        case .scalar(let scalar):
            switch Tag.Name(rawValue: node.tag.description) {
            case .null:
                self = .null
            case .bool:
                let text = scalar.string.lowercased()
                self = text == "true" ? .bool(true) : text == "false" ? .bool(false) : .string(scalar.string)
            case .int, .float:
                if let value = node.float ?? node.int.map(Double.init) {
                    self = .number(value)
                } else {
                    self = .string(scalar.string)
                }
            default:
                self = .string(scalar.string)
            }
        case .sequence(let sequence):
            self = .array(try sequence.map { try KubeValue(yaml: $0, depth: depth + 1) })
        case .mapping(let mapping):
            var members: [String: KubeValue] = [:]
            for (key, value) in mapping {
                members[key.string ?? ""] = try KubeValue(yaml: value, depth: depth + 1)
            }
            self = .object(members)
        }
    }
}

/// Why a document could not be read as a tree.
enum KubeValueError: Error {
    case tooDeep
}

extension KubeValue {
    /// The most nesting ``yamlNestingBound(_:)`` may report for a YAML text to be parsed: Yams builds its node tree
    /// recursively, a few kilobytes of stack per level, so a deeply nested file (`[[[[...`, `- - - - ...`, a
    /// staircase of keys) would overflow the stack before any depth check on the tree could run. kubectl output
    /// nests about 15 levels.
    static let maximumYAMLNesting = 128

    /// Throws ``KubeValueError/tooDeep`` when `text` may nest more than ``maximumYAMLNesting`` levels; call it before
    /// handing the text to Yams.
    static func checkYAMLNesting(_ text: String) throws {
        guard yamlNestingBound(text) <= maximumYAMLNesting else { throw KubeValueError.tooDeep }
    }

    /// An upper bound on how deeply a YAML text nests, from one pass over its bytes, no allocation per line: the
    /// block levels open on a line (a stack of indentation columns, as Python counts INDENT and DEDENT), plus the
    /// indicators on it that can open a level in place (`- `, `: `, `? `), plus the flow collections open (`[` and `{`
    /// that begin a node, outside quotes and comments). Never less than the real depth; more on odd but valid files
    /// (block scalars whose text looks like structure), which the limit leaves room for.
    static func yamlNestingBound(_ text: String) -> Int {
        var text = text
        return text.withUTF8 { yamlNestingBound(bytes: UnsafeRawBufferPointer($0)) }
    }

    private static func yamlNestingBound(bytes: UnsafeRawBufferPointer) -> Int {
        let space = UInt8(ascii: " ")
        // YAML breaks lines at LF, CR LF and a lone CR.
        @inline(__always) func isBreak(_ byte: UInt8) -> Bool { byte == 0x0A || byte == 0x0D }
        var deepest = 0
        // Indentation columns of the block levels open, innermost last (bounded by the limit: past it, the text is
        // rejected anyway).
        var indents: [Int] = []
        var flow = 0
        var index = 0
        while index < bytes.count {
            // One line: its indentation first.
            var column = 0
            while index < bytes.count, bytes[index] == space {
                column += 1
                index += 1
            }
            if index >= bytes.count { break }
            let first = bytes[index]
            if isBreak(first) {
                index += 1
                continue
            }
            if first == UInt8(ascii: "#") {
                while index < bytes.count, !isBreak(bytes[index]) { index += 1 }
                continue
            }
            if flow == 0 {
                while let last = indents.last, last >= column { indents.removeLast() }
                indents.append(column)
            }
            var indicators = 0
            var quote: UInt8 = 0
            var previous = space
            while index < bytes.count, !isBreak(bytes[index]) {
                let byte = bytes[index]
                index += 1
                if quote != 0 {
                    if byte == quote, quote == UInt8(ascii: "'") || previous != UInt8(ascii: "\\") { quote = 0 }
                    previous = byte == UInt8(ascii: "\\") && previous == UInt8(ascii: "\\") ? 0 : byte
                    continue
                }
                let next = index < bytes.count ? bytes[index] : 0x0A
                let startsNode =
                    previous == space || previous == UInt8(ascii: ":") || previous == UInt8(ascii: "-")
                    || previous == UInt8(ascii: ",") || previous == UInt8(ascii: "[") || previous == UInt8(ascii: "{")
                    || previous == UInt8(ascii: "?") || previous == 0x09
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "'"):
                    if startsNode { quote = byte }
                case UInt8(ascii: "#"):
                    if previous == space || previous == 0x09 {
                        while index < bytes.count, !isBreak(bytes[index]) { index += 1 }
                    }
                case UInt8(ascii: "["), UInt8(ascii: "{"):
                    if startsNode {
                        flow += 1
                        deepest = max(deepest, indents.count + indicators + flow)
                    }
                case UInt8(ascii: "]"), UInt8(ascii: "}"):
                    if flow > 0 { flow -= 1 }
                case UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "?"):
                    if next == space || next == 0x09 || isBreak(next) { indicators += 1 }
                default:
                    break
                }
                previous = byte
            }
            deepest = max(deepest, indents.count + indicators + flow)
            if deepest > maximumYAMLNesting { return deepest }
        }
        return deepest
    }
}
