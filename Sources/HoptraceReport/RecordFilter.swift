import HoptraceDecode
import HoptraceFlows

/// The record filters of `flows` and `requests`: `--host`, `--port`, `--status`, `--slower-than`. A record passes
/// when it passes every filter that is set; nothing is built for a filter that is not.
public struct RecordFilter: Sendable {
    /// An IP address (either endpoint, or a DNS answer), or a name (an HTTP Host, a DNS name, or a suffix or prefix
    /// of one at a dot: `web` matches `web.default.svc.cluster.local`).
    public var host: String?
    /// A port on either side.
    public var port: UInt16?
    /// A status (see ``Status``).
    public var status: Status?
    /// Only records that took longer than this (connection duration, DNS or HTTP latency), in nanoseconds.
    public var slowerThan: Int64?

    /// The address `host` names, if it is one (parsed once, not per record).
    private let hostAddress: IPAddress?

    /// A filter.
    public init(host: String? = nil, port: UInt16? = nil, status: Status? = nil, slowerThan: Int64? = nil) {
        self.host = host
        self.port = port
        self.status = status
        self.slowerThan = slowerThan
        self.hostAddress = host.flatMap { IPAddress($0) }
    }

    /// What `--status` accepts.
    public enum Status: Hashable, Sendable {
        /// An HTTP status: `404`.
        case http(Int)
        /// An HTTP status class: `5xx` (the hundreds digit).
        case httpClass(Int)
        /// A DNS rcode: `NXDOMAIN`, `SERVFAIL`, `NOERROR`, `REFUSED`, `FORMERR`, `NOTIMP`, `RCODE9`.
        case rcode(String)
        /// A Zeek connection state: `REJ`, `S0`, `SF`, `RSTO`...
        case connectionState(String)

        /// The DNS rcode names accepted.
        public static let rcodes = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"]
        /// The connection states accepted (Zeek's conn_state).
        public static let connectionStates = [
            "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH",
        ]

        /// A request status (`requests --status`): an HTTP status (100-599), a class (`1xx`-`5xx`) or a DNS rcode;
        /// nil when `text` is none of those.
        public static func request(_ text: String) -> Status? {
            let upper = text.uppercased()
            if upper.count == 3, let code = Int(upper), (100...599).contains(code) { return .http(code) }
            if upper.count == 3, upper.hasSuffix("XX"), let digit = Int(upper.prefix(1)), (1...5).contains(digit) {
                return .httpClass(digit)
            }
            if Self.rcodes.contains(upper) { return .rcode(upper) }
            if upper.hasPrefix("RCODE"), let value = UInt8(upper.dropFirst(5)), value < 16 { return .rcode(upper) }
            return nil
        }

        /// A connection status (`flows --status`): a Zeek conn_state; nil otherwise.
        public static func connection(_ text: String) -> Status? {
            let upper = text.uppercased()
            return Self.connectionStates.contains(upper) ? .connectionState(upper) : nil
        }
    }

    /// Whether a `flows` record passes. ICMP errors are kept unless `--status` or `--slower-than` is given (they
    /// have neither); `--host` and `--port` look at the sender and the quoted packet.
    public func matches(_ record: FlowRecord) -> Bool {
        switch record {
        case .connection(let connection):
            guard self.portMatches(connection.originator.port, connection.responder.port) else { return false }
            if let slowerThan, connection.duration <= slowerThan { return false }
            if let status {
                guard case .connectionState(let wanted) = status, connection.state.rawValue == wanted else {
                    return false
                }
            }
            return self.host == nil
                || self.hostMatches([connection.originator.address, connection.responder.address], names: [])
        case .icmpError(let icmp):
            guard self.status == nil, self.slowerThan == nil else { return false }
            guard self.portMatches(icmp.quotedSource.port, icmp.quotedDestination.port) else { return false }
            return self.host == nil
                || self.hostMatches(
                    [icmp.sender, icmp.quotedSource.address, icmp.quotedDestination.address],
                    names: []
                )
        }
    }

    /// Whether a `requests` record passes: `--host` also tries DNS answers and names, HTTP Host; `--status` the
    /// rcode or HTTP status; `--slower-than` the latency (a record without one does not pass).
    public func matches(_ record: RequestRecord) -> Bool {
        switch record {
        case .dns(let transaction):
            guard self.portMatches(transaction.client.port, transaction.server.port) else { return false }
            if let slowerThan {
                guard let latency = transaction.latency, latency > slowerThan else { return false }
            }
            if let status {
                guard case .rcode(let wanted) = status, transaction.rcode?.description == wanted else { return false }
            }
            guard self.host != nil else { return true }
            var addresses = [transaction.client.address, transaction.server.address]
            for answer in transaction.answers {
                if case .address(let address) = answer.data { addresses.append(address) }
            }
            return self.hostMatches(addresses, names: [transaction.question?.name])
        case .http(let exchange):
            guard self.portMatches(exchange.client.port, exchange.server.port) else { return false }
            if let slowerThan {
                guard let latency = exchange.latency, latency > slowerThan else { return false }
            }
            if let status {
                guard let code = exchange.response?.status else { return false }
                switch status {
                case .http(let wanted): if code != wanted { return false }
                case .httpClass(let digit): if code / 100 != digit || code < 100 || code > 999 { return false }
                default: return false
                }
            }
            guard self.host != nil else { return true }
            return self.hostMatches(
                [exchange.client.address, exchange.server.address],
                names: [exchange.request?.host]
            )
        }
    }

    private func portMatches(_ first: UInt16, _ second: UInt16) -> Bool {
        guard let port else { return true }
        return first == port || second == port
    }

    /// Whether `host` is one of the addresses or names (a name's `:port` ignored; case-insensitive).
    private func hostMatches(_ addresses: [IPAddress], names: [String?]) -> Bool {
        guard let wanted = self.host else { return true }
        if let hostAddress { return addresses.contains(hostAddress) }
        let lowered = wanted.lowercased()
        for case let name? in names {
            var name = name.lowercased()
            if let colon = name.lastIndex(of: ":"), !name.contains("]") { name = String(name[..<colon]) }
            if name == lowered || name.hasSuffix("." + lowered) || name.hasPrefix(lowered + ".") { return true }
        }
        return false
    }
}
