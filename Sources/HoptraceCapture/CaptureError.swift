/// A failure of a packet source, as a value a test can compare.
///
/// `description` is the one line a user sees: what went wrong, where, and what to do about it.
public struct CaptureError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The code as text (`corrupt`, `no-such-interface`), stable for tests and JSON.
        public var rawValue: String
        /// A code from its text.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The code as text.
        public var description: String { rawValue }

        /// The file does not exist or cannot be opened.
        public static let cannotOpen = Code(rawValue: "cannot-open")
        /// The file is empty.
        public static let empty = Code(rawValue: "empty")
        /// The file is neither pcap nor pcapng.
        public static let notACapture = Code(rawValue: "not-a-capture")
        /// A pcap or pcapng version this reader does not know.
        public static let unsupportedVersion = Code(rawValue: "unsupported-version")
        /// A header or block whose fields contradict each other or the format.
        public static let corrupt = Code(rawValue: "corrupt")
        /// The file ends in the middle of a header, block or packet.
        public static let truncated = Code(rawValue: "truncated")
        /// A link-layer type hoptrace cannot decode.
        public static let unsupportedLinkType = Code(rawValue: "unsupported-link-type")
        /// A read or write failed at the operating-system level.
        public static let io = Code(rawValue: "io")
        /// No such network interface.
        public static let noSuchInterface = Code(rawValue: "no-such-interface")
        /// Capturing needs privileges this process does not have.
        public static let permissionDenied = Code(rawValue: "permission-denied")
        /// libpcap refused (bad filter, bad option).
        public static let pcap = Code(rawValue: "pcap")
        /// The disk is full.
        public static let diskFull = Code(rawValue: "disk-full")
    }

    /// What kind of failure.
    public var code: Code
    /// The human reason, including what to do next.
    public var reason: String
    /// Where: a file path or an interface name.
    public var source: String
    /// Byte offset in the file where the fault was found, when reading a file.
    public var offset: UInt64?

    /// An error of kind `code` at `source` (a path or an interface), with a `reason` that names the fix.
    public init(_ code: Code, _ reason: String, source: String, offset: UInt64? = nil) {
        self.code = code
        self.reason = reason
        self.source = source
        self.offset = offset
    }

    /// `source: reason (at byte N)`; just the reason when it already names the source (live capture errors such
    /// as "cannot open eth9: no such interface; ...").
    public var description: String {
        if source.isEmpty || namesSource {
            return reason
        }
        if let offset {
            return "\(source): \(reason) (at byte \(offset))"
        }
        return "\(source): \(reason)"
    }

    /// Whether `reason` has `source` as a word of its own ("cannot open eth9: ..."), not merely inside another word
    /// (a file named `x` and "magic 0x...").
    private var namesSource: Bool {
        let separators: Set<Character> = [" ", ":", ";", ",", "(", ")", "\"", "'", "`"]
        return reason.split(whereSeparator: { separators.contains($0) }).contains { $0 == source }
    }
}
