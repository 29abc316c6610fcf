import Foundation
import HoptraceCapture
import HoptraceDecode
import HoptraceFlows
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// Over every capture in the repository (the public corpus and the lab's), every trace says nothing its own numbers
/// contradict: each duration in its sentence is one of its durations, a status is its status, a SYN count is its
/// SYN count, the phases add up to the total, the total is end minus start, the location is on its path, and a
/// connection whose handshake was not captured claims no SYN.
@Suite("sentences agree with their numbers")
struct SentencePropertyTests {
    /// Every capture file of the repository, relative to its root.
    static let files: [String] = {
        var files = Repository.corpusCaptures.map { "Tests/Corpus/" + $0 }
        let walker = FileManager.default.enumerator(atPath: Repository.captures.path)
        while let next = walker?.nextObject() as? String {
            if next.hasSuffix(".pcap") || next.hasSuffix(".pcapng") { files.append("captures/" + next) }
        }
        return files.sorted()
    }()

    static func traces(_ file: String) -> [RequestTrace] {
        var traces: [RequestTrace] = []
        _ = try? Correlator.trace(files: [Repository.root.appendingPathComponent(file).path]) { traces += $0 }
        return traces
    }

    /// Every duration the trace carries, as the sentence would print it.
    static func durations(_ trace: RequestTrace) -> Set<String> {
        var values: [Int64] = [trace.timings.total]
        values += trace.timings.phases.map(\.value)
        values += [trace.dns?.duration].compactMap { $0 }
        values += trace.dns?.queries.compactMap(\.duration) ?? []
        for hop in trace.hops {
            values += [hop.synDelay, hop.requestDelay, hop.responseDelay, hop.handshakeRTT].compactMap { $0 }
        }
        return Set(values.map(TimeFormat.duration))
    }

    /// The durations a sentence states (`790 µs`, `15.5 ms`, `1.50 s`).
    static func stated(_ sentence: String) -> [String] {
        let pattern = #/([0-9]+(?:\.[0-9]+)?) (µs|ms|s)\b/#
        return sentence.matches(of: pattern).map { "\($0.output.1) \($0.output.2)" }
    }

    /// What a trace says that its numbers contradict (empty: nothing).
    static func contradictions(_ trace: RequestTrace) -> [String] {
        var problems: [String] = []
        let sentence = trace.verdict.sentence
        let t = trace.timings
        if t.phases.map(\.value).reduce(0, +) != t.total { problems.append("phases do not add up") }
        if !t.phases.allSatisfy({ $0.value >= 0 }) { problems.append("negative phase") }
        if Clock.since(trace.end, trace.start) != t.total { problems.append("end - start is not the total") }
        for hop in trace.hops {
            for delay in [hop.synDelay, hop.requestDelay, hop.responseDelay, hop.handshakeRTT] where (delay ?? 0) < 0 {
                problems.append("negative hop delay")
            }
        }
        let known = Self.durations(trace)
        for duration in Self.stated(sentence) where !known.contains(duration) {
            problems.append("\(duration) is none of the trace's durations")
        }
        if let match = sentence.firstMatch(of: #/completed ([0-9]{3}) in (.+)$/#) {
            if Int(match.output.1) != trace.request?.status { problems.append("status") }
            if String(match.output.2) != TimeFormat.duration(t.total) { problems.append("total") }
        }
        if let match = sentence.firstMatch(of: #/sent ([0-9]+) times?/#) {
            if Int(match.output.1) != (trace.hops.map(\.synCount).max() ?? 0) { problems.append("SYN count") }
        }
        if trace.findings.contains(where: { $0.kind == .handshakeNotCaptured }), sentence.contains("SYN") {
            problems.append("claims a SYN it did not see")
        }
        if let location = trace.verdict.location {
            let onPath =
                trace.hops.contains { $0.point == location }
                || (trace.dns?.queries.contains { $0.seenAt.contains(location) } ?? false)
            if !onPath { problems.append("location \(location) is not on the path") }
        }
        if trace.verdict.kind == .breakpoint, let next = trace.verdict.next, next == trace.verdict.location {
            problems.append("next is the breakpoint itself")
        }
        return problems
    }

    @Test("no sentence contradicts its numbers", arguments: files)
    func agree(_ file: String) throws {
        for trace in Self.traces(file) {
            let problems = Self.contradictions(trace)
            #expect(problems.isEmpty, "\(file) #\(trace.index): \(trace.verdict.sentence): \(problems)")
        }
    }

    @Test("the check itself catches a contradiction")
    func checkCatches() {
        let point = CapturePoint(name: "eth0")
        let hop = Hop(
            point: point,
            directions: [.unknown],
            source: FlowEndpoint(address: IPAddress(10, 0, 0, 1), port: 1),
            destination: FlowEndpoint(address: IPAddress(10, 0, 0, 2), port: 80),
            firstSeen: 0,
            synCount: 1
        )
        let good = RequestTrace(
            kind: .http,
            mode: .direct,
            verdict: Verdict(kind: .ok, sentence: "GET / completed 200 in 15.5 ms", location: point),
            request: RequestSummary(method: "GET", path: "/", status: 200),
            hops: [hop],
            timings: Timings(request: 15_500_000, total: 15_500_000),
            start: 0,
            end: 15_500_000
        )
        #expect(Self.contradictions(good).isEmpty)
        var slow = good
        slow.verdict.sentence = "GET / completed 200 in 1.13 s"
        #expect(!Self.contradictions(slow).isEmpty)
        var status = good
        status.verdict.sentence = "GET / completed 404 in 15.5 ms"
        #expect(!Self.contradictions(status).isEmpty)
        var syn = good
        syn.verdict = Verdict(kind: .breakpoint, sentence: "the SYN was sent 4 times", location: point)
        #expect(!Self.contradictions(syn).isEmpty)
        var phases = good
        phases.timings.server = 1
        #expect(!Self.contradictions(phases).isEmpty)
    }
}
