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
