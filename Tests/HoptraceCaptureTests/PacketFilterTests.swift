import Foundation
import HoptraceTestSupport
import Testing

@testable import HoptraceCapture

/// BPF filters on file packets: libpcap's verdict on hand-built frames, and its own words for a bad expression.
@Suite("PacketFilter")
struct PacketFilterTests {
    static func packets(_ capture: HandBuiltCapture) -> [[UInt8]] { capture.frames.map(\.bytes) }

    @Test("A filter keeps the frames its expression describes, per link type")
    func matches() throws {
        var capture = HandBuiltCapture()
        capture.tcp(at: 0, "10.0.0.1:40000", "10.0.0.2:80", .syn, seq: 1)
        capture.udp(at: 1, "10.0.0.1:5353", "10.0.0.3:53", payload: [0, 1, 2, 3])
        capture.tcp(at: 2, "10.0.0.1:40001", "10.0.0.2:443", .syn, seq: 1)
        let frames = Self.packets(capture)
        func verdicts(_ expression: String, linkType: LinkType = .ethernet, strip: Int = 0) throws -> [Bool] {
            let filter = try PacketFilter(expression)
            return try frames.map { frame in
                let bytes = Array(frame.dropFirst(strip))
                return try bytes.withUnsafeBytes { raw throws(CaptureError) in
                    let packet = Packet(
                        timestamp: 0,
                        interfaceID: 0,
                        direction: .unknown,
                        linkType: linkType,
                        originalLength: raw.count,
                        bytes: raw
                    )
                    return try filter.matches(packet)
                }
            }
        }
        #expect(try verdicts("tcp port 80") == [true, false, false])
        #expect(try verdicts("tcp port 80 or udp port 53") == [true, true, false])
        #expect(try verdicts("host 10.0.0.3") == [false, true, false])
        // Raw IP (LINKTYPE_RAW, 101, which libpcap calls DLT_RAW): the same frames without their Ethernet header.
        #expect(try verdicts("tcp dst port 443", linkType: .raw, strip: 14) == [false, false, true])
    }

    @Test("A malformed expression is one line with libpcap's reason")
    func errors() {
        #expect(throws: CaptureError.self) { try PacketFilter("tcp prot 80") }
        do {
            _ = try PacketFilter("tcp port 99999")
            Issue.record("compiled")
        } catch {
            #expect(error.code == .pcap)
            #expect(error.description.contains("port 99999"))
            #expect(!error.description.contains("\n"))
        }
        // An expression valid for Ethernet but not for another link type fails on that link type only.
        do {
            let filter = try PacketFilter("ether host 02:00:00:00:00:01")
            #expect(throws: CaptureError.self) { try filter.prepare(for: .raw) }
        } catch {
            Issue.record("\(error)")
        }
    }
}
