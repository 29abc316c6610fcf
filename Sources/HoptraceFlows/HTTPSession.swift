// HTTP/1.x over one TCP connection: a parser per direction, and the pairing of requests with responses.
//
// Responses answer requests in order (RFC 9112 9.3.2), so pipelining needs only a queue. A hole in the server's
// stream can swallow whole responses, though; then the queue would pair every later response with the wrong
// request. The client's acknowledgment number settles it: a request sent after the client had received server bytes
// up to X (its ACK said X) cannot be answered by bytes before X, and a response starting at X answers the last
// request sent with an ACK of at most X. Requests passed over that way are emitted without a response.

import HoptraceDecode

/// The pairing state of HTTP/1.x on one connection.
struct HTTPSession {
    /// The most requests waiting for a response; beyond it the oldest is emitted unanswered.
    static let maxPending = 64
    /// The most interim (1xx) statuses kept per exchange.
    static let maxInterim = 8

    private var requestParser: HTTPMessageParser
    private var responseParser: HTTPMessageParser
    /// Exchanges begun and not yet emitted, oldest first.
    private var pending: [PendingExchange] = []
    // Optionals stored with a sentinel (-1, StreamMark.none): every tracked HTTP connection holds a session.
    private var requestSerialValue = -1
    private var responseSerialValue = -1
    private var responseStartMark = StreamMark.none
    /// The exchange the request parser is filling (index into `pending` is found by serial).
    private var requestSerial: Int? {
        get { self.requestSerialValue < 0 ? nil : self.requestSerialValue }
        set { self.requestSerialValue = newValue ?? -1 }
    }
    /// The exchange the response parser is filling.
    private var responseSerial: Int? {
        get { self.responseSerialValue < 0 ? nil : self.responseSerialValue }
        set { self.responseSerialValue = newValue ?? -1 }
    }
    /// Where the response in progress began, until its head says whether it is interim.
    private var responseStart: StreamMark? {
        get { self.responseStartMark.orNil }
        set { self.responseStartMark = newValue ?? .none }
    }
    private var nextSerial = 0
    /// Exchanges emitted so far.
    private(set) var emitted = 0
    /// Whether the client stream turned out not to be HTTP.
    private(set) var isNotHTTP = false
    /// Whether any message was parsed.
    private(set) var sawHTTP = false

    struct PendingExchange {
        var serial: Int
        var exchange: HTTPExchange
        /// The client's acknowledgment (relative, server stream) when the request began.
        var ackAtRequest: UInt64
        var requestDone: Bool
        var responseDone: Bool
        var hasFinalResponse: Bool

        /// Whether a final response may still be paired with it.
        var isAwaitingResponse: Bool { !self.hasFinalResponse && !self.responseDone }
    }

    /// A session whose heads keep their text fields, or only the framing (``FlowConfiguration/emitHTTP``).
    init(keepsText: Bool = true) {
        self.requestParser = HTTPMessageParser(isRequestSide: true, keepsText: keepsText)
        self.responseParser = HTTPMessageParser(isRequestSide: false, keepsText: keepsText)
    }

    /// In-order bytes of one direction.
    /// - Parameters:
    ///   - offset: relative sequence number of `bytes[0]`.
    ///   - clientAck: for client bytes, the client's acknowledgment of the server stream (relative), if known.
    mutating func data(
        _ bytes: UnsafeRawBufferPointer,
        fromClient: Bool,
        offset: UInt64,
        time: Int64,
        clientAck: UInt64,
        emit: (consuming HTTPExchange) -> Void
    ) {
        if self.isNotHTTP { return }
        var position = 0
        // The state read field by field: `(fromClient ? a : b).state` copies a whole parser (its buffers retained).
        while position < bytes.count
            || (fromClient ? self.requestParser.state : self.responseParser.state) == .awaitingFraming
        {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[position...])
            let (consumed, event) = fromClient ? self.requestParser.step(rest) : self.responseParser.step(rest)
            position += consumed
            if let event {
                let mark = StreamMark(offset: offset + UInt64(position), time: time)
                if fromClient {
                    self.requestEvent(event, at: mark, clientAck: clientAck, emit: emit)
                } else {
                    self.responseEvent(event, at: mark, emit: emit)
                }
                if self.isNotHTTP { return }
            } else if consumed == 0 {
                break
            }
        }
    }

    /// A hole in one direction's stream.
    mutating func gap(
        fromClient: Bool,
        length: UInt64,
        offset: UInt64,
        time: Int64,
        emit: (consuming HTTPExchange) -> Void
    ) {
        if self.isNotHTTP { return }
        if fromClient {
            let effect = self.requestParser.gap(length)
            guard let serial = self.requestSerial, let index = self.index(of: serial) else { return }
            switch effect {
            case .absorbed:
                self.pending[index].exchange.requestHasGap = true
            case .endedInGap:
                self.pending[index].exchange.requestHasGap = true
                self.finishRequest(
                    index: index,
                    last: StreamMark(offset: offset + length, time: time).previousByte,
                    emit: emit
                )
            case .cut, .lostBetweenMessages:
                self.pending[index].exchange.requestHasGap = true
                self.pending[index].requestDone = true
                self.requestSerial = nil
                self.emitReady(emit: emit)
            case .none:
                break
            }
        } else {
            let effect = self.responseParser.gap(length)
            guard let serial = self.responseSerial, let index = self.index(of: serial) else {
                self.responseStart = nil
                return
            }
            switch effect {
            case .absorbed:
                self.pending[index].exchange.responseHasGap = true
            case .endedInGap:
                self.pending[index].exchange.responseHasGap = true
                self.finishResponse(
                    index: index,
                    last: StreamMark(offset: offset + length, time: time).previousByte,
                    emit: emit
                )
            case .cut, .lostBetweenMessages:
                self.pending[index].exchange.responseHasGap = true
                self.pending[index].responseDone = true
                self.responseSerial = nil
                self.emitReady(emit: emit)
            case .none:
                break
            }
        }
    }

    /// The server's stream reached its FIN: a close-delimited response ends at its last byte.
    mutating func serverFinished(lastServerByte: StreamMark?, emit: (consuming HTTPExchange) -> Void) {
        if self.responseParser.finish(), let serial = self.responseSerial, let index = self.index(of: serial),
            let last = lastServerByte
        {
            self.finishResponse(index: index, last: last, emit: emit)
        }
    }

    /// The connection ended: close-delimited bodies end at the last byte; everything pending is emitted.
    mutating func finish(lastServerByte: StreamMark?, emit: (consuming HTTPExchange) -> Void) {
        if self.responseParser.finish(), let serial = self.responseSerial, let index = self.index(of: serial),
            let last = lastServerByte
        {
            self.finishResponse(index: index, last: last, emit: emit)
        }
        for item in self.pending {
            self.emitted += 1
            emit(item.exchange)
        }
        self.pending.removeAll()
        self.requestSerial = nil
        self.responseSerial = nil
    }

    // MARK: - Events

    private mutating func requestEvent(
        _ event: HTTPParserEvent,
        at mark: StreamMark,
        clientAck: UInt64,
        emit: (consuming HTTPExchange) -> Void
    ) {
        switch event {
        case .notHTTP:
            if !self.sawHTTP { self.isNotHTTP = true }
        case .messageBegin:
            self.sawHTTP = true
            self.makeRoom(emit: emit)
            var exchange = HTTPExchange(
                client: FlowEndpoint(address: IPAddress(ipv4: 0), port: 0),
                server: FlowEndpoint(address: IPAddress(ipv4: 0), port: 0),
                index: self.nextSerial
            )
            exchange.requestFirstByte = mark
            self.pending.append(
                PendingExchange(
                    serial: self.nextSerial,
                    exchange: exchange,
                    ackAtRequest: clientAck,
                    requestDone: false,
                    responseDone: false,
                    hasFinalResponse: false
                )
            )
            self.requestSerial = self.nextSerial
            self.nextSerial += 1
        case .head(let head):
            let framing: HTTPBodyFraming
            if head.isChunked {
                framing = .chunked
            } else if let length = head.contentLength, length > 0 {
                framing = .length(length)
            } else {
                framing = .none
            }
            self.requestParser.setBodyFraming(framing)
            if let serial = self.requestSerial, let index = self.index(of: serial) {
                self.pending[index].exchange.request = head
                if framing == .none {
                    self.finishRequest(
                        index: index,
                        last: mark.previousByte,
                        emit: emit
                    )
                }
            }
        case .messageEnd:
            if let serial = self.requestSerial, let index = self.index(of: serial) {
                if self.pending[index].exchange.request == nil {
                    // The head did not parse: the request is lost.
                    self.pending[index].requestDone = true
                    self.pending[index].exchange.requestHasGap = true
                    self.requestSerial = nil
                    self.emitReady(emit: emit)
                } else {
                    self.finishRequest(
                        index: index,
                        last: mark.previousByte,
                        emit: emit
                    )
                }
            }
        }
    }

    private mutating func responseEvent(
        _ event: HTTPParserEvent,
        at mark: StreamMark,
        emit: (consuming HTTPExchange) -> Void
    ) {
        switch event {
        case .notHTTP:
            if !self.sawHTTP { self.isNotHTTP = true }
        case .messageBegin:
            self.sawHTTP = true
            self.responseStart = mark
        case .head(let head):
            let start =
                self.responseStart
                ?? StreamMark(offset: mark.offset - min(mark.offset, UInt64(head.headLength)), time: mark.time)
            self.responseStart = nil
            if head.status >= 100 && head.status < 200 && head.status != 101 {
                // Interim: belongs to the oldest request still waiting for its final response.
                self.responseParser.setBodyFraming(.none)
                if let index = self.pending.firstIndex(where: { !$0.hasFinalResponse }),
                    self.pending[index].exchange.interimStatuses.count < HTTPSession.maxInterim
                {
                    self.pending[index].exchange.interimStatuses.append(head.status)
                }
                self.responseSerial = nil
                return
            }
            let index = self.matchResponse(startingAt: start.offset, emit: emit)
            let method = self.pending[index].exchange.request?.method
            let framing: HTTPBodyFraming
            if head.status == 101 || (method == "CONNECT" && head.status / 100 == 2) {
                framing = .upgrade
            } else if method == "HEAD" || head.status == 204 || head.status == 304 {
                framing = .none
            } else if head.isChunked {
                framing = .chunked
            } else if let length = head.contentLength {
                framing = length > 0 ? .length(length) : .none
            } else {
                framing = .untilClose
            }
            self.pending[index].exchange.response = head
            self.pending[index].exchange.responseFirstByte = start
            self.pending[index].hasFinalResponse = true
            self.responseSerial = self.pending[index].serial
            self.responseParser.setBodyFraming(framing)
            if framing == .upgrade {
                self.requestParser.setBodyFraming(.upgrade)
            }
            if framing == .none || framing == .upgrade {
                self.finishResponse(
                    index: index,
                    last: mark.previousByte,
                    emit: emit
                )
            }
        case .messageEnd:
            if let serial = self.responseSerial, let index = self.index(of: serial) {
                self.finishResponse(
                    index: index,
                    last: mark.previousByte,
                    emit: emit
                )
            }
        }
    }

    /// Picks the exchange a final response starting at server offset `start` answers (see the file comment), or
    /// creates one for a response without a request.
    private mutating func matchResponse(startingAt start: UInt64, emit: (consuming HTTPExchange) -> Void) -> Int {
        // Only exchanges still waiting: one whose response was given up as lost (responseDone) is not answered now.
        var chosen: Int? = nil
        for index in self.pending.indices where self.pending[index].isAwaitingResponse {
            let ack = self.pending[index].ackAtRequest
            guard ack <= start else { continue }
            if let current = chosen, self.pending[current].ackAtRequest >= ack { continue }
            chosen = index
        }
        if chosen == nil {
            chosen = self.pending.firstIndex(where: \.isAwaitingResponse)
        }
        if let chosen {
            // Earlier requests still waiting were answered in bytes this capture lost.
            let serial = self.pending[chosen].serial
            for index in self.pending.indices where index < chosen && !self.pending[index].hasFinalResponse {
                self.pending[index].responseDone = true
            }
            self.emitReady(emit: emit)
            // The chosen exchange waits for this response, so emitReady kept it.
            if let index = self.index(of: serial) { return index }
        }
        self.makeRoom(emit: emit)
        var exchange = HTTPExchange(
            client: FlowEndpoint(address: IPAddress(ipv4: 0), port: 0),
            server: FlowEndpoint(address: IPAddress(ipv4: 0), port: 0),
            index: self.nextSerial
        )
        exchange.requestHasGap = true
        self.pending.append(
            PendingExchange(
                serial: self.nextSerial,
                exchange: exchange,
                ackAtRequest: 0,
                requestDone: true,
                responseDone: false,
                hasFinalResponse: false
            )
        )
        self.nextSerial += 1
        return self.pending.count - 1
    }

    /// Emits the oldest exchange when ``maxPending`` are waiting (a request stuck in an endless body cannot hold
    /// back every later exchange of the connection).
    private mutating func makeRoom(emit: (consuming HTTPExchange) -> Void) {
        while self.pending.count >= HTTPSession.maxPending {
            let oldest = self.pending.removeFirst()
            self.emitted += 1
            emit(oldest.exchange)
        }
    }

    private mutating func finishRequest(index: Int, last: StreamMark, emit: (consuming HTTPExchange) -> Void) {
        self.pending[index].exchange.requestLastByte = last
        self.pending[index].exchange.requestBodyLength = self.requestParser.bodyLength
        self.pending[index].requestDone = true
        self.requestSerial = nil
        self.emitReady(emit: emit)
    }

    private mutating func finishResponse(index: Int, last: StreamMark, emit: (consuming HTTPExchange) -> Void) {
        self.pending[index].exchange.responseLastByte = last
        self.pending[index].exchange.responseBodyLength = self.responseParser.bodyLength
        self.pending[index].responseDone = true
        self.responseSerial = nil
        self.emitReady(emit: emit)
    }

    /// Emits, in order, the leading exchanges that are done both ways.
    private mutating func emitReady(emit: (consuming HTTPExchange) -> Void) {
        while !self.pending.isEmpty, self.pending[0].requestDone, self.pending[0].responseDone {
            // removeLast moves the exchange out; removeFirst copies it and destroys the original. One is pending
            // most of the time.
            let first = self.pending.count == 1 ? self.pending.removeLast() : self.pending.removeFirst()
            self.emitted += 1
            emit(first.exchange)
        }
        if self.pending.isEmpty && self.pending.capacity > 0 {
            self.pending = []  // an idle keep-alive connection holds no exchange storage
        }
    }

    /// Bytes stored for heads in progress, both directions.
    var bufferedHeadBytes: Int { self.requestParser.bufferedHeadBytes + self.responseParser.bufferedHeadBytes }

    /// Stops storing the heads in progress (``HTTPMessageParser/truncateHead()``); returns the bytes released.
    mutating func truncateHeads() -> Int { self.requestParser.truncateHead() + self.responseParser.truncateHead() }

    /// The exchanges begun and not emitted yet, oldest first (a provisional view: a request whose response has
    /// not completed).
    var pendingExchanges: [HTTPExchange] { self.pending.map(\.exchange) }

    private func index(of serial: Int) -> Int? {
        // Serials are increasing; the list is short.
        self.pending.firstIndex(where: { $0.serial == serial })
    }
}

extension StreamMark {
    /// The byte before this one (same time); offset 0 stays 0.
    var previousByte: StreamMark { StreamMark(offset: self.offset - min(self.offset, 1), time: self.time) }
}
