import HoptraceCapture
import HoptraceDecode

/// A TCP connection's summary state in Zeek's `conn_state` vocabulary.
public struct ConnectionState: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The Zeek spelling ("SF", "REJ", ...).
    public var rawValue: String
    /// Wraps a spelling.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Connection attempt seen, no reply.
    public static let s0 = ConnectionState(rawValue: "S0")
    /// Established, not terminated.
    public static let s1 = ConnectionState(rawValue: "S1")
    /// Normal establishment and termination.
    public static let sf = ConnectionState(rawValue: "SF")
    /// Connection attempt rejected.
    public static let rej = ConnectionState(rawValue: "REJ")
    /// Established, close attempt by the originator seen (no reply from the responder).
    public static let s2 = ConnectionState(rawValue: "S2")
    /// Established, close attempt by the responder seen (no reply from the originator).
    public static let s3 = ConnectionState(rawValue: "S3")
    /// Established, the originator aborted (sent a RST).
    public static let rsto = ConnectionState(rawValue: "RSTO")
    /// The responder sent a RST.
    public static let rstr = ConnectionState(rawValue: "RSTR")
    /// The originator sent a SYN then a RST; no SYN-ACK from the responder.
    public static let rstos0 = ConnectionState(rawValue: "RSTOS0")
    /// The responder sent a SYN-ACK then a RST; no SYN from the (purported) originator.
    public static let rstrh = ConnectionState(rawValue: "RSTRH")
    /// The originator sent a SYN then a FIN; no SYN-ACK ("half-open").
    public static let sh = ConnectionState(rawValue: "SH")
    /// The responder sent a SYN-ACK then a FIN; no SYN from the originator.
    public static let shr = ConnectionState(rawValue: "SHR")
    /// No SYN seen, just midstream traffic.
    public static let oth = ConnectionState(rawValue: "OTH")

    /// The spelling.
    public var description: String { self.rawValue }
}

/// Which side of a connection.
public enum ConnectionSide: String, Hashable, Sendable, CustomStringConvertible {
    /// The side that sent the first SYN (or, without one, the first packet; see ``ConnectionRecord/history``'s `^`).
    case originator
    /// The other side.
    case responder

    /// "originator" or "responder".
    public var description: String { self.rawValue }
}

/// Why a connection record was emitted.
public enum ConnectionEndReason: String, Hashable, Sendable {
    /// Closed (FIN both ways, or RST) and the linger time passed.
    case closed
    /// No packet for the idle timeout.
    case idle
    /// Evicted to stay under the cap on concurrent connections.
    case evicted
    /// A new connection reused the same addresses and ports.
    case reused
    /// The input ended.
    case endOfInput
}

/// What one side of a TCP connection sent, as seen at the capture point.
///
/// Every tracked connection holds two of these, and every record too, so the storage is compact (issue 7: memory
/// per concurrent flow): event counters are 32-bit and saturate, optional marks and numbers use a sentinel or a flag
/// bit instead of an optional's padding. The public properties are the plain types.
public struct TCPDirectionSummary: Hashable, Sendable {
    /// Payload bytes in sequence space (highest sequence number reached minus the first one, SYN/FIN excluded):
    /// Zeek's `orig_bytes`/`resp_bytes`.
    public var bytes: UInt64 = 0
    /// Payload bytes actually captured (retransmissions included).
    public var capturedPayloadBytes: UInt64 = 0
    /// IP bytes sent (sum of IP total lengths).
    public var ipBytes: UInt64 = 0
    /// Bytes in retransmitted segments.
    public var retransmittedBytes: UInt64 = 0
    /// Bytes in holes of this side's stream.
    public var gapBytes: UInt64 = 0
    private var packetCount: UInt64 = 0
    private var firstDataMark = StreamMark.none
    private var lastDataMark = StreamMark.none
    private var finMark = StreamMark.none
    private var rstTimeValue = Int64.min
    private var isnValue: UInt32 = 0
    private var rstSeqValue: UInt32 = 0
    private var rstAckValue: UInt32 = 0
    private var retransmissionCount: UInt32 = 0
    private var outOfOrderCount: UInt32 = 0
    private var duplicateAckCount: UInt32 = 0
    private var zeroWindowCount: UInt32 = 0
    private var keepAliveCount: UInt32 = 0
    private var gapCount: UInt32 = 0
    private var rstCount: UInt32 = 0
    private var largestSegmentValue: UInt32 = 0
    private var copyCount: UInt32 = 0
    private var present: UInt8 = 0

    private static let hasISN: UInt8 = 1
    private static let hasRSTSeq: UInt8 = 2
    private static let hasRSTAck: UInt8 = 4

    private func optional(_ value: UInt32, _ flag: UInt8) -> UInt32? { self.present & flag != 0 ? value : nil }

    private mutating func set(_ flag: UInt8, _ isSet: Bool) {
        if isSet { self.present |= flag } else { self.present &= ~flag }
    }

    /// Initial sequence number, when this side's SYN (or SYN-ACK) was seen.
    public var isn: UInt32? {
        get { self.optional(self.isnValue, Self.hasISN) }
        set {
            self.isnValue = newValue ?? 0
            self.set(Self.hasISN, newValue != nil)
        }
    }
    /// Packets sent.
    public var packets: Int {
        get { Int(truncatingIfNeeded: self.packetCount) }
        set { self.packetCount = UInt64(clamping: newValue) }
    }
    /// Retransmitted data segments (SYN retransmissions counted apart).
    public var retransmissions: Int {
        get { Int(self.retransmissionCount) }
        set { self.retransmissionCount = UInt32(clamping: newValue) }
    }
    /// Segments that filled a hole in this side's stream (arrived after later data).
    public var outOfOrder: Int {
        get { Int(self.outOfOrderCount) }
        set { self.outOfOrderCount = UInt32(clamping: newValue) }
    }
    /// Duplicate ACKs sent.
    public var duplicateAcks: Int {
        get { Int(self.duplicateAckCount) }
        set { self.duplicateAckCount = UInt32(clamping: newValue) }
    }
    /// Segments advertising a zero window.
    public var zeroWindows: Int {
        get { Int(self.zeroWindowCount) }
        set { self.zeroWindowCount = UInt32(clamping: newValue) }
    }
    /// Keep-alive probes sent.
    public var keepAlives: Int {
        get { Int(self.keepAliveCount) }
        set { self.keepAliveCount = UInt32(clamping: newValue) }
    }
    /// Holes in this side's stream (bytes never captured).
    public var gaps: Int {
        get { Int(self.gapCount) }
        set { self.gapCount = UInt32(clamping: newValue) }
    }
    /// First payload byte.
    public var firstData: StreamMark? {
        get { self.firstDataMark.orNil }
        set { self.firstDataMark = newValue ?? .none }
    }
    /// Last payload byte (highest in sequence).
    public var lastData: StreamMark? {
        get { self.lastDataMark.orNil }
        set { self.lastDataMark = newValue ?? .none }
    }
    /// First FIN: its time and relative sequence number.
    public var fin: StreamMark? {
        get { self.finMark.orNil }
        set { self.finMark = newValue ?? .none }
    }
    /// First RST's time.
    public var rstTime: Int64? {
        get { self.rstTimeValue == .min ? nil : self.rstTimeValue }
        set { self.rstTimeValue = newValue ?? .min }
    }
    /// First RST's raw sequence number.
    public var rstSeq: UInt32? {
        get { self.optional(self.rstSeqValue, Self.hasRSTSeq) }
        set {
            self.rstSeqValue = newValue ?? 0
            self.set(Self.hasRSTSeq, newValue != nil)
        }
    }
    /// First RST's raw acknowledgment number (with ACK set; an RST answering a SYN has clientISN + 1), else nil.
    public var rstAck: UInt32? {
        get { self.optional(self.rstAckValue, Self.hasRSTAck) }
        set {
            self.rstAckValue = newValue ?? 0
            self.set(Self.hasRSTAck, newValue != nil)
        }
    }
    /// The largest payload one segment carried (on the wire, not as captured): the full-size segments, to compare
    /// with another capture point's where a smaller MTU drops them.
    public var largestSegment: Int {
        get { Int(self.largestSegmentValue) }
        set { self.largestSegmentValue = UInt32(clamping: newValue) }
    }
    /// Packets seen twice at this capture point (a bridge's promiscuous copy, a packet bare and encapsulated): the
    /// copies, dropped before analysis (neither packets nor retransmissions).
    public var copies: Int {
        get { Int(self.copyCount) }
        set { self.copyCount = UInt32(clamping: newValue) }
    }
    /// RSTs sent.
    public var rsts: Int {
        get { Int(self.rstCount) }
        set { self.rstCount = UInt32(clamping: newValue) }
    }

    /// An empty summary.
    public init() {}
}

extension StreamMark {
    /// The sentinel for "no mark" in compact storage (no packet is captured at `Int64.min`).
    static let none = StreamMark(offset: 0, time: .min)

    /// nil for the sentinel.
    var orNil: StreamMark? { self.time == .min ? nil : self }
}

/// What the first packet one side sent at a capture point showed beyond TCP: the evidence correlation uses to order
/// capture points (TTL falls at each router, link addresses change at each L2 segment, direction flags where the
/// capture has them) and to tell a copy of a packet from another packet (the IP identification).
///
/// Both sides of every tracked connection and of every record hold one, so the storage is compact: link addresses
/// as 48-bit values with a sentinel instead of optionals' padding, and the tunnel (most connections have none)
/// boxed; 32 bytes instead of 104. The public properties are the plain types.
public struct FirstPacketEvidence: Hashable, Sendable {
    /// IPv4 TTL or IPv6 hop limit.
    public var ttl: UInt8
    /// The direction the capture recorded (SLL2 packet type, pcapng flags), `.unknown` without one.
    public var direction: PacketDirection
    /// IPv4 identification (0 for IPv6).
    public var ipID: UInt32
    /// A MAC address's 48 bits, or `noMAC`.
    private var sourceMACValue: UInt64
    private var destinationMACValue: UInt64
    private var tunnelBox: TunnelBox?

    /// Not a MAC address (those are 48 bits).
    private static let noMAC = UInt64.max

    /// A tunnel, boxed: compared and hashed by its contents.
    private final class TunnelBox: Hashable, Sendable {
        let tunnel: TunnelInfo
        init(_ tunnel: TunnelInfo) { self.tunnel = tunnel }
        static func == (lhs: TunnelBox, rhs: TunnelBox) -> Bool { lhs.tunnel == rhs.tunnel }
        func hash(into hasher: inout Hasher) { hasher.combine(self.tunnel) }
    }

    /// Link-layer source address, when the link layer has one.
    public var sourceMAC: MACAddress? {
        get { self.sourceMACValue == Self.noMAC ? nil : MACAddress(rawValue: self.sourceMACValue) }
        set { self.sourceMACValue = newValue?.rawValue ?? Self.noMAC }
    }
    /// Link-layer destination address (Ethernet only).
    public var destinationMAC: MACAddress? {
        get { self.destinationMACValue == Self.noMAC ? nil : MACAddress(rawValue: self.destinationMACValue) }
        set { self.destinationMACValue = newValue?.rawValue ?? Self.noMAC }
    }
    /// The tunnel the packet was carried in at this capture point (VXLAN, Geneve, IP-in-IP, GRE), if any.
    public var tunnel: TunnelInfo? {
        get { self.tunnelBox?.tunnel }
        set { self.tunnelBox = newValue.map(TunnelBox.init) }
    }

    /// Evidence from its fields.
    public init(
        ttl: UInt8,
        ipID: UInt32,
        sourceMAC: MACAddress?,
        destinationMAC: MACAddress?,
        direction: PacketDirection,
        tunnel: TunnelInfo?
    ) {
        self.ttl = ttl
        self.direction = direction
        self.ipID = ipID
        self.sourceMACValue = sourceMAC?.rawValue ?? Self.noMAC
        self.destinationMACValue = destinationMAC?.rawValue ?? Self.noMAC
        self.tunnelBox = tunnel.map(TunnelBox.init)
    }
}

/// One TCP connection at one capture point, in the spirit of a Zeek conn.log line, with what correlation needs to
/// recognise the same connection at another capture point across NAT (the ISNs and relative offsets).
public struct ConnectionRecord: Hashable, Sendable {
    /// The stored fields, in the order they were declared (and are encoded).
    @usableFromInline
    struct Fields: Hashable, Codable, Sendable {
        @usableFromInline var id: UInt64
        @usableFromInline var capturePoint: Int
        @usableFromInline var originator: FlowEndpoint
        @usableFromInline var responder: FlowEndpoint
        @usableFromInline var startTime: Int64
        @usableFromInline var endTime: Int64
        @usableFromInline var state: ConnectionState
        @usableFromInline var history: String
        @usableFromInline var originatorSummary: TCPDirectionSummary
        @usableFromInline var responderSummary: TCPDirectionSummary
        @usableFromInline var synTime: Int64?
        @usableFromInline var synRetransmissions: Int
        @usableFromInline var synRetransmissionTimes: [Int64]
        @usableFromInline var synAckTime: Int64?
        @usableFromInline var synAckRetransmissions: Int
        @usableFromInline var handshakeAckTime: Int64?
        @usableFromInline var synDirection: PacketDirection?
        @usableFromInline var resetBy: ConnectionSide?
        @usableFromInline var closedBy: ConnectionSide?
        @usableFromInline var application: String
        @usableFromInline var httpExchanges: Int
        @usableFromInline var endReason: ConnectionEndReason
        @usableFromInline var originatorFirst: FirstPacketEvidence?
        @usableFromInline var responderFirst: FirstPacketEvidence?
        @usableFromInline var originatorBase: UInt32?
        @usableFromInline var responderBase: UInt32?
    }

    /// The fields live on the heap, shared between copies until one of them changes (copy on write): a record is
    /// handed from the flow stage to the correlator inside an event and copied on its way there and while it is
    /// traced; a copy of one reference costs a retain where ~680 bytes inline cost a copy and a retain of each of
    /// its strings and arrays.
    @usableFromInline
    var storage: CopyOnWrite<Fields>

    init(
        id: UInt64,
        capturePoint: Int,
        originator: FlowEndpoint,
        responder: FlowEndpoint,
        startTime: Int64,
        endTime: Int64,
        state: ConnectionState,
        history: String,
        originatorSummary: TCPDirectionSummary,
        responderSummary: TCPDirectionSummary,
        synTime: Int64?,
        synRetransmissions: Int,
        synRetransmissionTimes: [Int64],
        synAckTime: Int64?,
        synAckRetransmissions: Int,
        handshakeAckTime: Int64?,
        synDirection: PacketDirection?,
        resetBy: ConnectionSide?,
        closedBy: ConnectionSide?,
        application: String,
        httpExchanges: Int,
        endReason: ConnectionEndReason,
        originatorFirst: FirstPacketEvidence?,
        responderFirst: FirstPacketEvidence?,
        originatorBase: UInt32?,
        responderBase: UInt32?
    ) {
        self.storage = CopyOnWrite(
            Fields(
                id: id,
                capturePoint: capturePoint,
                originator: originator,
                responder: responder,
                startTime: startTime,
                endTime: endTime,
                state: state,
                history: history,
                originatorSummary: originatorSummary,
                responderSummary: responderSummary,
                synTime: synTime,
                synRetransmissions: synRetransmissions,
                synRetransmissionTimes: synRetransmissionTimes,
                synAckTime: synAckTime,
                synAckRetransmissions: synAckRetransmissions,
                handshakeAckTime: handshakeAckTime,
                synDirection: synDirection,
                resetBy: resetBy,
                closedBy: closedBy,
                application: application,
                httpExchanges: httpExchanges,
                endReason: endReason,
                originatorFirst: originatorFirst,
                responderFirst: responderFirst,
                originatorBase: originatorBase,
                responderBase: responderBase
            )
        )
    }

    /// Unique within one ``FlowAnalyzer``, in creation order.
    @inlinable
    public var id: UInt64 {
        _read { yield self.storage.fields.id }
        _modify { yield &self.storage.fields.id }
    }
    /// The capture point (index into the caller's ``CapturePointTable``).
    @inlinable
    public var capturePoint: Int {
        _read { yield self.storage.fields.capturePoint }
        _modify { yield &self.storage.fields.capturePoint }
    }
    /// The originator's address and port as seen at the capture point.
    @inlinable
    public var originator: FlowEndpoint {
        _read { yield self.storage.fields.originator }
        _modify { yield &self.storage.fields.originator }
    }
    /// The responder's address and port as seen at the capture point.
    @inlinable
    public var responder: FlowEndpoint {
        _read { yield self.storage.fields.responder }
        _modify { yield &self.storage.fields.responder }
    }
    /// First packet, nanoseconds since the Unix epoch.
    @inlinable
    public var startTime: Int64 {
        _read { yield self.storage.fields.startTime }
        _modify { yield &self.storage.fields.startTime }
    }
    /// Last packet.
    @inlinable
    public var endTime: Int64 {
        _read { yield self.storage.fields.endTime }
        _modify { yield &self.storage.fields.endTime }
    }
    /// Zeek's conn_state.
    @inlinable
    public var state: ConnectionState {
        _read { yield self.storage.fields.state }
        _modify { yield &self.storage.fields.state }
    }
    /// Zeek's history letters: upper case originator, lower case responder (S SYN, H SYN-ACK, A ACK, D data, F FIN,
    /// R RST, T retransmission, W zero window, G gap, Q multi-flag, I FIN+RST, ^ direction flipped).
    @inlinable
    public var history: String {
        _read { yield self.storage.fields.history }
        _modify { yield &self.storage.fields.history }
    }
    /// What the originator sent.
    @inlinable
    public var originatorSummary: TCPDirectionSummary {
        _read { yield self.storage.fields.originatorSummary }
        _modify { yield &self.storage.fields.originatorSummary }
    }
    /// What the responder sent.
    @inlinable
    public var responderSummary: TCPDirectionSummary {
        _read { yield self.storage.fields.responderSummary }
        _modify { yield &self.storage.fields.responderSummary }
    }
    /// The first SYN.
    @inlinable
    public var synTime: Int64? {
        _read { yield self.storage.fields.synTime }
        _modify { yield &self.storage.fields.synTime }
    }
    /// SYNs sent again with the same ISN.
    @inlinable
    public var synRetransmissions: Int {
        _read { yield self.storage.fields.synRetransmissions }
        _modify { yield &self.storage.fields.synRetransmissions }
    }
    /// When those were sent (the first ``ConnectionRecord/maxRetransmissionTimes``).
    @inlinable
    public var synRetransmissionTimes: [Int64] {
        _read { yield self.storage.fields.synRetransmissionTimes }
        _modify { yield &self.storage.fields.synRetransmissionTimes }
    }
    /// The first SYN-ACK.
    @inlinable
    public var synAckTime: Int64? {
        _read { yield self.storage.fields.synAckTime }
        _modify { yield &self.storage.fields.synAckTime }
    }
    /// SYN-ACKs sent again.
    @inlinable
    public var synAckRetransmissions: Int {
        _read { yield self.storage.fields.synAckRetransmissions }
        _modify { yield &self.storage.fields.synAckRetransmissions }
    }
    /// The originator's ACK completing the handshake.
    @inlinable
    public var handshakeAckTime: Int64? {
        _read { yield self.storage.fields.handshakeAckTime }
        _modify { yield &self.storage.fields.handshakeAckTime }
    }
    /// The direction the capture point recorded for the first SYN (pcapng flags, SLL2 packet type), if any.
    @inlinable
    public var synDirection: PacketDirection? {
        _read { yield self.storage.fields.synDirection }
        _modify { yield &self.storage.fields.synDirection }
    }
    /// Who sent the first RST, if any.
    @inlinable
    public var resetBy: ConnectionSide? {
        _read { yield self.storage.fields.resetBy }
        _modify { yield &self.storage.fields.resetBy }
    }
    /// Who sent the first FIN, if any.
    @inlinable
    public var closedBy: ConnectionSide? {
        _read { yield self.storage.fields.closedBy }
        _modify { yield &self.storage.fields.closedBy }
    }
    /// "http", "dns", "not-http", or "" when no payload was seen.
    @inlinable
    public var application: String {
        _read { yield self.storage.fields.application }
        _modify { yield &self.storage.fields.application }
    }
    /// HTTP exchanges emitted for this connection.
    @inlinable
    public var httpExchanges: Int {
        _read { yield self.storage.fields.httpExchanges }
        _modify { yield &self.storage.fields.httpExchanges }
    }
    /// Why the record was emitted.
    @inlinable
    public var endReason: ConnectionEndReason {
        _read { yield self.storage.fields.endReason }
        _modify { yield &self.storage.fields.endReason }
    }
    /// What the originator's first packet here showed (TTL, link addresses, direction, tunnel).
    @inlinable
    public var originatorFirst: FirstPacketEvidence? {
        _read { yield self.storage.fields.originatorFirst }
        _modify { yield &self.storage.fields.originatorFirst }
    }
    /// What the responder's first packet here showed.
    @inlinable
    public var responderFirst: FirstPacketEvidence? {
        _read { yield self.storage.fields.responderFirst }
        _modify { yield &self.storage.fields.responderFirst }
    }
    /// The raw sequence number of the originator's relative offset 0 (its ISN, or the first sequence number seen
    /// minus one), when any of its segments was seen: relative marks plus this are raw sequence numbers, which NAT
    /// never rewrites.
    @inlinable
    public var originatorBase: UInt32? {
        _read { yield self.storage.fields.originatorBase }
        _modify { yield &self.storage.fields.originatorBase }
    }
    /// The raw sequence number of the responder's relative offset 0.
    @inlinable
    public var responderBase: UInt32? {
        _read { yield self.storage.fields.responderBase }
        _modify { yield &self.storage.fields.responderBase }
    }

    /// The most SYN retransmission times kept.
    public static let maxRetransmissionTimes = 16

    /// The originator's ISN (nil without its SYN).
    public var originatorISN: UInt32? { self.originatorSummary.isn }
    /// The responder's ISN (nil without its SYN-ACK).
    public var responderISN: UInt32? { self.responderSummary.isn }
    /// Duration, nanoseconds.
    public var duration: Int64 { TimeFormat.difference(self.endTime, self.startTime) }
    /// SYN to SYN-ACK, nanoseconds.
    public var synToSynAck: Int64? {
        guard let syn = self.synTime, let synAck = self.synAckTime, synAck >= syn else { return nil }
        return TimeFormat.difference(synAck, syn)
    }
    /// SYN-ACK to the handshake ACK, nanoseconds.
    public var synAckToAck: Int64? {
        guard let synAck = self.synAckTime, let ack = self.handshakeAckTime, ack >= synAck else { return nil }
        return TimeFormat.difference(ack, synAck)
    }
    /// The direction of the originator's packets at this capture point: its SYN's, else its first packet's.
    public var originatorDirection: PacketDirection {
        self.synDirection ?? self.originatorFirst?.direction ?? .unknown
    }
    /// The handshake round trip as seen here (SYN to ACK), nanoseconds.
    public var handshakeRTT: Int64? {
        guard let syn = self.synTime, let ack = self.handshakeAckTime, ack >= syn else { return nil }
        return TimeFormat.difference(ack, syn)
    }
}

/// Stored as its Zeek spelling.
extension ConnectionState: Codable {}

extension ConnectionSide: Codable {}

extension ConnectionEndReason: Codable {}

/// Every stored field, the compact ones as they are kept (sentinels and flag bits included): the value read back is
/// equal to the one written.
extension TCPDirectionSummary: Codable {}

/// Its `Codable` form by hand (FlowEvent-codableJSON.swift), here because the stored properties are private.
extension TCPDirectionSummary: CodableJSONWritable {
    func writeCodableJSON(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.member("bytes", self.bytes)
        writer.member("capturedPayloadBytes", self.capturedPayloadBytes)
        writer.member("ipBytes", self.ipBytes)
        writer.member("retransmittedBytes", self.retransmittedBytes)
        writer.member("gapBytes", self.gapBytes)
        writer.member("packetCount", self.packetCount)
        writer.codable("firstDataMark", self.firstDataMark)
        writer.codable("lastDataMark", self.lastDataMark)
        writer.codable("finMark", self.finMark)
        writer.member("rstTimeValue", self.rstTimeValue)
        writer.member("isnValue", self.isnValue)
        writer.member("rstSeqValue", self.rstSeqValue)
        writer.member("rstAckValue", self.rstAckValue)
        writer.member("retransmissionCount", self.retransmissionCount)
        writer.member("outOfOrderCount", self.outOfOrderCount)
        writer.member("duplicateAckCount", self.duplicateAckCount)
        writer.member("zeroWindowCount", self.zeroWindowCount)
        writer.member("keepAliveCount", self.keepAliveCount)
        writer.member("gapCount", self.gapCount)
        writer.member("rstCount", self.rstCount)
        writer.member("largestSegmentValue", self.largestSegmentValue)
        writer.member("copyCount", self.copyCount)
        writer.member("present", self.present)
        writer.endObject()
    }
}

extension FirstPacketEvidence: Codable {
    private enum CodingKeys: String, CodingKey {
        case ttl, ipID, sourceMAC, destinationMAC, direction, tunnel
    }

    /// Decodes the public fields (the storage is private).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            ttl: try container.decode(UInt8.self, forKey: .ttl),
            ipID: try container.decode(UInt32.self, forKey: .ipID),
            sourceMAC: try container.decodeIfPresent(MACAddress.self, forKey: .sourceMAC),
            destinationMAC: try container.decodeIfPresent(MACAddress.self, forKey: .destinationMAC),
            direction: try container.decode(PacketDirection.self, forKey: .direction),
            tunnel: try container.decodeIfPresent(TunnelInfo.self, forKey: .tunnel)
        )
    }

    /// Encodes the public fields, as the writer in `FlowEvent-codableJSON.swift` does.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.ttl, forKey: .ttl)
        try container.encode(self.ipID, forKey: .ipID)
        try container.encodeIfPresent(self.sourceMAC, forKey: .sourceMAC)
        try container.encodeIfPresent(self.destinationMAC, forKey: .destinationMAC)
        try container.encode(self.direction, forKey: .direction)
        try container.encodeIfPresent(self.tunnel, forKey: .tunnel)
    }
}

/// Encoded and decoded as its fields: the same keys, in the same order, as a struct of them would be.
extension ConnectionRecord: Codable {
    public init(from decoder: any Decoder) throws { self.storage = CopyOnWrite(try Fields(from: decoder)) }

    public func encode(to encoder: any Encoder) throws { try self.storage.fields.encode(to: encoder) }
}

extension ConnectionRecord {
    /// Whether the connection holds nothing yet but its originator's packets without payload or reset (an
    /// unanswered SYN, bare ACKs): what ``FlowConfiguration/emitBareOpened`` leaves out of provisional records.
    public var isBare: Bool {
        Self.isBare(originator: originatorSummary, responder: responderSummary)
    }

    /// ``isBare`` from the two directions' summaries (the flow stage asks before it builds a record).
    static func isBare(originator: TCPDirectionSummary, responder: TCPDirectionSummary) -> Bool {
        responder.packets == 0 && originator.firstData == nil && originator.rstTime == nil
    }

    /// Whether the connection holds nothing but its responder's packets without a reset: no SYN and nothing from the
    /// originator (a SYN-ACK or a response caught alone). What ``FlowConfiguration/emitServerOnlyOpened`` leaves out of
    /// provisional records, and what correlation of files takes at its final record.
    public var isServerOnly: Bool {
        Self.isServerOnly(originator: originatorSummary, responder: responderSummary, synTime: synTime)
    }

    /// Whether neither side has sent payload, a FIN or a reset: a handshake (complete or not), bare ACKs, keep-alives.
    /// What ``FlowConfiguration/emitQuietOpened`` leaves out of provisional records, and what correlation of files
    /// takes at the record that carries more (its first data, FIN or reset) or at its final record.
    public var isQuiet: Bool {
        Self.isQuiet(originator: originatorSummary, responder: responderSummary)
    }

    /// Whether the connection has ended as far as its packets can say: a reset either way, or a FIN each way. Only
    /// retransmissions may follow (the flow stage keeps such a connection a little longer for them).
    public var isClosedBothWays: Bool {
        Self.isClosedBothWays(originator: originatorSummary, responder: responderSummary)
    }

    /// ``isClosedBothWays`` from the two directions' summaries (the flow stage asks before it builds a record).
    static func isClosedBothWays(originator: TCPDirectionSummary, responder: TCPDirectionSummary) -> Bool {
        originator.rstTime != nil || responder.rstTime != nil || (originator.fin != nil && responder.fin != nil)
    }

    /// ``isQuiet`` from the two directions' summaries (the flow stage asks before it builds a record).
    static func isQuiet(originator: TCPDirectionSummary, responder: TCPDirectionSummary) -> Bool {
        originator.firstData == nil && responder.firstData == nil && originator.fin == nil && responder.fin == nil
            && originator.rstTime == nil && responder.rstTime == nil
    }

    /// ``isServerOnly`` from the parts of a record (the flow stage asks before it builds one).
    static func isServerOnly(originator: TCPDirectionSummary, responder: TCPDirectionSummary, synTime: Int64?) -> Bool {
        synTime == nil && originator.packets == 0 && responder.rstTime == nil
    }
}
