/// `hoptrace trace --html FILE`: one self-contained page (inline CSS and SVG, no script, nothing fetched) with each
/// request's verdict, an SVG waterfall of its phases and its hops. Every packet-derived string is escaped.
public enum HTMLReport {
    /// Escapes text for HTML element content and attribute values.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                if character.value < 0x20 && character != "\n" && character != "\t" {
                    out += "&#\(character.value);"
                } else {
                    out.unicodeScalars.append(character)
                }
            }
        }
        return out
    }

    static let style = """
        body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1d2430;background:#fbfbfd}
        h1{font-size:20px}h2{font-size:16px;margin:0 0 .3em}
        section{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:1em 1.2em;margin:1.2em 0}
        .verdict{font-weight:600;padding:.35em .6em;border-radius:5px;display:inline-block}
        .ok{background:#e3f6e8;color:#16672f}.slow{background:#fff4d6;color:#7a5300}
        .fail{background:#fde5e5;color:#9b1c1c}
        table{border-collapse:collapse;font:13px ui-monospace,monospace;margin-top:.6em}
        td,th{padding:.15em .7em;text-align:left;border-bottom:1px solid #eef0f4}
        .muted{color:#6b7382}svg text{font:12px ui-monospace,monospace}
        """

    /// The page for these traces.
    public static func render(_ traces: [RequestTrace], title: String) -> String {
        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
            <title>\(escape(title))</title><style>\(style)</style></head><body>
            <h1>hoptrace: \(escape(title))</h1>

            """
        if traces.isEmpty { html += "<p>No request found in the capture.</p>\n" }
        for trace in traces { html += section(trace) }
        html += "</body></html>\n"
        return html
    }

    static func section(_ trace: RequestTrace) -> String {
        let verdictClass: String
        switch trace.verdict.kind {
        case .ok: verdictClass = "ok"
        case .slow: verdictClass = "slow"
        default: verdictClass = "fail"
        }
        var heading = "Request #\(trace.index)"
        if let request = trace.request { heading += " — \(request.method) \(request.path)" }
        if request(trace) == nil, let dns = trace.dns { heading += " — DNS \(dns.name)" }
        var html = "<section id=\"request-\(trace.index)\"><h2>\(escape(heading))</h2>\n"
        html += "<p><span class=\"verdict \(verdictClass)\" data-verdict=\"\(trace.verdict.kind.rawValue)\">"
        html += "\(escape(trace.verdict.kind.rawValue))</span> \(escape(trace.verdict.detail))</p>\n"
        html += "<p class=\"muted\">mode \(trace.mode.rawValue)"
        if let client = trace.client { html += " · client \(escape(TextReport.named(client, in: trace)))" }
        if let service = trace.service { html += " · service \(escape(TextReport.named(service, in: trace)))" }
        if let server = trace.server { html += " · server \(escape(TextReport.named(server, in: trace)))" }
        if let id = trace.request?.requestID { html += " · X-Request-ID \(escape(id))" }
        html += "</p>\n"
        html += waterfall(trace.timings)
        if !trace.hops.isEmpty {
            html += "<table><tr><th>#</th><th>capture point</th><th>dir</th><th>src → dst</th><th>NAT</th>"
            html += "<th>+SYN</th><th>+data</th><th>RTT</th></tr>\n"
            for (i, hop) in trace.hops.enumerated() {
                let directions: String = hop.directions.map(\.description).joined(separator: "→")
                let nat: String = hop.translation == .none ? "" : hop.translation.rawValue
                let syn: String = hop.synDelay.map { "+" + TimeFormat.duration($0) } ?? ""
                let data: String = hop.dataDelay.map { "+" + TimeFormat.duration($0) } ?? ""
                let rtt: String = hop.handshakeRTT.map { TimeFormat.duration($0) } ?? ""
                let route: String =
                    "\(TextReport.named(hop.src, in: trace)) → \(TextReport.named(hop.dst, in: trace))"
                let cells: [String] = ["\(i + 1)", hop.capturePoint, directions, route, nat, syn, data, rtt]
                html += "<tr>" + cells.map { "<td>\(escape($0))</td>" }.joined() + "</tr>\n"
            }
            html += "</table>\n"
        }
        if let dns = trace.dns {
            html += "<table><tr><th>DNS query</th><th>type</th><th>rcode</th><th>answer</th><th>time</th></tr>\n"
            for query in dns.queries {
                let cells = [
                    query.name, query.type, query.rcode ?? "no answer", query.addresses.joined(separator: ", "),
                    query.duration.map { TimeFormat.duration($0) } ?? "",
                ]
                html += "<tr>" + cells.map { "<td>\(escape($0))</td>" }.joined() + "</tr>\n"
            }
            html += "</table>\n"
        }
        if !trace.findings.isEmpty {
            html += "<ul>"
            for finding in trace.findings {
                html += "<li><b>\(escape(finding.kind))</b>: \(escape(finding.detail))</li>"
            }
            html += "</ul>\n"
        }
        return html + "</section>\n"
    }

    private static func request(_ trace: RequestTrace) -> RequestSummary? { trace.request }

    /// The phases as an SVG waterfall, one row each, bars laid end to end.
    static func waterfall(_ t: Timings) -> String {
        let phases: [(String, Int64?, String)] = [
            ("dns", t.dns, "#7b61ff"), ("client", t.client, "#b0b6c3"), ("connect", t.connect, "#2f9e8f"),
            ("request", t.request, "#3b82f6"), ("network", t.network, "#f59e0b"), ("server", t.server, "#ef4444"),
            ("response", t.response, "#10b981"),
        ]
        let shown = phases.filter { ($0.1 ?? 0) > 0 }
        let width = 640.0
        let label = 170.0
        let rowHeight = 22.0
        let height = Double(shown.count + 1) * rowHeight + 8
        let total = Double(max(t.total, 1))
        var svg =
            "<svg role=\"img\" aria-label=\"latency waterfall\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
        svg += "xmlns=\"http://www.w3.org/2000/svg\">\n"
        var offset = 0.0
        for (row, (name, value, colour)) in shown.enumerated() {
            let ns = Double(value ?? 0)
            let x = label + offset / total * (width - label - 10)
            let w = max(1.5, ns / total * (width - label - 10))
            let y = Double(row) * rowHeight + 4
            svg += "<text x=\"0\" y=\"\(y + 15)\">\(name) \(escape(TimeFormat.duration(value ?? 0)))</text>"
            svg += "<rect x=\"\(TimeFormat.fixed(x, 1))\" y=\"\(y + 3)\" width=\"\(TimeFormat.fixed(w, 1))\" "
            svg += "height=\"15\" rx=\"3\" fill=\"\(colour)\"><title>\(name)</title></rect>\n"
            offset += ns
        }
        let y = Double(shown.count) * rowHeight + 4
        svg += "<text x=\"0\" y=\"\(y + 15)\">total \(escape(TimeFormat.duration(t.total)))</text>\n</svg>\n"
        return svg
    }
}
