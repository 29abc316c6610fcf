import Foundation
import HoptraceCapture
import Testing

@testable import HoptraceDecode

@Suite("Values, names and text")
struct ValueTests {
    static let addresses = [
        "10.96.0.10", "0.0.0.0", "255.255.255.255", "fe80::1", "::", "::1", "2001:db8::2:1", "2001:db8:0:1:1:1:1:1",
        "2001:0:0:1::1", "1::", "fd00:10:244:1::5",
    ]

    @Test("IP addresses read back as inet_ntop writes them (RFC 5952)", arguments: Self.addresses)
    func addressRoundTrip(text: String) throws {
        let address = try #require(IPAddress(text))
        #expect(address.description == text)
        // Independent check: Glibc's inet_pton/inet_ntop.
        let family = text.contains(":") ? AF_INET6 : AF_INET
        var raw = [UInt8](repeating: 0, count: 16)
        #expect(inet_pton(family, text, &raw) == 1)
        var buffer = [CChar](repeating: 0, count: 64)
        _ = inet_ntop(family, raw, &buffer, 64)
        let written = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        #expect(String(decoding: written, as: UTF8.self) == address.description)
    }

    @Test("Malformed addresses are rejected", arguments: ["1.2.3", "1.2.3.256", "1::2::3", "12345::", "a.b.c.d", ""])
    func badAddresses(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test("IPv4 and IPv6 never compare equal; IPv4 sorts first")
    func addressOrder() throws {
        let v4 = IPAddress(1, 2, 3, 4)
        let mapped = try #require(IPAddress("::ffff:1.2.3.4"))
        #expect(v4 != mapped)
        #expect(v4 < mapped)
        #expect(IPAddress(10, 0, 0, 1) < IPAddress(10, 0, 0, 2))
    }

    @Test("TCP flags as tcpdump prints them")
    func flags() {
        #expect(TCPFlags.syn.description == "S")
        #expect(TCPFlags([.syn, .ack]).description == "S.")
        #expect(TCPFlags([.psh, .ack]).description == "P.")
        #expect(TCPFlags([.fin, .ack]).description == "F.")
        #expect(TCPFlags.rst.description == "R")
        #expect(TCPFlags([.syn, .ece, .cwr]).description == "SEW")
        #expect(TCPFlags().description == "none")
    }

    @Test("Capture points: SLL2 interface index as if<N> unless named, else the source interface")
    func capturePoints() throws {
        var sll2 = Bytes()
        sll2.be16(0x0800)
        sll2.be16(0)
        sll2.be32(5)
        sll2.be16(1)
        sll2.u8(0)
        sll2.u8(6)
        sll2.append([1, 2, 3, 4, 5, 6, 0, 0])
        let table = CapturePointTable()
        let interfaces = [InterfaceDescription(name: "any", linkType: .linuxSLL2)]
        try withDecoded(sll2.bytes, .linuxSLL2) { decoded in
            let d = try #require(decoded)
            let id = table.id(for: d, interfaces: interfaces)
            #expect(table[id].name == "if5")
            #expect(table.id(for: d, interfaces: interfaces) == id)
            table.setIfIndexNames([5: "cni0"])
            #expect(table[id].name == "cni0")
        }
        try withDecoded(Bytes.ethernet(type: 0x0800), .ethernet) { decoded in
            let d = try #require(decoded)
            let eth0 = [InterfaceDescription(name: "eth0", linkType: .ethernet)]
            #expect(table[table.id(for: d, interfaces: eth0)].name == "eth0")
        }
        #expect(table.names == ["cni0", "eth0"])
    }

    @Test("Unsupported link types are named from the LINKTYPE registry")
    func linkTypeNames() {
        #expect(
            LinkType(rawValue: 147).unsupportedReason
                == "LINKTYPE 147 (USER0) is not supported; hoptrace decodes Ethernet, SLL, SLL2, raw IP, NULL/LOOP, NFLOG"
        )
        #expect(LinkType(rawValue: 127).registryName == "IEEE802_11_RADIOTAP")
        #expect(LinkType(rawValue: 4000).unsupportedReason.hasPrefix("LINKTYPE 4000 is not supported"))
        #expect(LinkType.linuxSLL2.isDecodable && LinkType.nflog.isDecodable && !LinkType(rawValue: 147).isDecodable)
    }

    @Test("DNS questions in tcpdump's manner, names escaped")
    func dns() throws {
        var q = Bytes()
        q.be16(0x1234)
        q.be16(0x0100)
        q.be16(1)
        q.append([0, 0, 0, 0, 0, 0])
        q.append([3] + Array("w.b".utf8) + [2, 0x0a, 0x41, 0])
        q.be16(28)
        q.be16(1)
        q.bytes.withUnsafeBytes { raw in
            #expect(PacketSummary.describeDNS(raw) == "4660+ AAAA? w\\.b.\\010A.")
        }
    }
}
