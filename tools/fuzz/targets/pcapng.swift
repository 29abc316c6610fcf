// fuzz-modules: HoptraceCapture
// fuzz-entry: fuzzPcapng
// fuzz-seeds: *.pcapng
//
// The pcapng reader: any bytes must give packets and then nil or a CaptureError, never a crash. The first byte
// chooses how many bytes each simulated read returns, so the buffer refill path is exercised too.
@testable import HoptraceCapture

func fuzzPcapng(_ data: [UInt8]) {
    let chunk = data.isEmpty ? 1 : Int(data[0]) * 37 + 1
    let reader = FileByteReader(bytes: data, chunk: chunk, name: "fuzz.pcapng")
    do {
        let source = try PcapngFileReader(reader: reader)
        var checksum: UInt8 = 0
        var count = 0
        while let packet = try source.next(), count < 100_000 {
            for byte in packet.bytes { checksum &+= byte }
            precondition(packet.interfaceID >= 0 && packet.interfaceID < source.interfaces.count)
            for interface in source.interfaces { precondition(interface.name.utf8.count <= 1024) }
            count += 1
        }
        _ = checksum
    } catch {
        _ = error.description
    }
}
