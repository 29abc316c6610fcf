import Foundation
import HoptraceTestSupport
import Testing

@testable import HoptraceCorrelate

/// The end of the input is traced a batch of connections at a time, each batch's traces released once no connection
/// left can start earlier. The facts: traces come out in start order with consecutive indexes, every connection of
/// a hand-built capture is traced exactly once, and the traces are the same whatever the batch size.
@Suite("streaming end of input")
struct StreamingFinishTests {
    static func traces(_ path: String, batch: Int) -> [RequestTrace] {
        var options = CorrelateOptions()
        options.finishBatch = batch
        var traces: [RequestTrace] = []
        _ = try? Correlator.trace(files: [path], options: options) { traces += $0 }
        return traces
    }

    @Test("every repository capture, batches of 1: start order, consecutive indexes, the same traces as one batch")
    func everyCapture() throws {
        for file in SentencePropertyTests.files {
            let path = Repository.root.appendingPathComponent(file).path
            let small = Self.traces(path, batch: 1)
            let whole = Self.traces(path, batch: .max)
            let consecutive = small.map(\.index) == Array(0..<small.count)
            #expect(consecutive, "\(file)")
            // A capture shorter than the reorder window is traced at its end, every trace released by the batches:
            // then strictly in start order. (In a longer one, a connection that lasts past the window is traced
            // after traces that started later were written: the window bounds what is held.)
            let window = CorrelateOptions().reorderWindow
            if let first = small.map(\.start).min(), let last = small.map(\.end).max(),
                Clock.since(last, first) < window
            {
                let late = zip(small, small.dropFirst()).filter { $0.start > $1.start }.map {
                    "\($0.index)>\($1.index)"
                }
                #expect(late.isEmpty, "\(file): out of start order at \(late.prefix(5))")
            }
            let same = small == whole
            #expect(same, "\(file): the batch size changed the traces")
        }
    }

    @Test("two nodes, every writer: batches of 1 give the traces of one batch (but the clock offsets they report)")
    func twoNodes() throws {
        for labCase in LabTwoNodeTests.cases {
            let (specs, names) = try LabTwoNodeTests.inputs(labCase)
            var traces: [[RequestTrace]] = []
            for batch in [1, Int.max] {
                var options = CorrelateOptions()
                options.finishBatch = batch
                var found: [RequestTrace] = []
                _ = try Correlator.trace(inputs: specs, nodeIfIndexNames: names, options: options) { found += $0 }
                traces.append(found)
            }
            // The times are the same; the clock offsets a trace reports are the estimate when it was written, which
            // later connections on both nodes refine (as for the traces written while the capture is read).
            let stripped = traces.map {
                $0.map { trace -> RequestTrace in
                    var trace = trace
                    trace.clockOffsets = []
                    return trace
                }
            }
            let same = stripped[0] == stripped[1]
            #expect(same, "\(labCase.testDescription)")
            #expect(!traces[0].isEmpty, "\(labCase.testDescription)")
        }
    }

    @Test("1,000 connections open at the end, 40 ms apart, each traced once, in order")
    func manyOpenAtEnd() throws {
        var capture = HandBuiltCapture(interfaces: ["eth0"])
        for n in 0..<1_000 {
            let time = Double(n) * 40
            let port = 30_000 + n
            // A handshake and a request never answered: the connection is still open when the capture ends.
            capture.tcp(at: ms(time), "10.0.0.5:\(port)", "10.0.0.9:80", .syn, seq: UInt32(100 + n))
            capture.tcp(
                at: ms(time + 1),
                "10.0.0.9:80",
                "10.0.0.5:\(port)",
                [.syn, .ack],
                seq: UInt32(9_000 + n),
                ack: UInt32(101 + n)
            )
            capture.tcp(
                at: ms(time + 2),
                "10.0.0.5:\(port)",
                "10.0.0.9:80",
                .ack,
                seq: UInt32(101 + n),
                ack: UInt32(9_001 + n)
            )
        }
        let path = try capture.write(name: "open-at-end-1000.pcapng")
        for batch in [1, 7, 4_096] {
            let traces = Self.traces(path, batch: batch)
            #expect(traces.count == 1_000, "batch \(batch)")
            let inOrder = traces.compactMap { $0.client?.port } == (0..<1_000).map { UInt16(30_000 + $0) }
            #expect(inOrder, "batch \(batch)")
            #expect(traces.map(\.index) == Array(0..<traces.count), "batch \(batch)")
        }
    }
}
