import Foundation
import HoptraceTestSupport
import Testing

/// Captures that begin after the handshake (the everyday case of a capture started while traffic flows) go
/// through every stage and every output: the process ends normally and no sentence claims a SYN it did not see.
/// The facts are the hand-built packets: none of these captures holds a pure SYN.
@Suite("mid-stream captures")
struct MidStreamTests {
    static let t0: Int64 = 1_700_000_000_000_000_000
    static func at(_ ms: Double) -> Int64 { t0 + Int64(ms * 1_000_000) }

    static let client = "10.0.0.1:40000"
    static let server = "10.0.0.2:80"

    /// The variants: name and how to build them.
    static let variants: [(String, @Sendable (inout HandBuiltCapture) -> Void)] = [
        (
            "ack-data-rst",
            { c in
                c.tcp(at: at(0), client, server, .ack, seq: 1000, ack: 5000)
                c.tcp(
                    at: at(1),
                    server,
                    client,
                    [.ack, .psh],
                    seq: 5000,
                    ack: 1000,
                    payload: Array(repeating: 0x78, count: 100)
                )
                c.tcp(at: at(2), server, client, .rst, seq: 5100)
            }
        ),
        (
            "data-then-client-rst",
            { c in
                c.tcp(
                    at: at(0),
                    client,
                    server,
                    [.ack, .psh],
                    seq: 1000,
                    ack: 5000,
                    payload: Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
                )
                c.tcp(
                    at: at(1),
                    server,
                    client,
                    [.ack, .psh],
                    seq: 5000,
                    ack: 1027,
                    payload: Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)
                )
                c.tcp(at: at(2), client, server, [.rst, .ack], seq: 1027, ack: 5040)
            }
        ),
        ("rst-only", { c in c.tcp(at: at(0), server, client, [.rst, .ack], seq: 5000, ack: 1000) }),
        (
            "fin-only",
            { c in
                c.tcp(at: at(0), client, server, [.fin, .ack], seq: 1000, ack: 5000)
                c.tcp(at: at(1), server, client, [.fin, .ack], seq: 5000, ack: 1001)
            }
        ),
        (
            "synack-first",
            { c in
                c.tcp(at: at(0), server, client, [.syn, .ack], seq: 4999, ack: 1000)
                c.tcp(at: at(1), client, server, .ack, seq: 1000, ack: 5000)
                c.tcp(
                    at: at(2),
                    client,
                    server,
                    [.ack, .psh],
                    seq: 1000,
                    ack: 5000,
                    payload: Array("GET /a HTTP/1.1\r\n\r\n".utf8)
                )
            }
        ),
        (
            "server-data-only",
            { c in
                c.tcp(
                    at: at(0),
                    server,
                    client,
                    [.ack, .psh],
                    seq: 5000,
                    ack: 1000,
                    payload: Array(repeating: 0x41, count: 500)
                )
                c.tcp(
                    at: at(1),
                    server,
                    client,
                    [.ack, .psh],
                    seq: 5500,
                    ack: 1000,
                    payload: Array(repeating: 0x41, count: 500)
                )
            }
        ),
    ]

    static let commands: [[String]] = [
        ["trace"], ["trace", "--all"], ["trace", "--json"], ["trace", "--all", "--json"], ["flows"], ["requests"],
        ["flows", "--json"], ["requests", "--json"], ["packets"],
    ]

    @Test("every stage and output ends normally, and no verdict claims a SYN", arguments: variants.map(\.0))
    func variant(_ name: String) throws {
        var capture = HandBuiltCapture()
        Self.variants.first { $0.0 == name }!.1(&capture)
        let path = try capture.write(name: "midstream-\(name).pcap")
        for command in Self.commands {
            let run = try Command.hoptrace(command + [path])
            #expect(run.status == 0 || run.status == 1, "\(command) on \(name): status \(run.status): \(run.stderr)")
            #expect(!run.stderr.contains("Fatal error"), "\(command) on \(name): \(run.stderr)")
            if run.status == 1 {
                #expect(run.stderr.split(separator: "\n").count == 1, "\(command) on \(name): \(run.stderr)")
            }
        }
        let json = try Command.hoptrace(["trace", "--all", "--json", path])
        for line in json.stdout.split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            let verdict = object?["verdict"] as? [String: Any]
            let detail = verdict?["sentence"] as? String ?? ""
            if name != "synack-first" {
                #expect(!detail.contains("SYN "), "\(name): \(detail)")
            }
        }
    }
}
