// fuzz-modules: HoptraceCapture HoptraceDecode
// fuzz-entry: fuzzDecode
// fuzz-seeds:
//
// The decoders (HoptraceDecode): link layers, IP and fragment reassembly, tunnels, transport, and the text/JSON
// text rendering of what was decoded (PacketSummary; the record writers are in HoptraceReport). Input: byte 0 picks the link type, byte 1 the flags below, the rest is one packet.
// Seeds: tools/fuzz/seeds/decode/ (first packets of corpus captures, made by hand once: [link type index, 0] +
// packet bytes). One decoder lives across inputs, so fragment reassembly state is fuzzed too.
import HoptraceCapture
import HoptraceDecode

private let linkTypes: [LinkType] = [
    .ethernet, .linuxSLL2, .linuxSLL, .raw, .ipv4, .ipv6, .null, .loop, .nflog, LinkType(rawValue: 147),
]

// Only libFuzzer's single thread touches these.
nonisolated(unsafe) private var decoder = makeDecoder()
nonisolated(unsafe) private var clock: Int64 = 0

private func makeDecoder() -> PacketDecoder {
    var options = DecodeOptions()
    options.maxDatagramsInFlight = 4
    options.swallowFragments = false
    return PacketDecoder(options: options)
}

func fuzzDecode(_ data: [UInt8]) {
    guard data.count >= 2 else { return }
    let linkType = linkTypes[Int(data[0]) % linkTypes.count]
    let flags = data[1]
    // Bit 0: pretend the snapshot length cut the packet; bits 1-2: how far packet time moves (reassembly timeouts).
    clock += Int64(flags >> 1 & 3) * 20_000_000_000
    data.withUnsafeBytes { raw in
        let bytes = UnsafeRawBufferPointer(rebasing: raw[2...])
        let packet = Packet(
            timestamp: clock,
            interfaceID: 0,
            direction: .unknown,
            linkType: linkType,
            originalLength: flags & 1 != 0 ? bytes.count + Int(flags) * 7 : bytes.count,
            bytes: bytes
        )
        guard let decoded = decoder.decode(packet) else { return }
        // Everything the decoder hands out must be readable (ASan checks) and within the stated lengths.
        var sum: UInt8 = 0
        for byte in decoded.payload { sum &+= byte }
        for byte in decoded.transportBytes { sum &+= byte }
        precondition(decoded.payload.count == 0 || decoded.payload.count <= decoded.payloadLength)
        _ = PacketSummary.describe(decoded)
        if sum == 0x5a { clock &+= 1 }
    }
    if flags == 0xff { decoder = makeDecoder() }
}
