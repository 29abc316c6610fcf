import HoptraceDecode

/// The flow stage: TCP connections (reassembled, summarised the Zeek way), HTTP/1.x exchanges, DNS transactions and
/// ICMP errors, per capture point, from decoded packets.
///
/// Feed packets in capture order with ``process(_:capturePoint:)``, then call ``finish()``. Records go to the sink
/// as they complete: an HTTP exchange when its response ends, a connection after close plus
/// ``FlowConfiguration/closeLinger``, when idle, when evicted, or at ``finish()``. Timeouts run on packet time, so a
/// file gives the same records however fast it is read. Memory is bounded by the caps in ``FlowConfiguration``.
///
/// Not thread-safe: one analyzer per packet stream.
public final class FlowAnalyzer {
    /// The limits in use.
    public let configuration: FlowConfiguration
    private let output: FlowOutput
    // Unchecked exclusivity (see TCPConnection): single-threaded, and no callback reaches the table while it is
    // being modified (records go to the sink after the table operation returns).
    @exclusivity(unchecked) private var table = FlowTable()
    @exclusivity(unchecked) private var nextID: UInt64 = 1
    @exclusivity(unchecked) private var now: Int64 = 0
    @exclusivity(unchecked) private var nextSweep: Int64 = .min
    @exclusivity(unchecked) private var sweptAtEndOfTime = false
    @exclusivity(unchecked) private var budgets = MemoryBudgets()

    /// An analyzer sending its records to `sink`.
    public init(configuration: FlowConfiguration = .init(), sink: @escaping (FlowEvent) -> Void) {
        self.configuration = configuration
        self.output = FlowOutput(configuration: configuration, sink: sink)
    }

    /// The counters so far.
    public var statistics: FlowStatistics {
        var statistics = self.output.statistics
        statistics.activeConnections = self.table.count
        return statistics
    }

    /// One decoded packet seen at `capturePoint` (an id from the caller's ``CapturePointTable``).
    public func process(_ packet: borrowing DecodedPacket, capturePoint: Int) {
        self.output.statistics.packets += 1
        let time = packet.timestamp
        if time > self.now { self.now = time }
        if self.now >= self.nextSweep, !self.sweptAtEndOfTime {
            self.sweep()
            // Near the end of time (a packet stamped in 2262) one last sweep is all there is: time cannot move on.
            let (next, overflow) = self.now.addingReportingOverflow(max(self.configuration.sweepInterval, 1))
            self.nextSweep = overflow ? .max : next
            self.sweptAtEndOfTime = overflow
        }
        guard let network = packet.network else { return }
        switch packet.transport {
        case .tcp(let tcp):
            self.output.statistics.tcpPackets += 1
            self.handleTCP(tcp, packet: packet, network: network, capturePoint: capturePoint)
        case .udp(let udp):
            self.output.statistics.udpPackets += 1
            if udp.srcPort == 53 || udp.dstPort == 53 {
                self.output.dnsMessage(
                    packet.payload,
                    time: time,
                    capturePoint: capturePoint,
                    transport: .udp,
                    source: FlowEndpoint(address: network.src, port: udp.srcPort),
                    destination: FlowEndpoint(address: network.dst, port: udp.dstPort),
                    connectionID: nil
                )

            }
        case .icmp(let icmp):
            self.output.statistics.icmpPackets += 1
            self.handleICMP(icmp, network: network, time: time, capturePoint: capturePoint)
        case .other, .none:
            break
        }
    }

    /// Moves the analyzer's clock to `time` without a packet (a live capture on a quiet link): connections closed
    /// or idle long enough and DNS transactions timed out by then are emitted.
    public func advance(to time: Int64) {
        if time > self.now { self.now = time }
        if self.now >= self.nextSweep {
            self.sweep()
            self.nextSweep = self.now &+ self.configuration.sweepInterval
        }
    }

    /// The input ended: every connection and transaction still open is emitted (connections in creation order).
    public func finish() {
        // Each connection is let go as soon as its record is out (popped, not iterated: the loop would hold the whole
        // array), so that the flow stage's connections and what the sink builds from their records are not both
        // held at the end of a capture with many connections open (the 2M-SYN flood: 100,000 of ~1 KB each).
        var open = self.table.removeAll()
        open.reverse()
        while let connection = open.popLast() {
            self.emitConnection(connection, reason: .endOfInput)
        }
        self.output.dns.flush { self.output.emit(.dns($0)) }
    }

    /// What is still open, as provisional records, without removing or changing anything: a record per tracked
    /// connection (``ConnectionRecord/endReason`` `.endOfInput`, streams not flushed), the HTTP exchanges begun on
    /// them and not emitted yet (a request still waiting for its response), and the DNS transactions not emitted
    /// yet. For a live view of requests in progress; O(open connections + pending transactions).
    ///
    /// The events are the ones the sink will see later, when the flows complete, possibly with more in them.
    public func snapshot() -> [FlowEvent] {
        var events: [FlowEvent] = []
        events.reserveCapacity(self.table.count)
        for connection in self.table.all.sorted(by: { $0.id < $1.id }) {
            for exchange in connection.pendingExchanges() { events.append(.http(exchange)) }
            events.append(.connection(connection.record(reason: .endOfInput)))
        }
        for transaction in self.output.dns.all { events.append(.dns(transaction)) }
        return events
    }

    /// The HTTP exchanges begun on a connection still open and not emitted yet (a request waiting for its
    /// response), for a live verdict on a connection that has not closed; [] when the connection is gone or is
    /// another one now.
    public func pendingExchanges(of record: ConnectionRecord) -> [HTTPExchange] {
        let key = ConnectionKey(capturePoint: record.capturePoint, record.originator, record.responder)
        guard let connection = self.table[key], connection.id == record.id else { return [] }
        return connection.pendingExchanges()
    }

    private func handleTCP(
        _ tcp: TCPHeader,
        packet: borrowing DecodedPacket,
        network: NetworkHeader,
        capturePoint: Int
    ) {
        let source = FlowEndpoint(address: network.src, port: tcp.srcPort)
        let destination = FlowEndpoint(address: network.dst, port: tcp.dstPort)
        let key = ConnectionKey(capturePoint: capturePoint, source, destination)
        let isPureSYN = tcp.flags.contains(.syn) && !tcp.flags.contains(.ack) && !tcp.flags.contains(.rst)
        var connection = self.table[key]
        if let existing = connection, isPureSYN,
            existing.isReused(bySYN: tcp.seq, fromOriginator: existing.originator == source)
        {
            self.table[key] = nil
            self.emitConnection(existing, reason: .reused)
            connection = nil
        }
        if connection == nil {
            if self.table.count >= self.configuration.maxConnections {
                let victims = self.table.removeLeastRecent(self.table.count - self.configuration.maxConnections + 1)
                for victim in victims { self.release(victim, otherwise: .evicted) }
            }
            let flipped = Self.isFlipped(tcp, source: source, destination: destination)
            let created = TCPConnection(
                id: self.nextID,
                capturePoint: capturePoint,
                originator: flipped ? destination : source,
                responder: flipped ? source : destination,
                flipped: flipped,
                time: packet.timestamp
            )
            self.nextID += 1
            self.table[key] = created
            self.output.statistics.connections += 1
            self.output.statistics.peakConnections = max(self.output.statistics.peakConnections, self.table.count)
            connection = created
        }
        guard let connection else { return }
        let fromOriginator = connection.originator == source
        if isPureSYN, connection.synDirection == nil { connection.synDirection = packet.direction }
        if fromOriginator ? connection.originatorFirst == nil : connection.responderFirst == nil {
            let evidence = FirstPacketEvidence(
                ttl: network.ttl,
                ipID: network.ipID,
                sourceMAC: packet.link.srcMAC,
                destinationMAC: packet.link.dstMAC,
                direction: packet.direction,
                tunnel: packet.tunnel
            )
            if fromOriginator {
                connection.originatorFirst = evidence
            } else {
                connection.responderFirst = evidence
            }
        }
        let wireLength = max(packet.payloadLength, packet.payload.count, 0)
        // The same packet tapped twice at one capture point (a bridge's promiscuous copy of a frame it forwarded, a
        // packet bare and inside an encapsulation): the same sequence and acknowledgment numbers, flags, length and
        // IP identification within microseconds. One packet: counted as a copy, never as a retransmission.
        if connection.isCopy(
            fromOriginator: fromOriginator,
            signature: PacketSignature(tcp, length: wireLength, ipID: network.ipID),
            time: packet.timestamp
        ) {
            self.output.statistics.copies += 1
            return
        }
        let isNew = connection.orig.summary.packets + connection.resp.summary.packets == 0
        let wasAnswered = connection.resp.summary.packets > 0
        let wasEstablished = connection.handshakeAckTime != nil
        let hadRequestData = connection.orig.summary.firstData != nil
        let hadResponseData = connection.resp.summary.firstData != nil
        let hadClosing =
            connection.orig.summary.fin != nil || connection.orig.summary.rstTime != nil
            || connection.resp.summary.fin != nil || connection.resp.summary.rstTime != nil
        // Read only where provisional records are emitted (correlation): `requests` and `flows` pay nothing for it.
        let wasClosed =
            self.configuration.emitOpened
            && ConnectionRecord.isClosedBothWays(
                originator: connection.orig.summary,
                responder: connection.resp.summary
            )
        let heldBefore = connection.heldBytes
        let bufferedBefore = connection.applicationBufferBytes
        let kind = connection.process(
            tcp,
            fromOriginator: fromOriginator,
            payload: packet.payload,
            payloadLength: wireLength,
            ipLength: network.totalLength,
            time: packet.timestamp,
            output: self.output
        )
        if self.configuration.emitOpened,
            isNew || (!wasAnswered && connection.resp.summary.packets > 0)
                || (!wasEstablished && connection.handshakeAckTime != nil)
                || (!wasAnswered && isPureSYN && fromOriginator)
                || (!hadRequestData && connection.orig.summary.firstData != nil)
                || (!hadResponseData && connection.resp.summary.firstData != nil)
                || (!hadClosing
                    && (connection.orig.summary.fin != nil || connection.orig.summary.rstTime != nil
                        || connection.resp.summary.fin != nil || connection.resp.summary.rstTime != nil))
                || (!wasClosed
                    && ConnectionRecord.isClosedBothWays(
                        originator: connection.orig.summary,
                        responder: connection.resp.summary
                    ))
        {
            // The provisional record again when the other side first answers, when the handshake completes, at each
            // retransmission of an unanswered SYN, at the first data each way, at the first FIN or RST and when it
            // has closed both ways: what correlation knows of a connection before its final record (live tracing
            // judges an unanswered SYN by when it was last sent, a request left unanswered by when the client gave
            // up; a connection judged early at the correlator's cap once it has closed both ways lost nothing).
            if self.configuration.emitBareOpened
                || !ConnectionRecord.isBare(originator: connection.orig.summary, responder: connection.resp.summary),
                self.configuration.emitServerOnlyOpened
                    || !ConnectionRecord.isServerOnly(
                        originator: connection.orig.summary,
                        responder: connection.resp.summary,
                        synTime: connection.synTime
                    ),
                self.configuration.emitQuietOpened
                    || !ConnectionRecord.isQuiet(
                        originator: connection.orig.summary,
                        responder: connection.resp.summary
                    )
            {
                self.output.emit(.opened(connection.record(reason: .endOfInput)))
            }
        }
        self.budgets.account(connection, heldBefore: heldBefore, bufferedBefore: bufferedBefore, output: self.output)
        if self.configuration.emitSegments {
            let isACK = tcp.flags.contains(.ack)
            let relative = connection.relative(seq: tcp.seq, ack: isACK ? tcp.ack : nil, fromOriginator: fromOriginator)
            self.output.emit(
                .segment(
                    SegmentObservation(
                        connectionID: connection.id,
                        capturePoint: capturePoint,
                        time: packet.timestamp,
                        direction: packet.direction,
                        source: source,
                        destination: destination,
                        fromOriginator: fromOriginator,
                        relativeSeq: relative.seq,
                        relativeAck: relative.ack,
                        seq: tcp.seq,
                        ack: tcp.ack,
                        length: wireLength,
                        flags: tcp.flags,
                        ipID: network.ipID,
                        payloadHash: SegmentObservation.hash(packet.payload),
                        kind: kind
                    )
                )
            )
        }
    }

    /// Whether the first packet of a connection comes from the responder: a SYN-ACK, or (without a SYN) a packet
    /// from a well-known server port to an ephemeral one.
    static func isFlipped(_ tcp: TCPHeader, source: FlowEndpoint, destination: FlowEndpoint) -> Bool {
        if tcp.flags.contains(.syn) { return tcp.flags.contains(.ack) }
        return isLikelyServerPort(source.port) && !isLikelyServerPort(destination.port) && destination.port >= 1024
    }

    static func isLikelyServerPort(_ port: UInt16) -> Bool {
        port < 1024 || port == 8080 || port == 8443 || port == 3128 || port == 8000 || port == 9090
    }

    private func handleICMP(_ icmp: ICMPMessage, network: NetworkHeader, time: Int64, capturePoint: Int) {
        guard icmp.isError, let quoted = icmp.quoted else { return }
        let source = FlowEndpoint(address: quoted.src, port: quoted.srcPort ?? 0)
        let destination = FlowEndpoint(address: quoted.dst, port: quoted.dstPort ?? 0)
        var connectionID: UInt64? = nil
        if quoted.protocol == .tcp {
            connectionID = self.table[ConnectionKey(capturePoint: capturePoint, source, destination)]?.id
        }
        self.output.emit(
            .icmpError(
                ICMPErrorEvent(
                    capturePoint: capturePoint,
                    time: time,
                    sender: network.src,
                    destination: network.dst,
                    type: icmp.type,
                    code: icmp.code,
                    isV6: icmp.isV6,
                    quotedSource: source,
                    quotedDestination: destination,
                    quotedProtocol: quoted.protocol,
                    quotedTCPSequence: quoted.tcpSeq,
                    connectionID: connectionID
                )
            )
        )
    }

    private func sweep() {
        let now = self.now
        let linger = self.configuration.closeLinger
        let idle = self.configuration.idleTimeout
        let due = self.table.remove { connection in
            if let closed = connection.closedAt, now.saturatingSubtracting(closed) > linger { return true }
            return now.saturatingSubtracting(connection.lastTime) > idle
        }
        for connection in due { self.release(connection, otherwise: .idle) }
        self.output.dns.expire(now: now, linger: self.configuration.dnsLinger, timeout: self.configuration.dnsTimeout) {
            self.output.emit(.dns($0))
        }
    }

    /// Emits a connection taken out of the table, counted: `.closed` when it had closed (a FIN each way or a reset:
    /// it was only lingering for late retransmissions, so the sweep or the cap ends it whole), else `reason` (`.idle`
    /// from the sweep, `.evicted` at the cap).
    private func release(_ connection: TCPConnection, otherwise reason: ConnectionEndReason) {
        if connection.closedAt != nil {
            self.output.statistics.closedConnections += 1
            self.emitConnection(connection, reason: .closed)
            return
        }
        if reason == .evicted {
            self.output.statistics.evictedForCap += 1
        } else {
            self.output.statistics.idleConnections += 1
        }
        self.emitConnection(connection, reason: reason)
    }

    private func emitConnection(_ connection: TCPConnection, reason: ConnectionEndReason) {
        self.budgets.forget(connection)
        let record = connection.finish(reason: reason, output: self.output)
        self.output.emit(.connection(record))
    }
}

/// The flow stage's budgets across connections: bytes held ahead of holes for reassembly, and bytes stored by the
/// application analyzers (HTTP heads in progress, partial DNS-over-TCP messages). Each connection has its own caps
/// too, but many connections at their caps would still be too much: over a budget, the connection that began
/// holding first gives up what it holds (reassembly: the holes become gaps and the held bytes are delivered; heads:
/// truncated but still reported), counted in ``FlowStatistics``.
struct MemoryBudgets {
    /// A connection that began holding bytes, in that order (weak: it may have been emitted since).
    private struct Holder {
        weak var connection: TCPConnection?
    }

    private var heldBytes = 0
    private var bufferedBytes = 0
    private var holding: [Holder] = []
    private var holdingStart = 0
    private var buffering: [Holder] = []
    private var bufferingStart = 0

    /// Takes note of what `connection` holds after a packet, and enforces the budgets (outside the connection's own
    /// packet processing: the connection giving up its bytes may be this one).
    @inline(__always)
    mutating func account(_ connection: TCPConnection, heldBefore: Int, bufferedBefore: Int, output: FlowOutput) {
        let held = connection.heldBytes
        let buffered = connection.applicationBufferBytes
        if held == heldBefore && buffered == bufferedBefore { return }
        self.change(connection, heldFrom: heldBefore, to: held, bufferedFrom: bufferedBefore, to: buffered)
        self.enforce(output: output)
    }

    /// A connection leaves the table: what it held no longer counts.
    @inline(__always)
    mutating func forget(_ connection: TCPConnection) {
        self.heldBytes -= connection.heldBytes
        self.bufferedBytes -= connection.applicationBufferBytes
    }

    private mutating func change(
        _ connection: TCPConnection,
        heldFrom heldBefore: Int,
        to held: Int,
        bufferedFrom bufferedBefore: Int,
        to buffered: Int
    ) {
        self.heldBytes += held - heldBefore
        self.bufferedBytes += buffered - bufferedBefore
        if heldBefore == 0 && held > 0 { self.holding.append(Holder(connection: connection)) }
        if bufferedBefore == 0 && buffered > 0 { self.buffering.append(Holder(connection: connection)) }
    }

    private mutating func enforce(output: FlowOutput) {
        let configuration = output.configuration
        while self.heldBytes > configuration.maxHeldBytes, let connection = Self.next(&self.holding, &self.holdingStart)
        {
            guard connection.heldBytes > 0 else { continue }
            let bufferedBefore = connection.applicationBufferBytes
            let released = connection.releaseHeld(output: output)
            self.heldBytes -= released
            output.statistics.evictedHeldBytes += released
            output.statistics.evictedReassemblies += 1
            // Delivering the held bytes may have started a head.
            let buffered = connection.applicationBufferBytes
            self.change(connection, heldFrom: 0, to: 0, bufferedFrom: bufferedBefore, to: buffered)
        }
        while self.bufferedBytes > configuration.maxBufferedHeadBytes,
            let connection = Self.next(&self.buffering, &self.bufferingStart)
        {
            let released = connection.releaseApplicationBuffers()
            guard released > 0 else { continue }
            self.bufferedBytes -= released
            output.statistics.evictedHeadBytes += released
            output.statistics.evictedHeads += 1
        }
        Self.compact(&self.holding, &self.holdingStart)
        Self.compact(&self.buffering, &self.bufferingStart)
    }

    /// The oldest holder still alive, taken off the queue.
    private static func next(_ queue: inout [Holder], _ start: inout Int) -> TCPConnection? {
        while start < queue.count {
            let holder = queue[start]
            start += 1
            if let connection = holder.connection { return connection }
        }
        return nil
    }

    private static func compact(_ queue: inout [Holder], _ start: inout Int) {
        if start == queue.count {
            queue.removeAll(keepingCapacity: queue.count <= 1024)
            start = 0
        } else if start >= 1024 && start * 2 >= queue.count {
            queue.removeFirst(start)
            start = 0
        }
    }
}
