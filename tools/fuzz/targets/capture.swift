// fuzz-modules: HoptraceCapture
// fuzz-entry: fuzzCapture
// fuzz-seeds: *.pcap *.pcapng
//
// openCapture (magic sniffing) and MergedPacketSource: the input is cut in two at a position taken from its first
// two bytes, each half opened as a capture, and both merged by timestamp.
@testable import HoptraceCapture

func fuzzCapture(_ data: [UInt8]) {
    guard data.count >= 2 else { return }
    let cut = min(Int(data[0]) << 8 | Int(data[1]), data.count - 2) + 2
    var sources: [any PacketSource] = []
    for (index, part) in [Array(data[2..<cut]), Array(data[cut...])].enumerated() {
        if let source = try? openCapture(bytes: part, chunk: 4096 + index, name: "part\(index)") {
            sources.append(source)
        }
    }
    let merged = MergedPacketSource(sources)
    var count = 0
    var last = Int64.min
    _ = last
    do {
        while let packet = try merged.next(), count < 100_000 {
            precondition(packet.interfaceID >= 0 && packet.interfaceID < merged.interfaces.count)
            var sum: UInt8 = 0
            for byte in packet.bytes { sum &+= byte }
            _ = sum
            last = packet.timestamp
            count += 1
        }
    } catch {
        _ = error.description
    }
}
