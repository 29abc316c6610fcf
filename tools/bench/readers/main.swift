// Reads one capture file with hoptrace's reader or with libpcap's pcap_next_ex and prints
// "<packets> <nanoseconds> <ns/packet> <max RSS KiB>". Built and driven by tools/bench/readers.sh.
import CPcap

#if canImport(Glibc)
import Glibc
#endif

func monotonic() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}

let arguments = CommandLine.arguments
guard arguments.count == 3, ["hoptrace", "libpcap"].contains(arguments[1]) else {
    print("usage: readers hoptrace|libpcap FILE")
    exit(2)
}
let path = arguments[2]
var packets = 0
var bytes = 0
let start = monotonic()
if arguments[1] == "hoptrace" {
    do {
        let source = try openCaptureFile(path: path)
        while let packet = try source.next() {
            packets += 1
            bytes &+= packet.bytes.count &+ Int(packet.bytes.first ?? 0)
        }
    } catch {
        print("error: \(error)")
        exit(1)
    }
} else {
    var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
    guard let pcap = pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf) else {
        print("error: \(String(cString: errbuf))")
        exit(1)
    }
    var header: UnsafeMutablePointer<pcap_pkthdr>?
    var data: UnsafePointer<UInt8>?
    while pcap_next_ex(pcap, &header, &data) == 1 {
        packets += 1
        bytes &+= Int(header!.pointee.caplen) &+ Int(data!.pointee)
    }
    pcap_close(pcap)
}
let elapsed = monotonic() - start
var usage = rusage()
getrusage(RUSAGE_SELF.rawValue, &usage)
let perPacket = (elapsed * 10 / UInt64(max(packets, 1)))
print(packets, elapsed, "\(perPacket / 10).\(perPacket % 10)", usage.ru_maxrss, bytes % 7)
