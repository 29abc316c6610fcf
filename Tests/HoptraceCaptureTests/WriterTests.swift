import Foundation
import Testing

@testable import HoptraceCapture

#if canImport(Glibc)
import Glibc
#endif

/// The pcapng writer, checked with tshark as the oracle.
@Suite("pcapng writer")
struct WriterTests {
    /// Writes packets on three interfaces, with every direction, and reads the file back with tshark.
    @Test("round trip through tshark: interface names, nanosecond timestamps, lengths, directions")
    func roundTrip() throws {
        let path = NSTemporaryDirectory() + "hoptrace-writer-\(UUID().uuidString).pcapng"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try PcapngWriter(path: path, section: .currentHost())
        let names = ["eth0", "cni0", "veth1234"]
        for (i, name) in names.enumerated() {
            let id = try writer.addInterface(
                InterfaceDescription(name: name, linkType: i == 2 ? .linuxSLL2 : .ethernet, snapLength: 262_144)
            )
            #expect(id == i)
        }
        var expected: [(name: String, time: Int64, length: Int, captured: Int, direction: PacketDirection)] = []
        let directions: [PacketDirection] = [.unknown, .inbound, .outbound]
        for i in 0..<300 {
            let data = payload(20 + (i * 13) % 1500, seed: UInt8(truncatingIfNeeded: i))
            let time = Int64(1_763_800_000_123_456_789) + Int64(i) * 1_000_003
            let original = data.count + (i % 5 == 0 ? 100 : 0)
            let direction = directions[i % 3]
            try data.withUnsafeBytes { raw in
                let packet = Packet(
                    timestamp: time,
                    interfaceID: 0,
                    direction: direction,
                    linkType: .ethernet,
                    originalLength: original,
                    bytes: raw
                )
                try writer.write(packet, interface: i % 3)
            }
            expected.append((names[i % 3], time, original, data.count, direction))
        }
        try writer.writeStatistics(interface: 0, timestamp: 1_763_800_001_000_000_000, received: 123, dropped: 4)
        try writer.close()

        // tshark is the oracle for what it can show.
        let tshark = try #require(tsharkPath)
        let (status, stdout, stderr) = try run(
            tshark,
            [
                "-r", path, "-T", "fields", "-e", "frame.interface_name", "-e", "frame.time_epoch", "-e", "frame.len",
                "-e", "frame.cap_len", "-e", "frame.packet_flags_direction",
            ]
        )
        #expect(status == 0, "tshark: \(stderr)")
        let lines = stdout.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
        #expect(lines.count == expected.count)
        for (line, want) in zip(lines, expected) {
            #expect(String(line[0]) == want.name)
            #expect(parseEpoch(String(line[1])) == want.time)
            #expect(Int(line[2]) == want.length)
            #expect(Int(line[3]) == want.captured)
            // tshark prints the epb_flags direction bits as 0x00000001 (inbound), 0x00000002 (outbound), and
            // nothing when the option is absent.
            let direction = String(line[4])
            switch want.direction {
            case .inbound: #expect(direction == "0x00000001")
            case .outbound: #expect(direction == "0x00000002")
            case .unknown: #expect(direction.isEmpty)
            }
        }
        // The statistics block and the section header, as capinfos reports them.
        let capinfos = try run("/usr/bin/capinfos", ["-I", path])
        #expect(capinfos.stdout.contains("Name = eth0"))
        #expect(capinfos.stdout.contains("Time precision = nanoseconds (9)"))
        #expect(capinfos.stdout.contains("Number of stat entries = 1"))
        let info = try run("/usr/bin/capinfos", [path])
        #expect(info.stdout.contains("Capture application: hoptrace"))
        var host = [CChar](repeating: 0, count: 256)
        _ = gethostname(&host, host.count)
        let hostName = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        #expect(info.stdout.contains("Capture comment:     host \(hostName)"))
    }

    @Test("cannot create: a clear .io error")
    func cannotCreate() {
        #expect(throws: CaptureError.self) {
            _ = try PcapngWriter(path: "/nonexistent-dir/x.pcapng")
        }
        do {
            _ = try PcapngWriter(path: "/nonexistent-dir/x.pcapng")
        } catch {
            #expect(error.code == .io)
            #expect(error.reason.contains("create the directory first"))
        }
    }

    @Test("/dev/full: .diskFull")
    func devFull() throws {
        try #require(FileManager.default.fileExists(atPath: "/dev/full"))
        let writer = try PcapngWriter(path: "/dev/full")
        _ = try writer.addInterface(InterfaceDescription(name: "eth0", linkType: .ethernet))
        do {
            try writer.close()
            Issue.record("writing to /dev/full succeeded")
        } catch {
            #expect(error.code == .diskFull)
        }
    }

    /// A tiny tmpfs fills up mid-capture: the file must stay valid up to the last complete block, and the error
    /// must say how many packets it holds. Mounting needs root.
    @Test("disk full: the file stays valid up to the last complete block", .enabled(if: getuid() == 0))
    func diskFullLeavesValidFile() throws {
        let mountPoint = NSTemporaryDirectory() + "hc-full-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: mountPoint) }
        let mount = try run("/bin/mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mountPoint])
        try #require(mount.status == 0, "mount failed: \(mount.stderr)")
        defer { _ = try? run("/bin/umount", [mountPoint]) }
        let path = mountPoint + "/x.pcapng"
        let writer = try PcapngWriter(path: path)
        _ = try writer.addInterface(InterfaceDescription(name: "eth0", linkType: .ethernet))
        let data = payload(999)
        var failure: CaptureError?
        do {
            for i in 0..<2000 {
                try data.withUnsafeBytes { raw in
                    try writer.write(
                        Packet(
                            timestamp: Int64(i),
                            interfaceID: 0,
                            direction: .inbound,
                            linkType: .ethernet,
                            originalLength: raw.count,
                            bytes: raw
                        ),
                        interface: 0
                    )
                }
                if i % 100 == 99 { try writer.flush() }
            }
            try writer.close()
        } catch {
            failure = error as? CaptureError
        }
        let error = try #require(failure, "2000 KB fit in a 256 KB tmpfs?")
        #expect(error.code == .diskFull)
        // The packet count the error claims, e.g. "the file is valid up to packet 230 (...)".
        let claimed = error.reason.split(separator: " ").drop { $0 != "packet" }.dropFirst().first.flatMap { Int($0) }
        let oracle = try tsharkFacts(path)
        #expect(oracle.status == 0, "tshark must read the cut file cleanly: \(oracle.stderr)")
        #expect(oracle.facts.count == claimed)
        #expect(oracle.facts.count > 0)
        let ours = readAll(path)
        #expect(ours.error == nil)
        #expect(ours.packets.count == claimed)
    }
}

/// Rotation by size and by time, checked with tshark: no packet lost or duplicated at a boundary.
@Suite("rotating recorder")
struct RotationTests {
    let input = corpusPath("zeek/http/1000-requests-one-dropped-response.pcap")

    private func record(_ rotation: RotatingRecorder.Rotation, into directory: String) throws -> RotatingRecorder {
        let recorder = try RotatingRecorder(path: directory + "/cap.pcapng", rotation: rotation)
        let source = try openCaptureFile(path: input)
        while let packet = try source.next() {
            try recorder.record(packet, from: source)
        }
        try recorder.finish(statistics: [], interfaces: source.interfaces, start: 0)
        return recorder
    }

    private func temporaryDirectory() throws -> String {
        let directory = NSTemporaryDirectory() + "hoptrace-rotate-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test("by size: every packet in exactly one file, in order")
    func bySize() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let recorder = try record(.init(bytes: 100_000), into: directory)
        let original = try tsharkFacts(input).facts
        #expect(recorder.files.count > 3)
        #expect(recorder.files.first == directory + "/cap-00000.pcapng")
        var joined: [PacketFacts] = []
        for file in recorder.files {
            let facts = try tsharkFacts(file)
            #expect(facts.status == 0, "\(file): \(facts.stderr)")
            joined += facts.facts
            // Each file stops at the first packet that takes it past the limit.
            let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
            #expect(size < 100_000 + 2_000)
        }
        #expect(joined.map(\.timestamp) == original.map(\.timestamp))
        #expect(joined.map(\.length) == original.map(\.length))
    }

    @Test("by time with --max-files: the newest files stay, holding the last packets")
    func byTimeKeepingThree() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let original = try tsharkFacts(input).facts
        let first = try #require(original.first?.timestamp)
        let last = try #require(original.last?.timestamp)
        // About ten files over the capture's span.
        let step = max((last - first) / 10, 1)
        let recorder = try record(.init(nanoseconds: step, maxFiles: 3), into: directory)
        #expect(recorder.files.count == 3)
        let left = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(left == recorder.files.map { URL(fileURLWithPath: $0).lastPathComponent })
        var joined: [PacketFacts] = []
        for file in recorder.files {
            let facts = try tsharkFacts(file)
            #expect(facts.status == 0)
            if let start = facts.facts.first?.timestamp, let end = facts.facts.last?.timestamp {
                #expect(end - start < step)
            }
            joined += facts.facts
        }
        #expect(joined.map(\.timestamp) == original.suffix(joined.count).map(\.timestamp))
        #expect(recorder.packets == original.count)
    }

    @Test("rotated names")
    func names() {
        #expect(RotatingRecorder.rotatedName("/tmp/x/cap.pcapng", 3) == "/tmp/x/cap-00003.pcapng")
        #expect(RotatingRecorder.rotatedName("cap", 12) == "cap-00012")
        #expect(RotatingRecorder.rotatedName("./d.ir/cap", 0) == "./d.ir/cap-00000")
    }
}
