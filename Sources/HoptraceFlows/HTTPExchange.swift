import HoptraceCapture

/// One HTTP/1.x request and its final response on one TCP connection at one capture point.
///
/// Emitted when both are complete, when a later response shows this one was lost, or when the connection ends.
///
/// A value type whose fields live on the heap, shared between copies until one of them changes (copy on write, as
/// `Array` does): the correlator copies an exchange a few dozen times while it traces it (filtered, ordered,
/// assembled, judged), and a copy of one reference costs a retain where ~340 bytes inline cost a copy and a retain
/// of each of its heads' strings.
public struct HTTPExchange: Hashable, Sendable {
    /// The stored fields, in the order they were declared (and are encoded).
    @usableFromInline
    struct Fields: Hashable, Codable, Sendable {
        @usableFromInline var connectionID: UInt64
        @usableFromInline var capturePoint: Int
        @usableFromInline var client: FlowEndpoint
        @usableFromInline var server: FlowEndpoint
        @usableFromInline var clientISN: UInt32?
        @usableFromInline var serverISN: UInt32?
        @usableFromInline var index: Int
        @usableFromInline var request: HTTPHead?
        @usableFromInline var response: HTTPHead?
        @usableFromInline var interimStatuses: [Int]
        @usableFromInline var requestFirstByte: StreamMark?
        @usableFromInline var requestLastByte: StreamMark?
        @usableFromInline var responseFirstByte: StreamMark?
        @usableFromInline var responseLastByte: StreamMark?
        @usableFromInline var requestBodyLength: Int
        @usableFromInline var responseBodyLength: Int
        @usableFromInline var requestHasGap: Bool
        @usableFromInline var responseHasGap: Bool
    }

    @usableFromInline
    var storage: CopyOnWrite<Fields>

    /// The ``ConnectionRecord/id`` of the connection carrying it.
    @inlinable
    public var connectionID: UInt64 {
        _read { yield self.storage.fields.connectionID }
        _modify { yield &self.storage.fields.connectionID }
    }
    /// The capture point (index into the caller's ``CapturePointTable``).
    @inlinable
    public var capturePoint: Int {
        _read { yield self.storage.fields.capturePoint }
        _modify { yield &self.storage.fields.capturePoint }
    }
    /// The client (TCP originator) as seen at the capture point.
    @inlinable
    public var client: FlowEndpoint {
        _read { yield self.storage.fields.client }
        _modify { yield &self.storage.fields.client }
    }
    /// The server as seen at the capture point.
    @inlinable
    public var server: FlowEndpoint {
        _read { yield self.storage.fields.server }
        _modify { yield &self.storage.fields.server }
    }
    /// The client's initial sequence number, when the SYN was seen.
    @inlinable
    public var clientISN: UInt32? {
        _read { yield self.storage.fields.clientISN }
        _modify { yield &self.storage.fields.clientISN }
    }
    /// The server's initial sequence number, when the SYN-ACK was seen.
    @inlinable
    public var serverISN: UInt32? {
        _read { yield self.storage.fields.serverISN }
        _modify { yield &self.storage.fields.serverISN }
    }
    /// 0 for the connection's first exchange, then 1, 2, ...
    @inlinable
    public var index: Int {
        _read { yield self.storage.fields.index }
        _modify { yield &self.storage.fields.index }
    }
    /// The request head; nil when only a response was seen.
    @inlinable
    public var request: HTTPHead? {
        _read { yield self.storage.fields.request }
        _modify { yield &self.storage.fields.request }
    }
    /// The final (non-1xx) response head; nil when none was seen.
    @inlinable
    public var response: HTTPHead? {
        _read { yield self.storage.fields.response }
        _modify { yield &self.storage.fields.response }
    }
    /// Status codes of interim (1xx) responses before the final one, e.g. [100] (at most 8 kept).
    @inlinable
    public var interimStatuses: [Int] {
        _read { yield self.storage.fields.interimStatuses }
        _modify { yield &self.storage.fields.interimStatuses }
    }
    /// First byte of the request.
    @inlinable
    public var requestFirstByte: StreamMark? {
        _read { yield self.storage.fields.requestFirstByte }
        _modify { yield &self.storage.fields.requestFirstByte }
    }
    /// Last byte of the request (end of its body).
    @inlinable
    public var requestLastByte: StreamMark? {
        _read { yield self.storage.fields.requestLastByte }
        _modify { yield &self.storage.fields.requestLastByte }
    }
    /// First byte of the final response.
    @inlinable
    public var responseFirstByte: StreamMark? {
        _read { yield self.storage.fields.responseFirstByte }
        _modify { yield &self.storage.fields.responseFirstByte }
    }
    /// Last byte of the final response (end of its body).
    @inlinable
    public var responseLastByte: StreamMark? {
        _read { yield self.storage.fields.responseLastByte }
        _modify { yield &self.storage.fields.responseLastByte }
    }
    /// Request body length in bytes (bytes lost in gaps included).
    @inlinable
    public var requestBodyLength: Int {
        _read { yield self.storage.fields.requestBodyLength }
        _modify { yield &self.storage.fields.requestBodyLength }
    }
    /// Response body length in bytes (bytes lost in gaps included).
    @inlinable
    public var responseBodyLength: Int {
        _read { yield self.storage.fields.responseBodyLength }
        _modify { yield &self.storage.fields.responseBodyLength }
    }
    /// A hole in the client's stream fell inside the request.
    @inlinable
    public var requestHasGap: Bool {
        _read { yield self.storage.fields.requestHasGap }
        _modify { yield &self.storage.fields.requestHasGap }
    }
    /// A hole in the server's stream fell inside the response.
    @inlinable
    public var responseHasGap: Bool {
        _read { yield self.storage.fields.responseHasGap }
        _modify { yield &self.storage.fields.responseHasGap }
    }

    /// An exchange with nothing seen yet.
    public init(
        connectionID: UInt64 = 0,
        capturePoint: Int = 0,
        client: FlowEndpoint,
        server: FlowEndpoint,
        index: Int = 0
    ) {
        self.storage = CopyOnWrite(
            Fields(
                connectionID: connectionID,
                capturePoint: capturePoint,
                client: client,
                server: server,
                clientISN: nil,
                serverISN: nil,
                index: index,
                request: nil,
                response: nil,
                interimStatuses: [],
                requestFirstByte: nil,
                requestLastByte: nil,
                responseFirstByte: nil,
                responseLastByte: nil,
                requestBodyLength: 0,
                responseBodyLength: 0,
                requestHasGap: false,
                responseHasGap: false
            )
        )
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

/// Encoded and decoded as its fields: the same keys, in the same order, as a struct of them would be.
extension HTTPExchange: Codable {
    public init(from decoder: any Decoder) throws { self.storage = CopyOnWrite(try Fields(from: decoder)) }

    public func encode(to encoder: any Encoder) throws { try self.storage.fields.encode(to: encoder) }
}
