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

    @Test("70,000 sections that each declare eth0 again (files appended with cat): one interface, every packet read")
    func sectionsRedeclare() throws {
        var bytes: [UInt8] = []
        let section = P.sectionHeader(bigEndian: false) + P.interface(bigEndian: false, name: "eth0")
        for n in 0..<70_000 {
            bytes += section
            bytes += P.enhancedPacket(bigEndian: false, interface: 0, timestamp: UInt64(n), data: [1, 2, 3, 4])
        }
        let source = try openCapture(bytes: bytes)
        var count = 0
        while let packet = try source.next() {
            #expect(packet.interfaceID == 0)
            count += 1
        }
        #expect(count == 70_000)
        #expect(source.interfaces.count == 1)
        #expect(source.interfaces.first?.name == "eth0")
    }

    @Test("one section declaring eth0 twice keeps two interfaces; unnamed ones are never merged across sections")
    func withinSectionAndUnnamed() throws {
        var bytes = P.sectionHeader(bigEndian: false)
        bytes += P.interface(bigEndian: false, name: "eth0") + P.interface(bigEndian: false, name: "eth0")
        bytes += P.enhancedPacket(bigEndian: false, interface: 1, timestamp: 1, data: [1, 2, 3, 4])
        // A second section: eth0 again (the first of the two), an unnamed interface, then a packet on each.
        bytes += P.sectionHeader(bigEndian: false)
        bytes += P.interface(bigEndian: false, name: "eth0") + P.interface(bigEndian: false)
        bytes += P.enhancedPacket(bigEndian: false, interface: 0, timestamp: 2, data: [1, 2, 3, 4])
        bytes += P.enhancedPacket(bigEndian: false, interface: 1, timestamp: 3, data: [1, 2, 3, 4])
        let source = try openCapture(bytes: bytes)
        var ids: [Int] = []
        while let packet = try source.next() { ids.append(packet.interfaceID) }
        #expect(ids == [1, 0, 2])
        #expect(source.interfaces.map(\.isNamed) == [true, true, false])
    }
}
