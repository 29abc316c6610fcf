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

    @Test("JSON strings escape quotes, backslashes and control characters; Foundation parses them back")
    func jsonEscaping() throws {
        let nasty = "a\"b\\c\nd\u{1}e\u{7f}f\u{2028}é🙂"
        var writer = JSONObjectWriter()
        writer.string("k", nasty)
        writer.int("n", -5)
        let object = try JSONSerialization.jsonObject(with: Data(writer.finished.utf8)) as? [String: Any]
        #expect(object?["k"] as? String == nasty)
        #expect(object?["n"] as? Int == -5)
    }

    @Test("Timestamps in UTC with nanoseconds, checked against gmtime")
    func timestamps() {
        for seconds in [0, 951_782_400, 1_700_000_000, 4_102_444_800, -1] as [Int] {
            var t = time_t(seconds)
            var parts = tm()
            gmtime_r(&t, &parts)
            let expected = String(
                format: "%04d-%02d-%02d %02d:%02d:%02d.000000123",
                parts.tm_year + 1900,
                parts.tm_mon + 1,
                parts.tm_mday,
                parts.tm_hour,
                parts.tm_min,
                parts.tm_sec
            )
            #expect(TimestampFormat.utc(Int64(seconds) * 1_000_000_000 + 123) == expected)
        }
        #expect(TimestampFormat.utc(1_500_000, microseconds: true) == "1970-01-01 00:00:00.001500")
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

    @Test("Untrusted names are made printable and bounded")
    func printable() {
        #expect(PacketSummary.printable("eth0\u{1b}[31m\n") == "eth0?[31m?")
        #expect(PacketSummary.printable(String(repeating: "x", count: 100), maxLength: 8) == "xxxxxxxx…")
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
