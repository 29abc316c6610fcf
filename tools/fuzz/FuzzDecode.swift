// libFuzzer target for the decoders (HoptraceDecode): link layers, IP and fragment reassembly, tunnels, transport,
// and the text/JSON renderings of what was decoded.
//
// Input: byte 0 picks the link type, byte 1 the flags below, the rest is the packet. One decoder lives across
// inputs so that fragment reassembly state is fuzzed too. Build and run: tools/fuzz/run-decode.sh.
import HoptraceDecode

private let linkTypes: [LinkType] = [
    .ethernet, .linuxSLL2, .linuxSLL, .raw, .ipv4, .ipv6, .null, .loop, .nflog, LinkType(rawValue: 147),
]

// Only libFuzzer's single thread touches these.
nonisolated(unsafe) private var decoder = PacketDecoder(
    options: {
        var options = DecodeOptions()
        options.maxDatagramsInFlight = 4
        options.swallowFragments = false
        return options
    }()
)
nonisolated(unsafe) private var clock: Int64 = 0

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDecode(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size >= 2 else { return 0 }
    let linkType = linkTypes[Int(data[0]) % linkTypes.count]
    let flags = data[1]
    let bytes = UnsafeRawBufferPointer(start: data + 2, count: size - 2)
    // Bit 0: pretend the snapshot length cut the packet; bits 1-2: how far packet time moves (timeouts).
    let original = flags & 1 != 0 ? bytes.count + Int(flags) * 7 : bytes.count
    clock += Int64(flags >> 1 & 3) * 20_000_000_000
    let packet = Packet(
        timestamp: clock,
        interfaceID: 0,
        direction: .unknown,
        linkType: linkType,
        originalLength: original,
        bytes: bytes
    )
    if let decoded = decoder.decode(packet) {
        // Everything the decoder hands out must be readable within the input.
        var sum: UInt8 = 0
        for byte in decoded.payload.prefix(64) { sum &+= byte }
        for byte in decoded.transportBytes.prefix(64) { sum &+= byte }
        precondition(decoded.payload.count <= Swift.max(decoded.payloadLength, 0) || decoded.payload.count == 0)
        _ = PacketSummary.describe(decoded)
        _ = PacketSummary.json(decoded, capturePoint: "fuzz\u{7}")
        if sum == 0x5a { clock &+= 1 }
    }
    if flags == 0xff { decoder = PacketDecoder() }
    return 0
}
