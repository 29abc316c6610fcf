// Times the stages before the flow stage over one capture file, as `hoptrace requests` runs them:
//   read     the file reader alone (PacketSource.next())
//   decode   read + decode + capture point id: PacketDecoder.decodePackets, the loop FlowPipeline runs before
//            the flow analyzer
// Prints "<packets> <nanoseconds> <ns/packet> <max RSS KiB> <checksum>". Driven by tools/bench/readdec.sh.
import HoptraceCapture
import HoptraceDecode

#if canImport(Glibc)
import Glibc
#endif

func monotonic() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}

let arguments = CommandLine.arguments
guard arguments.count == 3, ["read", "decode"].contains(arguments[1]) else {
    print("usage: ReadDecode read|decode FILE")
    exit(2)
}
let path = arguments[2]
var packets = 0
var checksum = 0
let start = monotonic()
do {
    let source = try openCaptureFile(path: path)
    if arguments[1] == "read" {
        while let packet = try source.next() {
            packets += 1
            checksum &+= packet.bytes.count &+ Int(packet.bytes.first ?? 0)
        }
    } else {
        let decoder = PacketDecoder()
        var counts = PacketLoopCounts()
        var sum = 0
        try decoder.decodePackets(from: source, capturePoints: CapturePointTable(), counts: &counts) {
            decoded,
            point in
            sum &+= point &+ decoded.payloadLength
        }
        packets = counts.packets
        let lastTime = counts.lastTime
        checksum = sum
        checksum &+= Int(lastTime & 0xff)
    }
} catch {
    print("error: \(error)")
    exit(1)
}
let elapsed = monotonic() - start
var usage = rusage()
getrusage(RUSAGE_SELF.rawValue, &usage)
let perPacket = elapsed * 10 / UInt64(max(packets, 1))
print(packets, elapsed, "\(perPacket / 10).\(perPacket % 10)", usage.ru_maxrss, checksum)
