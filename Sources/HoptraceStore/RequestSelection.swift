import HoptraceDecode

/// What `requests --store` selects, chosen in SQL on the rows' selection columns: HTTP exchanges and DNS
/// transactions only (no connection, ICMP or clock row), and of those the ones a filter could keep (`--host`,
/// `--port`, `--status`, `--slower-than`). The selection is a superset: the caller still applies its exact filter to
/// the records (SQL compares bytes, ASCII case-folded; Swift compares characters).
public struct RequestSelection: Sendable, Hashable {
    /// `--host`: an address (the client or server, or a DNS answer) or a name (HTTP Host, DNS question).
    public enum Host: Sendable, Hashable {
        /// An IP address.
        case address(IPAddress)
        /// A name (compared case-insensitively, as a part of the record's name).
        case name(String)
    }

    /// `--status`.
    public enum Status: Sendable, Hashable {
        /// An HTTP status (404).
        case http(Int)
        /// An HTTP status class by its first digit (5 for 5xx).
        case httpClass(Int)
        /// A DNS rcode (NXDOMAIN).
        case rcode(String)
    }

    /// Only records of this address or name.
    public var host: Host?
    /// Only records with this port on either side.
    public var port: UInt16?
    /// Only records of this status.
    public var status: Status?
    /// Only records slower than this (ns).
    public var slowerThan: Int64?

    /// A selection of every request (HTTP exchanges and DNS transactions), narrowed by what is given.
    public init(host: Host? = nil, port: UInt16? = nil, status: Status? = nil, slowerThan: Int64? = nil) {
        self.host = host
        self.port = port
        self.status = status
        self.slowerThan = slowerThan
    }

    /// The SQL condition on a row (columns and ``ClickHouseStore/literal(_:)``s only).
    public var condition: String {
        var parts = ["kind IN ('http', 'dns')"]
        if let port { parts.append("(client_port = \(port) OR server_port = \(port))") }
        switch status {
        // The column holds the status clamped to 16 bits: a larger one is not compared (a superset).
        case .http(let code) where (0..<65_535).contains(code):
            parts.append("kind = 'http' AND status = \(code)")
        case .httpClass(let digit) where (1...9).contains(digit):
            parts.append("kind = 'http' AND status BETWEEN \(digit * 100) AND \(digit * 100 + 99)")
        case .rcode(let rcode):
            parts.append("kind = 'dns' AND rcode = \(ClickHouseStore.literal(rcode))")
        default:
            break
        }
        // A latency not measured is -1 in the column and never passes.
        if let slowerThan, slowerThan >= 0 { parts.append("latency > \(slowerThan)") }
        switch host {
        case .address(let address):
            // A DNS answer naming the address is in the record's JSON, as a quoted string.
            let text = address.description
            parts.append(
                "(client = \(ClickHouseStore.literal(text)) OR server = \(ClickHouseStore.literal(text)) OR "
                    + "(kind = 'dns' AND position(event, \(ClickHouseStore.literal("\"" + text + "\""))) > 0))"
            )
        case .name(let name) where name.utf8.allSatisfy({ $0 < 0x80 }):
            // The filter matches a name equal to it, ending with `.name` or starting with `name.` (its `:port`
            // ignored), after Unicode case folding: every such ASCII name contains it, ASCII-folded; a name with
            // other characters is read and judged by the filter.
            parts.append(
                "(position(lower(host), \(ClickHouseStore.literal(name.lowercased()))) > 0 "
                    + "OR lengthUTF8(host) != length(host))"
            )
        default:
            break
        }
        return parts.joined(separator: " AND ")
    }
}

extension ClickHouseStore {
    /// The rows of the requests `selection` selects among those emitted since `since`, chosen in SQL; every row of
    /// the window when it holds rows of format 1 (``SelectionReport/wholeWindow`` says so).
    public func rows(
        since: UInt64,
        selecting selection: RequestSelection
    ) throws(StoreError) -> (rows: [FlowRow], report: SelectionReport) {
        var report = SelectionReport()
        report.queries = 2
        let rows: [FlowRow]
        if try oldRows(since: since) > 0 {
            report.wholeWindow = "rows of format 1 (written before hoptrace 0.x)"
            rows = try self.rows(since: since)
        } else {
            rows = try self.rows(since: since, where: selection.condition)
            report.candidates = rows.count
        }
        report.rows = rows.count
        return (rows, report)
    }
}
