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
            let path = try QuietKeepAliveTests.capture(gap: gap)
            let source = try openCaptureFile(path: path)
            let tracer = LiveTracer()
            var traces: [RequestTrace] = []
            var last: Int64 = 0
            while let packet = try source.next() {
                last = max(last, packet.timestamp)
                tracer.process(packet, interfaces: source.interfaces)
                traces += tracer.poll(now: last)
            }
            var now = last
            while now < last + 20_000_000_000 {
                now += 100_000_000
                traces += tracer.poll(now: now)
            }
            traces += tracer.finish(now: now)
            #expect(traces.compactMap { $0.request?.path } == ["/one", "/two"], "gap \(gap) s")
            #expect(traces.allSatisfy { $0.verdict.kind == .ok }, "gap \(gap) s: \(traces.map(\.verdict.sentence))")
        }
    }
}
