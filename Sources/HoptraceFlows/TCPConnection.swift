// One TCP connection at one capture point: both directions' reassembly, the handshake, Zeek's states and history,
// counters, and the application analyzer (HTTP/1.x or DNS over TCP) fed with the reassembled streams.

import HoptraceCapture
import HoptraceDecode

/// Which application analyzer a connection runs (its state lives in the connection's `http` or `dns`).
enum ConnectionApplication: UInt8 {
    /// Nothing decided yet (no payload seen).
    case undecided
    /// HTTP/1.x (`TCPConnection.http`).
    case http
    /// DNS over TCP, port 53 (`TCPConnection.dns`).
    case dns
    /// The client's stream is not HTTP.
    case notHTTP
}

/// The two directions' DNS-over-TCP framing.
struct DNSStreamPair {
    var fromClient = DNSStreamDecoder()
    var fromServer = DNSStreamDecoder()
}

/// What one side of a connection sent and where its stream is.
struct TCPEndpoint {
    // Declared in this order so that the small fields fill what would be padding: 184 bytes, not 201.
    var summary = TCPDirectionSummary()
    var state: TCPEndpointState = .inactive
    /// The state before the last change (Zeek's prev_state: a FIN-then-RST peer is taken back to CLOSED).
    var previousState: TCPEndpointState = .inactive
    var hasAcked = false
    var lastSYNSeq: UInt32?
    var lastWindow: UInt16 = 0
    var lastAck: UInt32 = 0
    var lastRSTSeq: UInt32?
    /// `lastFINEnd` with the sentinel `.max` (a stream offset never reaches it).
    private var lastFINEndValue = UInt64.max
    var lastFINEnd: UInt64? {
        get { self.lastFINEndValue == .max ? nil : self.lastFINEndValue }
        set { self.lastFINEndValue = newValue ?? .max }
    }

    /// Moves to `state`, remembering the one before (when it changes).
    mutating func setState(_ state: TCPEndpointState) {
        guard state != self.state else { return }
        self.previousState = self.state
        self.state = state
    }
}

// Exclusivity: the mutable state below is `@exclusivity(unchecked)`. The per-packet path is single-threaded (one
// analyzer per stream, not Sendable) and is written so that no property is reached again while it is being modified:
// a stream's consumer (`consume`) touches the application state, the history and the summaries, never the
// reassembler delivering to it; the HTTP session's `emit` touches the summaries and counters, never the session.
// Dynamic checks on these accesses were about 15% of the instructions of `hoptrace requests` (issue 7).
final class TCPConnection {
    let id: UInt64
    let capturePoint: Int
    let originator: FlowEndpoint
    let responder: FlowEndpoint
    @exclusivity(unchecked) var orig = TCPEndpoint()
    @exclusivity(unchecked) var resp = TCPEndpoint()
    /// The originator's stream (kept apart from `orig` so that its consumer may update `orig` while it delivers).
    @exclusivity(unchecked) var origStream = TCPStreamReassembler()
    /// The responder's stream.
    @exclusivity(unchecked) var respStream = TCPStreamReassembler()
    @exclusivity(unchecked) var history = ConnectionHistory()
    let startTime: Int64
    @exclusivity(unchecked) var lastTime: Int64
    // The optional times are stored with the sentinel `.min` (8 bytes each, not 16), as the summaries' are.
    @exclusivity(unchecked) private var synTimeValue = Int64.min
    @exclusivity(unchecked) private var synAckTimeValue = Int64.min
    @exclusivity(unchecked) private var handshakeAckTimeValue = Int64.min
    @exclusivity(unchecked) private var closedAtValue = Int64.min
    var synTime: Int64? {
        get { self.synTimeValue == .min ? nil : self.synTimeValue }
        set { self.synTimeValue = newValue ?? .min }
    }
    var synRetransmissions = 0
    var synRetransmissionTimes: [Int64] = []
    var synAckTime: Int64? {
        get { self.synAckTimeValue == .min ? nil : self.synAckTimeValue }
        set { self.synAckTimeValue = newValue ?? .min }
    }
    var synAckRetransmissions = 0
    var handshakeAckTime: Int64? {
        get { self.handshakeAckTimeValue == .min ? nil : self.handshakeAckTimeValue }
        set { self.handshakeAckTimeValue = newValue ?? .min }
    }
    /// When the connection closed (FIN both ways, or a RST): it lingers from then.
    var closedAt: Int64? {
        get { self.closedAtValue == .min ? nil : self.closedAtValue }
        set { self.closedAtValue = newValue ?? .min }
    }
    /// The HTTP analyzer, in use when `application` is `.http` (empty otherwise). Not optional: a session behind an
    /// optional is copied out and back (every buffer retained and released) on each chunk it is fed.
    @exclusivity(unchecked) var http = HTTPSession()
    /// The DNS framing, in use when `application` is `.dns` (empty otherwise).
    @exclusivity(unchecked) var dns = DNSStreamPair()
    @exclusivity(unchecked) var httpCount = 0
    /// What each side's first packet here showed (set by the analyzer before the packet is processed).
    var originatorFirst: FirstPacketEvidence?
    var responderFirst: FirstPacketEvidence?
    // The one-byte fields together (no padding between them).
    var synDirection: PacketDirection?
    /// The last packet each side sent here (its signature and time), to tell a copy from a retransmission.
    var originatorLast = PacketSignature.Mark()
    var responderLast = PacketSignature.Mark()
    var resetBy: ConnectionSide?
    var closedBy: ConnectionSide?
    @exclusivity(unchecked) var application: ConnectionApplication = .undecided
    /// Its place on the flow table's eviction clock, -1 when the table does not hold it (kept by the table).
    @exclusivity(unchecked) var clockSlot = -1

    init(id: UInt64, capturePoint: Int, originator: FlowEndpoint, responder: FlowEndpoint, flipped: Bool, time: Int64) {
        self.id = id
        self.capturePoint = capturePoint
        self.originator = originator
        self.responder = responder
        self.startTime = time
        self.lastTime = time
        if flipped { self.history.markFlipped() }
    }

    /// Whether a packet from one side is a copy of the one it sent just before (tapped twice at this point), and
    /// notes it as that side's last packet otherwise.
    func isCopy(fromOriginator: Bool, signature: PacketSignature, time: Int64) -> Bool {
        let last = fromOriginator ? self.originatorLast : self.responderLast
        // IPv4 keeps the identification: a copy within a millisecond. Without one (IPv6, or a stack that sends 0),
        // only what could never be a retransmission: within 50 µs.
        let window: Int64 = signature.hasIdentification ? 1_000_000 : 50_000
        if last.signature == signature.value, last.time != .min {
            let gap = time >= last.time ? time &- last.time : last.time &- time
            if gap <= window {
                if fromOriginator { self.orig.summary.copies += 1 } else { self.resp.summary.copies += 1 }
                return true
            }
        }
        let mark = PacketSignature.Mark(signature: signature.value, time: time)
        if fromOriginator { self.originatorLast = mark } else { self.responderLast = mark }
        return false
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
            if payloadLength > sender.summary.largestSegment { sender.summary.largestSegment = payloadLength }
        }

        // Handshake and anchoring.
        if isSYN && !isRST {
            self.withEndpoints(fromOriginator) { sender, _ in
                if sender.summary.isn == nil {
                    sender.summary.isn = tcp.seq
                    self.withStream(fromOriginator) { $0.anchor(isn: tcp.seq) }
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
            self.withStream(fromOriginator) { $0.anchorMidstream(seq: tcp.seq) }
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
            let stream = self.stream(ofOriginator: fromOriginator)
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
        let senderStream = self.stream(ofOriginator: fromOriginator)
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
                let start = senderStream.relative(dataSeq)
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
                    offset: senderStream.relative(dataSeq) + UInt64(payloadLength),
                    time: time
                )
            }
            let highest = senderStream.highest
            sender.summary.bytes = highest > 1 ? highest - 1 : 0
        }
        if isFIN, !fromOriginator, self.respStream.isFinished, self.application == .http {
            // The server closed: a response delimited by the close is complete now, not at the record.
            let lastServerByte = self.resp.summary.lastData
            self.http.serverFinished(lastServerByte: lastServerByte) { self.emitHTTP($0, output: output) }
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
            let peerStream = self.stream(ofOriginator: !fromOriginator)
            self.withEndpoints(fromOriginator) { sender, peer in
                if isPureAck, sender.hasAcked, tcp.ack == sender.lastAck, tcp.window == sender.lastWindow,
                    peerStream.isAnchored, peerStream.highest > peerStream.relative(tcp.ack)
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
        let sender = self.stream(ofOriginator: fromOriginator)
        let peer = self.stream(ofOriginator: !fromOriginator)
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

    /// Where one direction's stream stands.
    @inline(__always)
    func stream(ofOriginator: Bool) -> StreamPosition {
        ofOriginator ? self.origStream.position : self.respStream.position
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
        if let ack, fromOriginator, self.respStream.isAnchored {
            peerAck = self.respStream.relative(ack)
        }
        // Unretained: see `consume`.
        let connection = Unmanaged.passUnretained(self)
        let output = Unmanaged.passUnretained(output)
        return self.withStream(fromOriginator) { stream in
            stream.segment(seq: seq, payload: payload, wireLength: wireLength, fin: fin, time: time) { chunk in
                Self.borrowing(connection, output) {
                    $0.consume(chunk, fromOriginator: fromOriginator, peerAck: peerAck, output: $1)
                }
            }
        }
    }

    /// Runs `body` with the connection and the output the caller holds, without retaining them (`Unmanaged`'s
    /// guaranteed reference; see `consume`).
    @inline(__always)
    private static func borrowing<R>(
        _ connection: Unmanaged<TCPConnection>,
        _ output: Unmanaged<FlowOutput>,
        _ body: (TCPConnection, FlowOutput) -> R
    ) -> R {
        connection._withUnsafeGuaranteedRef { connection in output._withUnsafeGuaranteedRef { body(connection, $0) } }
    }

    /// Runs `body` on one direction's reassembler, in place (its consumer never touches the streams; see the
    /// exclusivity note on the class).
    @inline(__always)
    private func withStream<R>(_ ofOriginator: Bool, _ body: (inout TCPStreamReassembler) -> R) -> R {
        if ofOriginator { return body(&self.origStream) }
        return body(&self.respStream)
    }

    private func acknowledge(_ ack: UInt32, fromOriginator: Bool, time: Int64, output: FlowOutput) {
        // The sender acknowledges the peer's stream.
        let connection = Unmanaged.passUnretained(self)
        let output = Unmanaged.passUnretained(output)
        self.withStream(!fromOriginator) { stream in
            stream.acknowledged(ack, time: time) { chunk in
                Self.borrowing(connection, output) {
                    $0.consume(chunk, fromOriginator: !fromOriginator, peerAck: 0, output: $1)
                }
            }
        }
    }

    /// Reassembled bytes or a hole, handed to the application analyzer.
    ///
    /// The closures that lead here and out of here (the reassembler's delivery, the session's emit) reach the
    /// connection and the output unretained (`Unmanaged`, `unowned(unsafe)`): they are not escaping and run inside a
    /// call on this connection, whose caller holds both; strong captures cost a retain and a release of each per
    /// chunk and per parser event.
    private func consume(_ chunk: StreamChunk, fromOriginator: Bool, peerAck: UInt64, output: FlowOutput) {
        if case .gap = chunk {
            self.history.scaled(UInt8(ascii: "G"), originator: fromOriginator)
        }
        if self.application == .undecided {
            if self.originator.port == 53 || self.responder.port == 53 {
                self.application = .dns
            } else {
                self.application = .http
                if !output.configuration.emitHTTP { self.http = HTTPSession(keepsText: false) }
            }
        }
        switch self.application {
        case .http:
            let emit: (consuming HTTPExchange) -> Void = { [unowned(unsafe) self, unowned(unsafe) output] exchange in
                self.emitHTTP(exchange, output: output)
            }
            switch chunk {
            case .data(let bytes, let offset, let time):
                self.http.data(
                    bytes,
                    fromClient: fromOriginator,
                    offset: offset,
                    time: time,
                    clientAck: peerAck,
                    emit: emit
                )
            case .gap(let offset, let length, let time):
                self.http.gap(fromClient: fromOriginator, length: length, offset: offset, time: time, emit: emit)
            }
            if self.http.isNotHTTP, !self.http.sawHTTP {
                self.application = .notHTTP
                self.http = HTTPSession()
            }
        case .dns:
            switch chunk {
            case .data(let bytes, _, let time):
                if fromOriginator {
                    self.dns.fromClient.feed(bytes) {
                        output.dnsMessage($0, time: time, connection: self, fromOriginator: true)
                    }
                } else {
                    self.dns.fromServer.feed(bytes) {
                        output.dnsMessage($0, time: time, connection: self, fromOriginator: false)
                    }
                }
            case .gap:
                if fromOriginator { self.dns.fromClient.reset() } else { self.dns.fromServer.reset() }
            }
        case .notHTTP, .undecided:
            break
        }
    }

    // MARK: - Memory held, for the flow stage's budgets

    /// Bytes held ahead of holes, both directions.
    var heldBytes: Int { self.origStream.heldByteCount + self.respStream.heldByteCount }

    /// Delivers what is held ahead of holes now, the holes before it declared gaps (as when a stream's own buffer
    /// is full); returns the bytes released. Not to be called from inside ``process`` of this connection.
    func releaseHeld(output: FlowOutput) -> Int {
        let before = self.heldBytes
        self.flushStreams(output: output)
        return before - self.heldBytes
    }

    /// Bytes stored by the application analyzer: HTTP heads in progress, partial DNS-over-TCP messages.
    var applicationBufferBytes: Int {
        switch self.application {
        case .http: return self.http.bufferedHeadBytes
        case .dns: return self.dns.fromClient.bufferedBytes + self.dns.fromServer.bufferedBytes
        case .undecided, .notHTTP: return 0
        }
    }

    /// Releases what ``applicationBufferBytes`` counts: HTTP heads in progress are truncated (still reported, with
    /// their start line), partial DNS messages dropped. Returns the bytes released.
    func releaseApplicationBuffers() -> Int {
        switch self.application {
        case .http:
            return self.http.truncateHeads()
        case .dns:
            let released = self.applicationBufferBytes
            self.dns.fromClient.reset()
            self.dns.fromServer.reset()
            return released
        case .undecided, .notHTTP:
            return 0
        }
    }

    /// The HTTP exchanges begun on this connection and not emitted yet (requests waiting for their response),
    /// labelled as ``emitHTTP(_:output:)`` labels them; nothing is changed.
    func pendingExchanges() -> [HTTPExchange] {
        guard self.application == .http else { return [] }
        return self.http.pendingExchanges.map(self.labelled)
    }

    private func labelled(_ exchange: consuming HTTPExchange) -> HTTPExchange {
        var exchange = exchange
        exchange.connectionID = self.id
        exchange.capturePoint = self.capturePoint
        exchange.client = self.originator
        exchange.server = self.responder
        exchange.clientISN = self.orig.summary.isn
        exchange.serverISN = self.resp.summary.isn
        return exchange
    }

    private func emitHTTP(_ exchange: consuming HTTPExchange, output: FlowOutput) {
        self.httpCount += 1
        guard output.configuration.emitHTTP else {
            output.count(exchange)
            return
        }
        output.emit(.http(self.labelled(exchange)))
    }

    /// Delivers what both streams hold, holes declared gaps (nothing to do, and no work, when nothing is held).
    private func flushStreams(output: FlowOutput) {
        let time = self.lastTime
        if self.origStream.hasHeldData || !self.origStream.isFinished {
            self.origStream.flush(time: time) { self.consume($0, fromOriginator: true, peerAck: 0, output: output) }
        }
        if self.respStream.hasHeldData || !self.respStream.isFinished {
            self.respStream.flush(time: time) { self.consume($0, fromOriginator: false, peerAck: 0, output: output) }
        }
    }

    /// Flushes both streams and the application analyzer, and makes the record.
    func finish(reason: ConnectionEndReason, output: FlowOutput) -> ConnectionRecord {
        self.flushStreams(output: output)
        self.orig.summary.gaps = self.origStream.gapCount
        self.orig.summary.gapBytes = self.origStream.gapBytes
        self.resp.summary.gaps = self.respStream.gapCount
        self.resp.summary.gapBytes = self.respStream.gapBytes
        if self.application == .http {
            let lastServerByte = self.resp.summary.lastData
            self.http.finish(lastServerByte: lastServerByte) { self.emitHTTP($0, output: output) }
        }
        return self.record(reason: reason)
    }

    /// The connection's record as it stands, without flushing anything (for a provisional snapshot of an open
    /// connection); ``finish(reason:output:)`` flushes first.
    func record(reason: ConnectionEndReason) -> ConnectionRecord {
        let applicationName: String
        switch self.application {
        case .undecided: applicationName = ""
        case .http:
            applicationName = self.http.sawHTTP ? "http" : (self.http.isNotHTTP ? "not-http" : "")
        case .dns: applicationName = "dns"
        case .notHTTP: applicationName = "not-http"
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
            endReason: reason,
            originatorFirst: self.originatorFirst,
            responderFirst: self.responderFirst,
            originatorBase: self.origStream.isAnchored ? self.origStream.base : nil,
            responderBase: self.respStream.isAnchored ? self.respStream.base : nil
        )
    }

    // MARK: - Zeek endpoint states and history

    /// Zeek's endpoint state machine (its TCP session adapter's UpdateStateMachine), one sender state at a time:
    /// what a SYN, SYN-ACK, FIN, RST, ACK or data does depends on the sender's state and the peer's. Mid-stream
    /// connections follow from it: an endpoint that speaks first without a SYN is PARTIAL (or ESTABLISHED when it
    /// acknowledges a peer that sent an unsolicited SYN-ACK), and conn_state says OTH, RSTRH, SHR, SH, S1... as Zeek.
    private func updateStates(_ flags: TCPFlags, fromOriginator: Bool, payloadLength: Int) {
        let isSYN = flags.contains(.syn)
        let isACK = flags.contains(.ack)
        let isFIN = flags.contains(.fin)
        let isRST = flags.contains(.rst)
        let originatorWasSYNSent = self.orig.state == .synSent
        self.withEndpoints(fromOriginator) { sender, peer in
            switch sender.state {
            case .inactive:
                if isSYN {
                    if fromOriginator {
                        sender.setState(isACK ? .synAckSent : .synSent)
                    } else {
                        // A SYN-ACK (or a simultaneous open's SYN) from the responder: it answers a SYN if one was
                        // sent; an unsolicited one still puts the responder in ESTABLISHED.
                        if !isACK, peer.state == .synAckSent { peer.setState(.established) }
                        if peer.state == .synSent { peer.setState(.established) }
                        sender.setState(.established)
                    }
                }
                if isFIN { sender.setState(.closed) }
                if isRST { sender.setState(.reset) }
                if sender.state == .inactive {
                    if !fromOriginator, payloadLength == 0, originatorWasSYNSent {
                        // An ACK of the SYN before the SYN-ACK (some stacks): not a partial connection.
                    } else if isACK, peer.state == .established {
                        // The SYN was missed but the SYN-ACK seen: the handshake's ACK establishes.
                        sender.setState(.established)
                    } else {
                        sender.setState(.partial)
                    }
                }
            case .synSent, .synAckSent:
                if isFIN { sender.setState(.closed) }
                if isRST { sender.setState(.reset) }
            case .established, .partial:
                if isSYN, !isACK, sender.state == .partial, peer.state == .inactive { sender.setState(.synSent) }
                if isFIN, !isRST {
                    sender.setState(.closed)
                    // A FIN after the peer's FIN then RST: a normal close after all.
                    if peer.state == .reset, peer.previousState == .closed { peer.setState(.closed) }
                }
                if isRST { sender.setState(.reset) }
            case .closed:
                if isRST, peer.state != .closed { sender.setState(.reset) }
            case .reset:
                break
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
                let end = self.stream(ofOriginator: fromOriginator).relative(tcp.seq) + UInt64(payloadLength)
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
