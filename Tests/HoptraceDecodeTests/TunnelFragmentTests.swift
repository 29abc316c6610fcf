import Testing

@testable import HoptraceDecode

private let podA: [UInt8] = [10, 244, 1, 5]
private let podB: [UInt8] = [10, 244, 2, 7]
private let nodeA: [UInt8] = [192, 168, 49, 2]
private let nodeB: [UInt8] = [192, 168, 49, 3]

private func innerSYN() -> [UInt8] {
    let tcp = Bytes.tcp(sport: 33000, dport: 8080, seq: 42, flags: 0x02, options: synOptions)
    return Bytes.ipv4(src: podA, dst: podB, proto: 6, payloadLength: tcp.count) + tcp
}

private func overUDP(port: UInt16, _ tunnelPayload: [UInt8]) -> [UInt8] {
    let udp = Bytes.udp(sport: 51000, dport: port, payloadLength: tunnelPayload.count)
    return Bytes.ethernet(type: 0x0800)
        + Bytes.ipv4(src: nodeA, dst: nodeB, proto: 17, payloadLength: udp.count + tunnelPayload.count) + udp
        + tunnelPayload
}

@Suite("Tunnels and fragments")
struct TunnelFragmentTests {
    @Test("VXLAN on 4789 and on flannel's 8472: network and transport are the inner packet", arguments: [4789, 8472])
    func vxlan(port: Int) throws {
        let frame = overUDP(
            port: UInt16(port),
            [0x08, 0, 0, 0, 0, 0x01, 0x00, 0] + Bytes.ethernet(type: 0x0800) + innerSYN()
        )
        try withDecoded(frame) { decoded in
            let d = try #require(decoded)
            #expect(d.warning == nil)
            let tunnel = try #require(d.tunnel)
            #expect(tunnel.kind == .vxlan(vni: 256))
            #expect(tunnel.outerSrc == IPAddress(192, 168, 49, 2) && tunnel.outerDst == IPAddress(192, 168, 49, 3))
            #expect(tunnel.outerDstPort == UInt16(port))
            #expect(d.network?.src == IPAddress(10, 244, 1, 5))
            #expect(d.tcp?.dstPort == 8080)
            #expect(d.link.srcMAC?.description == "02:00:00:00:00:01")
            #expect(
                PacketSummary.describe(d).hasPrefix(
                    "IP 192.168.49.2.51000 > 192.168.49.3.\(port): VXLAN vni 256: IP 10.244.1.5.33000 > 10.244.2.7.8080: Flags [S]"
                )
            )
        }
    }

    @Test("Geneve with 8 bytes of options (Cilium/OVN style), inner Ethernet")
    func geneve() throws {
        var header = Bytes()
        header.u8(2)  // version 0, option length 2 (8 bytes)
        header.u8(0)
        header.be16(0x6558)
        header.be32(0x00_0abc << 8)
        header.append([0x01, 0x02, 0x80, 0x01, 0xde, 0xad, 0xbe, 0xef])  // one option: class 0x0102 type 0x80 len 1
        try withDecoded(overUDP(port: 6081, header.bytes + Bytes.ethernet(type: 0x0800) + innerSYN())) { decoded in
            let d = try #require(decoded)
            #expect(d.warning == nil)
            #expect(d.tunnel?.kind == .geneve(vni: 0xabc))
            #expect(d.tcp?.seq == 42)
        }
    }

    @Test("IP-in-IP (4), IPv6-in-IPv4 (41) and GRE with a key")
    func ipipAndGRE() throws {
        let inner = innerSYN()
        let ipip =
            Bytes.ethernet(type: 0x0800) + Bytes.ipv4(src: nodeA, dst: nodeB, proto: 4, payloadLength: inner.count)
            + inner
        try withDecoded(ipip) { decoded in
            let d = try #require(decoded)
            #expect(d.tunnel?.kind == .ipip)
            #expect(d.network?.dst == IPAddress(10, 244, 2, 7))
            #expect(d.tcp?.dstPort == 8080)
        }
        let tcp = Bytes.tcp(sport: 1, dport: 2, seq: 3, flags: 0x02)
        let v6 =
            Bytes.ipv6(
                src: Array(repeating: 0, count: 15) + [1],
                dst: Array(repeating: 0, count: 15) + [2],
                nextHeader: 6,
                payloadLength: tcp.count
            )
            + tcp
        let sit =
            Bytes.ethernet(type: 0x0800) + Bytes.ipv4(src: nodeA, dst: nodeB, proto: 41, payloadLength: v6.count) + v6
        try withDecoded(sit) { decoded in
            let d = try #require(decoded)
            #expect(d.tunnel?.kind == .ipip)
            #expect(d.network?.version == 6)
        }
        var gre = Bytes()
        gre.be16(0x2000)  // K
        gre.be16(0x0800)
        gre.be32(99)
        let greFrame =
            Bytes.ethernet(type: 0x0800) + Bytes.ipv4(src: nodeA, dst: nodeB, proto: 47, payloadLength: 8 + inner.count)
            + gre.bytes
            + inner
        try withDecoded(greFrame) { decoded in
            let d = try #require(decoded)
            #expect(d.tunnel?.kind == .gre(key: 99))
            #expect(d.tcp?.srcPort == 33000)
        }
    }

    @Test("Tunnels nested past the limit stop with a warning")
    func tooDeep() throws {
        var packet = innerSYN()
        for _ in 0..<6 {
            packet = Bytes.ipv4(src: nodeA, dst: nodeB, proto: 4, payloadLength: packet.count) + packet
        }
        try withDecoded(Bytes.ethernet(type: 0x0800) + packet) { decoded in
            let d = try #require(decoded)
            #expect(d.warning?.code == .tunnelTooDeep)
            #expect(d.tunnel?.depth == 4)
        }
    }

    /// Fragments of one UDP datagram: 24 bytes of UDP (8 header + 16 data) split at `cuts` (multiples of 8).
    private func fragments(id: UInt16, data: [UInt8], cuts: [(offset: Int, length: Int)]) -> [[UInt8]] {
        let udp = Bytes.udp(sport: 53, dport: 40000, payloadLength: data.count) + data
        return cuts.map { cut in
            let more = cut.offset + cut.length < udp.count
            let flags = UInt16(cut.offset / 8) | (more ? 0x2000 : 0)
            let piece = Array(udp[cut.offset..<(cut.offset + cut.length)])
            return Bytes.ethernet(type: 0x0800)
                + Bytes.ipv4(src: podA, dst: podB, proto: 17, payloadLength: piece.count, id: id, flagsOffset: flags)
                + piece
        }
    }

    @Test("IPv4 fragments out of order and with an identical overlap are reassembled")
    func reassembly() throws {
        let data = Array(UInt8(0)..<16)
        let frames = fragments(id: 7, data: data, cuts: [(16, 8), (8, 8), (0, 16)])
        let decoder = PacketDecoder(
            options: {
                var o = DecodeOptions()
                o.swallowFragments = false
                return o
            }()
        )
        withDecoded(frames[0], decoder: decoder) { #expect($0?.network?.isFragment == true && $0?.udp == nil) }
        withDecoded(frames[1], decoder: decoder) { #expect($0?.udp == nil) }
        try withDecoded(frames[2], decoder: decoder) { decoded in
            let d = try #require(decoded)
            #expect(d.network?.wasReassembled == true)
            #expect(d.udp?.dstPort == 40000)
            #expect(Array(d.payload) == data)
            #expect(PacketSummary.describe(d).contains("(reassembled 44 bytes)"))
        }
        #expect(decoder.statistics.reassembled == 1)
        // With swallowing (the default), only the completing fragment comes out.
        let swallowing = PacketDecoder()
        withDecoded(frames[0], decoder: swallowing) { #expect($0 == nil) }
        withDecoded(frames[1], decoder: swallowing) { #expect($0 == nil) }
        withDecoded(frames[2], decoder: swallowing) { #expect($0?.udp?.srcPort == 53) }
    }

    @Test("Overlapping IPv4 fragments with different bytes drop the datagram with a warning")
    func conflictingOverlap() throws {
        let data = Array(UInt8(0)..<16)
        var frames = fragments(id: 8, data: data, cuts: [(0, 16), (8, 16)])
        // Change one byte of the overlapping part in the second fragment (frame offset 14 + 20 + 0).
        frames[1][34] ^= 0xff
        let decoder = PacketDecoder(
            options: {
                var o = DecodeOptions()
                o.swallowFragments = false
                return o
            }()
        )
        withDecoded(frames[0], decoder: decoder) { #expect($0?.warning == nil) }
        try withDecoded(frames[1], decoder: decoder) { decoded in
            let d = try #require(decoded)
            #expect(d.warning?.code == .fragmentOverlap)
            #expect(d.udp == nil)
        }
        #expect(decoder.statistics.reassemblyDropped == 1)
    }

    @Test("Reassembly is bounded: datagrams time out by packet time and the oldest is evicted")
    func reassemblyBounds() throws {
        var options = DecodeOptions()
        options.maxDatagramsInFlight = 2
        options.reassemblyTimeout = 1_000_000_000
        options.swallowFragments = false
        let decoder = PacketDecoder(options: options)
        let data = Array(UInt8(0)..<16)
        let a = fragments(id: 1, data: data, cuts: [(0, 8), (8, 16)])
        let b = fragments(id: 2, data: data, cuts: [(0, 8), (8, 16)])
        let c = fragments(id: 3, data: data, cuts: [(0, 8), (8, 16)])
        withDecoded(a[0], decoder: decoder, timestamp: 1) { _ in }
        withDecoded(b[0], decoder: decoder, timestamp: 2) { _ in }
        withDecoded(c[0], decoder: decoder, timestamp: 3) { _ in }  // evicts a
        withDecoded(a[1], decoder: decoder, timestamp: 4) { #expect($0?.udp == nil) }
        withDecoded(c[1], decoder: decoder, timestamp: 5) { #expect($0?.udp?.dstPort == 40000) }
        // b's first fragment is older than the timeout by now.
        withDecoded(b[1], decoder: decoder, timestamp: 2_000_000_000) { #expect($0?.udp == nil) }
        #expect(decoder.statistics.reassembled == 1)
        #expect(decoder.statistics.reassemblyDropped >= 2)
        // A fragment reaching past 65535 bytes is refused.
        let huge =
            Bytes.ethernet(type: 0x0800)
            + Bytes.ipv4(src: podA, dst: podB, proto: 17, payloadLength: 8, id: 9, flagsOffset: 0x1fff)
            + Array(repeating: 0, count: 8)
        withDecoded(huge, decoder: decoder, timestamp: 2_000_000_001) { #expect($0?.warning?.code == .badFragment) }
    }

    @Test("IPv6 fragments with destination options in the fragmentable part")
    func ipv6Fragments() throws {
        let a: [UInt8] = [0xfd, 0] + Array(repeating: 0, count: 13) + [1]
        let b: [UInt8] = [0xfd, 0] + Array(repeating: 0, count: 13) + [2]
        let udpData = Array(repeating: UInt8(0x5a), count: 24)
        let fragmentable = [17, 0, 1, 4, 0, 0, 0, 0] + Bytes.udp(sport: 5353, dport: 5353, payloadLength: 24) + udpData
        // 40 bytes: split at 16.
        func frame(_ offset: Int, _ length: Int, more: Bool) -> [UInt8] {
            var header = Bytes([60, 0])
            header.be16(UInt16(offset) | (more ? 1 : 0))
            header.be32(0xabcd)
            let piece = Array(fragmentable[offset..<(offset + length)])
            return Bytes.ethernet(type: 0x86dd) + Bytes.ipv6(src: a, dst: b, nextHeader: 44, payloadLength: 8 + length)
                + header.bytes + piece
        }
        let decoder = PacketDecoder()
        withDecoded(frame(0, 16, more: true), decoder: decoder) { #expect($0 == nil) }
        try withDecoded(frame(16, 24, more: false), decoder: decoder) { decoded in
            let d = try #require(decoded)
            #expect(d.warning == nil)
            #expect(d.network?.ipID == 0xabcd)
            #expect(d.network?.protocol == .udp)
            #expect(d.udp?.srcPort == 5353)
            #expect(d.payloadLength == 24)
        }
    }
}
