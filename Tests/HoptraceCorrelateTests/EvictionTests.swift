import Foundation
import HoptraceCapture
import HoptraceFlows
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// Past the cap on open connections (a SYN flood), the oldest are traced early with what is known and counted; no
/// connection is lost or traced twice.
@Suite("open-connection cap")
struct EvictionTests {
    /// 200 unanswered SYNs from distinct ports, 10 us apart: none times out inside the capture.
    static func flood() throws -> String {
        try unansweredSYNs(200, at: ["eth0"], apart: 0.01, name: "syn-flood-200.pcapng")
    }

    /// `count` unanswered SYNs from distinct ports of one client, `apart` ms from each other, each seen at every one
    /// of `points` 1 us after the one before (the same packet: same sequence number and IP identification).
    static func unansweredSYNs(_ count: Int, at points: [String], apart: Double, name: String) throws -> String {
        var capture = HandBuiltCapture(interfaces: points)
        for n in 0..<count {
            for (index, point) in points.enumerated() {
                capture.at(point)
                capture.tcp(
                    at: ms(Double(n) * apart + Double(index) * 0.001),
                    "10.0.0.5:\(20_000 + n)",
                    "10.0.0.9:80",
                    .syn,
                    seq: UInt32(1_000 + n * 7919),
                    ipID: UInt16(n + 1)
                )
            }
        }
        return try capture.write(name: name)
    }

    @Test("a cap of 32: evictions counted and marked, each of the 200 connections traced exactly once")
    func capped() throws {
        let path = try Self.flood()
        for cap in [32, 1_000] {
            var options = CorrelateOptions()
            options.maxOpenConnections = cap
            var traces: [RequestTrace] = []
            let run = try Correlator.trace(files: [path], options: options) { traces += $0 }
            let ports = traces.compactMap { $0.client?.port }
            #expect(ports.count == 200, "cap \(cap)")
            #expect(Set(ports) == Set((0..<200).map { UInt16(20_000 + $0) }), "cap \(cap)")
            let marked = traces.filter { $0.findings.contains { $0.kind == .evicted } }
            // Each connection given up says so, once; the running count never goes back and ends at the total.
            #expect(marked.count == run.statistics.evictedConnections, "cap \(cap)")
            #expect(zip(traces, traces.dropFirst()).allSatisfy { $0.evictedSoFar <= $1.evictedSoFar }, "cap \(cap)")
            #expect(traces.last?.evictedSoFar == run.statistics.evicted, "cap \(cap)")
            if cap == 32 {
                #expect(run.statistics.evictedConnections >= 200 - 32)
                #expect(run.statistics.peakOpenConnections <= 33)
            } else {
                #expect(run.statistics.evictedConnections == 0)
            }
        }
    }

    /// Connections seen at 8 capture points each hold 8 records: the cap counts the records too (twice the cap on
    /// connections), so that many points per connection cost no more memory than many connections. 12 unanswered
    /// SYNs, each seen at 8 points, are under a cap of 16 connections and hold 96 records, over its 32: from the
    /// fifth connection on, each one opened judges the oldest early (8 of them), and 5 are held at most.
    @Test("connections seen at many points: the cap on records judges the oldest early, each traced once")
    func manyPoints() throws {
        let points = (0..<8).map { "if\($0)" }
        let path = try Self.unansweredSYNs(12, at: points, apart: 1, name: "syn-at-8-points.pcapng")
        for cap in [16, 1_000] {
            var options = CorrelateOptions()
            options.maxOpenConnections = cap
            var traces: [RequestTrace] = []
            let run = try Correlator.trace(files: [path], options: options) { traces += $0 }
            // One trace per connection, each with its 8 hops, whether judged early or not.
            #expect(traces.compactMap { $0.client?.port }.sorted() == (0..<12).map { UInt16(20_000 + $0) })
            #expect(traces.allSatisfy { $0.hops.count == 8 }, "cap \(cap)")
            #expect(run.statistics.peakOpenConnections == (cap == 16 ? 5 : 12), "cap \(cap)")
            #expect(run.statistics.evictedConnections == (cap == 16 ? 8 : 0), "cap \(cap)")
        }
    }

    /// A connection that alone holds more records than the cap allows is spared while it is being joined, and stays
    /// the first to go when the next connection opens (it must not leave the opening order for good).
    @Test("a connection over the cap on records by itself is still judged first when the next one opens")
    func overCapAlone() throws {
        let path = try Self.unansweredSYNs(2, at: ["if0", "if1", "if2"], apart: 1, name: "syn-at-3-points-1.pcapng")
        var options = CorrelateOptions()
        options.maxOpenConnections = 1
        var traces: [RequestTrace] = []
        let run = try Correlator.trace(files: [path], options: options) { traces += $0 }
        #expect(traces.compactMap { $0.client?.port }.sorted() == [20_000, 20_001])
        #expect(traces.allSatisfy { $0.hops.count == 3 })
        // The first is judged early when the second opens; the second, alone, is judged at the end.
        #expect(run.statistics.evictedConnections == 1)
        #expect(run.statistics.peakOpenConnections == 2)
    }

    @Test(
        "keep-alive connections past both caps: every request traced once, answered when its response is in its piece",
        arguments: [false, true]
    )
    func keepAliveFlood(interleaved: Bool) throws {
        var capture = HandBuiltCapture(interfaces: ["eth0"])
        capture.keepAliveConnections(200, to: "10.96.0.10:80", interleaved: interleaved)
        let path = try capture.write(name: "keep-alive-200-\(interleaved ? "phases" : "serial").pcapng")
        var options = CorrelateOptions()
        options.maxOpenConnections = 24
        var flows = Correlator.correlatedFlows
        flows.maxConnections = 24
        var traces: [RequestTrace] = []
        let run = try Correlator.trace(inputs: [CaptureFileSpec(path: path)], options: options, flows: flows) {
            traces += $0
        }
        let requested = traces.compactMap { $0.request?.path }
        // Each of the 200 requests sent is in one trace (the caps judge or give up connections, never a request).
        #expect(requested.count == 200)
        #expect(Set(requested) == Set((0..<200).map { "/ka/\($0)" }))
        #expect(run.flows.flowStatistics.evictedForCap > 0)
        if interleaved {
            // Given up before its response came (the response came in a later piece): not known to be answered.
            #expect(traces.filter { $0.request != nil }.allSatisfy { $0.verdict.kind == .incomplete })
        } else {
            #expect(traces.allSatisfy { $0.request?.status == 200 && $0.verdict.kind == .ok })
        }
        // Nothing held more than the caps allow.
        #expect(run.statistics.peakOpenConnections <= 25)
    }

    /// 40 short HTTP connections one after the other, 1 ms apart (handshake, `GET /c/<n>`, 200), under a cap of 4
    /// open connections: the flow stage keeps each a little after it closes (for late retransmissions), so the cap
    /// judges the older ones before their final records. One that had closed both ways (a FIN each way) lost nothing
    /// and is not said to be given up; one the server had not closed yet may still carry more, and is.
    @Test(
        "judged early at the cap: a connection closed both ways is whole, one closed by the client only is given up",
        arguments: [true, false]
    )
    func closedConnectionsAtTheCap(serverCloses: Bool) throws {
        var capture = HandBuiltCapture(interfaces: ["eth0"])
        for n in 0..<40 {
            let client = "10.0.1.\(n + 1):40000"
            let server = "10.0.0.9:80"
            let (c, s) = (UInt32(1_000 + n * 7919), UInt32(9_000 + n * 104_729))
            let request = Array("GET /c/\(n) HTTP/1.1\r\nHost: s\r\n\r\n".utf8)
            let response = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)
            let (q, r) = (UInt32(request.count), UInt32(response.count))
            let start = Double(n)
            capture.tcp(at: ms(start), client, server, .syn, seq: c, ipID: UInt16(n + 1))
            capture.tcp(at: ms(start + 0.01), server, client, [.syn, .ack], seq: s, ack: c &+ 1)
            capture.tcp(at: ms(start + 0.02), client, server, .ack, seq: c &+ 1, ack: s &+ 1)
            capture.tcp(at: ms(start + 0.03), client, server, [.psh, .ack], seq: c &+ 1, ack: s &+ 1, payload: request)
            capture.tcp(
                at: ms(start + 0.2),
                server,
                client,
                [.psh, .ack],
                seq: s &+ 1,
                ack: c &+ 1 &+ q,
                payload: response
            )
            capture.tcp(at: ms(start + 0.3), client, server, [.fin, .ack], seq: c &+ 1 &+ q, ack: s &+ 1 &+ r)
            if serverCloses {
                capture.tcp(at: ms(start + 0.4), server, client, [.fin, .ack], seq: s &+ 1 &+ r, ack: c &+ 2 &+ q)
            } else {
                capture.tcp(at: ms(start + 0.4), server, client, .ack, seq: s &+ 1 &+ r, ack: c &+ 2 &+ q)
            }
        }
        let path = try capture.write(name: "closed-at-cap-\(serverCloses ? "both" : "client").pcapng")
        var options = CorrelateOptions()
        options.maxOpenConnections = 4
        var traces: [RequestTrace] = []
        let run = try Correlator.trace(files: [path], options: options) { traces += $0 }
        // Every request traced once, answered.
        #expect(traces.compactMap { $0.request?.path }.sorted() == (0..<40).map { "/c/\($0)" }.sorted())
        #expect(traces.allSatisfy { $0.request?.status == 200 && $0.verdict.kind == .ok })
        let flagged = traces.filter { $0.findings.contains { $0.kind == .evicted } }.count
        #expect(flagged == run.statistics.evictedConnections)
        if serverCloses {
            #expect(flagged == 0)
        } else {
            // All but the last few (held when the capture ends) were judged at the cap while half open.
            #expect(flagged >= 40 - 5)
        }
    }

    @Test("live, by default the flow stage gives a connection up no later than the correlator judges it early")
    func liveCapsMatch() {
        // The test above loses requests when the flow stage holds more than the correlator. Over files both
        // defaults are `Correlator.correlatedConnections`; live, the flow stage's settings are built on their own.
        let live = LiveTracer.Options()
        #expect(live.flows.maxConnections <= live.correlate.maxOpenConnections)
    }

    @Test("a flood of traces between two clock ticks is written early past the cap, counted, none lost")
    func pendingOverflow() throws {
        let path = try Self.flood()
        var options = CorrelateOptions()
        options.maxOpenConnections = 16
        options.maxPendingTraces = 24
        var batches: [[RequestTrace]] = []
        let run = try Correlator.trace(files: [path], options: options) { batches.append($0) }
        let traces = batches.flatMap { $0 }
        #expect(Set(traces.compactMap { $0.client?.port }) == Set((0..<200).map { UInt16(20_000 + $0) }))
        #expect(traces.count == 200)
        #expect(traces.map(\.index) == Array(0..<200))
        #expect(run.statistics.evictedPending > 0)
        // Released while the capture was read, not all at its end: nothing held more than the cap and an eighth.
        #expect(batches.count > 200 / 24)
        #expect(batches.allSatisfy { $0.count <= 24 + 24 / 8 + 16 })
    }

    @Test("a flood of lookups past the cap on held queries: judged early, counted, each traced once")
    func lookupFlood() throws {
        // 600 clients, each one A query (answered for the even ones), 100 us apart: all inside the stable delay.
        var capture = HandBuiltCapture(interfaces: ["eth0"])
        for n in 0..<600 {
            let client = "10.1.\(n / 200).\(n % 200 + 1):\(40_000 + n)"
            let name = "q\(n).default.svc.cluster.local"
            capture.udp(
                at: ms(Double(n) * 0.1),
                client,
                "10.96.0.10:53",
                payload: DNSBytes.query(id: UInt16(n), name, type: 1)
            )
            if n % 2 == 0 {
                capture.udp(
                    at: ms(Double(n) * 0.1 + 0.05),
                    "10.96.0.10:53",
                    client,
                    payload: DNSBytes.response(id: UInt16(n), name, type: 1, answers: [.a("10.96.7.\(n % 250 + 1)")])
                )
            }
        }
        let path = try capture.write(name: "lookup-flood-600.pcapng")
        for cap in [48, 100_000] {
            var options = CorrelateOptions()
            options.maxHeldQueries = cap
            var traces: [RequestTrace] = []
            let run = try Correlator.trace(files: [path], options: options) { traces += $0 }
            let names = traces.compactMap { $0.dns?.name }
            #expect(traces.allSatisfy { $0.kind == .dns }, "cap \(cap)")
            #expect(names.count == 600, "cap \(cap)")
            #expect(Set(names) == Set((0..<600).map { "q\($0).default.svc.cluster.local" }), "cap \(cap)")
            // The capture lasts 60 ms: the unanswered half is not yet a timeout (incomplete), with either cap.
            #expect(traces.filter { $0.dns?.outcome == .timeout }.count == 300, "cap \(cap)")
            #expect(traces.filter { $0.verdict.kind == .incomplete }.count == 300, "cap \(cap)")
            #expect(traces.filter { $0.verdict.kind == .ok }.count == 300, "cap \(cap)")
            if cap == 48 {
                // At most the cap and an eighth are held unjudged at any time, so all the others were judged early.
                #expect(run.statistics.shedQueries >= 600 - 48 - 48 / 8)
            } else {
                #expect(run.statistics.shedQueries == 0)
            }
        }
    }

    @Test("one client past its cap on pending queries loses its oldest, counted; another client loses none")
    func perClientCap() throws {
        // 40 queries of distinct names from one socket and 5 from another client, interleaved, 1 ms apart, every
        // other one answered: all inside the stable delay, so all pending at once.
        var capture = HandBuiltCapture(interfaces: ["eth0"])
        var quiet = 0
        for n in 0..<40 {
            let name = "busy\(n).default.svc.cluster.local"
            capture.udp(
                at: ms(Double(n)),
                "10.1.0.5:41000",
                "10.96.0.10:53",
                payload: DNSBytes.query(id: UInt16(n), name, type: 1)
            )
            if n % 2 == 0 {
                capture.udp(
                    at: ms(Double(n) + 0.2),
                    "10.96.0.10:53",
                    "10.1.0.5:41000",
                    payload: DNSBytes.response(id: UInt16(n), name, type: 1, answers: [.a("10.96.8.\(n + 1)")])
                )
            }
            if n % 8 == 0 {
                let other = "quiet\(quiet).default.svc.cluster.local"
                capture.udp(
                    at: ms(Double(n) + 0.5),
                    "10.1.0.6:42000",
                    "10.96.0.10:53",
                    payload: DNSBytes.query(id: UInt16(500 + quiet), other, type: 1)
                )
                quiet += 1
            }
        }
        let path = try capture.write(name: "per-client-cap.pcapng")
        var options = CorrelateOptions()
        options.maxQueriesPerClient = 8
        var traces: [RequestTrace] = []
        let run = try Correlator.trace(files: [path], options: options) { traces += $0 }
        let names = Set(traces.compactMap { $0.dns?.name })
        #expect(run.statistics.evictedQueries == 32)
        // The busy client keeps its 8 latest; the other client keeps all of its 5.
        #expect(
            names
                == Set(
                    (32..<40).map { "busy\($0).default.svc.cluster.local" }
                        + (0..<5).map { "quiet\($0).default.svc.cluster.local" }
                )
        )
        #expect(traces.count == 13)
    }

    @Test("a flood of requests past the cap on exchanges kept for proxies: forgotten early, counted, each traced once")
    func requestFlood() throws {
        // 400 connections from distinct clients, each one GET answered, 200 us apart.
        var capture = HandBuiltCapture(interfaces: ["eth0"])
        for n in 0..<400 {
            let client = "10.2.\(n / 200).\(n % 200 + 1):\(41_000 + n)"
            let server = "10.96.0.20:80"
            let t = Double(n) * 0.2
            let request = Array("GET /r/\(n) HTTP/1.1\r\nHost: svc\r\n\r\n".utf8)
            let response = Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8)
            // Each connection its own ISNs: they are what stitching goes by.
            let c = UInt32(100 + n * 7_919)
            let s = UInt32(900 + n * 104_729)
            capture.tcp(at: ms(t), client, server, .syn, seq: c)
            capture.tcp(at: ms(t + 0.01), server, client, [.syn, .ack], seq: s, ack: c + 1)
            capture.tcp(at: ms(t + 0.02), client, server, .ack, seq: c + 1, ack: s + 1)
            capture.tcp(at: ms(t + 0.03), client, server, [.ack, .psh], seq: c + 1, ack: s + 1, payload: request)
            capture.tcp(
                at: ms(t + 0.05),
                server,
                client,
                [.ack, .psh],
                seq: s + 1,
                ack: c + 1 + UInt32(request.count),
                payload: response
            )
        }
        let path = try capture.write(name: "request-flood-400.pcapng")
        for cap in [40, 200_000] {
            var options = CorrelateOptions()
            options.maxOnwardExchanges = cap
            var traces: [RequestTrace] = []
            let run = try Correlator.trace(files: [path], options: options) { traces += $0 }
            let paths = traces.compactMap { $0.request?.path }
            #expect(paths.count == 400, "cap \(cap)")
            #expect(Set(paths) == Set((0..<400).map { "/r/\($0)" }), "cap \(cap)")
            #expect(traces.allSatisfy { $0.request?.status == 200 }, "cap \(cap)")
            if cap == 40 {
                // At most the cap and a quarter kept at once: all the others were forgotten early.
                #expect(run.statistics.shedExchanges >= 400 - 40 - 40 / 4 - 1)
            } else {
                #expect(run.statistics.shedExchanges == 0)
            }
        }
    }
}
