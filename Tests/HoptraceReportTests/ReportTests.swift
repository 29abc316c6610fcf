import Foundation
import HoptraceCapture
import HoptraceCorrelate
import HoptraceDecode
import HoptraceFlows
import HoptraceKube
import HoptraceTestSupport
import Testing

@testable import HoptraceReport

/// An endpoint from text.
func endpoint(_ host: String, _ port: UInt16) -> FlowEndpoint {
    FlowEndpoint(address: IPAddress(host)!, port: port)
}

/// A trace whose packet-derived strings are hostile: markup, a terminal escape, quotes.
func hostileTrace() -> RequestTrace {
    let t0: Int64 = 1_763_820_123_000_000_000
    return RequestTrace(
        index: 3,
        kind: .http,
        mode: .clusterip,
        verdict: Verdict(
            kind: .slow,
            sentence: "the server took 900 ms",
            location: CapturePoint(name: "vethweb1"),
            slowPart: .server
        ),
        findings: [Finding(.dnsSearchWalk, "4 queries <b>bold</b>")],
        request: RequestSummary(
            method: "GET",
            path: "/<script>alert(1)</script>?q=\"x\"&\u{1B}[31m",
            host: "web'evil",
            requestID: "id-\u{1B}]0;pwned\u{07}",
            status: 200
        ),
        client: endpoint("10.244.0.2", 41000),
        service: endpoint("10.96.0.20", 80),
        server: endpoint("fd00::5", 8080),
        dns: DNSLookup(
            name: "web.default.svc.cluster.local",
            queries: [
                DNSQuery(
                    id: 7,
                    name: "web.default.svc.cluster.local",
                    type: .a,
                    rcode: .noError,
                    addresses: [IPAddress("10.96.0.20")!],
                    answeredRecords: 1,
                    queryTime: t0,
                    responseTime: t0 + 1_200_000,
                    sent: 1,
                    client: endpoint("10.244.0.2", 5353),
                    server: endpoint("10.96.0.10", 53),
                    transport: .udp,
                    seenAt: [CapturePoint(name: "vethclient0")]
                )
            ],
            outcome: .resolved,
            answer: IPAddress("10.96.0.20"),
            start: t0,
            end: t0 + 1_200_000
        ),
        hops: [
            Hop(
                point: CapturePoint(name: "vethclient0"),
                directions: [.inbound],
                source: endpoint("10.244.0.2", 41000),
                destination: endpoint("10.96.0.20", 80),
                firstSeen: t0 + 2_000_000
            ),
            Hop(
                point: CapturePoint(name: "cni0\u{1B}[2J"),
                directions: [.inbound, .outbound],
                source: endpoint("10.244.0.2", 41000),
                destination: endpoint("fd00::5", 8080),
                translation: .dnat,
                evidence: .direction,
                firstSeen: t0 + 2_000_010,
                synDelay: 10_000
            ),
        ],
        timings: Timings(
            dns: 1_200_000,
            connect: 100_000,
            request: 10,
            server: 900_000_000,
            network: 50_000,
            response: 20_000,
            client: 30_000,
            total: 901_400_010
        ),
        start: t0,
        end: t0 + 901_400_010
    )
}

@Test func timeFormatsAgreeWithTheCalendar() {
    // 2025-11-22T13:22:03Z is 1763817723 s since the epoch (date -u -d @1763817723).
    #expect(TimeFormat.rfc3339(1_763_817_723_000_000_001) == "2025-11-22T13:22:03.000000001Z")
    #expect(TimeFormat.rfc3339(0) == "1970-01-01T00:00:00.000000000Z")
    // 2000-02-29 (a leap day): 951782400 s.
    #expect(TimeFormat.rfc3339(951_782_400_500_000_000) == "2000-02-29T00:00:00.500000000Z")
    #expect(TimeFormat.duration(850_000) == "850 µs")
    #expect(TimeFormat.duration(12_340_000) == "12.3 ms")
    #expect(TimeFormat.duration(1_250_000_000) == "1.25 s")
}

@Test func jsonParsesAndFollowsTheSchema() throws {
    let line = TraceJSON.render(hostileTrace())
    let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    #expect(object["mode"] as? String == "clusterip")
    let verdict = try #require(object["verdict"] as? [String: Any])
    #expect(verdict["kind"] as? String == "slow")
    let request = try #require(object["request"] as? [String: Any])
    #expect(request["path"] as? String == "/<script>alert(1)</script>?q=\"x\"&\u{1B}[31m")
    let timings = try #require(object["timings"] as? [String: Any])
    #expect((timings["server"] as? Double) == 900.0)
    // Durations are milliseconds with nanosecond precision: the request's 10 ns.
    #expect((timings["request"] as? Double) == 0.00001)

    // The committed schema, checked by an independent validator (python-jsonschema).
    let (status, message) = try validateAgainstTraceSchema(line)
    #expect(status == 0, "schema validation failed: \(message)")
}

/// Validates one JSON document against the committed `docs/trace.schema.json` with python-jsonschema (an independent
/// validator); returns its exit status and what it printed on standard error.
func validateAgainstTraceSchema(_ json: String) throws -> (status: Int32, message: String) {
    let schema = Repository.root.appendingPathComponent("docs/trace.schema.json").path
    let instance = FileManager.default.temporaryDirectory.appendingPathComponent("trace-\(getpid())-\(UUID()).json")
    try Data(json.utf8).write(to: instance)
    defer { try? FileManager.default.removeItem(at: instance) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
        "python3", "-c",
        "import json,sys,jsonschema; jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))",
        schema, instance.path,
    ]
    let errors = Pipe()
    process.standardError = errors
    try process.run()
    process.waitUntilExit()
    return (
        process.terminationStatus, String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    )
}

@Test func terminalOutputCarriesNoEscapeFromThePacket() {
    let text = TextReport(color: false).render(hostileTrace())
    #expect(!text.contains("\u{1B}"))
    #expect(!text.contains("\u{07}"))
    #expect(text.contains("slow: the server took 900 ms"))
    #expect(text.contains("DNAT"))
    #expect(text.contains("cni0\\x1b[2J"))
}

@Test func htmlEscapesPacketText() {
    let html = HTMLReport.render([hostileTrace()], title: "lab <capture>")
    #expect(!html.contains("<script>"))
    #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
    #expect(html.contains("web&#39;evil") || !html.contains("web'evil"))
    #expect(!html.contains("\u{1B}"))
    #expect(html.contains("<svg"))
}

/// Chromium, when installed, renders the page; the verdict must be in the rendered DOM.
@Test(.enabled(if: chromium() != nil, "chromium is not installed (make test-deps installs it)"))
func htmlRendersInAHeadlessBrowser() throws {
    let page = FileManager.default.temporaryDirectory.appendingPathComponent("hoptrace-\(getpid()).html")
    try HTMLReport.render([hostileTrace()], title: "lab").write(to: page, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: page) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try #require(chromium()))
    process.arguments = [
        "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "--virtual-time-budget=2000", page.absoluteString,
    ]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let dom = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(dom.contains("data-verdict=\"slow\""))
    #expect(dom.contains("the server took 900 ms"))
    #expect(!dom.contains("<script>alert"))
}

func chromium() -> String? {
    for path in ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
    where FileManager.default.isExecutableFile(atPath: path) {
        return path
    }
    return nil
}
