import HoptraceCapture
import HoptraceCorrelate
import HoptraceDecode
import HoptraceFlows
import HoptraceKube

/// `hoptrace trace`'s terminal output: the verdict in one sentence, then a waterfall of phases, the lookup, the hops
/// and the findings.
public struct TextReport: Sendable {
    /// Whether to use ANSI colours (only on a terminal).
    public var color: Bool
    /// Width of the waterfall's bar area in columns.
    public var barWidth: Int
    /// The terminal's width: hop rows longer than this put their addresses on a line of their own. Nil: no limit.
    public var width: Int?

    /// A report writer.
    public init(color: Bool = false, barWidth: Int = 40, width: Int? = nil) {
        self.color = color
        self.barWidth = barWidth
        self.width = width
    }

    /// Packet-derived text made safe for a terminal: control characters (an ESC would start a terminal escape
    /// sequence), DEL and C1 controls become `\xNN`, and the length is bounded.
    public static func safe(_ text: String, limit: Int = 200) -> String {
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count >= limit {
                out += "…"
                break
            }
            if scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value)
                || scalar.value == 0x2028 || scalar.value == 0x2029
            {
                out += "\\x" + Self.hex(scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
            count += 1
        }
        return out
    }

    static func hex(_ value: UInt32) -> String {
        let text = String(value, radix: 16, uppercase: false)
        return text.count >= 2 ? text : "0" + text
    }

    private func paint(_ text: String, _ code: String) -> String {
        color ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    private func verdictColor(_ kind: VerdictKind) -> String {
        switch kind {
        case .ok: return "32"
        case .slow, .incomplete: return "33"
        default: return "31"
        }
    }

    static func column(_ text: String, _ width: Int) -> String {
        let count = characters(text)
        return count >= width ? text : text + spaces(width - count)
    }

    static func rightColumn(_ text: String, _ width: Int) -> String {
        let count = characters(text)
        return count >= width ? text : spaces(width - count) + text
    }

    /// Runs of spaces and of full blocks, made once: every column of every trace is padded with one.
    private static let spaceRuns = (0...160).map { String(repeating: " ", count: $0) }
    private static let blockRuns = (0...160).map { String(repeating: "█", count: $0) }

    /// `count` spaces (none for a negative count).
    static func spaces(_ count: Int) -> String { run(spaceRuns, " ", count) }

    /// `count` full blocks (none for a negative count).
    static func blocks(_ count: Int) -> String { run(blockRuns, "█", count) }

    private static func run(_ runs: [String], _ unit: String, _ count: Int) -> String {
        count < runs.count ? runs[max(0, count)] : String(repeating: unit, count: count)
    }

    /// The characters in `text`: its bytes when they are all ASCII (most columns), without breaking it into
    /// grapheme clusters.
    static func characters(_ text: String) -> Int {
        let bytes = text.utf8
        return bytes.allSatisfy { $0 < 0x80 } ? bytes.count : text.count
    }

    /// One line naming the request: method and path, or the connection or lookup.
    public static func title(_ trace: RequestTrace) -> String {
        if let request = trace.request {
            return "\(safe(request.method, limit: 16)) \(safe(request.path, limit: 80))"
        }
        if trace.kind == .dns, let dns = trace.dns { return "DNS \(safe(dns.name, limit: 80))" }
        return "TCP \(trace.service.map(\.description) ?? "?")"
    }

    /// The whole report of one request.
    public func render(_ trace: RequestTrace) -> String {
        var lines: [String] = []
        var title = "request #\(trace.index)  " + Self.title(trace)
        if let request = trace.request {
            if let host = request.host { title += "  host \(Self.safe(host))" }
            if let status = request.status { title += "  status \(status)" }
            if let id = request.requestID { title += "  x-request-id \(Self.safe(id))" }
        } else if trace.kind == .connection, let dns = trace.dns {
            title += " (\(Self.safe(dns.name)))"
        }
        lines.append(paint(title, "1") + "  [\(trace.mode.rawValue)]")
        let verdictText = "\(trace.verdict.kind.rawValue): \(Self.safe(trace.verdict.sentence, limit: 600))"
        lines.append(paint(verdictText, verdictColor(trace.verdict.kind)))
        var path: [String] = []
        if let client = trace.client { path.append(Self.role(client, "client", in: trace)) }
        if let service = trace.service, service != trace.server {
            path.append(Self.role(service, Self.serviceWord(trace.mode), in: trace))
        }
        if let server = trace.server { path.append(Self.role(server, "server", in: trace)) }
        if !path.isEmpty { lines.append("  " + path.joined(separator: " → ")) }
        for offset in trace.clockOffsets {
            lines.append(
                "  clock of \(Self.safe(offset.node)): \(Self.signed(-offset.offset)) ± "
                    + "\(TimeFormat.duration(offset.uncertainty)) against \(Self.safe(offset.reference)) "
                    + "(\(offset.samples) packet pair\(offset.samples == 1 ? "" : "s"))"
            )
        }

        lines.append("")
        lines.append(contentsOf: waterfall(trace.timings))

        if let dns = trace.dns {
            lines.append("")
            let answer =
                dns.answer.map { address in
                    " → \(address)" + (trace.name(ofAddress: address).map { " (\(Self.safe($0.description)))" } ?? "")
                } ?? ""
            lines.append(
                "  dns \(Self.safe(dns.name)): \(dns.outcome.rawValue)\(answer), \(dns.queries.count) "
                    + "quer\(dns.queries.count == 1 ? "y" : "ies"), \(TimeFormat.duration(dns.duration))"
            )
            for query in dns.queries.prefix(40) {
                let answers =
                    query.addresses.isEmpty ? "" : " " + query.addresses.map(\.description).joined(separator: ",")
                let took = query.duration.map { TimeFormat.duration($0) } ?? "no answer"
                let repeats = query.sent > 1 ? " (sent \(query.sent)×)" : ""
                lines.append(
                    "    \(Self.column(query.type.description, 5)) \(Self.safe(query.name)) → "
                        + "\(query.rcode?.description ?? "-")\(answers)  \(took)\(repeats)"
                )
            }
            if dns.queries.count > 40 { lines.append("    … \(dns.queries.count - 40) more") }
        }
        if !trace.hops.isEmpty {
            lines.append("")
            lines.append(contentsOf: hopTable(trace.hops))
            let legend = Self.legend(trace)
            if !legend.isEmpty {
                lines.append("")
                lines.append("  names")
                lines.append(contentsOf: legend.map { "   " + $0 })
            }
        }
        if !trace.findings.isEmpty {
            lines.append("")
            lines.append("  findings")
            for finding in trace.findings {
                lines.append("   - \(finding.kind.rawValue): \(Self.safe(finding.detail, limit: 600))")
            }
        }
        return lines.joined(separator: "\n")
    }

    static func signed(_ ns: Int64) -> String {
        (ns < 0 ? "−" : "+") + TimeFormat.duration(ns == .min ? .max : abs(ns))
    }

    static func serviceWord(_ mode: TraceMode) -> String {
        switch mode {
        case .clusterip: return "service"
        case .nodeport: return "node port"
        case .ingress: return "ingress"
        case .direct: return "destination"
        }
    }

    /// `10.244.0.10:39704 (client, pod default/client)`.
    static func role(_ endpoint: FlowEndpoint, _ word: String, in trace: RequestTrace) -> String {
        guard let name = trace.name(of: endpoint).map({ safe($0.description, limit: 120) }) else {
            return "\(endpoint) (\(word))"
        }
        return "\(endpoint) (\(name.hasPrefix(word + " ") ? name : word + ", " + name))"
    }

    /// An endpoint with its name, when the trace has one: `10.244.0.12:8080 (pod default/web-k2x7p)`.
    public static func named(_ endpoint: FlowEndpoint, in trace: RequestTrace?) -> String {
        guard let name = trace?.name(of: endpoint) else { return endpoint.description }
        return "\(endpoint) (\(safe(name.description, limit: 120)))"
    }

    /// The names of the hops' addresses, one per line: `10.244.0.11  pod default/web-6b8f9c7d5-k2x7p`.
    static func legend(_ trace: RequestTrace) -> [String] {
        var keys: [String] = []
        for hop in trace.hops {
            for endpoint in [hop.source, hop.destination] {
                let key =
                    trace.names[endpoint.description] != nil ? endpoint.description : endpoint.address.description
                if trace.names[key] != nil, !keys.contains(key) { keys.append(key) }
            }
        }
        let width = (keys.map(\.count).max() ?? 0) + 2
        return keys.map { column($0, width) + safe(trace.names[$0]!.description, limit: 120) }
    }

    /// Phases as a waterfall: each bar starts where the previous one ended, its length proportional to its time.
    func waterfall(_ t: Timings) -> [String] {
        let total = max(t.total, 1)
        var lines = [
            "  phase      " + Self.rightColumn("time", 10) + "   0" + Self.spaces(barWidth - 1)
                + TimeFormat.duration(t.total)
        ]
        var offset: Int64 = 0
        for (name, value) in t.phases {
            guard value > 0 else { continue }
            // Shares capped at 1 (phases from absurd packet times can exceed the total): no Double past Int.max.
            let start = Int(min(Double(offset) / Double(total), 1) * Double(barWidth))
            var length = Int((min(Double(value) / Double(total), 1) * Double(barWidth)).rounded())
            length = max(1, length)
            length = min(length, barWidth - min(start, barWidth))
            let bar = Self.spaces(min(start, barWidth)) + Self.blocks(length)
            let padded = Self.column(bar, barWidth)
            let share = Int((min(Double(value) / Double(total), 1e9) * 100).rounded())
            lines.append(
                "  \(Self.column(name, 9))\(Self.rightColumn(TimeFormat.duration(value), 12))  |\(paint(padded, "36"))| "
                    + "\(share)%"
            )
            offset = offset.saturatingAdding(value)
        }
        lines.append("  \(Self.column("total", 9))\(Self.rightColumn(TimeFormat.duration(t.total), 12))")
        return lines
    }

    /// The hops: capture point, directions, addresses leaving it, translation, delays from the previous hop, the
    /// handshake's round trip there, how its place was established, and notes. Rows wider than ``width`` put the
    /// addresses on a line of their own.
    func hopTable(_ hops: [Hop]) -> [String] {
        let points = hops.map { Self.safe($0.point.description, limit: 40) }
        let pointWidth = max(13, (points.map(\.count).max() ?? 0)) + 2
        let routes = hops.map { "\($0.source) → \($0.destination)" }
        let routeWidth = max(20, (routes.map(\.count).max() ?? 0)) + 2
        let delay: (Int64?) -> String = { $0.map { "+" + TimeFormat.duration($0) } ?? "" }
        let head =
            "  hop  " + Self.column("capture point", pointWidth) + Self.column("dir", 8)
        let tail =
            Self.column("nat", 11) + Self.rightColumn("+syn", 10) + Self.rightColumn("+req", 10)
            + Self.rightColumn("+resp", 10) + Self.rightColumn("rtt", 10) + "  " + Self.column("by", 12) + "notes"
        let wide = head.count + routeWidth + tail.count
        let wrap = width.map { wide > $0 } ?? false
        var lines = [head + (wrap ? "" : Self.column("source → destination", routeWidth)) + tail]
        for (i, hop) in hops.enumerated() {
            let directions = hop.directions.map(\.description).joined(separator: ",")
            let nat = hop.translation == .none ? "-" : hop.translation.rawValue.uppercased()
            var notes: [String] = []
            if hop.synCount > 1 { notes.append("\(hop.synCount) SYNs") }
            if hop.retransmissions > 0 { notes.append("\(hop.retransmissions) retransmitted") }
            if let encapsulation = hop.encapsulation { notes.append(encapsulation.description) }
            if !hop.sawRequest { notes.append("request not seen") }
            let row =
                "  " + Self.rightColumn("\(i + 1)", 3) + "  " + Self.column(points[i], pointWidth)
                + Self.column(directions, 8) + (wrap ? "" : Self.column(routes[i], routeWidth)) + Self.column(nat, 11)
                + Self.rightColumn(delay(hop.synDelay), 10) + Self.rightColumn(delay(hop.requestDelay), 10)
                + Self.rightColumn(delay(hop.responseDelay), 10)
                + Self.rightColumn(hop.handshakeRTT.map { TimeFormat.duration($0) } ?? "", 10) + "  "
                + Self.column(hop.evidence.rawValue, 12) + notes.joined(separator: ", ")
            lines.append(row.trailingSpacesRemoved)
            if wrap { lines.append("       " + routes[i]) }
        }
        return lines
    }
}

extension String {
    /// The string without trailing spaces.
    var trailingSpacesRemoved: String {
        // By bytes: a space is one byte in UTF-8 and never part of another character's encoding.
        let bytes = self.utf8
        var end = bytes.endIndex
        while end > bytes.startIndex, bytes[bytes.index(before: end)] == UInt8(ascii: " ") {
            end = bytes.index(before: end)
        }
        return end == bytes.endIndex ? self : String(Substring(bytes[..<end]))
    }
}
