import Foundation
import HoptraceCapture
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// Live tracing of a keep-alive connection: a request judged while its connection stays open (the response in, the
/// connection quiet) does not end the tracing of that connection; the next request on it, seconds or minutes later,
/// is traced too. The facts are the hand-built capture's own: two requests, each answered.
@Suite("live: requests after a quiet keep-alive connection")
struct LiveKeepAliveTests {
    @Test("GET /one, then GET /two 30 s and 200 s later on the same connection: each comes out once, ok")
    func secondRequestAfterQuiet() throws {
        for gap in [30.0, 200] {
            let traces = try LiveTracer.replay(try QuietKeepAliveTests.capture(gap: gap), tail: 20_000_000_000)
            #expect(traces.compactMap { $0.request?.path } == ["/one", "/two"], "gap \(gap) s")
            #expect(traces.allSatisfy { $0.verdict.kind == .ok }, "gap \(gap) s: \(traces.map(\.verdict.sentence))")
        }
    }
}

extension LiveTracer {
    /// The traces a live tracer prints for a capture file replayed at its own pace: polled after each packet, then
    /// every 100 ms for `tail` ns of capture time after the last packet, then finished.
    static func replay(_ path: String, tail: Int64) throws -> [RequestTrace] {
        var traces: [RequestTrace] = []
        _ = try replay(path, tail: tail) { trace, _, _ in traces.append(trace) }
        return traces
    }

    /// Replays a capture file as ``replay(_:tail:)`` does, handing each trace to `emit` with the capture time it came
    /// out at and whether it came out at the finish; returns the tracer and the last packet's time.
    static func replay(
        _ path: String,
        ifIndexNames: [Int32: String] = [:],
        tail: Int64,
        emit: (RequestTrace, Int64, Bool) -> Void
    ) throws -> (tracer: LiveTracer, lastPacket: Int64) {
        let source = try openCaptureFile(path: path)
        let tracer = LiveTracer(ifIndexNames: ifIndexNames)
        var last: Int64 = 0
        while let packet = try source.next() {
            last = max(last, packet.timestamp)
            tracer.process(packet, interfaces: source.interfaces)
            for trace in tracer.poll(now: last) { emit(trace, last, false) }
        }
        var now = last
        while now < Clock.plus(last, tail) {
            now += 100_000_000
            for trace in tracer.poll(now: now) { emit(trace, now, false) }
        }
        for trace in tracer.finish(now: now) { emit(trace, now, true) }
        return (tracer, last)
    }
}
