import Foundation
import HoptraceTestSupport
import Testing

/// What reading counted rather than kept as it was is said on stderr, one line each, and the rest is read: packets
/// whose time cannot be placed, and a `tcpdump -i any` capture whose packets each name a new interface index
/// (corrupt, or written to exhaust the reader), whose packets past the cap on capture points go to one point.
@Suite("hoptrace flows, requests and trace: what reading counted")
struct ReadingNotesTests {
    typealias CLI = PacketsCommandTests

    /// An IPv4 packet carrying a TCP SYN from port 40000 to port 80 (its IP checksum set; the flow stage does not
    /// check the TCP one).
    static func syn(from source: [UInt8], to destination: [UInt8]) -> [UInt8] {
        var ip: [UInt8] = [0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0] + source + destination
        var sum: UInt32 = 0
        for k in stride(from: 0, to: 20, by: 2) { sum += UInt32(ip[k]) << 8 | UInt32(ip[k + 1]) }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        ip[10] = UInt8(~sum >> 8 & 0xff)
        ip[11] = UInt8(~sum & 0xff)
        return ip + [0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]
    }

    /// An SLL2 pcap of `count` SYNs from distinct clients, the i-th on interface index i + 1.
    static func capture(count: Int) throws -> String {
        var bytes: [UInt8] = []
        func le32(_ v: UInt32) {
            bytes += [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)]
        }
        func le16(_ v: UInt16) { bytes += [UInt8(v & 0xff), UInt8(v >> 8)] }
        le32(0xa1b2_c3d4)
        le16(2)
        le16(4)
        le32(0)
        le32(0)
        le32(262_144)
        le32(276)  // LINKTYPE_LINUX_SLL2
        for i in 0..<count {
            var frame: [UInt8] = [0x08, 0x00, 0, 0]
            let index = UInt32(i + 1)
            frame += [UInt8(index >> 24), UInt8(index >> 16 & 0xff), UInt8(index >> 8 & 0xff), UInt8(index & 0xff)]
            frame += [0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]
            let source: [UInt8] = [10, UInt8(i >> 16 & 0xff), UInt8(i >> 8 & 0xff), UInt8(i & 0xff)]
            frame += Self.syn(from: source, to: [10, 99, 0, 1])
            le32(1_700_000_000 + UInt32(i / 1_000_000))
            le32(UInt32(i % 1_000_000))
            le32(UInt32(frame.count))
            le32(UInt32(frame.count))
            bytes += frame
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hoptrace-many-if-\(count).pcap").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("65,540 SYNs on as many interface indexes: every one a record, 65,536 points and one for the other four")
    func pastTheCap() throws {
        let path = try Self.capture(count: 65_540)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let flows = try CLI.hoptrace("flows", "--json", path)
        #expect(flows.status == 0)
        var perPoint: [String: Int] = [:]
        for line in flows.stdout.split(separator: "\n") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            perPoint[try #require(object["capturePoint"] as? String), default: 0] += 1
        }
        #expect(perPoint.values.reduce(0, +) == 65_540)
        #expect(perPoint.count == 65_537)
        #expect(perPoint["if65536"] == 1)
        #expect(perPoint["(other interfaces)"] == 4)
        let note =
            "hoptrace: more than 65536 capture points (interfaces): the packets of each interface past them are "
            + "counted at one point per node, \"(other interfaces)\""
        #expect(flows.stderr.split(separator: "\n").contains { $0 == note })
        let requests = try CLI.hoptrace("requests", path)
        #expect(requests.status == 0)
        #expect(requests.stderr.split(separator: "\n").contains { $0 == note })
    }

    @Test("a packet whose time does not fit 64-bit nanoseconds (if_tsoffset 2^62 s): skipped, said once, the next read")
    func unplaceableTime() throws {
        var bytes: [UInt8] = []
        func le16(_ v: UInt16) { bytes += [UInt8(v & 0xff), UInt8(v >> 8)] }
        func le32(_ v: UInt32) {
            bytes += [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)]
        }
        // Section header, then interface 0 with if_tsoffset 2^62 s and interface 1 without options.
        for word: UInt32 in [0x0A0D_0D0A, 28, 0x1A2B_3C4D] { le32(word) }
        le16(1)
        le16(0)
        le32(0xffff_ffff)
        le32(0xffff_ffff)
        le32(28)
        for word: UInt32 in [1, 36] { le32(word) }
        le16(1)
        le16(0)
        le32(262_144)
        le16(14)
        le16(8)
        le32(0)
        le32(0x4000_0000)
        le32(0)
        le32(36)
        for word: UInt32 in [1, 20] { le32(word) }
        le16(1)
        le16(0)
        for word: UInt32 in [262_144, 20] { le32(word) }
        // One packet on each: an Ethernet frame with an IPv4 TCP SYN 10.0.0.1:40000 -> 10.0.0.2:80.
        let frame: [UInt8] =
            [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00] + Self.syn(from: [10, 0, 0, 1], to: [10, 0, 0, 2])
        let padded = frame + [UInt8](repeating: 0, count: (4 - frame.count % 4) % 4)
        for interface: UInt32 in [0, 1] {
            let length = UInt32(32 + padded.count)
            for word in [6, length, interface, 0, 1_000, UInt32(frame.count), UInt32(frame.count)] { le32(word) }
            bytes += padded
            le32(length)
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hoptrace-bad-time.pcapng").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let note =
            "hoptrace: 1 packet skipped: its time does not fit 64-bit nanoseconds (before 1677 or after 2262; a "
            + "corrupt timestamp, if_tsresol or if_tsoffset)"
        let flows = try CLI.hoptrace("flows", "--json", path)
        #expect(flows.status == 0)
        // The packet on interface 1 (at 1 ms after the epoch) is read: one connection, one packet.
        #expect(flows.stdout.split(separator: "\n").count == 1)
        #expect(flows.stdout.contains("\"timeNs\":1000000,"))
        #expect(flows.stderr.split(separator: "\n").filter { $0 == note }.count == 1)
        let trace = try CLI.hoptrace("trace", "--all", path)
        #expect(trace.stderr.split(separator: "\n").filter { $0 == note }.count == 1)
    }
}
