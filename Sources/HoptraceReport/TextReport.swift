/// `hoptrace trace`'s terminal output: the verdict in one sentence, then a waterfall of phases and the hops.
public struct TextReport: Sendable {
    /// Whether to use ANSI colours (only on a terminal).
    public var color: Bool
    /// Width of the waterfall's bar area in columns.
    public var barWidth: Int

    public init(color: Bool = false, barWidth: Int = 40) {
        self.color = color
        self.barWidth = barWidth
    }

    /// Packet-derived text made safe for a terminal: control characters (an ESC would start a terminal escape
    /// sequence) become `\xNN`, and the length is bounded.
    public static func safe(_ text: String, limit: Int = 200) -> String {
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count >= limit {
                out += "…"
                break
            }
            if scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value) {
                out += "\\x" + String(scalar.value, radix: 16, uppercase: false).leftPadded(to: 2)
            } else {
                out.unicodeScalars.append(scalar)
            }
            count += 1
        }
        return out
    }

    private func paint(_ text: String, _ code: String) -> String {
        color ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    private func verdictColor(_ kind: VerdictKind) -> String {
        switch kind {
        case .ok: return "32"
        case .slow: return "33"
        default: return "31"
        }
    }

    private static func column(_ text: String, _ width: Int) -> String {
        let count = text.count
        return count >= width ? text : text + String(repeating: " ", count: width - count)
    }

    private static func rightColumn(_ text: String, _ width: Int) -> String {
        let count = text.count
        return count >= width ? text : String(repeating: " ", count: width - count) + text
    }

    /// The whole report of one request.
    public func render(_ trace: RequestTrace) -> String {
        var lines: [String] = []
        var title = "request #\(trace.index)"
        if let request = trace.request {
            title += "  \(Self.safe(request.method)) \(Self.safe(request.path))"
            if let host = request.host { title += "  host \(Self.safe(host))" }
            if let status = request.status { title += "  status \(status)" }
            if let id = request.requestID { title += "  x-request-id \(Self.safe(id))" }
        } else if !trace.hops.isEmpty, let service = trace.service {
            title += "  TCP connection to \(service)"
            if let dns = trace.dns { title += " (\(Self.safe(dns.name)))" }
        } else if let dns = trace.dns {
            title += "  DNS \(Self.safe(dns.name))"
        }
        lines.append(paint(title, "1") + "  [\(trace.mode.rawValue)]")
        let verdictText = "\(trace.verdict.kind.rawValue): \(Self.safe(trace.verdict.detail, limit: 400))"
        lines.append(paint(verdictText, verdictColor(trace.verdict.kind)))
        var path: [String] = []
        let role: (Endpoint, String) -> String = { endpoint, word in
            guard let name = trace.name(of: endpoint).map({ Self.safe($0, limit: 120) }) else {
                return "\(endpoint) (\(word))"
            }
            return "\(endpoint) (\(name.hasPrefix(word + " ") ? name : word + ", " + name))"
        }
        if let client = trace.client { path.append(role(client, "client")) }
        if let service = trace.service, service != trace.server {
            path.append(role(service, serviceWord(trace.mode)))
        }
        if let server = trace.server { path.append(role(server, "server")) }
        if !path.isEmpty { lines.append("  " + path.joined(separator: " → ")) }

        lines.append("")
        lines.append(contentsOf: waterfall(trace.timings))

        if let dns = trace.dns {
            lines.append("")
            lines.append(
                "  dns \(Self.safe(dns.name)): \(dns.outcome)"
                    + (dns.answer.map { " → \($0)" + (trace.name(ofAddress: $0).map { " (\(Self.safe($0)))" } ?? "") }
                        ?? "")
                    + ", \(dns.queries.count) quer\(dns.queries.count == 1 ? "y" : "ies"), "
                    + TimeFormat.duration(dns.duration)
            )
            for query in dns.queries {
                let answer = query.addresses.isEmpty ? "" : " " + query.addresses.joined(separator: ",")
                let took = query.duration.map { TimeFormat.duration($0) } ?? "no answer"
                let repeats = query.queryCount > 1 ? " (sent \(query.queryCount)×)" : ""
                lines.append(
                    "    \(Self.column(query.type, 5)) \(Self.safe(query.name)) → \(query.rcode ?? "-")\(answer)  "
                        + took + repeats
                )
            }
        }
        if !trace.hops.isEmpty {
            lines.append("")
            lines.append(contentsOf: hopTable(trace.hops, names: trace))
        }
        if !trace.findings.isEmpty {
            lines.append("")
            lines.append("  findings")
            for finding in trace.findings {
                lines.append("   - \(finding.kind): \(Self.safe(finding.detail, limit: 400))")
            }
        }
        return lines.joined(separator: "\n")
    }

    private func serviceWord(_ mode: TraceMode) -> String {
        switch mode {
        case .clusterip: return "service"
        case .nodeport: return "node port"
        case .ingress: return "ingress"
        case .direct: return "destination"
        }
    }

    /// Phases as a waterfall: each bar starts where the previous one ended, its length proportional to its time.
    func waterfall(_ t: Timings) -> [String] {
        let phases: [(String, Int64?)] = [
            ("dns", t.dns), ("client", t.client), ("connect", t.connect), ("request", t.request),
            ("network", t.network), ("server", t.server), ("response", t.response),
        ]
        let total = max(t.total, 1)
        var lines = [
            "  phase      " + Self.rightColumn("time", 10) + "   0" + String(repeating: " ", count: barWidth - 1)
                + TimeFormat.duration(t.total)
        ]
        var offset: Int64 = 0
        for (name, value) in phases {
            guard let value, value > 0 else { continue }
            // Shares capped at 1 (phases from absurd packet times can exceed the total): no Double past Int.max.
            let start = Int(min(Double(offset) / Double(total), 1) * Double(barWidth))
            var length = Int((min(Double(value) / Double(total), 1) * Double(barWidth)).rounded())
            if value > 0 { length = max(1, length) }
            length = min(length, barWidth - min(start, barWidth))
            let bar = String(repeating: " ", count: min(start, barWidth)) + String(repeating: "█", count: length)
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

    /// An endpoint with its Kubernetes name, when the trace has one: `10.244.0.12:8080 (pod default/web-k2x7p)`.
    static func named(_ endpoint: Endpoint, in trace: RequestTrace?) -> String {
        guard let name = trace?.name(of: endpoint) else { return endpoint.description }
        return "\(endpoint) (\(safe(name, limit: 120)))"
    }

    func hopTable(_ hops: [Hop], names trace: RequestTrace? = nil) -> [String] {
        let routes = hops.map { "\(Self.named($0.src, in: trace)) → \(Self.named($0.dst, in: trace))" }
        let routeWidth = max(46, (routes.map(\.count).max() ?? 0) + 2)
        var lines = [
            "  hop  " + Self.column("capture point", 15) + Self.column("dir", 8) + Self.column("src → dst", routeWidth)
                + Self.column("nat", 11) + Self.rightColumn("+syn", 10) + Self.rightColumn("+data", 10)
                + Self.rightColumn("rtt", 10) + "  notes"
        ]
        for (i, hop) in hops.enumerated() {
            let directions = hop.directions.map(\.description).joined(separator: "→")
            let nat = hop.translation == .none ? "-" : hop.translation.rawValue.uppercased()
            var notes: [String] = []
            if hop.synCount > 1 { notes.append("\(hop.synCount) SYNs") }
            if hop.retransmissions > 0 { notes.append("\(hop.retransmissions) retransmissions") }
            if hop.clockNoise { notes.append("clock noise clamped") }
            let delay: (Int64?) -> String = { $0.map { "+" + TimeFormat.duration($0) } ?? "" }
            lines.append(
                "  " + Self.rightColumn("\(i + 1)", 3) + "  " + Self.column(Self.safe(hop.capturePoint), 15)
                    + Self.column(directions, 8) + Self.column(routes[i], routeWidth) + Self.column(nat, 11)
                    + Self.rightColumn(delay(hop.synDelay), 10) + Self.rightColumn(delay(hop.dataDelay), 10)
                    + Self.rightColumn(hop.handshakeRTT.map { TimeFormat.duration($0) } ?? "", 10)
                    + (notes.isEmpty ? "" : "  " + notes.joined(separator: ", "))
            )
        }
        return lines
    }
}

extension String {
    /// The string left-padded with zeros to `width` characters.
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
