import Foundation
import HoptraceTestSupport
import Testing

/// The progress line of a long read: on a terminal only (script(1) gives the command one), cleared at the end, and
/// never in a pipe.
@Suite("progress line")
struct ProgressLineTests {
    /// 70,000 UDP datagrams (more than the 65,536 packets between two progress reports).
    static let file: String? = {
        var capture = HandBuiltCapture()
        let payload = [UInt8](repeating: 0x61, count: 16)
        for index in 0..<70_000 {
            capture.udp(
                at: 1_790_000_000_000_000_000 + Int64(index) * 1_000,
                "10.0.0.1:5000",
                "10.0.0.2:9000",
                payload: payload
            )
        }
        return try? capture.write(name: "progress-70k.pcap")
    }()

    @Test("on a terminal: bytes of the file's size, packets, rate; erased before the command ends")
    func onATerminal() throws {
        let file = try #require(Self.file)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
        // Records to /dev/null, standard error on script's terminal: what script writes is the progress line.
        let command = "'\(Command.hoptrace)' flows '\(file)' > /dev/null"
        let run = try Command.run(
            "/usr/bin/script",
            ["-q", "-e", "-c", command, "/dev/null"],
            environment: ["TERM": "xterm"]
        )
        #expect(run.status == 0, "\(run.stderr)")
        let text = run.stdout
        #expect(text.hasPrefix("\r\u{1B}[K"), "\(text.debugDescription)")
        #expect(text.contains("66 k packets"), "\(text.debugDescription)")
        #expect(text.contains(" of \(size / 1_000_000) MB ("), "\(text.debugDescription)")
        #expect(text.contains("packets/s"), "\(text.debugDescription)")
        // The last thing written erases the line.
        #expect(text.hasSuffix("\r\u{1B}[K"), "\(text.debugDescription)")
    }

    @Test("in a pipe: nothing on standard error")
    func inAPipe() throws {
        let file = try #require(Self.file)
        let run = try Command.hoptrace(["flows", file])
        #expect(run.status == 0)
        #expect(run.stderr.isEmpty, "\(run.stderr.debugDescription)")
    }
}
