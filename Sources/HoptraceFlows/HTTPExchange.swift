import HoptraceCapture

/// One HTTP/1.x request and its final response on one TCP connection at one capture point.
///
/// Emitted when both are complete, when a later response shows this one was lost, or when the connection ends.
public struct HTTPExchange: Hashable, Sendable {
    /// The ``ConnectionRecord/id`` of the connection carrying it.
    public var connectionID: UInt64
    /// The capture point (index into the caller's ``CapturePointTable``).
    public var capturePoint: Int
    /// The client (TCP originator) as seen at the capture point.
    public var client: FlowEndpoint
    /// The server as seen at the capture point.
    public var server: FlowEndpoint
    /// The client's initial sequence number, when the SYN was seen.
    public var clientISN: UInt32?
    /// The server's initial sequence number, when the SYN-ACK was seen.
    public var serverISN: UInt32?
    /// 0 for the connection's first exchange, then 1, 2, ...
    public var index: Int
    /// The request head; nil when only a response was seen.
    public var request: HTTPHead?
    /// The final (non-1xx) response head; nil when none was seen.
    public var response: HTTPHead?
    /// Status codes of interim (1xx) responses before the final one, e.g. [100] (at most 8 kept).
    public var interimStatuses: [Int]
    /// First byte of the request.
    public var requestFirstByte: StreamMark?
    /// Last byte of the request (end of its body).
    public var requestLastByte: StreamMark?
    /// First byte of the final response.
    public var responseFirstByte: StreamMark?
    /// Last byte of the final response (end of its body).
    public var responseLastByte: StreamMark?
    /// Request body length in bytes (bytes lost in gaps included).
    public var requestBodyLength: Int
    /// Response body length in bytes (bytes lost in gaps included).
    public var responseBodyLength: Int
    /// A hole in the client's stream fell inside the request.
    public var requestHasGap: Bool
    /// A hole in the server's stream fell inside the response.
    public var responseHasGap: Bool

    /// An exchange with nothing seen yet.
    public init(
        connectionID: UInt64 = 0,
        capturePoint: Int = 0,
        client: FlowEndpoint,
        server: FlowEndpoint,
        index: Int = 0
    ) {
        self.connectionID = connectionID
        self.capturePoint = capturePoint
        self.client = client
        self.server = server
        self.clientISN = nil
        self.serverISN = nil
        self.index = index
        self.request = nil
        self.response = nil
        self.interimStatuses = []
        self.requestFirstByte = nil
        self.requestLastByte = nil
        self.responseFirstByte = nil
        self.responseLastByte = nil
        self.requestBodyLength = 0
        self.responseBodyLength = 0
        self.requestHasGap = false
        self.responseHasGap = false
    }

    /// Whether the request or the response head was longer than the parser stores (``HTTPHead/isTruncated``):
    /// method, target, status and times are kept, headers past the cap are not.
    public var headTruncated: Bool { self.request?.isTruncated == true || self.response?.isTruncated == true }

    /// Whether the request was seen whole (head and body, no hole).
    public var isRequestComplete: Bool { self.request != nil && self.requestLastByte != nil && !self.requestHasGap }
    /// Whether the final response was seen whole.
    public var isResponseComplete: Bool {
        self.response != nil && self.responseLastByte != nil && !self.responseHasGap
    }

    /// Response last byte minus request last byte, nanoseconds: the time tshark reports as `http.time`.
    public var latency: Int64? {
        guard let request = self.requestLastByte, let response = self.responseLastByte else { return nil }
        return TimeFormat.difference(response.time, request.time)
    }

    /// Response first byte minus request last byte, nanoseconds (time to first byte).
    public var timeToFirstByte: Int64? {
        guard let request = self.requestLastByte, let response = self.responseFirstByte else { return nil }
        return TimeFormat.difference(response.time, request.time)
    }
}

extension HTTPExchange: Codable {}
