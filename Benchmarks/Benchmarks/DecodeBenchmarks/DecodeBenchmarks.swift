import Benchmark
import HoptraceCapture
import HoptraceDecode

/// Realistic packets in one in-memory buffer: what `tcpdump -i any` (SLL2) and a pcapng on eth0 (Ethernet) hold on
/// a Kubernetes node: TCP with timestamps carrying data, handshakes with the full option set, pure ACKs with SACK,
/// IPv6, a VXLAN-encapsulated segment, DNS over UDP.
final class PacketCorpus: @unchecked Sendable {
    // @unchecked: written once in init, then only read; the buffer lives as long as the corpus.
    let buffer: UnsafeMutableRawBufferPointer
    let packets: [Packet]

    init(count: Int) {
        var frames: [([UInt8], LinkType)] = []
        for i in 0..<count {
            frames.append(Self.frame(i))
        }
        let total = frames.reduce(0) { $0 + $1.0.count }
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: total, alignment: 8)
        var packets: [Packet] = []
        var offset = 0
        for (index, (bytes, linkType)) in frames.enumerated() {
            let slice = UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<(offset + bytes.count)])
            slice.copyBytes(from: bytes)
            packets.append(
                Packet(
                    timestamp: 1_700_000_000_000_000_000 + Int64(index) * 10_000,
                    interfaceID: 0,
                    direction: .unknown,
                    linkType: linkType,
                    originalLength: bytes.count,
                    bytes: UnsafeRawBufferPointer(slice)
                )
            )
            offset += bytes.count
        }
        self.packets = packets
    }

    deinit { buffer.deallocate() }

    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }
    static func be32(_ v: UInt32) -> [UInt8] { be16(UInt16(v >> 16)) + be16(UInt16(v & 0xffff)) }

    static func tcp(seq: UInt32, flags: UInt8, options: [UInt8], payload: Int) -> [UInt8] {
        be16(40000) + be16(8080) + be32(seq) + be32(77) + [UInt8((20 + options.count) / 4) << 4, flags]
            + be16(502) + [0, 0, 0, 0] + options + [UInt8](repeating: 0x61, count: payload)
    }

    static func ipv4(proto: UInt8, _ payload: [UInt8]) -> [UInt8] {
        [0x45, 0] + be16(UInt16(20 + payload.count)) + [0x12, 0x34, 0x40, 0, 64, proto, 0, 0]
            + [10, 244, 1, 5, 10, 96, 0, 10] + payload
    }

    static func ipv6(next: UInt8, _ payload: [UInt8]) -> [UInt8] {
        [0x60, 0, 0, 0] + be16(UInt16(payload.count)) + [next, 64] + [0xfd, 0] + [UInt8](repeating: 0, count: 13)
            + [1] + [0xfd, 0] + [UInt8](repeating: 0, count: 13) + [2] + payload
    }

    static let ethernetV4: [UInt8] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]
    static let ethernetV6: [UInt8] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd]

    static func sll2(outgoing: Bool) -> [UInt8] {
        [0x08, 0x00, 0, 0] + be32(7) + [0, 1, outgoing ? 4 : 0, 6, 0x0a, 0x58, 0x0a, 0xf4, 0x01, 0x05, 0, 0]
    }

    static let timestamps: [UInt8] = [1, 1, 8, 10] + be32(123_456) + be32(654_321)
    static let synOptions: [UInt8] =
        [2, 4, 0x05, 0xb4, 4, 2, 8, 10] + be32(1) + be32(0) + [1, 3, 3, 7]
    static let sackOptions: [UInt8] = [1, 1, 5, 18] + be32(1000) + be32(2000) + be32(3000) + be32(4000) + timestamps

    static func frame(_ i: Int) -> ([UInt8], LinkType) {
        let seq = UInt32(i) &* 1448
        switch i % 8 {
        case 0, 1, 2:
            return (
                sll2(outgoing: i % 2 == 0)
                    + ipv4(proto: 6, tcp(seq: seq, flags: 0x18, options: timestamps, payload: 1200)), .linuxSLL2
            )
        case 3:
            return (ethernetV4 + ipv4(proto: 6, tcp(seq: seq, flags: 0x02, options: synOptions, payload: 0)), .ethernet)
        case 4:
            return (
                ethernetV4 + ipv4(proto: 6, tcp(seq: seq, flags: 0x10, options: sackOptions, payload: 0)), .ethernet
            )
        case 5:
            return (
                ethernetV6 + ipv6(next: 6, tcp(seq: seq, flags: 0x18, options: timestamps, payload: 300)), .ethernet
            )
        case 6:
            let inner = ethernetV4 + ipv4(proto: 6, tcp(seq: seq, flags: 0x18, options: timestamps, payload: 500))
            let vxlan: [UInt8] = [0x08, 0, 0, 0, 0, 0, 1, 0] + inner
            let udp = be16(51000) + be16(8472) + be16(UInt16(8 + vxlan.count)) + [0, 0] + vxlan
            return (ethernetV4 + ipv4(proto: 17, udp), .ethernet)
        default:
            let dns: [UInt8] =
                [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3] + Array("web".utf8) + [7]
                + Array("default".utf8) + [3] + Array("svc".utf8) + [0, 0, 1, 0, 1]
            let udp = be16(33000) + be16(53) + be16(UInt16(8 + dns.count)) + [0, 0] + dns
            return (sll2(outgoing: true) + ipv4(proto: 17, udp), .linuxSLL2)
        }
    }
}

extension Benchmark {
    /// Checked-in thresholds (Thresholds/*.p90.json) are compared with these tolerances: allocations as given
    /// (none at all on the decode path), time and throughput within 50% (the machines are shared, 2 cores).
    static func thresholds(mallocs: BenchmarkThresholds) -> [BenchmarkMetric: BenchmarkThresholds] {
        [
            .mallocCountTotal: mallocs,
            .wallClock: .init(relative: [.p90: 50]),
            .throughput: .init(relative: [.p90: 50]),
        ]
    }
}

let benchmarks: @Sendable () -> Void = {
    let corpus = PacketCorpus(count: 1024)

    // One scaled iteration decodes one packet: wall clock and mallocs are per packet.
    Benchmark(
        "DecodePerPacket",
        configuration: .init(
            metrics: [.wallClock, .throughput, .mallocCountTotal],
            scalingFactor: .kilo,
            maxDuration: .seconds(5),
            maxIterations: 1_000,
            thresholds: Benchmark.thresholds(mallocs: .init(absolute: [.p90: 0]))
        )
    ) { benchmark in
        let decoder = PacketDecoder()
        let packets = corpus.packets
        var index = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(decoder.decode(packets[index]))
            index = (index + 1) & 1023
        }
        benchmark.stopMeasurement()
        precondition(decoder.statistics.warnings == 0, "the benchmark packets must decode cleanly")
    }

    // For contrast (and to show the malloc counter counts): the one-line text of `hoptrace packets` allocates.
    Benchmark(
        "SummarizeTextPerPacket",
        configuration: .init(
            metrics: [.wallClock, .throughput, .mallocCountTotal],
            scalingFactor: .kilo,
            maxDuration: .seconds(5),
            maxIterations: 200,
            thresholds: Benchmark.thresholds(mallocs: .init(relative: [.p90: 5]))
        )
    ) { benchmark in
        let decoder = PacketDecoder()
        let packets = corpus.packets
        var index = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            if let decoded = decoder.decode(packets[index]) {
                blackHole(PacketSummary.describe(decoded))
            }
            index = (index + 1) & 1023
        }
        benchmark.stopMeasurement()
    }
}
