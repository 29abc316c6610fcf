import Foundation
import HoptraceCapture
import HoptraceDecode
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// The streaming tracer fed a lab capture packet by packet, with the capture's clock as "now" (and the clock run on
/// past the last packet, as a quiet link would): when each trace comes out and how often, checked against the truth
/// file the lab wrote and against tshark's reading of the same capture.
enum LiveReplay {
    struct Emission {
        var trace: RequestTrace
        /// The clock when it was returned.
        var now: Int64
        /// Returned by `finish`, not by `poll`.
        var atFinish: Bool
    }

    /// Replays `<scenario>.sll2.pcap` into a LiveTracer, polling after each packet and every 100 ms of clock for
    /// `tail` after the last packet, then finishing.
    /// `withoutBackground`: the capture without the lab's healthy background traffic (for a test that counts every
    /// trace of one Service).
    static func replay(
        _ scenario: String,
        tail: Int64 = 20_000_000_000,
        withoutBackground: Bool = false
    ) throws -> (emissions: [Emission], lastPacket: Int64, tracer: LiveTracer) {
        let truth = try LabCaptures.truth(scenario)
        var names: [Int32: String] = [:]
        if let interfaces = truth["interfaces"] as? [String: String] {
            for (index, name) in interfaces { if let i = Int32(index) { names[i] = name } }
        }
        let path = withoutBackground ? LiveReplay.capture(scenario) : LabCaptures.file("\(scenario).sll2.pcap").path
        var emissions: [Emission] = []
        let (tracer, last) = try LiveTracer.replay(path, ifIndexNames: names, tail: tail) { trace, now, atFinish in
            emissions.append(Emission(trace: trace, now: now, atFinish: atFinish))
        }
        return (emissions, last, tracer)
    }

    /// `frame.time_epoch` (ns) of the packets of `file` matching the display filter, via tshark.
    static func times(_ file: String, filter: String) throws -> [Int64] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["tshark", "-n", "-r", file, "-Y", filter, "-T", "fields", "-e", "frame.time_epoch"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            // "1763800000.123456789": whole seconds and nanoseconds, without floating point.
            let parts = line.split(separator: ".")
            guard let seconds = Int64(parts[0]) else { return nil }
            let fraction = parts.count > 1 ? String(parts[1].prefix(9)) : ""
            let nanos = Int64(fraction.padding(toLength: 9, withPad: "0", startingAt: 0)) ?? 0
            return seconds * 1_000_000_000 + nanos
        }.sorted()
    }

    static var tsharkAvailable: Bool {
        ["/usr/bin/tshark", "/usr/local/bin/tshark"].contains { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func expected(_ scenario: String) throws -> (kind: String, hops: [String], paths: Set<String>) {
        let truth = try LabCaptures.truth(scenario)
        let expected = try #require((truth["expected"] as? [String: Any])?["verdict"] as? [String: Any])
        let kind = try #require(expected["kind"] as? String)
        let hops: [String] = (expected["hop"] as? [String]) ?? [(expected["hop"] as? String)].compactMap { $0 }
        let requests = (truth["requests"] as? [[String: Any]]) ?? []
        return (kind, hops, Set(requests.compactMap { $0["path"] as? String }))
    }

    /// The scenario's `tcpdump -i any` capture without the lab's healthy background traffic: these tests count the
    /// traces of the scenario's own request (the busy background is the lab tests' and the lead's verdict tests').
    static func capture(_ scenario: String) -> String {
        let file = LabCaptures.file("\(scenario).sll2.pcap")
        return ((try? Lab.withoutBackground(file, scenario: scenario)) ?? file).path
    }

    static func has(_ scenario: String) -> Bool {
        FileManager.default.fileExists(atPath: LabCaptures.file("\(scenario).sll2.pcap").path)
    }
}

@Suite("LiveTracer replaying lab captures")
struct LiveTracerTests {
    @Test(
        "clusterip-drop: the breakpoint comes out once, after the SYN retransmissions have stopped for the quiet period",
        .enabled(if: LiveReplay.has("clusterip-drop") && LiveReplay.tsharkAvailable, "no capture or no tshark")
    )
    func dropIsReportedOnceAfterQuiet() throws {
        let scenario = "clusterip-drop"
        let (kind, hops, _) = try LiveReplay.expected(scenario)
        // Every trace to the web Service is counted: the lab's background requests to it are left out.
        let (emissions, _, tracer) = try LiveReplay.replay(scenario, withoutBackground: true)
        let file = LiveReplay.capture(scenario)
        // The client pod's SYNs, as tshark reads them (every capture point; the last is the last retransmission).
        let syns = try LiveReplay.times(
            file,
            filter: "tcp.flags.syn==1 && tcp.flags.ack==0 && ip.src==10.244.0.10 && tcp.dstport==80"
        )
        let lastSYN = try #require(syns.last)
        let toService = emissions.filter { $0.trace.service?.description == "10.96.0.100:80" }
        #expect(toService.count == 1, "emitted \(toService.count) times: \(toService.map(\.trace.verdict))")
        let emission = try #require(toService.first)
        #expect(emission.trace.verdict.kind.rawValue == kind)
        #expect(
            hops.contains(emission.trace.verdict.location?.name ?? "-"),
            "hop \(emission.trace.verdict.location?.name ?? "-")"
        )
        #expect(!emission.atFinish, "the breakpoint waited for the end of the input")
        let latency = emission.now - lastSYN
        #expect(latency >= tracer.options.quietPeriod, "printed \(latency) ns after the last SYN")
        #expect(latency <= tracer.options.maxQuietPeriod + tracer.options.pollInterval + 200_000_000)
        // The SYN count in the trace is tshark's count of SYNs at the client's own veth.
        let atClient = try LiveReplay.times(
            file,
            filter: "sll.ifindex==4 && tcp.flags.syn==1 && tcp.flags.ack==0 && ip.src==10.244.0.10 && tcp.dstport==80"
        )
        #expect(emission.trace.hops.first?.synCount == atClient.count)
    }

    @Test(
        "clusterip-ok: the ok trace comes out once, right after the response, before the connection's record closes",
        .enabled(if: LiveReplay.has("clusterip-ok") && LiveReplay.tsharkAvailable, "no capture or no tshark")
    )
    func okIsReportedOnceWhenComplete() throws {
        let scenario = "clusterip-ok"
        let (kind, _, paths) = try LiveReplay.expected(scenario)
        let (emissions, lastPacket, tracer) = try LiveReplay.replay(scenario)
        let file = LabCaptures.file("\(scenario).sll2.pcap").path
        let ours = emissions.filter { $0.trace.request.map { paths.contains($0.path) } == true }
        #expect(ours.count == 1, "emitted \(ours.count) times")
        let emission = try #require(ours.first)
        #expect(emission.trace.verdict.kind.rawValue == kind)
        #expect(!emission.atFinish)
        // The response's last packet at the client's veth (tshark: HTTP response there).
        let responses = try LiveReplay.times(
            file,
            filter: "sll.ifindex==4 && http.response && ip.dst==10.244.0.10"
        )
        let response = try #require(responses.last)
        // The settle time after the response, then the next tick of the engine and the next poll.
        let delay = emission.now - response
        let bound = tracer.options.settle + tracer.options.correlate.tick + tracer.options.pollInterval + 100_000_000
        #expect(delay >= tracer.options.settle && delay <= bound, "\(delay)")
        #expect(lastPacket > response)
    }

    @Test(
        "every lab scenario: each of the lab's requests comes out exactly once, with the truth's verdict",
        .enabled(if: !LabCaptures.cases.isEmpty, "no lab captures"),
        arguments: LabCaptures.cases.filter { $0.format == "sll2.pcap" }.map(\.scenario)
    )
    func everyScenarioOnce(_ scenario: String) throws {
        let (kind, hops, paths) = try LiveReplay.expected(scenario)
        let (emissions, _, _) = try LiveReplay.replay(scenario)
        var seen: [String: Int] = [:]
        for emission in emissions {
            let trace = emission.trace
            let key =
                "\(trace.client?.description ?? "?") \(trace.request?.method ?? "") \(trace.request?.path ?? "")"
                + " \(trace.request?.requestID ?? "") \(trace.hops.first?.firstSeen ?? trace.start)"
            seen[key, default: 0] += 1
        }
        #expect(seen.values.allSatisfy { $0 == 1 }, "printed twice: \(seen.filter { $0.value > 1 }.keys)")
        let relevant = emissions.map(\.trace).filter { trace in
            guard let request = trace.request else { return true }
            return paths.isEmpty || paths.contains(request.path)
        }
        let described = relevant.map { "\($0.verdict.kind.rawValue)@\($0.verdict.location?.name ?? "-")" }
        #expect(
            relevant.contains {
                $0.verdict.kind.rawValue == kind && (hops.isEmpty || hops.contains($0.verdict.location?.name ?? ""))
            },
            "expected \(kind) at \(hops), got \(described)"
        )
        if kind == "ok" {
            // Known (seen on the four-writer captures, not on every run: the live tracer's output varies between
            // processes): with the healthy background and a promiscuous cni0, the replay of nodeport-ok,
            // ingress-ok and ingress-via-nodeport also prints a no-response trace at the serving pod's veth. Issue
            // 15 §4: a busy healthy node must raise no alarm.
            withKnownIssue("live tracer false alarm on a busy capture", isIntermittent: true) {
                #expect(relevant.allSatisfy { !$0.verdict.kind.isFailure }, "false alarm: \(described)")
            } when: {
                ["nodeport-ok", "ingress-ok", "ingress-via-nodeport"].contains(scenario)
            }
        }
        // Every request the lab made (by path) was printed.
        let printedPaths = Set(relevant.compactMap(\.request?.path))
        if kind == "ok" || kind == "slow" {
            #expect(paths.isSubset(of: printedPaths), "missing \(paths.subtracting(printedPaths))")
        }
    }
}
