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
        // Most texts (addresses, interface names, paths, the sentence) are short and hold nothing to escape: they
        // are returned as they are.
        if isClean(text, limit: limit) { return text }
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

    /// Whether `safe(text, limit:)` is `text` itself: at most `limit` bytes (so at most `limit` scalars) and no
    /// byte that may start something to escape (checked eight at a time; a C1 control starts with 0xC2, U+2028 and
    /// U+2029 with 0xE2).
    static func isClean(_ text: String, limit: Int) -> Bool {
        guard text.utf8.count <= limit else { return false }
        let clean: Bool? = text.utf8.withContiguousStorageIfAvailable {
            !TerminalText.mayNeedEscaping(UnsafeRawBufferPointer($0))
        }
        return clean == true
    }

    static func hex(_ value: UInt32) -> String {
        let text = String(value, radix: 16, uppercase: false)
        return text.count >= 2 ? text : "0" + text
    }

    private func verdictColor(_ kind: VerdictKind) -> String {
        switch kind {
        case .ok: return "32"
        case .slow, .incomplete: return "33"
        default: return "31"
        }
    }

    /// `text` padded with spaces to `width` characters.
    static func column(_ text: String, _ width: Int) -> String {
        let count = characters(text)
        return count >= width ? text : text + String(repeating: " ", count: width - count)
    }

    /// The characters in `text`: its bytes when they are all ASCII (most columns), without breaking it into
    /// grapheme clusters.
    static func characters(_ text: String) -> Int {
        let bytes = text.utf8
        return bytes.allSatisfy { $0 < 0x80 } ? bytes.count : text.count
    }

    /// One line naming the request: method and path, or the connection or lookup.
    public static func title(_ trace: RequestTrace) -> String {
        let out = BufferedOutput(inMemory: ())
        appendTitle(trace, to: out)
        return out.text
    }

    /// The whole report of one request.
    public func render(_ trace: RequestTrace) -> String {
        let out = BufferedOutput(inMemory: ())
        self.writeLines(trace, into: out)
        return out.text
    }

    /// Appends the whole report of one request to `out`, then a newline (as `out.line(render(trace))` does).
    ///
    /// Written byte by byte into `out`'s buffer: a report built by string concatenation cost ~120,000 instructions
    /// a trace, which `trace --all` paid for every request of a flood.
    public func write(_ trace: RequestTrace, to out: BufferedOutput) {
        // The report is made in memory first: a hop row's trailing spaces are cut after it is written, which a
        // buffer written out to a file between the two could not undo.
        let scratch = BufferedOutput(inMemory: ())
        self.writeLines(trace, into: scratch)
        scratch.append(0x0A)
        scratch.withBytes { out.append($0) }
        out.endRecord()
    }

    /// The lines of a report, separated by newlines (none after the last).
    struct Lines {
        let out: BufferedOutput
        private(set) var started = false

        init(_ out: BufferedOutput) { self.out = out }

        /// Starts a line: the newline that ends the one before.
        mutating func next() {
            if started { out.append(0x0A) }
            started = true
        }

        /// A line of its own.
        mutating func line(_ text: String) {
            next()
            out.append(text)
        }
    }

    /// The report's lines, without a newline after the last.
    func writeLines(_ trace: RequestTrace, into out: BufferedOutput) {
        var lines = Lines(out)
        lines.next()
        beginPaint("1", out)
        out.append("request #")
        out.appendNumber(trace.index)
        out.append("  ")
        Self.appendTitle(trace, to: out)
        if let request = trace.request {
            if let host = request.host {
                out.append("  host ")
                Self.appendSafe(host, to: out)
            }
            if let status = request.status {
                out.append("  status ")
                out.appendNumber(status)
            }
            if let id = request.requestID {
                out.append("  x-request-id ")
                Self.appendSafe(id, to: out)
            }
        } else if trace.kind == .connection, let dns = trace.dns {
            out.append(" (")
            Self.appendSafe(dns.name, to: out)
            out.append(")")
        }
        endPaint(out)
        out.append("  [")
        out.append(trace.mode.rawValue)
        out.append("]")
        lines.next()
        beginPaint(verdictColor(trace.verdict.kind), out)
        out.append(trace.verdict.kind.rawValue)
        out.append(": ")
        Self.appendSafe(trace.verdict.sentence, limit: 600, to: out)
        endPaint(out)
        var pathStarted = false
        func pathElement(_ endpoint: FlowEndpoint, _ word: String) {
            if pathStarted {
                out.append(" → ")
            } else {
                lines.next()
                out.append("  ")
                pathStarted = true
            }
            Self.appendRole(endpoint, word, in: trace, to: out)
        }
        if let client = trace.client { pathElement(client, "client") }
        if let service = trace.service, service != trace.server {
            pathElement(service, Self.serviceWord(trace.mode))
        }
        if let server = trace.server { pathElement(server, "server") }
        for offset in trace.clockOffsets {
            lines.line(
                "  clock of \(Self.safe(offset.node)): \(Self.signed(-offset.offset)) ± "
                    + "\(TimeFormat.duration(offset.uncertainty)) against \(Self.safe(offset.reference)) "
                    + "(\(offset.samples) packet pair\(offset.samples == 1 ? "" : "s"))"
            )
        }

        lines.next()
        waterfall(trace.timings, to: &lines)

        if let dns = trace.dns {
            lines.next()
            lines.next()
            out.append("  dns ")
            Self.appendSafe(dns.name, to: out)
            out.append(": ")
            out.append(dns.outcome.rawValue)
            if let address = dns.answer {
                out.append(" → ")
                out.appendAddress(address)
                if let name = trace.name(ofAddress: address) {
                    out.append(" (")
                    Self.appendSafe(name.description, to: out)
                    out.append(")")
                }
            }
            out.append(", ")
            out.appendNumber(dns.queries.count)
            out.append(dns.queries.count == 1 ? " query, " : " queries, ")
            out.appendDuration(dns.duration)
            for query in dns.queries.prefix(40) {
                lines.next()
                out.append("    ")
                let type = query.type.description
                Self.appendColumn(type, characters: Self.characters(type), 5, to: out)
                out.append(" ")
                Self.appendSafe(query.name, to: out)
                out.append(" → ")
                out.append(query.rcode?.description ?? "-")
                for (index, address) in query.addresses.enumerated() {
                    out.append(index == 0 ? " " : ",")
                    out.appendAddress(address)
                }
                out.append("  ")
                if let took = query.duration { out.appendDuration(took) } else { out.append("no answer") }
                if query.sent > 1 {
                    out.append(" (sent ")
                    out.appendNumber(query.sent)
                    out.append("×)")
                }
            }
            if dns.queries.count > 40 { lines.line("    … \(dns.queries.count - 40) more") }
        }
        if !trace.hops.isEmpty {
            lines.next()
            hopTable(trace.hops, to: &lines)
            let legend = Self.legend(trace)
            if !legend.isEmpty {
                lines.next()
                lines.line("  names")
                for entry in legend { lines.line("   " + entry) }
            }
        }
        if !trace.findings.isEmpty {
            lines.next()
            lines.line("  findings")
            for finding in trace.findings {
                lines.next()
                out.append("   - ")
                out.append(finding.kind.rawValue)
                out.append(": ")
                Self.appendSafe(finding.detail, limit: 600, to: out)
            }
        }
    }

    /// ``safe(_:limit:)``'s text, appended.
    static func appendSafe(_ text: String, limit: Int = 200, to out: BufferedOutput) {
        out.append(isClean(text, limit: limit) ? text : safe(text, limit: limit))
    }

    /// ``title(_:)``'s line, appended: the method and path, `DNS` and the name, or `TCP` and the destination.
    static func appendTitle(_ trace: RequestTrace, to out: BufferedOutput) {
        if let request = trace.request {
            appendSafe(request.method, limit: 16, to: out)
            out.append(" ")
            appendSafe(request.path, limit: 80, to: out)
        } else if trace.kind == .dns, let dns = trace.dns {
            out.append("DNS ")
            appendSafe(dns.name, limit: 80, to: out)
        } else {
            out.append("TCP ")
            if let service = trace.service { out.appendEndpoint(service) } else { out.append("?") }
        }
    }

    /// ``role(_:_:in:)``, appended.
    static func appendRole(_ endpoint: FlowEndpoint, _ word: String, in trace: RequestTrace, to out: BufferedOutput) {
        guard trace.names.isEmpty else {
            out.append(role(endpoint, word, in: trace))
            return
        }
        out.appendEndpoint(endpoint)
        out.append(" (")
        out.append(word)
        out.append(")")
    }

    private func beginPaint(_ code: String, _ out: BufferedOutput) {
        guard color else { return }
        out.append("\u{1B}[")
        out.append(code)
        out.append("m")
    }

    private func endPaint(_ out: BufferedOutput) {
        if color { out.append("\u{1B}[0m") }
    }

    /// `text` (whose width is `count` characters) padded with spaces to `width`.
    static func appendColumn(_ text: String, characters count: Int, _ width: Int, to out: BufferedOutput) {
        out.append(text)
        appendSpaces(width - count, to: out)
    }

    /// `count` full blocks, `█` (none for a negative count).
    static func appendBlocks(_ count: Int, to out: BufferedOutput) {
        guard count > 0 else { return }
        let target = out.reserve(3 * count)
        for index in 0..<count {
            target[3 * index] = 0xE2
            target[3 * index + 1] = 0x96
            target[3 * index + 2] = 0x88
        }
        out.commit(3 * count)
    }

    /// `count` spaces (none for a negative count).
    static func appendSpaces(_ count: Int, to out: BufferedOutput) {
        guard count > 0 else { return }
        let target = out.reserve(count)
        target.update(repeating: UInt8(ascii: " "), count: count)
        out.commit(count)
    }

    /// What `write` writes (our own ASCII and `µ`, at most ``TimeFormat/maxWrittenBytes``), right-aligned in `width`
    /// columns (its width: its bytes that begin a scalar, each one character).
    static func appendRight(_ width: Int, to out: BufferedOutput, _ write: (UnsafeMutablePointer<UInt8>) -> Int) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { scratch in
            guard let base = scratch.baseAddress else { return }
            let count = write(base)
            var characters = 0
            for index in 0..<count where base[index] & 0xC0 != 0x80 { characters += 1 }
            appendSpaces(width - characters, to: out)
            out.append(UnsafeRawBufferPointer(start: base, count: count))
        }
    }

    /// A duration right-aligned in `width` columns, after `prefix` (none, or `+`).
    static func appendRightDuration(_ nanoseconds: Int64?, prefix: UInt8? = nil, _ width: Int, to out: BufferedOutput) {
        guard let nanoseconds else {
            appendSpaces(width, to: out)
            return
        }
        appendRight(width, to: out) { target in
            var at = 0
            if let prefix {
                target[0] = prefix
                at = 1
            }
            return at + TimeFormat.writeDuration(nanoseconds, to: target + at)
        }
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
        if trace.names.isEmpty { return [] }
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
    func waterfall(_ t: Timings, to lines: inout Lines) {
        let out = lines.out
        let total = max(t.total, 1)
        lines.next()
        out.append("  phase      ")
        Self.appendSpaces(6, to: out)
        out.append("time   0")
        Self.appendSpaces(barWidth - 1, to: out)
        out.appendDuration(t.total)
        var offset: Int64 = 0
        for (name, value) in t.phases {
            guard value > 0 else { continue }
            // Shares capped at 1 (phases from absurd packet times can exceed the total): no Double past Int.max.
            let start = Int(min(Double(offset) / Double(total), 1) * Double(barWidth))
            var length = Int((min(Double(value) / Double(total), 1) * Double(barWidth)).rounded())
            length = max(1, length)
            length = min(length, barWidth - min(start, barWidth))
            let share = Int((min(Double(value) / Double(total), 1e9) * 100).rounded())
            lines.next()
            out.append("  ")
            Self.appendColumn(name, characters: name.utf8.count, 9, to: out)
            Self.appendRightDuration(value, 12, to: out)
            out.append("  |")
            beginPaint("36", out)
            Self.appendSpaces(min(start, barWidth), to: out)
            Self.appendBlocks(length, to: out)
            Self.appendSpaces(barWidth - min(start, barWidth) - length, to: out)
            endPaint(out)
            out.append("| ")
            out.appendNumber(share)
            out.append("%")
            offset = offset.saturatingAdding(value)
        }
        lines.next()
        out.append("  total    ")
        Self.appendRightDuration(t.total, 12, to: out)
    }

    /// The hops: capture point, directions, addresses leaving it, translation, delays from the previous hop, the
    /// handshake's round trip there, how its place was established, and notes. Rows wider than ``width`` put the
    /// addresses on a line of their own.
    func hopTable(_ hops: [Hop], to lines: inout Lines) {
        let out = lines.out
        let points = hops.map { Self.safe($0.point.description, limit: 40) }
        let pointWidths = points.map(Self.characters)
        let pointWidth = max(13, (pointWidths.max() ?? 0)) + 2
        // Endpoints are spelled in ASCII: a route's width is its characters, ` → ` three of them.
        let routeWidths = hops.map { Self.width(of: $0.source) + 3 + Self.width(of: $0.destination) }
        let routeWidth = max(20, (routeWidths.max() ?? 0)) + 2
        // "  hop  " + "capture point" padded to pointWidth + "dir" padded to 8; the tail: nat (11), +syn, +req,
        // +resp, rtt (10 each, right-aligned), two spaces, by (12), notes.
        let headCount = 7 + pointWidth + 8
        let tail = "nat        " + "      +syn" + "      +req" + "     +resp" + "       rtt" + "  by          notes"
        let wide = headCount + routeWidth + tail.utf8.count
        let wrap = width.map { wide > $0 } ?? false
        lines.next()
        out.append("  hop  ")
        Self.appendColumn("capture point", characters: 13, pointWidth, to: out)
        out.append("dir     ")
        if !wrap { Self.appendColumn("source → destination", characters: 20, routeWidth, to: out) }
        out.append(tail)
        for (i, hop) in hops.enumerated() {
            lines.next()
            let rowStart = out.count
            out.append("  ")
            Self.appendRight(3, to: out) { TimeFormat.writeDecimal(UInt64(i + 1), to: $0) }
            out.append("  ")
            Self.appendColumn(points[i], characters: pointWidths[i], pointWidth, to: out)
            var directionWidth = 0
            for (index, direction) in hop.directions.enumerated() {
                if index > 0 {
                    out.append(",")
                    directionWidth += 1
                }
                let text = direction.description
                out.append(text)
                directionWidth += text.utf8.count
            }
            Self.appendSpaces(8 - directionWidth, to: out)
            if !wrap { appendRoute(hop, width: routeWidth, to: out) }
            let nat = hop.translation == .none ? "-" : hop.translation.rawValue.uppercased()
            Self.appendColumn(nat, characters: nat.utf8.count, 11, to: out)
            Self.appendRightDuration(hop.synDelay, prefix: UInt8(ascii: "+"), 10, to: out)
            Self.appendRightDuration(hop.requestDelay, prefix: UInt8(ascii: "+"), 10, to: out)
            Self.appendRightDuration(hop.responseDelay, prefix: UInt8(ascii: "+"), 10, to: out)
            Self.appendRightDuration(hop.handshakeRTT, 10, to: out)
            out.append("  ")
            let evidence = hop.evidence.rawValue
            Self.appendColumn(evidence, characters: evidence.utf8.count, 12, to: out)
            var noted = false
            func note(_ text: String) {
                if noted { out.append(", ") }
                out.append(text)
                noted = true
            }
            if hop.synCount > 1 { note("\(hop.synCount) SYNs") }
            if hop.retransmissions > 0 { note("\(hop.retransmissions) retransmitted") }
            if let encapsulation = hop.encapsulation { note(encapsulation.description) }
            if !hop.sawRequest { note("request not seen") }
            out.removeTrailingSpaces(downTo: rowStart)
            if wrap {
                lines.next()
                out.append("       ")
                appendRoute(hop, width: 0, to: out)
            }
        }
    }

    /// The characters of `endpoint`'s text (ASCII), without making the text for IPv4.
    static func width(of endpoint: FlowEndpoint) -> Int {
        guard endpoint.address.isIPv4 else { return endpoint.description.utf8.count }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: FlowEndpoint.ipv4TextCapacity) { scratch in
            scratch.baseAddress.map { endpoint.writeIPv4Description(to: $0) } ?? endpoint.description.utf8.count
        }
    }

    /// `10.0.0.1:80 → 10.0.0.2:80`, padded to `width`.
    private func appendRoute(_ hop: Hop, width: Int, to out: BufferedOutput) {
        let start = out.count
        out.appendEndpoint(hop.source)
        out.append(" → ")
        out.appendEndpoint(hop.destination)
        // The arrow is three bytes and one character.
        Self.appendSpaces(width - (out.count - start - 2), to: out)
    }
}
