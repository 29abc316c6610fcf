import HoptraceDecode

/// What `flows --store` selects, chosen in SQL: connection and ICMP error rows only (no opened, HTTP, DNS or clock
/// row), and of those the ones a filter could keep (`--host`, `--port`, `--status`, `--slower-than`). The selection
/// is a superset: the caller still applies its exact filter to the records.
///
/// Every column it reads is of row format 1 too (the connection's state, start and end are read from ``FlowRow/event``
/// with `visitParamExtract*`, which finds a top-level key of the record's JSON).
public struct FlowSelection: Sendable, Hashable {
    /// `--host` as `flows` reads it: an address (either endpoint, or an ICMP error's sender), or a name, which no
    /// connection or ICMP error has (`flows` keeps none).
    public enum Host: Sendable, Hashable {
        /// An IP address.
        case address(IPAddress)
        /// Anything else.
        case name
    }

    /// Only records of this address.
    public var host: Host?
    /// Only records with this port on either side (an ICMP error's quoted ports).
    public var port: UInt16?
    /// Only connections in this Zeek state (`SF`, `REJ`); no ICMP error has one.
    public var connectionState: String?
    /// Only connections that lasted longer than this (ns); no ICMP error has a duration.
    public var slowerThan: Int64?

    /// A selection of every connection and ICMP error, narrowed by what is given.
    public init(host: Host? = nil, port: UInt16? = nil, connectionState: String? = nil, slowerThan: Int64? = nil) {
        self.host = host
        self.port = port
        self.connectionState = connectionState
        self.slowerThan = slowerThan
    }

    /// The SQL condition on a row (columns and ``ClickHouseStore/literal(_:)``s only).
    public var condition: String {
        var parts = ["kind IN ('connection', 'icmp')"]
        // ICMP errors have no state and no duration: `flows` drops them when either filter is given.
        if self.connectionState != nil || self.slowerThan != nil { parts.append("kind = 'connection'") }
        if let port { parts.append("(client_port = \(port) OR server_port = \(port))") }
        if let state = self.connectionState {
            parts.append("visitParamExtractString(event, 'state') = \(ClickHouseStore.literal(state))")
        }
        if let slowerThan {
            // end - start > slowerThan, where the subtraction cannot wrap (start >= 0, end >= start); the other
            // rows (times before 1970, an end before the start) are left to the filter.
            let start = "visitParamExtractInt(event, 'startTime')"
            let end = "visitParamExtractInt(event, 'endTime')"
            parts.append("(\(start) < 0 OR \(end) < \(start) OR \(end) - \(start) > \(slowerThan))")
        }
        switch self.host {
        case .address(let address):
            // The endpoints are the columns (an ICMP error's are its quoted packet's); its sender is in the JSON.
            let text = ClickHouseStore.literal(address.description)
            parts.append(
                "(client = \(text) OR server = \(text) OR "
                    + "(kind = 'icmp' AND visitParamExtractString(event, 'sender') = \(text)))"
            )
        case .name:
            parts.append("0")
        case nil:
            break
        }
        return parts.joined(separator: " AND ")
    }
}

extension ClickHouseStore {
    /// The rows of the connections and ICMP errors `selection` selects among those emitted since `since`, chosen in
    /// SQL (one query).
    public func rows(
        since: UInt64,
        selecting selection: FlowSelection
    ) throws(StoreError) -> (rows: [FlowRow], report: SelectionReport) {
        let rows = try self.rows(since: since, where: selection.condition)
        var report = SelectionReport()
        (report.queries, report.candidates, report.rows) = (1, rows.count, rows.count)
        return (rows, report)
    }
}
