import HoptraceCapture
import Testing

@testable import HoptraceDecode

private let client: [UInt8] = [10, 244, 0, 5]
private let server: [UInt8] = [10, 244, 0, 9]

private func synPacket() -> [UInt8] {
    let tcp = Bytes.tcp(sport: 41234, dport: 80, seq: 123, flags: 0x02, options: synOptions)
    return Bytes.ipv4(src: client, dst: server, proto: 6, payloadLength: tcp.count) + tcp
}

@Suite("Link layers")
struct LinkLayerTests {
    @Test("Ethernet TCP SYN: addresses, ports, options and the tcpdump-style line")
    func ethernetSYN() throws {
        try withDecoded(Bytes.ethernet(type: 0x0800) + synPacket()) { decoded in
            let d = try #require(decoded)
            #expect(d.warning == nil)
            #expect(d.link.etherType == .ipv4)
            #expect(d.link.srcMAC?.description == "02:00:00:00:00:01")
            #expect(d.network?.src == IPAddress(10, 244, 0, 5))
            #expect(d.network?.dst.description == "10.244.0.9")
            let tcp = try #require(d.tcp)
            #expect(tcp.srcPort == 41234 && tcp.dstPort == 80 && tcp.seq == 123)
            #expect(tcp.flags == .syn)
            #expect(tcp.options.mss == 1460)
            #expect(tcp.options.sackPermitted)
            #expect(tcp.options.timestamp == TCPTimestampOption(val: 1, ecr: 0))
            #expect(tcp.options.windowScale == 7)
            #expect(d.payloadLength == 0)
            #expect(
                PacketSummary.describe(d)
                    == "IP 10.244.0.5.41234 > 10.244.0.9.80: Flags [S], seq 123, win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0"
            )
        }
    }

    @Test("802.1ad QinQ and QinQinQ tags are walked and kept outermost first")
    func qinq() throws {
        let frame =
            Bytes.ethernet(type: 0x0800, tags: [(0x88a8, 100), (0x8100, 200), (0x8100, 0x2000 | 300)]) + synPacket()
        try withDecoded(frame) { decoded in
            let d = try #require(decoded)
            #expect(Array(d.link.vlanIDs) == [100, 200, 300])
            #expect(d.tcp?.dstPort == 80)
        }
        try withDecoded(Bytes.ethernet(type: 0x0800, tags: [(0x9100, 7)]) + synPacket()) { decoded in
            let d = try #require(decoded)
            #expect(Array(d.link.vlanIDs) == [7])
        }
    }

    @Test("SLL2 outgoing: interface index, packet type, direction")
    func sll2Outgoing() throws {
        var header = Bytes()
        header.be16(0x0800)  // protocol
        header.be16(0)  // reserved
        header.be32(7)  // ifindex
        header.be16(1)  // ARPHRD_ETHER
        header.u8(4)  // PACKET_OUTGOING
        header.u8(6)
        header.append([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0, 0])
        try withDecoded(header.bytes + synPacket(), .linuxSLL2) { decoded in
            let d = try #require(decoded)
            #expect(d.link.ifIndex == 7)
            #expect(d.link.packetType == .outgoing)
            #expect(d.direction == .outbound)
            #expect(d.link.srcMAC?.description == "aa:bb:cc:dd:ee:ff")
            #expect(d.tcp?.srcPort == 41234)
        }
    }

    @Test("SLL v1: packet type gives the direction, no interface index")
    func sllV1() throws {
        var header = Bytes()
        header.be16(0)  // PACKET_HOST
        header.be16(1)
        header.be16(6)
        header.append([1, 2, 3, 4, 5, 6, 0, 0])
        header.be16(0x0800)
        try withDecoded(header.bytes + synPacket(), .linuxSLL) { decoded in
            let d = try #require(decoded)
            #expect(d.link.ifIndex == -1)
            #expect(d.direction == .inbound)
            #expect(d.network?.dst == IPAddress(10, 244, 0, 9))
        }
    }

    @Test("Raw IP link types 101, 228, 229")
    func rawIP() {
        withDecoded(synPacket(), .raw) { #expect($0?.tcp?.dstPort == 80) }
        withDecoded(synPacket(), .ipv4) { #expect($0?.tcp?.dstPort == 80) }
        let tcp = Bytes.tcp(sport: 1, dport: 2, seq: 3, flags: 0x10)
        let v6 =
            Bytes.ipv6(
                src: [0xfe, 0x80] + Array(repeating: 0, count: 13) + [1],
                dst: Array(repeating: 0, count: 15) + [2],
                nextHeader: 6,
                payloadLength: tcp.count
            ) + tcp
        withDecoded(v6, .ipv6) { decoded in
            #expect(decoded?.network?.src.description == "fe80::1")
            #expect(decoded?.network?.dst.description == "::2")
            #expect(decoded?.tcp?.dstPort == 2)
        }
        withDecoded(v6, .raw) { #expect($0?.network?.version == 6) }
    }

    static let nullHeaders: [[UInt8]] = [[2, 0, 0, 0], [0, 0, 0, 2], [24, 0, 0, 0], [0, 0, 0, 28], [30, 0, 0, 0]]

    @Test("DLT_NULL in either byte order, AF_INET6 as 24, 28, 30", arguments: Self.nullHeaders)
    func null(header: [UInt8]) {
        let version: UInt8 = header.contains(2) ? 4 : 6
        let tcp = Bytes.tcp(sport: 1, dport: 2, seq: 3, flags: 0x10)
        let packet =
            version == 4
            ? synPacket()
            : Bytes.ipv6(
                src: Array(repeating: 0, count: 15) + [1],
                dst: Array(repeating: 0, count: 15) + [1],
                nextHeader: 6,
                payloadLength: tcp.count
            ) + tcp
        withDecoded(header + packet, .null) { #expect($0?.network?.version == version) }
    }

    @Test("NFLOG: TLVs with little-endian lengths, padding to 4, payload TLV 9")
    func nflog() throws {
        var b = Bytes([2, 0, 0, 0])  // AF_INET, version 0, resource id 0
        b.le16(5)  // NFULA_PREFIX-like TLV, 1 byte value, padded to 8
        b.le16(10)
        b.append([0x41, 0, 0, 0])
        b.le16(8)  // hw protocol TLV
        b.le16(1)
        b.append([0x08, 0x00, 3, 0])
        let ip = synPacket()
        b.le16(UInt16(4 + ip.count))
        b.le16(9)
        b.append(ip)
        try withDecoded(b.bytes, .nflog) { decoded in
            let d = try #require(decoded)
            #expect(d.warning == nil)
            #expect(d.tcp?.dstPort == 80)
        }
        // No payload TLV: a warning, no crash.
        withDecoded(Array(b.bytes.prefix(20)), .nflog) { #expect($0?.warning != nil) }
    }

    @Test("ARP is recognised, not IP")
    func arp() throws {
        var b = Bytes()
        b.be16(1)
        b.be16(0x0800)
        b.u8(6)
        b.u8(4)
        b.be16(1)
        b.append([2, 0, 0, 0, 0, 1] + client + [0, 0, 0, 0, 0, 0] + server)
        try withDecoded(Bytes.ethernet(type: 0x0806) + b.bytes) { decoded in
            let d = try #require(decoded)
            #expect(d.network == nil)
            #expect(d.arp?.operation == 1)
            #expect(d.arp?.targetIP == IPAddress(10, 244, 0, 9))
            #expect(PacketSummary.describe(d).hasPrefix("ARP, Request who-has 10.244.0.9 tell 10.244.0.5"))
        }
    }

    @Test("An unsupported link type is a warning naming the layer")
    func unsupportedLinkType() {
        withDecoded(synPacket(), LinkType(rawValue: 147)) { decoded in
            #expect(decoded?.warning?.code == .unsupportedLinkType)
        }
    }

    @Test("Ethernet trailer padding does not count as payload")
    func trailerPadding() throws {
        let udp = Bytes.udp(sport: 5000, dport: 6000, payloadLength: 2) + [0xab, 0xcd]
        let frame =
            Bytes.ethernet(type: 0x0800) + Bytes.ipv4(src: client, dst: server, proto: 17, payloadLength: udp.count)
            + udp
        let padded = frame + Array(repeating: 0, count: 60 - frame.count)
        try withDecoded(padded) { decoded in
            let d = try #require(decoded)
            #expect(d.payloadLength == 2)
            #expect(Array(d.payload) == [0xab, 0xcd])
        }
    }
}
