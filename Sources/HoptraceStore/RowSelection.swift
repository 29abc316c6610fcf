import Foundation
import HoptraceCorrelate
import HoptraceDecode
import HoptraceFlows

/// What `trace --store` selects, chosen in SQL: the candidate rows (HTTP exchanges, connections, DNS transactions)
/// matching one selector, then every row the correlator needs to trace them as it traces files (every node's
/// sightings of those connections by their ISNs, the onward exchanges of a proxy, the clients' DNS lookups, ICMP
/// errors, the flow stage's clock). The selection is a superset: the caller still applies its exact filter to the
/// traces (SQL compares bytes, ASCII case-folded; Swift compares characters).
public struct TraceSelection: Sendable, Hashable {
    /// `--http METHOD /prefix`: the method (compared ASCII case-insensitively) and the target's prefix.
    public var method: String?
    /// The target's prefix (with ``method``).
    public var pathPrefix: String?
    /// `--request-id`: the `X-Request-ID` header.
    public var requestID: String?
    /// `--client IP` or `IP:PORT`: the client's address.
    public var clientAddress: IPAddress?
    /// The client's port (with ``clientAddress``).
    public var clientPort: UInt16?
    /// `--service IP:PORT`: a destination the request was sent to or served at.
    public var service: FlowEndpoint?

    /// A selection (nothing selected: see ``isEmpty``).
    public init(
        method: String? = nil,
        pathPrefix: String? = nil,
        requestID: String? = nil,
        clientAddress: IPAddress? = nil,
        clientPort: UInt16? = nil,
        service: FlowEndpoint? = nil
    ) {
        self.method = method
        self.pathPrefix = pathPrefix
        self.requestID = requestID
        self.clientAddress = clientAddress
        self.clientPort = clientPort
        self.service = service
    }

    /// Whether nothing is selected (the whole window is read).
    public var isEmpty: Bool { candidateCondition == nil }

    /// The SQL condition on a row that makes it a candidate: one selector, the most selective given (request id,
    /// method and path, client with port, Service, client), as each alone is a superset of the traces it keeps.
    /// Text the SQL cannot compare as Swift does (non-ASCII methods) is not put in the query (no condition: a
    /// superset).
    var candidateCondition: String? {
        let http = "kind = 'http'"
        if let requestID, !requestID.isEmpty {
            return "\(http) AND request_id = \(ClickHouseStore.literal(requestID))"
        }
        if let method, method.utf8.allSatisfy({ $0 < 0x80 }) {
            var condition = "\(http) AND upper(method) = \(ClickHouseStore.literal(method.uppercased()))"
            if let pathPrefix, !pathPrefix.isEmpty {
                condition += " AND startsWith(target, \(ClickHouseStore.literal(pathPrefix)))"
            }
            return condition
        }
        let requests = "kind IN ('opened', 'connection', 'http', 'dns')"
        if let clientAddress, let clientPort {
            return "\(requests) AND client = \(ClickHouseStore.literal(clientAddress.description)) "
                + "AND client_port = \(clientPort)"
        }
        if let service {
            return "\(requests) AND server = \(ClickHouseStore.literal(service.address.description)) "
                + "AND server_port = \(service.port)"
        }
        if let clientAddress {
            return "\(requests) AND client = \(ClickHouseStore.literal(clientAddress.description))"
        }
        return nil
    }
}

/// What a selection read: how many rows, in how many queries, and whether it fell back to the whole window.
public struct SelectionReport: Sendable, Hashable {
    /// Candidate rows (matching the selector).
    public var candidates = 0
    /// Rows read back in all (candidates, sightings, context), each once.
    public var rows = 0
    /// Queries made.
    public var queries = 0
    /// Why the whole window was read instead (nil when the selection was made in SQL).
    public var wholeWindow: String?
}

extension ClickHouseStore {
    /// The rows of `flows` emitted at or after `since` that match `condition` (SQL over the table's columns, built
    /// by this module from numbers, column names and ``literal(_:)``s), every column, at most `limit`.
    func rows(since: UInt64, where condition: String, limit: Int? = nil) throws(StoreError) -> [FlowRow] {
        let columns = FlowRow.CodingKeys.allColumns.joined(separator: ", ")
        let text = try execute(
            "SELECT \(columns) FROM \(database).flows WHERE emitted >= \(since) AND (\(condition))"
                + (limit.map { " LIMIT \($0)" } ?? "") + " FORMAT JSONEachRow",
            settings: "output_format_json_quote_64bit_integers=0"
        )
        return try decodeRows(text)
    }

    func decodeRows(_ text: String) throws(StoreError) -> [FlowRow] {
        let decoder = JSONDecoder()
        var rows: [FlowRow] = []
        for line in text.split(separator: "\n") where !line.isEmpty {
            do {
                rows.append(try decoder.decode(FlowRow.self, from: Data(line.utf8)))
            } catch {
                throw StoreError(
                    "\(client.url): a row of \(database).flows does not read (\(error)): "
                        + "was the table made by another hoptrace? run hoptrace store init on a new database"
                )
            }
        }
        return rows
    }

    /// How many rows of the window are of row format 1 (no selection columns: they cannot be selected in SQL).
    public func oldRows(since: UInt64) throws(StoreError) -> Int {
        let text = try execute("SELECT count() FROM \(database).flows WHERE emitted >= \(since) AND version < 2")
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    /// The rows `trace` needs for the requests `selection` selects among those emitted since `since`, chosen in SQL
    /// (docs/clickhouse.sql gives the queries): the candidates; every row of their connections on every node (by
    /// client ISN, or server ISN for replies caught without the client's ISN, or time for connections caught
    /// mid-stream); the exchanges of the same method and target, or request id, within a proxy's join window (an
    /// L7 proxy's onward request) and their connections; the DNS transactions of the clients in the lookup window
    /// and the other connections of a client right after its lookups (which may claim them); repeated until nothing
    /// new is found (at most `rounds` times); then the ICMP errors and the flow stage's clock around them, and, on
    /// two nodes, the connections seen on both up to then (the samples of their clock offset, as the files give it).
    ///
    /// Falls back to every row of the window (``SelectionReport/wholeWindow`` says why) when nothing is selected,
    /// when the window holds rows of format 1, or when more than `maxCandidates` rows match.
    public func rows(
        since: UInt64,
        selecting selection: TraceSelection,
        options: CorrelateOptions = .init(),
        maxCandidates: Int = 10_000,
        rounds: Int = 4
    ) throws(StoreError) -> (rows: [FlowRow], report: SelectionReport) {
        var report = SelectionReport()
        func whole(_ reason: String) throws(StoreError) -> ([FlowRow], SelectionReport) {
            report.wholeWindow = reason
            let rows = try self.rows(since: since)
            report.queries += 1
            report.rows = rows.count
            return (rows, report)
        }
        guard let condition = selection.candidateCondition else { return try whole("no selector") }
        report.queries += 1
        if try oldRows(since: since) > 0 { return try whole("rows of format 1 (written before hoptrace 0.x)") }
        report.queries += 1
        let candidates = try rows(since: since, where: condition, limit: maxCandidates + 1)
        guard candidates.count <= maxCandidates else {
            return try whole("more than \(maxCandidates) candidate rows")
        }
        report.candidates = candidates.count
        var gathered = RowGathering(options: options)
        gathered.add(candidates)
        for _ in 0..<rounds {
            let queries = gathered.nextQueries()
            if queries.isEmpty { break }
            for query in queries {
                report.queries += 1
                gathered.add(try rows(since: since, where: query))
            }
        }
        for query in gathered.contextQueries() {
            report.queries += 1
            gathered.add(try rows(since: since, where: query))
        }
        if let query = gathered.clockQuery(table: "\(database).flows", since: since) {
            report.queries += 1
            gathered.add(try rows(since: since, where: query))
        }
        report.rows = gathered.rows.count
        return (Array(gathered.rows.values), report)
    }
}

/// The rows found so far and what is left to ask for.
struct RowGathering {
    let options: CorrelateOptions
    /// Rows by identity (node, run, seq).
    var rows: [RowID: FlowRow] = [:]
    private var clientISNs = Set<UInt32>()
    private var askedClientISNs = Set<UInt32>()
    private var serverISNs = Set<UInt32>()
    private var askedServerISNs = Set<UInt32>()
    /// Server ISNs of sightings without the client's ISN (a reply caught half translated): the rest of their
    /// connection is found by the server ISN alone.
    private var replyISNs = Set<UInt32>()
    private var askedReplyISNs = Set<UInt32>()
    private var midstream: [ClosedRange<UInt64>] = []
    private var askedMidstream = 0
    private var exchanges = Set<HTTPKey>()
    private var askedExchanges = Set<HTTPKey>()
    private var requestIDs = Set<String>()
    private var askedRequestIDs = Set<String>()
    private var clients = Set<String>()
    private var askedClients = Set<String>()
    private var servers = Set<String>()
    private var askedServers = Set<String>()
    private var lookupClients = Set<String>()
    private var askedLookupClients = Set<String>()
    /// The span of the rows' times and of their emission.
    private var first = UInt64.max
    private var last = UInt64.min
    private var lastEmitted = UInt64.min
    /// The span of the DNS rows' times.
    private var firstLookup = UInt64.max
    private var lastLookup = UInt64.min

    struct RowID: Hashable {
        var node: String
        var run: UInt64
        var seq: UInt64
    }

    struct HTTPKey: Hashable {
        var method: String
        var target: String
    }

    init(options: CorrelateOptions) {
        self.options = options
    }

    /// The longest a lookup is looked back for, and a connection after one (generous: a lookup retried after
    /// timeouts spans seconds).
    static let lookupSpan: UInt64 = 30_000_000_000
    /// How far back the answers naming a server are looked for.
    static let answerSpan: UInt64 = 600_000_000_000

    mutating func add(_ new: [FlowRow]) {
        for row in new {
            let id = RowID(node: row.node, run: row.run, seq: row.seq)
            guard rows.updateValue(row, forKey: id) == nil else { continue }
            guard row.kind != FlowRow.Kind.clock.rawValue else { continue }
            first = min(first, row.time)
            last = max(last, row.time)
            lastEmitted = max(lastEmitted, row.emitted)
            switch row.kind {
            case FlowRow.Kind.dns.rawValue:
                firstLookup = min(firstLookup, row.time)
                lastLookup = max(lastLookup, row.time)
                lookupClients.insert(row.client)
                clients.insert(row.client)
            case FlowRow.Kind.icmp.rawValue:
                break
            default:
                clients.insert(row.client)
                servers.insert(row.server)
                if row.clientISN != 0 { clientISNs.insert(row.clientISN) }
                if row.serverISN != 0 { serverISNs.insert(row.serverISN) }
                if row.clientISN == 0 && row.serverISN != 0 { replyISNs.insert(row.serverISN) }
                if row.clientISN == 0 && row.serverISN == 0 { midstream.append(row.time...row.time) }
                if row.kind == FlowRow.Kind.http.rawValue {
                    if !row.method.isEmpty { exchanges.insert(HTTPKey(method: row.method, target: row.target)) }
                    if !row.requestID.isEmpty { requestIDs.insert(row.requestID) }
                }
            }
        }
    }

    /// `lower - span` (never below 0) ... `upper + span`, in SQL.
    private static func between(_ lower: UInt64, _ upper: UInt64, before: UInt64, after: UInt64) -> String {
        "time BETWEEN \(lower - min(lower, before)) AND \(upper &+ after)"
    }

    /// Lists of at most 2,000 values (a query stays well under ClickHouse's 256 KiB `max_query_size`).
    private static func chunks<T>(_ values: [T]) -> [ArraySlice<T>] {
        stride(from: 0, to: values.count, by: 2_000).map { values[$0..<min($0 + 2_000, values.count)] }
    }

    /// The queries for what was found and not asked for yet; marks it asked.
    mutating func nextQueries() -> [String] {
        var queries: [String] = []
        let records = "kind IN ('opened', 'connection', 'http', 'icmp')"
        // Every node's sightings of the connections found.
        for chunk in Self.chunks(clientISNs.subtracting(askedClientISNs).sorted()) {
            queries.append("\(records) AND client_isn IN (\(chunk.map(String.init).joined(separator: ", ")))")
        }
        for chunk in Self.chunks(serverISNs.subtracting(askedServerISNs).sorted()) {
            queries.append(
                "\(records) AND client_isn = 0 AND server_isn IN (\(chunk.map(String.init).joined(separator: ", ")))"
            )
        }
        // (Not a prefix of the primary key: read only for the rare sightings without a client ISN.)
        for chunk in Self.chunks(replyISNs.subtracting(askedReplyISNs).sorted()) {
            queries.append("\(records) AND server_isn IN (\(chunk.map(String.init).joined(separator: ", ")))")
        }
        askedClientISNs.formUnion(clientISNs)
        askedServerISNs.formUnion(serverISNs)
        askedReplyISNs.formUnion(replyISNs)
        // Connections caught mid-stream (no ISN): the others of their time (the primary key's (0, 0) prefix).
        if askedMidstream < midstream.count {
            let spans = midstream[askedMidstream...]
            let lower = spans.map(\.lowerBound).min() ?? 0
            let upper = spans.map(\.upperBound).max() ?? 0
            queries.append(
                "\(records) AND client_isn = 0 AND server_isn = 0 AND "
                    + Self.between(lower, upper, before: 1_000_000_000, after: 1_000_000_000)
            )
            askedMidstream = midstream.count
        }
        guard first <= last else { return queries }
        // An L7 proxy's onward exchange: the same method and target, or request id, within its join window.
        let join = UInt64(clamping: options.proxyJoinWindow)
        let window = Self.between(first, last, before: join, after: join)
        for chunk in Self.chunks(
            exchanges.subtracting(askedExchanges).sorted { ($0.method, $0.target) < ($1.method, $1.target) }
        ) {
            let pairs = chunk.map { "(\(ClickHouseStore.literal($0.method)), \(ClickHouseStore.literal($0.target)))" }
            queries.append("kind = 'http' AND \(window) AND (method, target) IN (\(pairs.joined(separator: ", ")))")
        }
        askedExchanges.formUnion(exchanges)
        for chunk in Self.chunks(requestIDs.subtracting(askedRequestIDs).sorted()) {
            queries.append(
                "kind = 'http' AND \(window) AND request_id IN (\(chunk.map(ClickHouseStore.literal).joined(separator: ", ")))"
            )
        }
        askedRequestIDs.formUnion(requestIDs)
        // The clients' lookups that may have led to them.
        for chunk in Self.chunks(clients.subtracting(askedClients).sorted()) {
            let span = Self.between(first, last, before: Self.lookupSpan, after: UInt64(clamping: options.lookupSettle))
            queries.append(
                "kind = 'dns' AND \(span) AND client IN (\(chunk.map(ClickHouseStore.literal).joined(separator: ", ")))"
            )
        }
        askedClients.formUnion(clients)
        // Lookups of any client whose answers name a server found (how its name is learned), in the last minutes.
        let servers = self.servers.subtracting(askedServers).sorted().filter { IPAddress($0) != nil }
        for chunk in stride(from: 0, to: servers.count, by: 200).map({ servers[$0..<min($0 + 200, servers.count)] }) {
            let span = Self.between(first, last, before: Self.answerSpan, after: 0)
            // An address in the event's JSON is a string of digits, dots, colons and hex letters: quoted, unescaped.
            let mentions = chunk.map { "position(event, \(ClickHouseStore.literal("\"" + $0 + "\""))) > 0" }
            queries.append("kind = 'dns' AND \(span) AND (\(mentions.joined(separator: " OR ")))")
        }
        askedServers.formUnion(self.servers)
        // The connections a client made right after its lookups: any of them may be the one that claims a lookup.
        if firstLookup <= lastLookup {
            for chunk in Self.chunks(lookupClients.subtracting(askedLookupClients).sorted()) {
                let span = Self.between(firstLookup, lastLookup, before: 0, after: Self.lookupSpan)
                queries.append(
                    "kind IN ('opened', 'connection', 'http') AND \(span) AND client IN "
                        + "(\(chunk.map(ClickHouseStore.literal).joined(separator: ", ")))"
                )
            }
            askedLookupClients.formUnion(lookupClients)
        }
        return queries
    }

    /// The ICMP errors around the rows (those quoting a data packet carry no ISN) and the flow stage's clock, every
    /// node's, from a minute before the first row to when the last connection would be given up
    /// (``CorrelateOptions/openGroupTimeout`` and the settling after it).
    /// How long after the last row is emitted the clock is read: until its connections would be given up
    /// (``CorrelateOptions/openGroupTimeout``) and the settling and reordering after it.
    private var horizon: UInt64 {
        UInt64(clamping: options.openGroupTimeout) &+ UInt64(clamping: options.lookupSettle)
            &+ UInt64(clamping: options.reorderWindow) &+ 5_000_000_000
    }

    func contextQueries() -> [String] {
        guard first <= last else { return [] }
        return [
            "kind = 'icmp' AND " + Self.between(first, lastEmitted, before: 60_000_000_000, after: 60_000_000_000),
            "kind = 'clock' AND " + Self.between(first, lastEmitted, before: 60_000_000_000, after: horizon),
        ]
    }

    /// The connection and HTTP rows of every connection seen on two nodes or more (by either ISN) emitted up to
    /// when the clock rows read end: the packets they share bound the nodes' clock offset, and the correlator reading
    /// the files has taken all of them when it releases the requests selected, so that its estimate and the times it
    /// corrects are the files' (docs/path-order.md, "Clock offsets"). Nothing in a window of one node.
    func clockQuery(table: String, since: UInt64) -> String? {
        guard first <= last else { return nil }
        let until = "emitted <= \(lastEmitted &+ horizon)"
        // By either ISN: a reply caught half translated has only the server's.
        let crossing = { (isn: String) in
            "\(isn) IN (SELECT \(isn) FROM \(table) WHERE emitted >= \(since) AND \(until) "
                + "AND kind IN ('opened', 'connection') AND \(isn) != 0 GROUP BY \(isn) HAVING uniqExact(node) > 1)"
        }
        return "kind IN ('connection', 'http') AND \(until) AND (\(crossing("client_isn")) OR "
            + "\(crossing("server_isn")))"
    }
}
