import Foundation
import HoptraceCapture
import HoptraceTestSupport
import Testing

@testable import HoptraceDecode

/// The public capture corpus in the repository (`Tests/Corpus`).
enum Corpus {
    static var packageRoot: URL {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        return URL(fileURLWithPath: #filePath)
    }

    static var directory: URL {
        Repository.corpus
    }

    static func path(_ relative: String) -> String { directory.appendingPathComponent(relative).path }
}

/// Runs tshark, the oracle, and returns its output lines split on tabs.
enum TShark {
    static var isAvailable: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark")
    }

    static func fields(_ file: String, _ fields: [String], extra: [String] = []) throws -> [[String]] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/tshark")
        var arguments = ["-n", "-r", file, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a"]
        arguments += extra
        for field in fields { arguments += ["-e", field] }
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: true).map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
    }
}

/// Builds packets byte by byte for edge cases.
struct Bytes {
    var bytes: [UInt8] = []

    init(_ bytes: [UInt8] = []) { self.bytes = bytes }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func be16(_ v: UInt16) { bytes += [UInt8(v >> 8), UInt8(v & 0xff)] }
    mutating func be32(_ v: UInt32) {
        bytes += [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)]
    }
    mutating func le16(_ v: UInt16) { bytes += [UInt8(v & 0xff), UInt8(v >> 8)] }
    mutating func append(_ other: [UInt8]) { bytes += other }

    /// An Ethernet header (dst 02:00:00:00:00:02, src 02:00:00:00:00:01) with optional VLAN tags.
    static func ethernet(type: UInt16, tags: [(tpid: UInt16, vid: UInt16)] = []) -> [UInt8] {
        var b = Bytes([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1])
        for tag in tags {
            b.be16(tag.tpid)
            b.be16(tag.vid)
        }
        b.be16(type)
        return b.bytes
    }

    /// An IPv4 header with a correct total length for `payload` bytes.
    static func ipv4(
        src: [UInt8],
        dst: [UInt8],
        proto: UInt8,
        payloadLength: Int,
        id: UInt16 = 0x1234,
        flagsOffset: UInt16 = 0x4000,
        options: [UInt8] = [],
        totalLength: Int? = nil
    ) -> [UInt8] {
        var b = Bytes()
        b.u8(0x40 | UInt8((20 + options.count) / 4))
        b.u8(0)
        b.be16(UInt16(totalLength ?? (20 + options.count + payloadLength)))
        b.be16(id)
        b.be16(flagsOffset)
        b.u8(64)
        b.u8(proto)
        b.be16(0)
        b.append(src)
        b.append(dst)
        b.append(options)
        return b.bytes
    }

    /// An IPv6 header.
    static func ipv6(src: [UInt8], dst: [UInt8], nextHeader: UInt8, payloadLength: Int) -> [UInt8] {
        var b = Bytes()
        b.be32(0x6000_0000)
        b.be16(UInt16(payloadLength))
        b.u8(nextHeader)
        b.u8(64)
        b.append(src)
        b.append(dst)
        return b.bytes
    }

    /// A TCP header with `options` (padded by the caller to a multiple of 4).
    static func tcp(
        sport: UInt16,
        dport: UInt16,
        seq: UInt32,
        ack: UInt32 = 0,
        flags: UInt8,
        window: UInt16 = 64240,
        options: [UInt8] = []
    ) -> [UInt8] {
        var b = Bytes()
        b.be16(sport)
        b.be16(dport)
        b.be32(seq)
        b.be32(ack)
        b.u8(UInt8((20 + options.count) / 4) << 4)
        b.u8(flags)
        b.be16(window)
        b.be16(0)
        b.be16(0)
        b.append(options)
        return b.bytes
    }

    static func udp(sport: UInt16, dport: UInt16, payloadLength: Int) -> [UInt8] {
        var b = Bytes()
        b.be16(sport)
        b.be16(dport)
        b.be16(UInt16(8 + payloadLength))
        b.be16(0)
        return b.bytes
    }
}

/// Decodes `bytes` as one packet of `linkType` and hands the result to `body` while the bytes are alive.
func withDecoded<R>(
    _ bytes: [UInt8],
    _ linkType: LinkType = .ethernet,
    decoder: PacketDecoder = PacketDecoder(),
    timestamp: Int64 = 1_000_000_000,
    originalLength: Int? = nil,
    _ body: (DecodedPacket?) throws -> R
) rethrows -> R {
    try bytes.withUnsafeBytes { raw in
        let packet = Packet(
            timestamp: timestamp,
            interfaceID: 0,
            direction: .unknown,
            linkType: linkType,
            originalLength: originalLength ?? raw.count,
            bytes: raw
        )
        return try body(decoder.decode(packet))
    }
}

/// The SYN of the examples: options mss 1460, sackOK, TS val 1 ecr 0, nop, wscale 7.
let synOptions: [UInt8] = [2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7]
