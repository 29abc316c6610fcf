import Foundation
import HoptraceDecode
import HoptraceFlows

/// One flow record as one row of the store (ClickHouse's `flows` table, docs/clickhouse.sql): key columns to select
/// and join on, and the whole record as JSON (``event``), read back into an equal ``FlowEvent``.
///
/// Rows of one agent run are ordered by ``seq``; rows of several runs (nodes) by ``emitted`` first, the capture time
/// the agent had reached when its flow stage emitted the record, as the flow stage reading the nodes' files together
/// would have emitted them (``StoredFlows``).
public struct FlowRow: Codable, Hashable, Sendable {
    /// The row format this code writes (``version``): 2 added the selection columns (``method`` to ``latency``).
    public static let currentVersion: UInt8 = 2
    /// The row formats this code reads: 1 (no selection columns: they read as empty) and 2.
    public static let readableVersions: ClosedRange<UInt8> = 1...2

    /// The row format's version: a reader refuses rows of a version it does not know.
    public var version: UInt8
    /// The node the record was captured on ("" when unknown).
    public var node: String
    /// The agent run that wrote it (its start time, ns since the epoch): record ids are unique within a run.
    public var run: UInt64
    /// The record's position in its run's output, from 0.
    public var seq: UInt64
    /// The capture time the run had reached when the record was emitted, ns since the epoch.
    public var emitted: UInt64
    /// The capture point's interface name (`eth0`, `if7`).
    public var point: String
    /// The capture point's SLL2 interface index, -1 when it stands for a named interface.
    public var ifIndex: Int32
    /// `opened`, `connection`, `http`, `dns`, `icmp` or `clock` (``Kind``).
    public var kind: String
    /// The record's time, ns since the epoch: a connection's first packet, an exchange's first request byte (else
    /// its first response byte), a DNS query (else its response), an ICMP error's arrival.
    public var time: UInt64
    /// The client's address (TCP originator, DNS querier, the quoted packet's source for ICMP).
    public var client: String
    /// The client's port.
    public var clientPort: UInt16
    /// The server's address.
    public var server: String
    /// The server's port.
    public var serverPort: UInt16
    /// The client's ISN (for ICMP, the quoted sequence number), 0 when unknown: the stitching key across nodes.
    public var clientISN: UInt32
    /// The server's ISN, 0 when unknown.
    public var serverISN: UInt32
    /// The record, as JSON (its type's `Codable` form, chosen by ``kind``; written by hand, read by `JSONDecoder`).
    public var event: String
    /// Selection columns (version 2; empty, 0 or -1 in a version-1 row and where they do not apply), copied from the
    /// record so that a query can select on them without reading ``event``.
    ///
    /// The HTTP request's method ("" for other kinds, or no request seen).
    public var method: String
    /// The HTTP request's target (path and query).
    public var target: String
    /// The HTTP request's `Host` header, or the DNS question's name.
    public var host: String
    /// The HTTP request's `X-Request-ID` header.
    public var requestID: String
    /// The HTTP response's status, 0 when none.
    public var status: UInt16
    /// The DNS response's rcode (`NOERROR`, `NXDOMAIN`), "" when none.
    public var rcode: String
    /// The exchange's or transaction's latency (the record's `latency`), ns; -1 when not measured.
    public var latency: Int64

    enum CodingKeys: String, CodingKey {
        case version, node, run, seq, emitted, point
        case ifIndex = "if_index"
        case kind, time, client
        case clientPort = "client_port"
        case server
        case serverPort = "server_port"
        case clientISN = "client_isn"
        case serverISN = "server_isn"
        case event
        case method, target, host
        case requestID = "request_id"
        case status, rcode, latency
    }

    /// Reads a row; the selection columns may be absent (a version-1 line, from an older agent's spool).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.version = try c.decode(UInt8.self, forKey: .version)
        self.node = try c.decode(String.self, forKey: .node)
        self.run = try c.decode(UInt64.self, forKey: .run)
        self.seq = try c.decode(UInt64.self, forKey: .seq)
        self.emitted = try c.decode(UInt64.self, forKey: .emitted)
        self.point = try c.decode(String.self, forKey: .point)
        self.ifIndex = try c.decode(Int32.self, forKey: .ifIndex)
        self.kind = try c.decode(String.self, forKey: .kind)
        self.time = try c.decode(UInt64.self, forKey: .time)
        self.client = try c.decode(String.self, forKey: .client)
        self.clientPort = try c.decode(UInt16.self, forKey: .clientPort)
        self.server = try c.decode(String.self, forKey: .server)
        self.serverPort = try c.decode(UInt16.self, forKey: .serverPort)
        self.clientISN = try c.decode(UInt32.self, forKey: .clientISN)
        self.serverISN = try c.decode(UInt32.self, forKey: .serverISN)
        self.event = try c.decode(String.self, forKey: .event)
        self.method = try c.decodeIfPresent(String.self, forKey: .method) ?? ""
        self.target = try c.decodeIfPresent(String.self, forKey: .target) ?? ""
        self.host = try c.decodeIfPresent(String.self, forKey: .host) ?? ""
        self.requestID = try c.decodeIfPresent(String.self, forKey: .requestID) ?? ""
        self.status = try c.decodeIfPresent(UInt16.self, forKey: .status) ?? 0
        self.rcode = try c.decodeIfPresent(String.self, forKey: .rcode) ?? ""
        self.latency = try c.decodeIfPresent(Int64.self, forKey: .latency) ?? -1
    }

    /// The record kinds a row holds (the correlator's input; segments are not stored).
    public enum Kind: String, CaseIterable, Sendable {
        /// The flow stage's clock: the capture time it reached (``time``), at most once per second of capture time,
        /// as the correlator is told it reading files; ``event`` is empty.
        case clock
        /// ``FlowEvent/opened(_:)``.
        case opened
        /// ``FlowEvent/connection(_:)``.
        case connection
        /// ``FlowEvent/http(_:)``.
        case http
        /// ``FlowEvent/dns(_:)``.
        case dns
        /// ``FlowEvent/icmpError(_:)``.
        case icmp
    }

    /// Why a row could not be read back.
    public struct Malformed: Error, CustomStringConvertible {
        /// What was wrong.
        public var description: String
    }

    /// The row of `event`, captured at `point`, or nil for a record the correlator does not read (segments).
    ///
    /// - Parameters:
    ///   - event: the flow record (its capture point id is not stored: `point` is).
    ///   - point: its capture point; its node, else `node`, names the row's node.
    ///   - node: the agent's node, for points without one.
    ///   - run: the agent run.
    ///   - seq: the record's position in the run.
    ///   - emitted: the capture time reached when it was emitted.
    public init?(
        _ event: FlowEvent,
        point: CapturePoint,
        node: String = "",
        run: UInt64 = 0,
        seq: UInt64,
        emitted: Int64
    ) {
        let kind: Kind
        let time: Int64
        let client: FlowEndpoint
        let server: FlowEndpoint
        var clientISN: UInt32?
        var serverISN: UInt32?
        (self.method, self.target, self.host, self.requestID, self.status, self.rcode, self.latency) =
            ("", "", "", "", 0, "", -1)
        switch event {
        case .opened(let record), .connection(let record):
            kind = event.isOpened ? .opened : .connection
            (time, client, server) = (record.startTime, record.originator, record.responder)
            (clientISN, serverISN) = (record.originatorISN, record.responderISN)
        case .http(let exchange):
            kind = .http
            time = (exchange.requestFirstByte ?? exchange.responseFirstByte)?.time ?? 0
            (client, server) = (exchange.client, exchange.server)
            (clientISN, serverISN) = (exchange.clientISN, exchange.serverISN)
            if let request = exchange.request {
                (self.method, self.target) = (request.method, request.target)
                (self.host, self.requestID) = (request.host ?? "", request.requestID ?? "")
            }
            self.status = UInt16(clamping: exchange.response?.status ?? 0)
            self.latency = exchange.latency ?? -1
        case .dns(let transaction):
            kind = .dns
            time = transaction.queryTime ?? transaction.responseTime ?? 0
            (client, server) = (transaction.client, transaction.server)
            self.host = transaction.question?.name ?? ""
            self.rcode = transaction.rcode?.description ?? ""
            self.latency = transaction.latency ?? -1
        case .icmpError(let error):
            kind = .icmp
            time = error.time
            (client, server) = (error.quotedSource, error.quotedDestination)
            clientISN = error.quotedTCPSequence
        case .segment:
            return nil
        }
        self.version = Self.currentVersion
        self.node = point.node ?? node
        self.run = run
        self.seq = seq
        self.emitted = UInt64(clamping: emitted)
        self.point = point.name
        self.ifIndex = point.ifIndex
        self.kind = kind.rawValue
        self.time = UInt64(clamping: time)
        self.client = client.address.description
        self.clientPort = client.port
        self.server = server.address.description
        self.serverPort = server.port
        self.clientISN = clientISN ?? 0
        self.serverISN = serverISN ?? 0
        var writer = JSONWriter(capacity: 1024)
        _ = event.writeCodableJSON(to: &writer)
        self.event = writer.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// The clock row of a run that reached capture time `time`.
    public init(clock time: Int64, node: String, run: UInt64, seq: UInt64) {
        self.version = Self.currentVersion
        self.node = node
        self.run = run
        self.seq = seq
        self.emitted = UInt64(clamping: time)
        self.point = ""
        self.ifIndex = -1
        self.kind = Kind.clock.rawValue
        self.time = self.emitted
        self.client = ""
        self.clientPort = 0
        self.server = ""
        self.serverPort = 0
        self.clientISN = 0
        self.serverISN = 0
        self.event = ""
        (self.method, self.target, self.host, self.requestID, self.status, self.rcode, self.latency) =
            ("", "", "", "", 0, "", -1)
    }

    /// Appends the row as one `JSONEachRow` line (the object ``JSONDecoder`` reads back, and a newline), written
    /// directly by ``JSONWriter``: the agent writes one per record, and the event is already JSON text.
    public func appendJSONLine(to bytes: inout [UInt8]) {
        var writer = JSONWriter(capacity: 1024)
        writer.beginObject()
        writer.member("version", self.version)
        writer.member("node", self.node)
        writer.member("run", self.run)
        writer.member("seq", self.seq)
        writer.member("emitted", self.emitted)
        writer.member("point", self.point)
        writer.member("if_index", self.ifIndex)
        writer.member("kind", self.kind)
        writer.member("time", self.time)
        writer.member("client", self.client)
        writer.member("client_port", self.clientPort)
        writer.member("server", self.server)
        writer.member("server_port", self.serverPort)
        writer.member("client_isn", self.clientISN)
        writer.member("server_isn", self.serverISN)
        writer.member("event", self.event)
        writer.member("method", self.method)
        writer.member("target", self.target)
        writer.member("host", self.host)
        writer.member("request_id", self.requestID)
        writer.member("status", self.status)
        writer.member("rcode", self.rcode)
        writer.member("latency", self.latency)
        writer.endObject()
        writer.finish(appendingTo: &bytes)
        bytes.append(UInt8(ascii: "\n"))
    }

    /// The capture point the row was captured at (its node nil when the row has none).
    public var capturePoint: CapturePoint {
        CapturePoint(name: self.point, ifIndex: self.ifIndex, node: self.node.isEmpty ? nil : self.node)
    }

    /// The record, with `capturePoint` as its capture point id; nil for a clock row.
    public func flowEvent(capturePoint id: Int) throws(Malformed) -> FlowEvent? {
        guard Self.readableVersions.contains(self.version) else {
            throw Malformed(
                description: "row format version \(self.version), this hoptrace reads \(Self.readableVersions): "
                    + "use the hoptrace that wrote it, or write the rows again"
            )
        }
        guard let kind = Kind(rawValue: self.kind) else {
            throw Malformed(description: "unknown row kind '\(self.kind.prefix(32))'")
        }
        let decoder = JSONDecoder()
        let data = Data(self.event.utf8)
        do {
            switch kind {
            case .clock:
                return nil
            case .opened, .connection:
                var record = try decoder.decode(ConnectionRecord.self, from: data)
                record.capturePoint = id
                return kind == .opened ? .opened(record) : .connection(record)
            case .http:
                var exchange = try decoder.decode(HTTPExchange.self, from: data)
                exchange.capturePoint = id
                return .http(exchange)
            case .dns:
                var transaction = try decoder.decode(DNSTransaction.self, from: data)
                transaction.capturePoint = id
                return .dns(transaction)
            case .icmp:
                var error = try decoder.decode(ICMPErrorEvent.self, from: data)
                error.capturePoint = id
                return .icmpError(error)
            }
        } catch {
            throw Malformed(description: "a \(kind.rawValue) row's event does not decode: \(error)")
        }
    }
}

extension FlowEvent {
    fileprivate var isOpened: Bool {
        if case .opened = self { return true }
        return false
    }
}
