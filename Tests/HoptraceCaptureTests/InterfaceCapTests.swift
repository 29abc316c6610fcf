import Foundation
import Testing

@testable import HoptraceCapture

/// Each interface block of a pcapng file is held to its end (a packet may name it at any time). A file of nothing
/// but interface blocks (20 bytes each) would otherwise make the reader hold hundreds of bytes for each 20 read.
@Suite("pcapng: the interface blocks of a file are capped")
struct InterfaceCapTests {
    typealias P = PcapngBuilder

    static func file(interfaces: Int, packetOn last: Bool) -> [UInt8] {
        var bytes = P.sectionHeader(bigEndian: false)
        let block = P.interface(bigEndian: false)
        bytes.reserveCapacity(bytes.count + interfaces * block.count + 64)
        bytes += block
        bytes += P.enhancedPacket(bigEndian: false, interface: 0, timestamp: 1, data: [1, 2, 3, 4])
        for _ in 1..<interfaces { bytes += block }
        if last {
            bytes += P.enhancedPacket(
                bigEndian: false,
                interface: UInt32(interfaces - 1),
                timestamp: 2,
                data: [5, 6, 7, 8]
            )
        }
        return bytes
    }

    static func read(_ bytes: [UInt8]) throws -> (packets: [UInt64], error: CaptureError?) {
        let source = try openCapture(bytes: bytes)
        var packets: [UInt64] = []
        do {
            while let packet = try source.next() { packets.append(UInt64(packet.timestamp)) }
        } catch {
            return (packets, error)
        }
        return (packets, nil)
    }

    @Test("65,536 interface blocks are read, and a packet on the last; the 65,537th ends the file as damaged")
    func cap() throws {
        let cap = PcapngFileReader.maxInterfaces
        let within = try Self.read(Self.file(interfaces: cap, packetOn: true))
        #expect(within.error == nil)
        #expect(within.packets.count == 2)
        let past = try Self.read(Self.file(interfaces: cap + 1, packetOn: true))
        // The packet before the blocks was read; reading stops at the block past the cap, with a one-line reason.
        #expect(past.packets.count == 1)
        let error = try #require(past.error)
        #expect(error.code == .corrupt)
        #expect(error.description.contains("more than \(cap) Interface Description Blocks"))
        #expect(!error.description.contains("\n"))
    }
}
