// One TCP connection at one capture point: both directions' reassembly, the handshake, Zeek's states and history,
// counters, and the application analyzer (HTTP/1.x or DNS over TCP) fed with the reassembled streams.

/// The application analyzer on a connection.
enum ConnectionApplication {
    /// Nothing decided yet (no payload seen).
    case undecided
    /// HTTP/1.x.
    case http(HTTPSession)
    /// DNS over TCP (port 53).
    case dns(DNSStreamDecoder, DNSStreamDecoder)
    /// Not a protocol hoptrace parses.
    case none(String)
}

/// What one side of a connection sent and where its stream is.
struct TCPEndpoint {
    var state: TCPEndpointState = .inactive
    var summary = TCPDirectionSummary()
    var stream = TCPStreamReassembler()
    var lastAck: UInt32 = 0
    var lastWindow: UInt16 = 0
    var hasAcked = false
    var lastSYNSeq: UInt32?
    var lastFINEnd: UInt64?
    var lastRSTSeq: UInt32?
}

final class TCPConnection {
    let id: UInt64
    let capturePoint: Int
    let originator: FlowEndpoint
    let responder: FlowEndpoint
    var orig = TCPEndpoint()
    var resp = TCPEndpoint()
    var history = ConnectionHistory()
    let startTime: Int64
    var lastTime: Int64
    var synTime: Int64?
    var synRetransmissions = 0
    var synRetransmissionTimes: [Int64] = []
    var synAckTime: Int64?
    var synAckRetransmissions = 0
    var handshakeAckTime: Int64?
    var synDirection: PacketDirection?
    var resetBy: ConnectionSide?
    var closedBy: ConnectionSide?
    /// When the connection closed (FIN both ways, or a RST): it lingers from then.
    var closedAt: Int64?
    var application: ConnectionApplication = .undecided
    var httpCount = 0

    init(id: UInt64, capturePoint: Int, originator: FlowEndpoint, responder: FlowEndpoint, flipped: Bool, time: Int64) {
        self.id = id
        self.capturePoint = capturePoint
        self.originator = originator
        self.responder = responder
        self.startTime = time
        self.lastTime = time
        if flipped { self.history.markFlipped() }
    }

    /// Whether a pure SYN with `seq` from this side starts a new connection on the same addresses and ports.
    func isReused(bySYN seq: UInt32, fromOriginator: Bool) -> Bool {
        let isn = fromOriginator ? self.orig.summary.isn : self.resp.summary.isn
        if let isn, isn == seq { return false }
        if self.closedAt != nil { return true }
        return isn != nil && (self.orig.summary.packets + self.resp.summary.packets) > 2
    }

    /// One segment.
    @discardableResult
    func process(
        _ tcp: TCPHeader,
        fromOriginator: Bool,
        payload: UnsafeRawBufferPointer,
        payloadLength: Int,
        ipLength: Int,
        time: Int64,
        output: FlowOutput
    ) -> SegmentKind {
        if time > self.lastTime { self.lastTime = time }
        let flags = tcp.flags
        let isSYN = flags.contains(.syn)
        let isACK = flags.contains(.ack)
        let isFIN = flags.contains(.fin)
        let isRST = flags.contains(.rst)
        let side: ConnectionSide = fromOriginator ? .originator : .responder

        self.withEndpoints(fromOriginator) { sender, _ in
            sender.summary.packets += 1
            sender.summary.ipBytes += UInt64(max(0, ipLength))
            sender.summary.capturedPayloadBytes += UInt64(payload.count)
        }

        // Handshake and anchoring.
        if isSYN && !isRST {
            self.withEndpoints(fromOriginator) { sender, _ in
                if sender.summary.isn == nil {
                    sender.summary.isn = tcp.seq
                    sender.stream.anchor(isn: tcp.seq)
                    if isACK {
                        if self.synAckTime == nil { self.synAckTime = time }
                    } else if self.synTime == nil {
                        self.synTime = time
                    }
                } else if sender.summary.isn == tcp.seq {
                    if isACK {
                        self.synAckRetransmissions += 1
                    } else {
                        self.synRetransmissions += 1
                        if self.synRetransmissionTimes.count < ConnectionRecord.maxRetransmissionTimes {
                            self.synRetransmissionTimes.append(time)
                        }
                    }
                }
            }
        } else {
            self.withEndpoints(fromOriginator) { sender, _ in
                sender.stream.anchorMidstream(seq: tcp.seq)
            }
        }

        self.updateStates(flags, fromOriginator: fromOriginator, payloadLength: payloadLength)
        self.updateHistory(tcp, fromOriginator: fromOriginator, payloadLength: payloadLength)

        if isRST {
            self.withEndpoints(fromOriginator) { sender, _ in
                sender.summary.rsts += 1
                if sender.summary.rstTime == nil {
                    sender.summary.rstTime = time
                    sender.summary.rstSeq = tcp.seq
                    sender.summary.rstAck = isACK ? tcp.ack : nil
                }
            }
            if self.resetBy == nil { self.resetBy = side }
            if self.closedAt == nil { self.closedAt = time }
            return .empty
        }

        // Payload (a SYN's data starts after the ISN).
        let dataSeq = isSYN ? tcp.seq &+ 1 : tcp.seq
        var kind = SegmentKind.empty
        if payloadLength == 0 && !isFIN && !isSYN {
            // A zero-length keep-alive sits one below the next expected byte.
            let stream = fromOriginator ? self.orig.stream : self.resp.stream
            if stream.isAnchored && stream.relative(tcp.seq) + 1 == stream.next && !stream.isFinished {
                kind = .keepAlive
            }
        } else if payloadLength > 0 || isFIN {
            kind = self.deliver(
                fromOriginator: fromOriginator,
                seq: dataSeq,
                payload: payload,
                wireLength: payloadLength,
                fin: isFIN,
                time: time,
                ack: isACK ? tcp.ack : nil,
                output: output
            )
        }
        self.withEndpoints(fromOriginator) { sender, _ in
            switch kind {
            case .retransmission:
                sender.summary.retransmissions += 1
                sender.summary.retransmittedBytes += UInt64(payloadLength)
                self.history.scaled(UInt8(ascii: "T"), originator: fromOriginator)
            case .outOfOrder:
                sender.summary.outOfOrder += 1
            case .keepAlive:
                sender.summary.keepAlives += 1
            case .inOrder, .ahead, .empty:
                break
            }
            if payloadLength > 0 && kind != .keepAlive {
                let start = sender.stream.relative(dataSeq)
                if sender.summary.firstData == nil {
                    sender.summary.firstData = StreamMark(offset: start, time: time)
                }
                let last = start + UInt64(payloadLength) - 1
                if last >= (sender.summary.lastData?.offset ?? 0) {
                    sender.summary.lastData = StreamMark(offset: last, time: time)
                }
            }
            if isFIN, sender.summary.fin == nil {
                sender.summary.fin = StreamMark(
                    offset: sender.stream.relative(dataSeq) + UInt64(payloadLength),
                    time: time
                )
            }
            let highest = sender.stream.highest
            sender.summary.bytes = highest > 1 ? highest - 1 : 0
        }
        if isFIN, !fromOriginator, self.resp.stream.isFinished, case .http(var session) = self.application {
            // The server closed: a response delimited by the close is complete now, not at the record.
            self.application = .undecided
            session.serverFinished(lastServerByte: self.resp.summary.lastData) { self.emitHTTP($0, output: output) }
            self.application = .http(session)
        }
        if isFIN {
            if self.closedBy == nil && self.resetBy == nil { self.closedBy = side }
            if self.orig.summary.fin != nil && self.resp.summary.fin != nil && self.closedAt == nil {
                self.closedAt = time
            }
        }

        // Acknowledgment: handshake completion, holes in the peer's stream, duplicate ACKs, zero windows.
        if isACK {
            if fromOriginator, !isSYN, self.handshakeAckTime == nil, self.synAckTime != nil,
                let serverISN = self.resp.summary.isn, tcp.ack == serverISN &+ 1
            {
                self.handshakeAckTime = time
            }
            self.acknowledge(tcp.ack, fromOriginator: fromOriginator, time: time, output: output)
            let isPureAck = payloadLength == 0 && !isSYN && !isFIN && kind != .keepAlive
            self.withEndpoints(fromOriginator) { sender, peer in
                if isPureAck, sender.hasAcked, tcp.ack == sender.lastAck, tcp.window == sender.lastWindow,
                    peer.stream.isAnchored, peer.stream.highest > peer.stream.relative(tcp.ack)
                {
                    sender.summary.duplicateAcks += 1
                }
                sender.lastAck = tcp.ack
                sender.lastWindow = tcp.window
                sender.hasAcked = true
            }
        }
        if tcp.window == 0 && !isRST && (isACK || isSYN) {
            self.withEndpoints(fromOriginator) { sender, _ in sender.summary.zeroWindows += 1 }
            self.history.scaled(UInt8(ascii: "W"), originator: fromOriginator)
        }
        return kind
    }

    /// `seq` of a segment from one side, relative to that side's ISN (0 for the SYN), and `ack` relative to the
    /// other side's (nil when that side's stream has not been seen).
    func relative(seq: UInt32, ack: UInt32?, fromOriginator: Bool) -> (seq: UInt64, ack: UInt64?) {
        let sender = fromOriginator ? self.orig.stream : self.resp.stream
        let peer = fromOriginator ? self.resp.stream : self.orig.stream
        return (sender.relative(seq), ack.flatMap { peer.isAnchored ? peer.relative($0) : nil })
    }

    /// Runs `body` with the sender's and the peer's endpoint state.
    @inline(__always)
    func withEndpoints<R>(_ fromOriginator: Bool, _ body: (inout TCPEndpoint, inout TCPEndpoint) -> R) -> R {
        if fromOriginator {
            return body(&self.orig, &self.resp)
        }
        return body(&self.resp, &self.orig)
    }

    private func deliver(
        fromOriginator: Bool,
        seq: UInt32,
        payload: UnsafeRawBufferPointer,
        wireLength: Int,
        fin: Bool,
        time: Int64,
        ack: UInt32?,
        output: FlowOutput
    ) -> SegmentKind {
        // The sender's acknowledgment of the peer's stream, relative, for pairing HTTP responses.
        var peerAck: UInt64 = 0
        if let ack, fromOriginator, self.resp.stream.isAnchored {
            peerAck = self.resp.stream.relative(ack)
        }
        return self.withStream(fromOriginator) { stream in
            stream.segment(seq: seq, payload: payload, wireLength: wireLength, fin: fin, time: time) {
                self.consume($0, fromOriginator: fromOriginator, peerAck: peerAck, output: output)
            }
        }
    }

    /// Runs `body` on one direction's reassembler, moved out of `self` for the call so that the consumer may use
    /// `self` (exclusive access) and the reassembler's buffers stay uniquely referenced (no copy on write).
    @inline(__always)
    private func withStream<R>(_ ofOriginator: Bool, _ body: (inout TCPStreamReassembler) -> R) -> R {
        var stream: TCPStreamReassembler
        if ofOriginator {
            stream = self.orig.stream
            self.orig.stream = TCPStreamReassembler()
        } else {
            stream = self.resp.stream
            self.resp.stream = TCPStreamReassembler()
        }
        defer {
            if ofOriginator { self.orig.stream = stream } else { self.resp.stream = stream }
        }
        return body(&stream)
    }

    private func acknowledge(_ ack: UInt32, fromOriginator: Bool, time: Int64, output: FlowOutput) {
        // The sender acknowledges the peer's stream.
        self.withStream(!fromOriginator) { stream in
            stream.acknowledged(ack, time: time) {
                self.consume($0, fromOriginator: !fromOriginator, peerAck: 0, output: output)
            }
        }
    }

    /// Reassembled bytes or a hole, handed to the application analyzer.
    private func consume(_ chunk: StreamChunk, fromOriginator: Bool, peerAck: UInt64, output: FlowOutput) {
        if case .gap = chunk {
            self.history.scaled(UInt8(ascii: "G"), originator: fromOriginator)
        }
        if case .undecided = self.application {
            if self.originator.port == 53 || self.responder.port == 53 {
                self.application = .dns(DNSStreamDecoder(), DNSStreamDecoder())
            } else {
                self.application = .http(HTTPSession())
            }
        }
        switch self.application {
        case .http(var session):
            self.application = .undecided  // keeps `session` uniquely referenced while it is mutated
            let emit: (HTTPExchange) -> Void = { exchange in self.emitHTTP(exchange, output: output) }
            switch chunk {
            case .data(let bytes, let offset, let time):
                session.data(
                    bytes,
                    fromClient: fromOriginator,
                    offset: offset,
                    time: time,
                    clientAck: peerAck,
                    emit: emit
                )
            case .gap(let offset, let length, let time):
                session.gap(fromClient: fromOriginator, length: length, offset: offset, time: time, emit: emit)
            }
            self.application = session.isNotHTTP && !session.sawHTTP ? .none("not-http") : .http(session)
        case .dns(var fromClient, var fromServer):
            self.application = .undecided
            switch chunk {
            case .data(let bytes, _, let time):
                if fromOriginator {
                    fromClient.feed(bytes) { output.dnsMessage($0, time: time, connection: self, fromOriginator: true) }
                } else {
                    fromServer.feed(bytes) {
                        output.dnsMessage($0, time: time, connection: self, fromOriginator: false)
                    }
                }
            case .gap:
                if fromOriginator { fromClient.reset() } else { fromServer.reset() }
            }
            self.application = .dns(fromClient, fromServer)
        case .none, .undecided:
            break
        }
    }

    /// The HTTP exchanges begun on this connection and not emitted yet (requests waiting for their response),
    /// labelled as ``emitHTTP(_:output:)`` labels them; nothing is changed.
    func pendingExchanges() -> [HTTPExchange] {
        guard case .http(let session) = self.application else { return [] }
        return session.pendingExchanges.map(self.labelled)
    }

    private func labelled(_ exchange: HTTPExchange) -> HTTPExchange {
        var exchange = exchange
        exchange.connectionID = self.id
        exchange.capturePoint = self.capturePoint
        exchange.client = self.originator
        exchange.server = self.responder
        exchange.clientISN = self.orig.summary.isn
        exchange.serverISN = self.resp.summary.isn
        return exchange
    }

    private func emitHTTP(_ exchange: HTTPExchange, output: FlowOutput) {
        var exchange = exchange
        exchange.connectionID = self.id
        exchange.capturePoint = self.capturePoint
        exchange.client = self.originator
        exchange.server = self.responder
        exchange.clientISN = self.orig.summary.isn
        exchange.serverISN = self.resp.summary.isn
        self.httpCount += 1
        output.emit(.http(exchange))
    }

    /// Flushes both streams and the application analyzer, and makes the record.
    func finish(reason: ConnectionEndReason, output: FlowOutput) -> ConnectionRecord {
        let time = self.lastTime
        for ofOriginator in [true, false] {
            self.withStream(ofOriginator) { stream in
                stream.flush(time: time) { self.consume($0, fromOriginator: ofOriginator, peerAck: 0, output: output) }
            }
        }
        self.orig.summary.gaps = self.orig.stream.gapCount
        self.orig.summary.gapBytes = self.orig.stream.gapBytes
        self.resp.summary.gaps = self.resp.stream.gapCount
        self.resp.summary.gapBytes = self.resp.stream.gapBytes
        if case .http(var session) = self.application {
            self.application = .undecided
            session.finish(lastServerByte: self.resp.summary.lastData) { self.emitHTTP($0, output: output) }
            self.application = .http(session)
        }
        return self.record(reason: reason)
    }

    /// The connection's record as it stands, without flushing anything (for a provisional snapshot of an open
    /// connection); ``finish(reason:output:)`` flushes first.
    func record(reason: ConnectionEndReason) -> ConnectionRecord {
        let applicationName: String
        switch self.application {
        case .undecided: applicationName = ""
        case .http(let session): applicationName = session.sawHTTP ? "http" : (session.isNotHTTP ? "not-http" : "")
        case .dns: applicationName = "dns"
        case .none(let name): applicationName = name
        }
        return ConnectionRecord(
            id: self.id,
            capturePoint: self.capturePoint,
            originator: self.originator,
            responder: self.responder,
            startTime: self.startTime,
            endTime: self.lastTime,
            state: zeekConnectionState(
                originator: self.orig.state,
                responder: self.resp.state,
                originatorBytes: self.orig.summary.bytes,
                responderBytes: self.resp.summary.bytes,
                history: self.history.letters
            ),
            history: self.history.string,
            originatorSummary: self.orig.summary,
            responderSummary: self.resp.summary,
            synTime: self.synTime,
            synRetransmissions: self.synRetransmissions,
            synRetransmissionTimes: self.synRetransmissionTimes,
            synAckTime: self.synAckTime,
            synAckRetransmissions: self.synAckRetransmissions,
            handshakeAckTime: self.handshakeAckTime,
            synDirection: self.synDirection,
            resetBy: self.resetBy,
            closedBy: self.closedBy,
            application: applicationName,
            httpExchanges: self.httpCount,
            endReason: reason
        )
    }

    // MARK: - Zeek endpoint states and history

    private func updateStates(_ flags: TCPFlags, fromOriginator: Bool, payloadLength: Int) {
        self.withEndpoints(fromOriginator) { sender, peer in
            if flags.contains(.rst) {
                sender.state = .reset
                return
            }
            if flags.contains(.syn) {
                if flags.contains(.ack) {
                    if sender.state == .inactive || sender.state == .partial || sender.state == .synSent {
                        sender.state = .synAckSent
                    }
                    if peer.state == .synSent || peer.state == .synAckSent {
                        // A SYN answered by a SYN-ACK: Zeek's connection_established.
                        sender.state = .established
                        peer.state = .established
                    }
                } else if sender.state == .inactive || sender.state == .partial {
                    sender.state = .synSent
                }
            }
            if flags.contains(.fin) {
                if sender.state != .reset { sender.state = .closed }
            } else if !flags.contains(.syn), flags.contains(.ack) || payloadLength > 0 {
                if sender.state == .inactive { sender.state = .partial }
            }
        }
    }

    private func updateHistory(_ tcp: TCPHeader, fromOriginator: Bool, payloadLength: Int) {
        let flags = tcp.flags
        let isSYN = flags.contains(.syn)
        let isFIN = flags.contains(.fin)
        let isRST = flags.contains(.rst)
        let bits = (isSYN ? 1 : 0) + (isFIN ? 1 : 0) + (isRST ? 1 : 0)
        if bits > 1 {
            self.history.check(isFIN && isRST ? UInt8(ascii: "I") : UInt8(ascii: "Q"), originator: fromOriginator)
            return
        }
        self.withEndpoints(fromOriginator) { sender, _ in
            if isSYN {
                let code = flags.contains(.ack) ? UInt8(ascii: "H") : UInt8(ascii: "S")
                if self.history.check(code, originator: fromOriginator), sender.lastSYNSeq != tcp.seq {
                    self.history.append(code, originator: fromOriginator)
                }
                sender.lastSYNSeq = tcp.seq
            } else if isFIN {
                let end = sender.stream.relative(tcp.seq) + UInt64(payloadLength)
                if self.history.check(UInt8(ascii: "F"), originator: fromOriginator), sender.lastFINEnd != end {
                    self.history.append(UInt8(ascii: "F"), originator: fromOriginator)
                }
                sender.lastFINEnd = end
            } else if isRST {
                if self.history.check(UInt8(ascii: "R"), originator: fromOriginator), sender.lastRSTSeq != tcp.seq {
                    self.history.append(UInt8(ascii: "R"), originator: fromOriginator)
                }
                sender.lastRSTSeq = tcp.seq
            } else if payloadLength > 0 {
                self.history.check(UInt8(ascii: "D"), originator: fromOriginator)
            } else if flags.contains(.ack) {
                self.history.check(UInt8(ascii: "A"), originator: fromOriginator)
            }
        }
    }
}
