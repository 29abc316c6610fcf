import HoptraceCapture
import HoptraceCorrelate
import HoptraceDecode
import HoptraceFlows
import Testing

@testable import HoptraceReport

/// The text report's layout, written out by hand from its documented columns: the hop table (capture point padded to
/// the widest name + 2, at least 15; `dir` 8; the route padded to the widest + 2, at least 22; `nat` 11; four times
/// right-aligned in 10; `by` 12; notes), the waterfall (name 9, time right-aligned in 12, a bar of `barWidth`), rows
/// without trailing spaces, and routes on a line of their own when a row is wider than the terminal.
@Suite struct TextLayoutTests {
    static let t0: Int64 = 1_763_820_123_000_000_000

    /// Two hops: the client's veth (a handshake round trip only) and the bridge after DNAT (every delay, notes).
    static func trace(point: String = "vethclient0") -> RequestTrace {
        RequestTrace(
            index: 12,
            kind: .http,
            mode: .clusterip,
            verdict: Verdict(kind: .ok, sentence: "GET /a completed 200 in 1.00 ms"),
            request: RequestSummary(method: "GET", path: "/a", host: "web", requestID: nil, status: 200),
            client: endpoint("10.244.0.2", 41000),
            service: endpoint("10.96.0.20", 80),
            server: endpoint("10.244.0.11", 8080),
            hops: [
                Hop(
                    point: CapturePoint(name: point),
                    directions: [.inbound],
                    source: endpoint("10.244.0.2", 41000),
                    destination: endpoint("10.96.0.20", 80),
                    firstSeen: t0,
                    handshakeRTT: 139_000
                ),
                Hop(
                    point: CapturePoint(name: "cni0"),
                    directions: [.inbound, .outbound],
                    source: endpoint("10.244.0.2", 41000),
                    destination: endpoint("10.244.0.11", 8080),
                    translation: .dnat,
                    evidence: .direction,
                    firstSeen: t0 + 91_000,
                    synDelay: 91_000,
                    requestDelay: 40_000,
                    responseDelay: 0,
                    handshakeRTT: 52_000,
                    synCount: 2,
                    retransmissions: 3
                ),
            ],
            timings: Timings(
                dns: nil,
                connect: 250_000,
                request: nil,
                server: 750_000,
                network: nil,
                response: nil,
                client: nil,
                total: 1_000_000
            ),
            start: t0,
            end: t0 + 1_000_000
        )
    }

    static func spaces(_ count: Int) -> String { String(repeating: " ", count: count) }

    @Test func hopTableColumns() {
        let lines = TextReport(color: false).render(Self.trace()).split(
            separator: "\n",
            omittingEmptySubsequences: false
        )
        let header = lines.firstIndex { $0.hasPrefix("  hop  ") }
        #expect(header != nil)
        guard let header else { return }
        let s = Self.spaces
        // "capture point" padded to 15 (vethclient0 is 11 wide: 13 is the least, + 2); the widest route is
        // "10.244.0.2:41000 → 10.244.0.11:8080", 35 characters: padded to 37.
        #expect(
            lines[header]
                == "  hop  capture point  dir     source → destination" + s(17) + "nat        " + s(6) + "+syn"
                + s(6) + "+req" + s(5) + "+resp" + s(7) + "rtt  by          notes"
        )
        #expect(
            lines[header + 1]
                == "    1  vethclient0    In      10.244.0.2:41000 → 10.96.0.20:80" + s(5) + "-" + s(10) + s(30)
                + s(4) + "139 µs  first"
        )
        #expect(
            lines[header + 2]
                == "    2  cni0           In,Out  10.244.0.2:41000 → 10.244.0.11:8080  DNAT" + s(7) + s(4) + "+91 µs"
                + s(4) + "+40 µs" + s(5) + "+0 µs" + s(5) + "52 µs  direction   2 SYNs, 3 retransmitted"
        )
    }

    @Test func waterfallColumns() {
        let text = TextReport(color: false, barWidth: 20).render(Self.trace())
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let s = Self.spaces
        let block = { (count: Int) in String(repeating: "█", count: count) }
        // connect is a quarter of the total (5 of 20 columns), server the other three quarters, starting after it.
        #expect(lines.contains { $0 == "  phase      " + s(6) + "time   0" + s(19) + "1.00 ms" })
        #expect(lines.contains { $0 == "  connect  " + s(6) + "250 µs  |" + block(5) + s(15) + "| 25%" })
        #expect(lines.contains { $0 == "  server   " + s(6) + "750 µs  |" + s(5) + block(15) + "| 75%" })
        #expect(lines.contains { $0 == "  total    " + s(5) + "1.00 ms" })
    }

    @Test func noLineEndsWithASpace() {
        for barWidth in [1, 20, 40] {
            for width in [nil, 60, 200] as [Int?] {
                let text = TextReport(color: false, barWidth: barWidth, width: width).render(Self.trace())
                for line in text.split(separator: "\n") where line.hasPrefix("  ") && !line.contains("|") {
                    #expect(line.last != " ", "\(line)")
                }
            }
        }
    }

    @Test func narrowTerminalPutsRoutesOnTheirOwnLines() {
        let text = TextReport(color: false, width: 80).render(Self.trace())
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let header = lines.firstIndex(where: { $0.hasPrefix("  hop  ") }) else {
            Issue.record("no hop table in \(text)")
            return
        }
        #expect(!lines[header].contains("source → destination"))
        #expect(lines[header].hasPrefix("  hop  capture point  dir     nat "))
        #expect(lines[header + 1].hasPrefix("    1  vethclient0    In      -"))
        #expect(lines[header + 2] == "       10.244.0.2:41000 → 10.96.0.20:80")
        #expect(lines[header + 4] == "       10.244.0.2:41000 → 10.244.0.11:8080")
    }

    /// A capture point whose name has a combining mark is as wide as its characters: the columns after it stay in
    /// line with the other rows'.
    @Test func wideCharactersKeepColumnsInLine() {
        let text = TextReport(color: false).render(Self.trace(point: "ve\u{301}th-ü-client"))
        let rows = text.split(separator: "\n").filter { $0.hasPrefix("    1 ") || $0.hasPrefix("    2 ") }
        #expect(rows.count == 2)
        let columns = rows.map { row in row.distance(from: row.startIndex, to: row.firstIndex(of: "I") ?? row.endIndex)
        }
        #expect(columns.count == 2 && columns[0] == columns[1], "\(rows)")
        #expect(columns.first == 7 + 15)
    }

    @Test func colourWrapsTitleVerdictAndBars() {
        let text = TextReport(color: true, barWidth: 20).render(Self.trace())
        #expect(text.hasPrefix("\u{1B}[1mrequest #12  GET /a  host web  status 200\u{1B}[0m  [clusterip]\n"))
        #expect(text.contains("\n\u{1B}[32mok: GET /a completed 200 in 1.00 ms\u{1B}[0m\n"))
        #expect(text.contains("|\u{1B}[36m" + String(repeating: "█", count: 5) + Self.spaces(15) + "\u{1B}[0m| 25%"))
    }

    /// What `trace` writes for a report is its text and one newline, whatever the size of the output's buffer.
    @Test func writeIsRenderAndANewline() {
        let trace = Self.trace()
        let report = TextReport(color: false, width: 70)
        let out = BufferedOutput(inMemory: ())
        for _ in 0..<3 { report.write(trace, to: out) }
        #expect(out.text == String(repeating: report.render(trace) + "\n", count: 3))
    }

    /// Packet text past its bound, or with controls, takes the escaping path; clean text is kept as it is.
    @Test func safeKeepsCleanTextAndBoundsTheRest() {
        #expect(TextReport.safe("/healthz?x=ü", limit: 12) == "/healthz?x=ü")
        #expect(TextReport.safe("/healthz?x=ü", limit: 11) == "/healthz?x=…")
        #expect(TextReport.safe("a\u{1B}[2Jb") == "a\\x1b[2Jb")
        #expect(TextReport.safe("a\u{85}b\u{2028}") == "a\\x85b\\x2028")
        #expect(TextReport.safe(String(repeating: "x", count: 201)) == String(repeating: "x", count: 200) + "…")
    }
}
