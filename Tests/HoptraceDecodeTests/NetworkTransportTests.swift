import Testing

@testable import HoptraceDecode

private let client: [UInt8] = [10, 244, 0, 5]
private let server: [UInt8] = [10, 244, 0, 9]
private let v6a: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1]
private let v6b: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [2]

@Suite("IP and transport")
struct NetworkTransportTests {
    @Test("IPv4 options are skipped by IHL; the header checksum is not required")
    func ipv4Options() throws {
        // Router alert (4 bytes) + NOP x4 = 8 option bytes, IHL 7.
        let options: [UInt8] = [0x94, 4, 0, 0, 1, 1, 1, 1]
        let udp = Bytes.udp(sport: 1000, dport: 2000, payloadLength: 3) + [1, 2, 3]
        let ip = Bytes.ipv4(src: client, dst: server, proto: 17, payloadLength: udp.count, options: options)
        try withDecoded(Bytes.ethernet(type: 0x0800) + ip + udp) { decoded in
            let d = try #require(decoded)
            #expect(d.warning == nil)
            #expect(d.network?.headerLength == 28)
            #expect(d.udp?.srcPort == 1000)
            #expect(Array(d.payload) == [1, 2, 3])
        }
    }

    @Test("IPv6 extension header chain: hop-by-hop, routing, destination options, atomic fragment, AH, then TCP")
    func ipv6Chain() throws {
        let tcp = Bytes.tcp(sport: 443, dport: 55000, seq: 0xdead_beef, ack: 1, flags: 0x18) + [0x61, 0x62]
        var ext = Bytes()
        ext.append([43, 0, 5, 2, 0, 0, 0, 0])  // hop-by-hop -> routing, 8 bytes (router alert + PadN)
        ext.append([60, 0, 0, 0, 0, 0, 0, 0])  // routing -> dest opts (type 0, segments left 0)
        ext.append([44, 0, 1, 4, 0, 0, 0, 0])  // dest opts -> fragment, PadN
        ext.append([51, 0, 0, 0, 0, 0, 0x12, 0x34])  // fragment -> AH: offset 0, M 0 (atomic), id 0x1234
        ext.append([6, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1])  // AH -> TCP: length (1 + 2) * 4 = 12
        let payload = ext.bytes + tcp
        let ip = Bytes.ipv6(src: v6a, dst: v6b, nextHeader: 0, payloadLength: payload.count)
        try withDecoded(Bytes.ethernet(type: 0x86dd) + ip + payload) { decoded in
            let d = try #require(decoded)
            #expect(d.warning == nil)
            let network = try #require(d.network)
            #expect(network.protocol == .tcp)
            #expect(network.headerLength == 40 + ext.bytes.count)
            #expect(network.isFragment == false)
            #expect(network.ipID == 0x1234)
            #expect(d.tcp?.seq == 0xdead_beef)
            #expect(d.payloadLength == 2)
            #expect(PacketSummary.describe(d).hasPrefix("IP6 2001:db8::1.443 > 2001:db8::2.55000: Flags [P.]"))
        }
    }

    @Test("TCP options NOP, NOP, timestamps (the common 12 bytes) and a 12-byte look-alike with a bad length")
    func timestampOptions() {
        let good: [UInt8] = [1, 1, 8, 10, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 7]
        let options = good.withUnsafeBytes { TCPOptions(parsing: $0) }
        #expect(options.timestamp == TCPTimestampOption(val: 0x1122_3344, ecr: 7))
        #expect(options.mss == nil && options.windowScale == nil && options.sackPermitted == false)
        #expect(options.sackBlocks.isEmpty && options.unknownCount == 0 && options.malformed == false)
        // Kind 8 with length 11 runs past the 12 option bytes: malformed, no timestamp.
        let bad: [UInt8] = [1, 1, 8, 11, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 7]
        let parsed = bad.withUnsafeBytes { TCPOptions(parsing: $0) }
        #expect(parsed.malformed && parsed.timestamp == nil)
    }

    @Test("TCP SACK with four blocks, timestamps, and the tcpdump option list")
    func sackFourBlocks() throws {
        var options = Bytes([1, 1, 5, 34])
        for i in UInt32(0)..<4 {
            options.be32(1000 + i * 100)
            options.be32(1050 + i * 100)
        }
        options.append([1, 1, 0, 0])  // nop, nop, eol, padding: 40 bytes
        let tcp = Bytes.tcp(sport: 80, dport: 41234, seq: 5, ack: 900, flags: 0x10, options: options.bytes)
        let ip = Bytes.ipv4(src: server, dst: client, proto: 6, payloadLength: tcp.count)
        try withDecoded(Bytes.ethernet(type: 0x0800) + ip + tcp) { decoded in
            let d = try #require(decoded)
            #expect(d.warning == nil)
            let tcp = try #require(d.tcp)
            #expect(tcp.headerLength == 60)
            #expect(tcp.options.sackBlocks.count == 4)
            #expect(tcp.options.sackBlocks[3] == SACKBlock(left: 1300, right: 1350))
            #expect(
                PacketSummary.describe(d).contains(
                    "options [nop,nop,sack 4 {1000:1050}{1100:1150}{1200:1250}{1300:1350},nop,nop,eol], length 0"
                )
            )
        }
    }

    static let badOptions: [[UInt8]] = [
        [2, 0, 5, 0xb4],  // length 0
        [2, 1, 5, 0xb4],  // length 1
        [1, 1, 8, 40],  // length past the options
        [2, 3, 5, 1],  // MSS with length 3
        [1, 1, 1, 8],  // kind without a length byte
    ]

    @Test("Malformed TCP option lengths: a warning, the header kept, no trap", arguments: Self.badOptions)
    func malformedOptions(options: [UInt8]) throws {
        let tcp = Bytes.tcp(sport: 1, dport: 2, seq: 3, flags: 0x02, options: options)
        let ip = Bytes.ipv4(src: client, dst: server, proto: 6, payloadLength: tcp.count)
        try withDecoded(Bytes.ethernet(type: 0x0800) + ip + tcp) { decoded in
            let d = try #require(decoded)
            #expect(d.tcp?.seq == 3)
            #expect(d.tcp?.options.malformed == true)
            #expect(d.warning?.code == .badOption)
            #expect(PacketSummary.describe(d).contains("[bad opt]"))
        }
    }

    @Test("ICMP port unreachable quoting a SYN to a ClusterIP (kube-proxy REJECT)")
    func icmpQuotesSYN() throws {
        let clusterIP: [UInt8] = [10, 96, 0, 10]
        let syn = Bytes.tcp(sport: 40000, dport: 80, seq: 3_000_000_000, flags: 0x02, options: synOptions)
        let quotedIP = Bytes.ipv4(src: client, dst: clusterIP, proto: 6, payloadLength: syn.count, id: 777)
        var icmp = Bytes([3, 3, 0, 0, 0, 0, 0, 0])
        icmp.append(quotedIP + syn)
        let node: [UInt8] = [192, 168, 49, 2]
        let ip = Bytes.ipv4(src: node, dst: client, proto: 1, payloadLength: icmp.bytes.count)
        try withDecoded(Bytes.ethernet(type: 0x0800) + ip + icmp.bytes) { decoded in
            let d = try #require(decoded)
            let message = try #require(d.icmp)
            #expect(message.type == 3 && message.code == 3 && message.isError)
            let quoted = try #require(message.quoted)
            #expect(quoted.src == IPAddress(10, 244, 0, 5))
            #expect(quoted.dst == IPAddress("10.96.0.10"))
            #expect(quoted.protocol == .tcp)
            #expect(quoted.srcPort == 40000 && quoted.dstPort == 80)
            #expect(quoted.tcpSeq == 3_000_000_000)
            #expect(quoted.ipID == 777)
            #expect(PacketSummary.describe(d).contains("ICMP 10.96.0.10 tcp port 80 unreachable"))
        }
        // Only 8 bytes of the transport quoted (RFC 792 minimum): ports and seq still there.
        var short = Bytes([3, 3, 0, 0, 0, 0, 0, 0])
        short.append(quotedIP + Array(syn.prefix(8)))
        let ip2 = Bytes.ipv4(src: node, dst: client, proto: 1, payloadLength: short.bytes.count)
        try withDecoded(Bytes.ethernet(type: 0x0800) + ip2 + short.bytes) { decoded in
            let quoted = try #require(decoded?.icmp?.quoted)
            #expect(quoted.tcpSeq == 3_000_000_000 && quoted.dstPort == 80)
        }
    }

    @Test("ICMPv6 packet too big quotes the IPv6 header and the ports")
    func icmpv6Quote() throws {
        let udp = Bytes.udp(sport: 53, dport: 33000, payloadLength: 0)
        let quoted = Bytes.ipv6(src: v6b, dst: v6a, nextHeader: 17, payloadLength: 1400) + udp
        var icmp = Bytes([2, 0, 0, 0])
        icmp.be32(1280)
        icmp.append(quoted)
        let ip = Bytes.ipv6(src: v6a, dst: v6b, nextHeader: 58, payloadLength: icmp.bytes.count)
        try withDecoded(Bytes.ethernet(type: 0x86dd) + ip + icmp.bytes) { decoded in
            let message = try #require(decoded?.icmp)
            #expect(message.isV6 && message.restOfHeader == 1280)
            #expect(message.quoted?.dst.description == "2001:db8::1")
            #expect(message.quoted?.dstPort == 33000)
        }
    }

    @Test("TCP payload length comes from the IP total length even when the snapshot length cut the payload")
    func snaplenPayload() throws {
        let tcp = Bytes.tcp(sport: 80, dport: 1234, seq: 1, ack: 1, flags: 0x18) + Array(repeating: 0x41, count: 1000)
        let frame =
            Bytes.ethernet(type: 0x0800) + Bytes.ipv4(src: server, dst: client, proto: 6, payloadLength: tcp.count)
            + tcp
        let cut = Array(frame.prefix(96))
        try withDecoded(cut, originalLength: frame.count) { decoded in
            let d = try #require(decoded)
            #expect(d.warning == nil)
            #expect(d.payloadLength == 1000)
            #expect(d.payload.count == 96 - 54)
        }
    }

    @Test("IPv4 BIG TCP: total length 0 means the frame's length")
    func bigTCP() {
        let tcp = Bytes.tcp(sport: 80, dport: 1234, seq: 1, ack: 1, flags: 0x10) + Array(repeating: 0, count: 100)
        let ip = Bytes.ipv4(src: server, dst: client, proto: 6, payloadLength: tcp.count, totalLength: 0)
        withDecoded(Bytes.ethernet(type: 0x0800) + ip + tcp) { decoded in
            #expect(decoded?.payloadLength == 100)
        }
    }

    @Test("Truncated at every byte of every layer: a warning while a header is cut, never a trap")
    func truncatedEverywhere() throws {
        // Ethernet / VLAN / IPv4 / UDP 4789 / VXLAN / Ethernet / IPv6 / TCP with options.
        let innerTCP = Bytes.tcp(sport: 1, dport: 2, seq: 3, flags: 0x02, options: synOptions)
        let innerIP = Bytes.ipv6(src: v6a, dst: v6b, nextHeader: 6, payloadLength: innerTCP.count)
        let vxlan: [UInt8] = [0x08, 0, 0, 0, 0, 0, 42, 0]
        let inner = vxlan + Bytes.ethernet(type: 0x86dd) + innerIP + innerTCP
        let udp = Bytes.udp(sport: 50000, dport: 4789, payloadLength: inner.count)
        let outerIP = Bytes.ipv4(
            src: [192, 168, 0, 1],
            dst: [192, 168, 0, 2],
            proto: 17,
            payloadLength: udp.count + inner.count
        )
        let frame = Bytes.ethernet(type: 0x0800, tags: [(0x8100, 5)]) + outerIP + udp + inner
        let decoder = PacketDecoder()
        for length in 0...frame.count {
            let prefix = Array(frame.prefix(length))
            withDecoded(prefix, decoder: decoder, originalLength: frame.count) { decoded in
                guard let d = decoded else {
                    Issue.record("no packet for prefix \(length)")
                    return
                }
                if length < frame.count {
                    #expect(d.warning != nil, "prefix \(length) of \(frame.count)")
                } else {
                    #expect(d.warning == nil)
                    #expect(d.tcp?.options.windowScale == 7)
                    #expect(d.tunnel?.kind == .vxlan(vni: 42))
                }
                _ = PacketSummary.describe(d)
            }
        }
        #expect(decoder.statistics.warnings == frame.count)
    }
}
