import Foundation
import HoptraceCapture
import Testing

@testable import HoptraceDecode

@Suite("Read-decode loop")
struct PacketLoopTests {
    /// An SLL2 header (20 bytes) for an IPv4 packet on interface `ifIndex`.
    static func sll2(ifIndex: UInt32, outgoing: Bool) -> [UInt8] {
        var b = Bytes()
        b.be16(0x0800)
        b.be16(0)
        b.be32(ifIndex)
        b.be16(1)
        b.u8(outgoing ? 4 : 0)
        b.u8(6)
        b.append([2, 0, 0, 0, 0, 1, 0, 0])
        return b.bytes
    }

    static func udpPacket(ifIndex: UInt32, dport: UInt16) -> [UInt8] {
        let udp = Bytes.udp(sport: 5353, dport: dport, payloadLength: 2) + [0xab, 0xcd]
        let ip = Bytes.ipv4(src: [10, 0, 0, 1], dst: [10, 0, 0, 2], proto: 17, payloadLength: udp.count)
        return sll2(ifIndex: ifIndex, outgoing: false) + ip + udp
    }

    @Test("decode(_:into:) leaves nothing of the packet decoded before into the same value")
    func reuse() throws {
        // First: a VLAN-tagged Ethernet frame whose TCP header is cut (a warning, MACs, a tag).
        let tcp = Bytes.tcp(sport: 1, dport: 2, seq: 3, flags: 0x10)
        let ip = Bytes.ipv4(src: [10, 0, 0, 1], dst: [10, 0, 0, 2], proto: 6, payloadLength: tcp.count)
        let first = Bytes.ethernet(type: 0x0800, tags: [(0x8100, 42)]) + ip + tcp.prefix(10)
        let second = Self.udpPacket(ifIndex: 7, dport: 53)
        let decoder = PacketDecoder()
        var decoded = DecodedPacket.empty
        first.withUnsafeBytes { raw in
            let packet = Packet(
                timestamp: 1,
                interfaceID: 0,
                direction: .unknown,
                linkType: .ethernet,
                originalLength: raw.count,
                bytes: raw
            )
            #expect(decoder.decode(packet, into: &decoded))
            #expect(decoded.warning?.code == .truncated)
            #expect(decoded.link.vlanIDs.first == 42)
        }
        second.withUnsafeBytes { raw in
            let packet = Packet(
                timestamp: 2,
                interfaceID: 0,
                direction: .unknown,
                linkType: .linuxSLL2,
                originalLength: raw.count,
                bytes: raw
            )
            #expect(decoder.decode(packet, into: &decoded))
        }
        #expect(decoded.warning == nil)
        #expect(decoded.link.vlanIDs.isEmpty)
        #expect(decoded.link.dstMAC == nil)
        #expect(decoded.link.ifIndex == 7)
        #expect(decoded.udp?.dstPort == 53)
        #expect(decoded.tcp == nil)
        #expect(decoded.timestamp == 2)
        #expect(Array(decoded.payload) == [0xab, 0xcd])
        #expect(decoder.statistics.packets == 2)
        #expect(decoder.statistics.warnings == 1)
        #expect(decoder.statistics.warningsByCode[.truncated] == 1)
    }

    @Test("The decoded packet is a trivial type: copied without reference counting")
    func trivial() {
        #expect(_isPOD(DecodedPacket.self))
        #expect(DecodeWarning.Code(rawValue: "bad-tunnel") == .badTunnel)
        #expect(DecodeWarning.Code.unsupportedLinkType.rawValue == "unsupported-link-type")
        #expect(DecodeWarning.Code(rawValue: "no-such-code") == nil)
    }

    @Test("decodePackets over a pcap file cut inside its fourth packet: three packets, their points, then the error")
    func truncatedFile() throws {
        var file = Bytes()
        // Little-endian microsecond pcap header, snaplen 65535, LINKTYPE_LINUX_SLL2 (276).
        file.append([0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0x14, 0x01, 0, 0])
        let packets = [(7, 53), (3, 54), (7, 55), (3, 56)].map { Self.udpPacket(ifIndex: $0.0, dport: $0.1) }
        for (index, packet) in packets.enumerated() {
            let le32 = { (v: UInt32) in [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)] }
            file.append(le32(1_700_000_000 + UInt32(index)) + le32(0))
            file.append(le32(UInt32(packet.count)) + le32(UInt32(packet.count)))
            file.append(index == 3 ? Array(packet.prefix(5)) : packet)
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hoptrace-loop-\(UUID()).pcap").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data(file.bytes)))
        defer { try? FileManager.default.removeItem(atPath: path) }

        let source = try openCaptureFile(path: path)
        let points = CapturePointTable()
        var counts = PacketLoopCounts()
        var seen: [(UInt16, String)] = []
        #expect(throws: CaptureError.self) {
            try PacketDecoder().decodePackets(from: source, capturePoints: points, counts: &counts) { decoded, id in
                seen.append((decoded.udp?.dstPort ?? 0, points[id].name))
            }
        }
        #expect(seen.map(\.0) == [53, 54, 55])
        #expect(seen.map(\.1) == ["if7", "if3", "if7"])
        #expect(counts.packets == 3)
        #expect(counts.lastTime == 1_700_000_002_000_000_000)
    }
}
