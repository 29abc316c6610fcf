// fuzz-modules: HoptraceCapture
// fuzz-entry: fuzzPcap
// fuzz-seeds: *.pcap
//
// The classic pcap reader: any bytes must give packets and then nil or a CaptureError, never a crash. The first byte
// chooses how many bytes each simulated read returns, so the buffer refill path is exercised too.
@testable import HoptraceCapture

func fuzzPcap(_ data: [UInt8]) {
    let chunk = data.isEmpty ? 1 : Int(data[0]) * 37 + 1
    let reader = FileByteReader(bytes: data, chunk: chunk, name: "fuzz.pcap")
    do {
        let source = try PcapFileReader(reader: reader)
        try drainForFuzzing(source)
    } catch {
        _ = error.description
    }
}

/// Reads every packet and touches every byte, so ASan sees any out-of-bounds view.
func drainForFuzzing(_ source: any PacketSource) throws(CaptureError) {
    var checksum: UInt8 = 0
    var count = 0
    while let packet = try source.next(), count < 100_000 {
        for byte in packet.bytes { checksum &+= byte }
        precondition(packet.interfaceID >= 0 && packet.interfaceID < source.interfaces.count)
        precondition(packet.bytes.count <= FileByteReader.maximumRecord)
        count += 1
    }
    _ = checksum
}
