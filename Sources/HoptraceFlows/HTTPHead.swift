/// The parsed start line and the headers hoptrace keeps of one HTTP/1.x message.
///
/// Every string is packet-derived: bounded to ``HTTPHead/maxFieldLength`` bytes and sanitized (printable ASCII;
/// anything else as `\xNN`).
///
/// The text fields live together in one immutable shared box: an exchange is copied several times on its way to the
/// output (parser event, pending queue, record), and each copy of eight separate strings cost eight reference-count
/// operations and a few hundred bytes of copying (issue 7). Setting a text field replaces the box.
public struct HTTPHead: Hashable, Sendable {
    /// The text fields.
    struct TextFields: Hashable, Sendable {
        var method = ""
        var target = ""
        var reason = ""
        var host: String?
        var requestID: String?
        var traceparent: String?
        var forwardedFor: String?
        var userAgent: String?
    }

    /// The shared, immutable box holding the text fields (each its own stored property, so that a getter loads one
    /// string, not a copy of all eight).
    final class Text: Hashable, Sendable {
        let method: String
        let target: String
        let reason: String
        let host: String?
        let requestID: String?
        let traceparent: String?
        let forwardedFor: String?
        let userAgent: String?
        static let empty = Text(TextFields())

        convenience init(_ fields: TextFields) {
            self.init(
                method: fields.method,
                target: fields.target,
                reason: fields.reason,
                host: fields.host,
                requestID: fields.requestID,
                traceparent: fields.traceparent,
                forwardedFor: fields.forwardedFor,
                userAgent: fields.userAgent
            )
        }

        /// Takes each string as given (owned: the parser's locals move in, no copy).
        init(
            method: String,
            target: String,
            reason: String,
            host: String?,
            requestID: String?,
            traceparent: String?,
            forwardedFor: String?,
            userAgent: String?
        ) {
            self.method = method
            self.target = target
            self.reason = reason
            self.host = host
            self.requestID = requestID
            self.traceparent = traceparent
            self.forwardedFor = forwardedFor
            self.userAgent = userAgent
        }

        var fields: TextFields {
            TextFields(
                method: self.method,
                target: self.target,
                reason: self.reason,
                host: self.host,
                requestID: self.requestID,
                traceparent: self.traceparent,
                forwardedFor: self.forwardedFor,
                userAgent: self.userAgent
            )
        }

        func replacing(_ change: (inout TextFields) -> Void) -> Text {
            var fields = self.fields
            change(&fields)
            return Text(fields)
        }

        static func == (lhs: Text, rhs: Text) -> Bool { lhs === rhs || lhs.fields == rhs.fields }
        func hash(into hasher: inout Hasher) { hasher.combine(self.fields) }
    }

    /// The text fields (see the type's comment).
    var text: Text
    /// Whether this is a request (else a response).
    public var isRequest: Bool
    /// Request method ("GET"); empty for a response.
    public var method: String {
        get { self.text.method }
        set { self.text = self.text.replacing { $0.method = newValue } }
    }
    /// Request target ("/path?query"); empty for a response.
    public var target: String {
        get { self.text.target }
        set { self.text = self.text.replacing { $0.target = newValue } }
    }
    /// Response status code; 0 for a request.
    public var status: Int
    /// Response reason phrase; empty for a request.
    public var reason: String {
        get { self.text.reason }
        set { self.text = self.text.replacing { $0.reason = newValue } }
    }
    /// Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: Int
    /// The `Host` header.
    public var host: String? {
        get { self.text.host }
        set { self.text = self.text.replacing { $0.host = newValue } }
    }
    /// The `X-Request-ID` header.
    public var requestID: String? {
        get { self.text.requestID }
        set { self.text = self.text.replacing { $0.requestID = newValue } }
    }
    /// The `traceparent` header (W3C trace context).
    public var traceparent: String? {
        get { self.text.traceparent }
        set { self.text = self.text.replacing { $0.traceparent = newValue } }
    }
    /// The `X-Forwarded-For` header.
    public var forwardedFor: String? {
        get { self.text.forwardedFor }
        set { self.text = self.text.replacing { $0.forwardedFor = newValue } }
    }
    /// The `User-Agent` header.
    public var userAgent: String? {
        get { self.text.userAgent }
        set { self.text = self.text.replacing { $0.userAgent = newValue } }
    }
    /// The `Content-Length` header, when present and a valid number.
    public var contentLength: Int?
    /// Whether `Transfer-Encoding` ends in `chunked`.
    public var isChunked: Bool
    /// Whether a `Connection: close` was sent (or HTTP/1.0 without `keep-alive`).
    public var connectionClose: Bool
    /// Whether the request carries `Expect: 100-continue`.
    public var expectsContinue: Bool
    /// Whether the message asks to switch protocols (`Upgrade` with `Connection: upgrade`).
    public var isUpgrade: Bool
    /// The size of the start line and headers in bytes, terminator included.
    public var headLength: Int
    /// Whether the head was longer than the parser stores (64 KiB, or less when the flow stage's budget for heads
    /// across connections ran out): the start line and the headers that were stored were kept, the rest only
    /// counted. A truncated request is still a request.
    public var isTruncated: Bool

    /// Holds `other`'s text fields instead of its own when they are the same (two capture points' views of one
    /// message): one copy of its strings is kept, not one per view. Nothing a reader sees changes.
    public mutating func shareText(of other: HTTPHead) {
        let mine = self.text
        let theirs = other.text
        guard mine !== theirs, mine.method == theirs.method, mine.target == theirs.target,
            mine.reason == theirs.reason, mine.host == theirs.host, mine.requestID == theirs.requestID,
            mine.traceparent == theirs.traceparent, mine.forwardedFor == theirs.forwardedFor,
            mine.userAgent == theirs.userAgent
        else { return }
        self.text = theirs
    }

    /// Which copy of the text fields this head holds: heads sharing one (``shareText(of:)``) answer the same.
    package var textIdentity: ObjectIdentifier { ObjectIdentifier(self.text) }

    /// Longest value kept of any field, in bytes (before escaping).
    public static let maxFieldLength = 256

    /// An empty head.
    public init(isRequest: Bool) {
        self.isRequest = isRequest
        self.text = Text.empty
        self.status = 0
        self.minorVersion = 1
        self.contentLength = nil
        self.isChunked = false
        self.connectionClose = false
        self.expectsContinue = false
        self.isUpgrade = false
        self.headLength = 0
        self.isTruncated = false
    }
}

extension HTTPHead.TextFields: Codable {}

/// The shared box is stored as its fields.
extension HTTPHead.Text: Codable {
    convenience init(from decoder: any Decoder) throws {
        self.init(try HTTPHead.TextFields(from: decoder))
    }

    func encode(to encoder: any Encoder) throws {
        try self.fields.encode(to: encoder)
    }
}

/// Every stored field; the text fields as one object.
extension HTTPHead: Codable {}
