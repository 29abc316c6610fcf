/// The (first) question of a DNS message.
public struct DNSQuestion: Hashable, Sendable {
    /// The name asked for, in presentation form without the trailing dot ("" for the root).
    public var name: String
    /// The type asked for.
    public var type: DNSRecordType
    /// The class (1 = IN).
    public var questionClass: UInt16

    /// Makes a question.
    public init(name: String, type: DNSRecordType, questionClass: UInt16 = 1) {
        self.name = name
        self.type = type
        self.questionClass = questionClass
    }
}

extension DNSQuestion: Codable {}
