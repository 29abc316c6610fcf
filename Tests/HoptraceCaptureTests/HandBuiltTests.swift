import Foundation
import Testing

@testable import HoptraceCapture

/// Classic pcap files built byte by byte: the expected values are the bytes written.
@Suite("pcap, hand-built")
struct PcapHandBuiltTests {
    @Test("big-endian microsecond pcap", arguments: [false, true])
    func microseconds(bigEndian: Bool) throws {
        var b = PcapBuilder.header(bigEndian: bigEndian, snaplen: 200, linkType: 101)
        PcapBuilder.record(&b, seconds: 1_700_000_000, fraction: 123_456, data: payload(60), originalLength: 1500)
        PcapBuilder.record(&b, seconds: 1_700_000_001, fraction: 999_999, data: payload(3))
        let path = try temporaryFile(b.bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let source = try openCaptureFile(path: path)
        let reader = try #require(source as? PcapFileReader)
        #expect(reader.linkType == .raw)
        #expect(reader.snapLength == 200)
        #expect(reader.timestampsPerSecond == 1_000_000)
        let first = try #require(try source.next())
        #expect(first.timestamp == 1_700_000_000_123_456_000)
        #expect(first.originalLength == 1500)
        #expect(Array(first.bytes) == payload(60))
        #expect(first.linkType == .raw)
        let second = try #require(try source.next())
        #expect(second.timestamp == 1_700_000_001_999_999_000)
        #expect(Array(second.bytes) == payload(3))
        #expect(try source.next() == nil)
        #expect(source.interfaces.count == 1)
        // A per-interface file (`tcpdump -i cni0 -w cni0.pcap`) is named by its stem: the interface.
        #expect(source.interfaces[0].name == URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent)
    }

    @Test("nanosecond pcap, both byte orders", arguments: [false, true])
    func nanoseconds(bigEndian: Bool) throws {
        var b = PcapBuilder.header(magic: 0xa1b2_3c4d, bigEndian: bigEndian)
        PcapBuilder.record(&b, seconds: 1_418_145_369, fraction: 924_505_488, data: payload(76))
        let result = try readBytes(b.bytes)
        #expect(result.error == nil)
        #expect(result.packets.map(\.timestamp) == [1_418_145_369_924_505_488])
    }

    @Test("FCS bits in the link-type field are masked; reserved bits are an error")
    func linkTypeField() throws {
        // Bit 26 (FCS length present) and bits 28-31 (FCS length 4 in 16-bit units... here 2): masked.
        var b = PcapBuilder.header(linkType: 0x2400_0001)
        PcapBuilder.record(&b, seconds: 1, fraction: 0, data: payload(14))
        let path = try temporaryFile(b.bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let reader = try PcapFileReader(path: path)
        #expect(reader.linkType == .ethernet)
        #expect(try reader.next()?.linkType == .ethernet)
        // Bits 16-25 are reserved: libpcap and Wireshark refuse the file.
        let bad = PcapBuilder.header(linkType: 0x0001_0001)
        #expect(try readBytes(bad.bytes).error?.code == .corrupt)
    }

    @Test("truncated record: the packets before it, then .truncated")
    func truncated() throws {
        var b = PcapBuilder.header()
        for i in 0..<3 {
            PcapBuilder.record(&b, seconds: UInt32(i), fraction: 0, data: payload(100))
        }
        let full = b.bytes
        // Cut inside the third record's data, then inside its header.
        for cut in [full.count - 10, full.count - 100 - 8] {
            let result = try readBytes(Array(full[..<cut]))
            #expect(result.packets.count == 2)
            let error = try #require(result.error)
            #expect(error.code == .truncated)
            #expect(error.reason.contains("packet 3"), "\(error)")
            #expect(error.reason.contains("the 2 packets before it were read"), "\(error)")
        }
        // A header cut short.
        #expect(try readBytes(Array(full[..<20])).error?.code == .truncated)
    }

    @Test("absurd captured length after a good packet: .corrupt")
    func absurdCapturedLength() throws {
        var b = PcapBuilder.header(snaplen: 65535)
        PcapBuilder.record(&b, seconds: 1, fraction: 0, data: payload(10))
        b.u32(2)
        b.u32(0)
        b.u32(0x4000_0000)  // 1 GiB captured
        b.u32(0x4000_0000)
        b.raw(payload(100))
        let result = try readBytes(b.bytes)
        #expect(result.packets.count == 1)
        #expect(result.error?.code == .corrupt)
    }

    @Test("version 2.2 stores the lengths swapped (libpcap's SWAPPED)")
    func swappedLengths() throws {
        var b = PcapBuilder.header(minor: 2)
        b.u32(1)
        b.u32(0)
        b.u32(1500)  // original length first
        b.u32(20)  // then captured
        b.raw(payload(20))
        let result = try readBytes(b.bytes)
        #expect(result.error == nil)
        #expect(result.packets.first?.length == 1500)
        #expect(result.packets.first?.capturedLength == 20)
    }

    @Test("modified (Kuznetzov) format: 24-byte records, packet type 4 is outgoing")
    func modifiedFormat() throws {
        var b = PcapBuilder.header(magic: 0xa1b2_cd34)
        for packetType: UInt8 in [0, 4] {
            b.u32(5)
            b.u32(6)
            b.u32(10)
            b.u32(10)
            b.u32(2)  // ifindex
            b.u16(0x0800)  // protocol
            b.u8(packetType)
            b.u8(0)
            b.raw(payload(10))
        }
        let result = try readBytes(b.bytes)
        #expect(result.error == nil)
        #expect(result.packets.map(\.direction) == [.inbound, .outbound])
        #expect(result.packets.map(\.timestamp) == [5_000_006_000, 5_000_006_000])
    }

    @Test("records larger than the read buffer, and many records across refills")
    func bigAndMany() throws {
        var b = PcapBuilder.header(snaplen: 8 << 20)
        var expected: [Int] = []
        var sizes = [3 << 20, 1, 0]  // one record bigger than the initial 2 MiB buffer, a 1-byte and an empty one
        for i in 0..<20_000 { sizes.append(40 + (i * 37) % 1400) }
        for (i, size) in sizes.enumerated() {
            PcapBuilder.record(
                &b,
                seconds: UInt32(i),
                fraction: 0,
                data: payload(size, seed: UInt8(truncatingIfNeeded: i))
            )
            expected.append(size)
        }
        let path = try temporaryFile(b.bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let source = try openCaptureFile(path: path)
        var index = 0
        while let packet = try source.next() {
            #expect(packet.bytes.count == expected[index])
            if packet.bytes.count > 0 {
                #expect(packet.bytes[0] == UInt8(truncatingIfNeeded: index))
                #expect(
                    packet.bytes[packet.bytes.count - 1] == UInt8(truncatingIfNeeded: packet.bytes.count - 1 + index)
                )
            }
            #expect(packet.timestamp == Int64(index) * 1_000_000_000)
            index += 1
        }
        #expect(index == expected.count)
    }
}

/// pcapng files built block by block.
@Suite("pcapng, hand-built")
struct PcapngHandBuiltTests {
    typealias P = PcapngBuilder

    @Test("if_tsresol as a power of 2 and of 10, if_tsoffset", arguments: [false, true])
    func timestampResolution(bigEndian: Bool) throws {
        var bytes = P.sectionHeader(bigEndian: bigEndian)
        bytes += P.interface(bigEndian: bigEndian, name: "pow2", tsresol: 0x80 | 10)  // 2^-10 s units
        bytes += P.interface(bigEndian: bigEndian, name: "milli", tsresol: 3, tsoffset: 1_000)  // ms, +1000 s
        bytes += P.interface(bigEndian: bigEndian, name: "nano", tsresol: 9, tsoffset: -5)
        bytes += P.interface(bigEndian: bigEndian, name: "default")  // µs
        // 5.5 s = 5 * 1024 + 512 units of 2^-10 s; 1/1024 s = 976562.5 ns, truncated.
        bytes += P.enhancedPacket(bigEndian: bigEndian, interface: 0, timestamp: 5 * 1024 + 512, data: payload(4))
        bytes += P.enhancedPacket(bigEndian: bigEndian, interface: 0, timestamp: 1, data: payload(4))
        bytes += P.enhancedPacket(bigEndian: bigEndian, interface: 1, timestamp: 1_234, data: payload(4))
        bytes += P.enhancedPacket(bigEndian: bigEndian, interface: 2, timestamp: 7_000_000_001, data: payload(4))
        bytes += P.enhancedPacket(
            bigEndian: bigEndian,
            interface: 3,
            timestamp: 1_700_000_000_000_001,
            data: payload(4)
        )
        let result = try readBytes(bytes)
        #expect(result.error == nil)
        #expect(
            result.packets.map(\.timestamp) == [
                5_500_000_000, 976_562, 1_001_234_000_000, 2_000_000_001, 1_700_000_000_000_001_000,
            ]
        )
        #expect(result.packets.map(\.interfaceName) == ["pow2", "pow2", "milli", "nano", "default"])
        #expect(result.interfaces.map(\.timestampsPerSecond) == [1024, 1000, 1_000_000_000, 1_000_000])
    }

    @Test("Simple Packet Block: interface 0, original length, cut at the snaplen")
    func simplePacket() throws {
        var bytes = P.sectionHeader(bigEndian: false)
        bytes += P.interface(bigEndian: false, linkType: 1, snaplen: 64, name: "eth0")
        bytes += P.enhancedPacket(bigEndian: false, interface: 0, timestamp: 42, data: payload(10))
        bytes += P.simplePacket(bigEndian: false, originalLength: 100, data: payload(64))
        bytes += P.simplePacket(bigEndian: false, originalLength: 30, data: payload(30))
        let result = try readBytes(bytes)
        #expect(result.error == nil)
        #expect(result.packets.map(\.length) == [10, 100, 30])
        #expect(result.packets.map(\.capturedLength) == [10, 64, 30])
        #expect(result.packets.map(\.interfaceName) == ["eth0", "eth0", "eth0"])
        // No timestamp in an SPB: it gets the previous packet's (42 µs).
        #expect(result.packets.map(\.timestamp) == [42_000, 42_000, 42_000])
    }

    @Test("obsolete Packet Block (type 2) with pack_flags, and EPB direction flags")
    func obsoletePacketAndDirection() throws {
        var bytes = P.sectionHeader(bigEndian: true)
        bytes += P.interface(bigEndian: true, name: "a")
        bytes += P.interface(bigEndian: true, name: "b")
        bytes += P.obsoletePacket(bigEndian: true, interface: 1, timestamp: 7, data: payload(20), flags: 2)
        bytes += P.enhancedPacket(bigEndian: true, interface: 0, timestamp: 8, data: payload(20), flags: 1)
        bytes += P.enhancedPacket(bigEndian: true, interface: 0, timestamp: 9, data: payload(20), flags: 0x0000_0100)
        let result = try readBytes(bytes)
        #expect(result.error == nil)
        #expect(result.packets.map(\.interfaceName) == ["b", "a", "a"])
        #expect(result.packets.map(\.direction) == [.outbound, .inbound, .unknown])
        #expect(result.packets.map(\.timestamp) == [7_000, 8_000, 9_000])
    }

    @Test("an option longer than its block: .corrupt, after the good packets")
    func optionOverLength() throws {
        // In an IDB, before any packet: the file cannot be opened.
        var bad = ByteBuilder()
        bad.u16(2)
        bad.u16(200)  // if_name of 200 bytes in a block that has 8
        bad.raw(Array("eth0".utf8))
        var bytes = P.sectionHeader(bigEndian: false)
        bytes += P.interface(bigEndian: false, extraOptions: bad.bytes)
        #expect(try readBytes(bytes).error?.code == .corrupt)

        // In the third packet's options: two packets, then the error.
        bytes = P.sectionHeader(bigEndian: false) + P.interface(bigEndian: false, name: "eth0")
        for i in 0..<2 {
            bytes += P.enhancedPacket(bigEndian: false, interface: 0, timestamp: UInt64(i), data: payload(8))
        }
        var option = ByteBuilder()
        option.u16(1)  // opt_comment
        option.u16(0xFFFF)
        bytes += P.enhancedPacket(
            bigEndian: false,
            interface: 0,
            timestamp: 3,
            data: payload(8),
            rawOptions: option.bytes
        )
        let result = try readBytes(bytes)
        #expect(result.packets.count == 2)
        #expect(result.error?.code == .corrupt)
        #expect(result.error?.reason.contains("after packet 2") == true, "\(String(describing: result.error))")
    }

    @Test("a block whose trailer length differs from its header: .corrupt after the good packets")
    func trailerMismatch() throws {
        var bytes = P.sectionHeader(bigEndian: false) + P.interface(bigEndian: false, name: "eth0")
        bytes += P.enhancedPacket(bigEndian: false, interface: 0, timestamp: 1, data: payload(8))
        var bad = P.enhancedPacket(bigEndian: false, interface: 0, timestamp: 2, data: payload(8))
        bad[bad.count - 4] &+= 4
        bytes += bad
        bytes += P.enhancedPacket(bigEndian: false, interface: 0, timestamp: 3, data: payload(8))
        let result = try readBytes(bytes)
        #expect(result.packets.count == 1)
        #expect(result.error?.code == .corrupt)
    }

    @Test("bad block lengths and references")
    func badBlocks() throws {
        let head = P.sectionHeader(bigEndian: false) + P.interface(bigEndian: false, name: "eth0")
        // Length not a multiple of 4.
        var odd = P.enhancedPacket(bigEndian: false, interface: 0, timestamp: 1, data: payload(8))
        odd[4] = UInt8(odd.count - 2)
        #expect(try readBytes(head + odd).error?.code == .corrupt)
        // Length below 12.
        var tiny = P.block(0x99, [], bigEndian: false)
        tiny[4] = 8
        #expect(try readBytes(head + tiny).error?.code == .corrupt)
        // A packet on interface 3 of a section that has one.
        let stray = P.enhancedPacket(bigEndian: false, interface: 3, timestamp: 1, data: payload(8))
        #expect(try readBytes(head + stray).error?.code == .corrupt)
        // Captured length larger than the block.
        var long = P.enhancedPacket(bigEndian: false, interface: 0, timestamp: 1, data: payload(8))
        long[20] = 200
        #expect(try readBytes(head + long).error?.code == .corrupt)
        // A file cut in the middle of a block.
        let good = P.enhancedPacket(bigEndian: false, interface: 0, timestamp: 1, data: payload(8))
        let cut = try readBytes(head + good + good.prefix(20))
        #expect(cut.packets.count == 1)
        #expect(cut.error?.code == .truncated)
        #expect(
            cut.error?.reason.contains("the 1 packet before it were read") == true,
            "\(String(describing: cut.error))"
        )
        // A version this reader does not know.
        #expect(try readBytes(P.sectionHeader(bigEndian: false, major: 2)).error?.code == .unsupportedVersion)
        // Unknown, custom and statistics blocks are skipped.
        var skipped = head + P.block(0x0BAD, payload(13), bigEndian: false) + P.block(5, payload(20), bigEndian: false)
        skipped += P.block(0x7777_0000, [], bigEndian: false) + good
        let ok = try readBytes(skipped)
        #expect(ok.error == nil)
        #expect(ok.packets.count == 1)
    }

    @Test("several sections, mixed byte orders: interface indices stay unique")
    func multipleSections() throws {
        var bytes = P.sectionHeader(bigEndian: false)
        bytes += P.interface(bigEndian: false, name: "s1-eth0")
        bytes += P.interface(bigEndian: false, name: "s1-eth1", tsresol: 9)
        bytes += P.enhancedPacket(bigEndian: false, interface: 1, timestamp: 10, data: payload(8))
        bytes += P.sectionHeader(bigEndian: true)
        bytes += P.interface(bigEndian: true, linkType: 113, name: "s2-any")
        bytes += P.enhancedPacket(bigEndian: true, interface: 0, timestamp: 20, data: payload(8))
        bytes += P.sectionHeader(bigEndian: false)
        bytes += P.enhancedPacket(bigEndian: false, interface: 0, timestamp: 30, data: payload(8))  // no IDB yet
        let result = try readBytes(bytes)
        #expect(result.packets.map(\.interfaceName) == ["s1-eth1", "s2-any"])
        #expect(result.packets.map(\.timestamp) == [10, 20_000])
        #expect(result.interfaces.map(\.name) == ["s1-eth0", "s1-eth1", "s2-any"])
        #expect(result.interfaces.map(\.linkType) == [.ethernet, .ethernet, .linuxSLL])
        // The third section has no interface: its packet is an error, after the two good ones.
        #expect(result.error?.code == .corrupt)
    }

    @Test("interface names: NUL terminators dropped, control characters replaced, length bounded")
    func untrustedNames() throws {
        var bytes = P.sectionHeader(bigEndian: false)
        bytes += P.interface(bigEndian: false, name: "eth0\u{0}")
        bytes += P.interface(bigEndian: false, name: "bad\u{1b}[31mname")
        bytes += P.interface(bigEndian: false, name: String(repeating: "x", count: 1000))
        let result = try readBytes(bytes)
        #expect(result.interfaces.map(\.name.count) == [4, 12, 256])
        #expect(result.interfaces[0].name == "eth0")
        #expect(!result.interfaces[1].name.contains("\u{1b}"))
    }
}

/// Several sources merged by timestamp.
@Suite("merged sources")
struct MergedSourceTests {
    @Test("two pcap files and a pcapng file interleave by timestamp; interface tables concatenate")
    func merge() throws {
        var a = PcapBuilder.header()
        for t: UInt32 in [1, 4, 6] { PcapBuilder.record(&a, seconds: t, fraction: 0, data: payload(Int(t))) }
        var b = PcapBuilder.header(magic: 0xa1b2_3c4d, bigEndian: true)
        for t: UInt32 in [2, 3, 7] { PcapBuilder.record(&b, seconds: t, fraction: 0, data: payload(Int(t))) }
        var c = PcapngBuilder.sectionHeader(bigEndian: false)
        c += PcapngBuilder.interface(bigEndian: false, name: "x", tsresol: 0)  // whole seconds
        c += PcapngBuilder.enhancedPacket(bigEndian: false, interface: 0, timestamp: 4, data: payload(4))
        c += PcapngBuilder.interface(bigEndian: false, name: "y", tsresol: 0)  // an interface that appears late
        c += PcapngBuilder.enhancedPacket(bigEndian: false, interface: 0, timestamp: 5, data: payload(5))
        c += PcapngBuilder.enhancedPacket(bigEndian: false, interface: 1, timestamp: 8, data: payload(8))
        let paths = try [a.bytes, b.bytes, c].map { try temporaryFile($0) }
        defer { for p in paths { try? FileManager.default.removeItem(atPath: p) } }
        let merged = MergedPacketSource(try paths.map { try openCaptureFile(path: $0) })
        var seen: [(Int64, Int, Int)] = []
        var firstBytes: [UInt8] = []
        while let packet = try merged.next() {
            seen.append((packet.timestamp / 1_000_000_000, packet.interfaceID, packet.bytes.count))
            firstBytes.append(packet.bytes.first ?? 0xFF)
        }
        let names = merged.interfaces.map(\.name)
        let base = paths.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent }
        // Ties (4 s in file a and in file c) keep the order of the sources.
        #expect(seen.map(\.0) == [1, 2, 3, 4, 4, 5, 6, 7, 8])
        #expect(seen.map { names[$0.1] } == [base[0], base[1], base[1], base[0], "x", "x", base[0], base[1], "y"])
        #expect(seen.map(\.2) == [1, 2, 3, 4, 4, 5, 6, 7, 8])
        #expect(names == [base[0], base[1], "x", "y"])
    }

    @Test("a failing source: the others are read to the end, then its error")
    func failingSource() throws {
        var a = PcapBuilder.header()
        for t: UInt32 in [1, 2, 3] { PcapBuilder.record(&a, seconds: t, fraction: 0, data: payload(10)) }
        let truncated = Array(a.bytes.dropLast(5))
        var b = PcapBuilder.header()
        for t: UInt32 in [1, 5, 9] { PcapBuilder.record(&b, seconds: t, fraction: 0, data: payload(10)) }
        let paths = try [truncated, b.bytes].map { try temporaryFile($0) }
        defer { for p in paths { try? FileManager.default.removeItem(atPath: p) } }
        let result = drain(MergedPacketSource(try paths.map { try openCaptureFile(path: $0) }))
        #expect(result.packets.map { $0.timestamp.map { $0 / 1_000_000_000 } } == [1, 1, 2, 5, 9])
        #expect(result.error?.code == .truncated)
    }
}

/// Reading from a pipe (what `-`, standard input, is in `tcpdump -w - | hoptrace ...`): short reads, no seeking.
@Test("a capture through a pipe agrees with tshark")
func readFromPipe() throws {
    let path = corpusPath("zeek/http/1000-requests-one-dropped-response.pcap")
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    var fds: [Int32] = [-1, -1]
    try #require(pipe(&fds) == 0)
    let writeEnd = fds[1]
    // A writer thread feeds the pipe in uneven pieces, as a capture tool would.
    let writer = Thread {
        var offset = 0
        var piece = 1
        bytes.withUnsafeBytes { raw in
            while offset < raw.count {
                let n = write(writeEnd, raw.baseAddress! + offset, min(piece, raw.count - offset))
                if n <= 0 { break }
                offset += n
                piece = piece * 7 % 70_001 + 1
            }
        }
        close(writeEnd)
    }
    writer.start()
    let reader = FileByteReader(descriptor: fds[0], name: "stdin", owned: true)
    let result = drain(try openCapture(reader))
    let oracle = try tsharkFacts(path)
    #expect(result.error == nil)
    #expect(result.packets.count == oracle.facts.count)
    #expect(result.packets.map(\.timestamp) == oracle.facts.map(\.timestamp))
    #expect(result.packets.map(\.length) == oracle.facts.map(\.length))
}

@Test("an error's one line names its source once")
func errorDescription() {
    let live = CaptureError(
        .noSuchInterface,
        "cannot open eth9: no such interface; `ip link` lists them",
        source: "eth9"
    )
    #expect(live.description == "cannot open eth9: no such interface; `ip link` lists them")
    let file = CaptureError(.notACapture, "not a pcap or pcapng file (magic 0x78797a00)", source: "x")
    #expect(file.description == "x: not a pcap or pcapng file (magic 0x78797a00)")
    let truncated = CaptureError(.truncated, "file ends in the middle of packet 2", source: "a.pcap", offset: 40)
    #expect(truncated.description == "a.pcap: file ends in the middle of packet 2 (at byte 40)")
}
