import HoptraceCapture
import HoptraceDecode
import HoptraceFlows

/// One TCP connection as seen at one capture point: the flow stage's record (provisional while the connection is
/// open there, final once it closed) and the HTTP exchanges it carried there.
struct Sighting {
    /// Everything a sighting holds, on the heap and shared between copies until one changes it (copy on write): a
    /// sighting is copied whenever a path is filtered, ordered, assembled or judged (some 36 times a trace), and a
    /// copy of one reference costs one retain, where the record, the capture point's names and the exchanges held
    /// inline cost four and their releases.
    private var box: SightingBox

    /// The flow stage's record.
    var record: ConnectionRecord {
        _read { yield box.record }
        _modify {
            makeUnique()
            yield &box.record
        }
    }

    init(record: ConnectionRecord, isFinal: Bool, point: CapturePoint, pointID: Int, exchanges: [HTTPExchange] = []) {
        self.box = SightingBox(record: record, isFinal: isFinal, point: point, pointID: pointID, exchanges: exchanges)
    }

    @inline(__always)
    private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&box) { box = SightingBox(copying: box) }
    }

    /// Whether `record` is the final one (the connection closed or the input ended there).
    var isFinal: Bool {
        get { box.isFinal }
        set {
            makeUnique()
            box.isFinal = newValue
        }
    }
    /// The capture point.
    var point: CapturePoint { box.point }
    /// The capture point's id in the flow stage.
    var pointID: Int { box.pointID }
    /// The HTTP exchanges seen here, in request order.
    var exchanges: [HTTPExchange] {
        _read { yield box.exchanges }
        _modify {
            makeUnique()
            yield &box.exchanges
        }
    }

    /// The client (the SYN's sender) as seen here.
    var client: FlowEndpoint { record.originator }
    /// The server as seen here.
    var server: FlowEndpoint { record.responder }
    /// The client's ISN, when the SYN was seen here.
    var clientISN: UInt32? { record.clientISN }
    /// The server's ISN, when the SYN-ACK was seen here.
    var serverISN: UInt32? { record.serverISN }
    /// The direction of the client's packets here, as the capture recorded it.
    var direction: PacketDirection { record.originatorDirection }
    /// When anything of this connection was first seen here: the SYN, else the first packet.
    var start: Int64 { record.synTime ?? record.startTime }
    /// Whether the client's packets were seen here at all.
    var hasClientPackets: Bool { record.originatorSummary.packets > 0 }
    /// Whether the client's payload was seen here.
    var hasClientData: Bool { record.originatorSummary.firstData != nil }

    /// A sighting of only the server's packets (SYN-ACK, response): a reply caught half translated on a bridge
    /// (MASQUERADE undone and DNAT not yet). Not a hop of the request's path.
    var isReplyOnly: Bool {
        record.synTime == nil && record.originatorSummary.packets == 0
            && (record.synAckTime != nil || record.responderSummary.firstData != nil)
    }

    /// A sighting holding nothing but an RST answering a SYN seen elsewhere (a reply leaking un-NATed).
    var isStrayReset: Bool { record.isStrayReset }

    /// The client ISN an RST-only sighting answers: its acknowledgment number minus one.
    var answeredISN: UInt32? { record.answeredISN }

    /// Every SYN time seen here: the first and the retransmissions kept.
    var synTimes: [Int64] {
        guard let syn = record.synTime else { return [] }
        return [syn] + record.synRetransmissionTimes
    }

    /// The raw sequence number of the client's byte at relative `offset` (NAT never rewrites it).
    func clientRaw(_ offset: UInt64) -> UInt32? {
        record.originatorBase.map { $0 &+ UInt32(truncatingIfNeeded: offset) }
    }

    /// The raw sequence number of the server's byte at relative `offset`.
    func serverRaw(_ offset: UInt64) -> UInt32? {
        record.responderBase.map { $0 &+ UInt32(truncatingIfNeeded: offset) }
    }

    /// The exchange here whose request starts at the client's raw sequence number `raw`, else the one with the same
    /// index when the raw numbers are unknown.
    ///
    /// Exchanges come in request order, so the one wanted is looked for by binary search first (on the request's
    /// offset, or on the index), checked, and only then by a scan: a connection with many exchanges (a pipelined or
    /// long keep-alive one, traced at its end) costs a logarithm per exchange, not a scan of them all.
    func exchange(startingAt raw: UInt32?, index: Int) -> HTTPExchange? {
        position(ofExchangeStartingAt: raw, index: index).map { exchanges[$0] }
    }

    /// Where in ``exchanges`` the exchange is when the binary search of ``position(ofExchangeStartingAt:index:)``
    /// finds it, without the scan behind it: for a question worth a logarithm, not a pass over every exchange.
    func likelyPosition(ofExchangeStartingAt raw: UInt32?, index: Int) -> Int? {
        if let raw, let base = record.originatorBase {
            let offset = UInt64(raw &- base)
            let guess = exchanges.partitionPoint { ($0.requestFirstByte?.offset ?? .max) < offset }
            guard guess < exchanges.count, let first = exchanges[guess].requestFirstByte,
                base &+ UInt32(truncatingIfNeeded: first.offset) == raw
            else { return nil }
            return guess
        }
        let guess = exchanges.partitionPoint { $0.index < index }
        return guess < exchanges.count && exchanges[guess].index == index ? guess : nil
    }

    /// Where in ``exchanges`` ``exchange(startingAt:index:)`` finds the exchange: for a caller that reads a few of its
    /// fields in place rather than copying the whole exchange.
    func position(ofExchangeStartingAt raw: UInt32?, index: Int) -> Int? {
        // The binary search first (the offset within the first 4 GiB of the stream; beyond, the scan finds it).
        if let guess = likelyPosition(ofExchangeStartingAt: raw, index: index) { return guess }
        if let raw, record.originatorBase != nil {
            return exchanges.firstIndex { exchange in exchange.requestFirstByte.flatMap { clientRaw($0.offset) } == raw
            }
        }
        return exchanges.firstIndex { $0.index == index }
    }
}

extension Sighting {
    /// This sighting with the server's side taken from a reply caught at the same capture point with other addresses
    /// (half translated: the bridge sees the connection's two directions as two flows): its SYN-ACK, its packets and
    /// the responses of its exchanges.
    func merging(reply: Sighting) -> Sighting {
        var merged = self
        var record = merged.record
        let theirs = reply.record
        if record.synAckTime == nil {
            record.synAckTime = theirs.synAckTime
            record.synAckRetransmissions = theirs.synAckRetransmissions
        }
        if record.responderSummary.packets == 0 {
            record.responderSummary = theirs.responderSummary
            record.responderBase = theirs.responderBase
            record.responderFirst = theirs.responderFirst
        }
        record.endTime = max(record.endTime, theirs.endTime)
        merged.record = record
        for (index, exchange) in merged.exchanges.enumerated() where exchange.response == nil {
            guard let answer = reply.exchanges.first(where: { $0.index == exchange.index && $0.response != nil })
            else { continue }
            var filled = exchange
            filled.response = answer.response
            filled.interimStatuses = answer.interimStatuses
            filled.responseFirstByte = answer.responseFirstByte
            filled.responseLastByte = answer.responseLastByte
            filled.responseBodyLength = answer.responseBodyLength
            filled.responseHasGap = answer.responseHasGap
            merged.exchanges[index] = filled
        }
        return merged
    }
}

/// A ``Sighting``'s contents on the heap, so that copying a sighting copies a reference.
private final class SightingBox {
    var record: ConnectionRecord
    var isFinal: Bool
    let point: CapturePoint
    let pointID: Int
    var exchanges: [HTTPExchange]

    init(record: ConnectionRecord, isFinal: Bool, point: CapturePoint, pointID: Int, exchanges: [HTTPExchange]) {
        self.record = record
        self.isFinal = isFinal
        self.point = point
        self.pointID = pointID
        self.exchanges = exchanges
    }

    init(copying other: SightingBox) {
        self.record = other.record
        self.isFinal = other.isFinal
        self.point = other.point
        self.pointID = other.pointID
        self.exchanges = other.exchanges
    }
}

/// Saturating time arithmetic: times and durations from the wire never trap.
enum Clock {
    /// `a - b`, saturating.
    @inline(__always)
    static func since(_ a: Int64, _ b: Int64) -> Int64 {
        let (value, overflow) = a.subtractingReportingOverflow(b)
        return overflow ? (a < b ? .min : .max) : value
    }

    /// `a + b`, saturating.
    @inline(__always)
    static func plus(_ a: Int64, _ b: Int64) -> Int64 {
        let (value, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b < 0 ? .min : .max) : value
    }

    /// `a - b`, never negative.
    @inline(__always)
    static func elapsed(_ a: Int64, _ b: Int64) -> Int64 { max(0, since(a, b)) }
}

/// What a record says about the connection it may join, read by ``Sighting`` and by the engine before it makes one.
extension ConnectionRecord {
    /// The client's ISN, when the SYN was seen.
    var clientISN: UInt32? { synTime != nil ? originatorISN : nil }
    /// The server's ISN, when the SYN-ACK was seen.
    var serverISN: UInt32? { synAckTime != nil ? responderISN : nil }

    /// Nothing but an RST answering a SYN seen elsewhere (a reply leaking un-NATed).
    var isStrayReset: Bool {
        synTime == nil && synAckTime == nil && responderSummary.rstTime != nil && originatorSummary.packets == 0
            && responderSummary.firstData == nil
    }

    /// The client ISN an RST-only record answers: its acknowledgment number minus one.
    var answeredISN: UInt32? {
        guard isStrayReset, let ack = responderSummary.rstAck else { return nil }
        return ack &- 1
    }
}
