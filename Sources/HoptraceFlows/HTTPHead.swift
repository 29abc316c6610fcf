/// The parsed start line and the headers hoptrace keeps of one HTTP/1.x message.
///
/// Every string is packet-derived: bounded to ``HTTPHead/maxFieldLength`` bytes and sanitized (printable ASCII;
/// anything else as `\xNN`).
public struct HTTPHead: Hashable, Sendable {
    /// Whether this is a request (else a response).
    public var isRequest: Bool
    /// Request method ("GET"); empty for a response.
    public var method: String
    /// Request target ("/path?query"); empty for a response.
    public var target: String
    /// Response status code; 0 for a request.
    public var status: Int
    /// Response reason phrase; empty for a request.
    public var reason: String
    /// Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: Int
    /// The `Host` header.
    public var host: String?
    /// The `X-Request-ID` header.
    public var requestID: String?
    /// The `traceparent` header (W3C trace context).
    public var traceparent: String?
    /// The `X-Forwarded-For` header.
    public var forwardedFor: String?
    /// The `User-Agent` header.
    public var userAgent: String?
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

    /// Longest value kept of any field, in bytes (before escaping).
    public static let maxFieldLength = 256

    /// An empty head.
    public init(isRequest: Bool) {
        self.isRequest = isRequest
        self.method = ""
        self.target = ""
        self.status = 0
        self.reason = ""
        self.minorVersion = 1
        self.host = nil
        self.requestID = nil
        self.traceparent = nil
        self.forwardedFor = nil
        self.userAgent = nil
        self.contentLength = nil
        self.isChunked = false
        self.connectionClose = false
        self.expectsContinue = false
        self.isUpgrade = false
        self.headLength = 0
    }
}
