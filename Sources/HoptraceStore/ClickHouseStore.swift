import Foundation

/// The flow rows in ClickHouse, over its HTTP interface: the schema (docs/clickhouse.sql), inserts as
/// `JSONEachRow` bodies and selects read back as `JSONEachRow`. No SQL is built from packet text: rows travel in
/// the body; the only values placed in a query are the database name (an identifier, checked) and numbers.
public struct ClickHouseStore: Sendable {
    /// The HTTP client.
    public var client: HTTPClient
    /// The database holding the tables.
    public let database: String

    /// A store at `url` (`http://HOST:8123`) using `database`.
    public init(url: String, database: String = "hoptrace", timeout: Int = 30) throws(StoreError) {
        self.client = HTTPClient(url: try StoreURL(url), timeout: timeout)
        guard Self.isIdentifier(database) else {
            throw StoreError(
                "database '\(database.prefix(64))' is not a plain name: use letters, digits and _ (e.g. hoptrace)"
            )
        }
        self.database = database
    }

    /// Whether `name` is a plain identifier (letters, digits, `_`, not starting with a digit, at most 64 bytes).
    public static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 64,
            !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first)
        else { return false }
        return name.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
        }
    }

    /// Runs one statement; returns the answer's body.
    @discardableResult
    public func execute(_ sql: String, settings: String = "") throws(StoreError) -> String {
        let response = try client.request("POST", "/" + (settings.isEmpty ? "" : "?" + settings), body: Array(sql.utf8))
        guard response.status == 200 else { throw Self.refused(response, client.url) }
        return response.text
    }

    /// The server's version (`18.16.1`).
    public func version() throws(StoreError) -> String {
        try execute("SELECT version()").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Whether the server knows table TTLs (ClickHouse 19.6 and later).
    public static func supportsTTL(version: String) -> Bool {
        let parts = version.split(separator: ".").compactMap { Int($0) }
        guard parts.count >= 2 else { return false }
        return parts[0] > 19 || (parts[0] == 19 && parts[1] >= 6)
    }

    /// The statements creating the database and the tables (docs/clickhouse.sql): `flows` ordered for the stitching
    /// join (client ISN, server ISN, time), partitioned by day; `agent_stats`; a TTL of `retentionDays` when the
    /// server has TTLs (else old days are dropped by partition, as the document explains).
    public func schema(retentionDays: Int?, ttl: Bool) -> [String] {
        let db = database
        let flowsTTL =
            ttl ? retentionDays.map { "\nTTL toDate(intDiv(emitted, 1000000000)) + INTERVAL \($0) DAY" } ?? "" : ""
        let statsTTL =
            ttl ? retentionDays.map { "\nTTL toDate(intDiv(time, 1000000000)) + INTERVAL \($0) DAY" } ?? "" : ""
        return [
            "CREATE DATABASE IF NOT EXISTS \(db)",
            """
            CREATE TABLE IF NOT EXISTS \(db).flows
            (
                version UInt8,
                node String,
                run UInt64,
                seq UInt64,
                emitted UInt64,
                point String,
                if_index Int32,
                kind String,
                time UInt64,
                client String,
                client_port UInt16,
                server String,
                server_port UInt16,
                client_isn UInt32,
                server_isn UInt32,
                event String,
                \(Self.selectionColumns.map { "\($0.name) \($0.type)" }.joined(separator: ",\n    "))
            )
            ENGINE = MergeTree
            PARTITION BY toDate(intDiv(emitted, 1000000000))
            ORDER BY (client_isn, server_isn, time)\(flowsTTL)
            """,
            """
            CREATE TABLE IF NOT EXISTS \(db).agent_stats
            (
                time UInt64,
                node String,
                run UInt64,
                packets UInt64,
                rows_made UInt64,
                rows_sent UInt64,
                rows_dropped UInt64,
                spool_bytes UInt64,
                \(Self.statsColumns.map { "\($0.name) \($0.type)" }.joined(separator: ",\n    "))
            )
            ENGINE = MergeTree
            PARTITION BY toDate(intDiv(time, 1000000000))
            ORDER BY (node, time)\(statsTTL)
            """,
        ]
    }

    /// The columns row format 2 added to `flows` (``FlowRow``'s selection columns), with their types; a table made
    /// by an older hoptrace gets them from ``initialize(retentionDays:)`` (version-1 rows read them as the defaults).
    public static let selectionColumns: [(name: String, type: String)] = [
        ("method", "String"), ("target", "String"), ("host", "String"), ("request_id", "String"),
        ("status", "UInt16"), ("rcode", "String"), ("latency", "Int64 DEFAULT -1"),
    ]

    /// The columns `agent_stats` gained with the periodic rows (``AgentStats``); rows of older agents read them as
    /// the defaults (`periodic` 0: their one row was the run's end).
    public static let statsColumns: [(name: String, type: String)] = [
        ("periodic", "UInt8 DEFAULT 0"), ("capture_time", "UInt64"), ("kernel_drops", "UInt64"),
        ("queue_rows", "UInt64"),
    ]

    /// Creates the database and tables when missing, and adds the columns of ``selectionColumns`` and
    /// ``statsColumns`` to tables made before them (ClickHouse 18.16 has no `ADD COLUMN IF NOT EXISTS`: the tables'
    /// columns are read first); returns the server's version and whether a TTL was set.
    @discardableResult
    public func initialize(retentionDays: Int? = 7) throws(StoreError) -> (version: String, ttl: Bool) {
        let version = try self.version()
        let ttl = Self.supportsTTL(version: version) && retentionDays != nil
        for statement in schema(retentionDays: retentionDays, ttl: ttl) { try execute(statement) }
        for statement in try missingColumnStatements() { try execute(statement) }
        return (version, ttl)
    }

    /// The `ALTER TABLE ... ADD COLUMN` statements the existing `flows` and `agent_stats` tables still need (none
    /// for tables made by this hoptrace).
    public func missingColumnStatements() throws(StoreError) -> [String] {
        let text = try execute(
            "SELECT table, name FROM system.columns WHERE database = \(Self.literal(database)) "
                + "AND table IN ('flows', 'agent_stats') FORMAT TSV"
        )
        var present: [String: Set<String>] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: "\t", maxSplits: 1).map(String.init)
            if fields.count == 2 { present[fields[0], default: []].insert(fields[1]) }
        }
        var statements: [String] = []
        for (table, columns) in [("flows", Self.selectionColumns), ("agent_stats", Self.statsColumns)] {
            guard let have = present[table] else { continue }
            for column in columns where !have.contains(column.name) {
                statements.append("ALTER TABLE \(database).\(table) ADD COLUMN \(column.name) \(column.type)")
            }
        }
        return statements
    }

    /// Inserts rows (one `JSONEachRow` body).
    public func insert(_ rows: [FlowRow]) throws(StoreError) {
        guard !rows.isEmpty else { return }
        var body: [UInt8] = []
        body.reserveCapacity(rows.count * 600)
        for row in rows { row.appendJSONLine(to: &body) }
        try insert(body: body, table: "flows")
    }

    /// Inserts agent counters into `agent_stats` (a table not yet given the newer columns by `store init` takes the
    /// ones it has).
    public func insert(stats: [AgentStats]) throws(StoreError) {
        guard !stats.isEmpty else { return }
        try insert(
            body: stats.flatMap(\.jsonLine),
            table: "agent_stats",
            settings: "input_format_skip_unknown_fields=1"
        )
    }

    /// Inserts a body of `JSONEachRow` lines into `table` (`flows` or `agent_stats`), with `settings`
    /// (`name=value&...`) when given.
    public func insert(body: [UInt8], table: String, settings: String = "") throws(StoreError) {
        guard Self.isIdentifier(table) else { throw StoreError("table '\(table.prefix(64))' is not a plain name") }
        let query = HTTPClient.encode("INSERT INTO \(database).\(table) FORMAT JSONEachRow")
        let response = try client.request(
            "POST",
            "/?query=" + query + (settings.isEmpty ? "" : "&" + settings),
            body: body
        )
        guard response.status == 200 else { throw Self.refused(response, client.url) }
    }

    /// The rows emitted at or after `since` (ns since the epoch), every node's.
    public func rows(since: UInt64) throws(StoreError) -> [FlowRow] {
        try rows(since: since, where: "1")
    }

    /// How many rows `flows` holds (optionally of one node).
    public func count(node: String? = nil) throws(StoreError) -> Int {
        // The node goes in as a literal: escaped, never pasted raw.
        let filter = node.map { " WHERE node = \(Self.literal($0))" } ?? ""
        let text = try execute("SELECT count() FROM \(database).flows\(filter)")
        guard let count = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw StoreError("\(client.url): count() answered '\(text.prefix(80))'")
        }
        return count
    }

    /// `text` as a ClickHouse string literal, quotes included: the one way text goes into a query (ClickHouse 18.16
    /// has no query parameters). See ``quoted(_:)``.
    public static func literal(_ text: String) -> String { "'" + quoted(text) + "'" }

    /// `text` escaped for a single-quoted ClickHouse string literal: `\` and `'` escaped, and the control characters
    /// that would end or bend a line (`\n`, `\r`, `\t`, NUL) written as escapes; the rest (UTF-8, other control bytes)
    /// as it is, which a quoted literal holds verbatim.
    public static func quoted(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "'": out += "\\'"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\0": out += "\\0"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func refused(_ response: HTTPClient.Response, _ url: StoreURL) -> StoreError {
        let first = response.text.split(separator: "\n").first.map(String.init) ?? ""
        let hint =
            first.contains("doesn't exist") || first.contains("does not exist")
            ? ": run hoptrace store init --store \(url) first"
            : first.contains("Missing columns") || first.contains("Unknown identifier")
                ? ": the table predates this hoptrace; run hoptrace store init --store \(url) to add its columns"
                : ""
        return StoreError("\(url) refused the request (HTTP \(response.status)): \(first.prefix(300))\(hint)")
    }
}

extension FlowRow.CodingKeys {
    /// The table's columns, in order.
    static var allColumns: [String] {
        [
            .version, .node, .run, .seq, .emitted, .point, .ifIndex, .kind, .time, .client, .clientPort, .server,
            .serverPort, .clientISN, .serverISN, .event, .method, .target, .host, .requestID, .status, .rcode, .latency,
        ].map { (key: FlowRow.CodingKeys) in key.stringValue }
    }
}
