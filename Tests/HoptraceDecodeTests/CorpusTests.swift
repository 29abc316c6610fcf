import Foundation
import HoptraceCapture
import Testing

@testable import HoptraceDecode

/// Every corpus file hoptrace can open, decoded and compared with tshark field by field.
///
/// How tshark's choices are mapped (decided per field):
/// - `ip.src`/`ip.dst` (and `ipv6.*`) list every IP header tshark dissected, outermost first: tunnel outer headers,
///   the inner header, and the header quoted inside an ICMP error. hoptrace keeps the outermost (``TunnelInfo``),
///   the innermost (``DecodedPacket/network``) and the quoted one (``QuotedPacket``): those must appear in tshark's
///   list in that order, the first and last of ours being tshark's first and last.
/// - Ports, `tcp.seq_raw`: the last value tshark gives belongs to the innermost TCP/UDP header, or to the quoted
///   one inside an ICMP error; VXLAN/Geneve outer UDP ports are the first `udp.*` values.
/// - `tcp.flags`, `tcp.len`: compared for TCP segments only (tshark also shows them for quoted headers when
///   enough bytes are quoted; hoptrace does not keep quoted flags).
/// - Fragments: tshark reassembles (its default) and dissects the transport on the frame that completes the
///   datagram; hoptrace does the same (swallowFragments off, so earlier fragments show their IP header only).
/// - `icmp.type`: the first value (the outer ICMP message).
/// - Frames where hoptrace found no IP header (non-IP EtherTypes, link types it does not decode) must have no IP
///   in tshark either, except for encapsulations hoptrace leaves alone by design (listed in ``unsupportedCarriers``).
@Suite("Corpus against tshark")
struct CorpusTests {
    static let fields = [
        "frame.number", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport", "udp.srcport",
        "udp.dstport", "tcp.flags", "tcp.seq_raw", "tcp.len", "icmp.type", "frame.interface_name", "sll.ifindex",
        "sll.pkttype", "frame.protocols", "frame.interface_id",
    ]

    /// Files with several pcapng sections: tshark 4.0 does not restart interface numbering at a Section Header Block
    /// (it names test202's second-section packets "eth0" though they carry that section's "silly ethernet
    /// interface 2" snaplen), so interface names there are not compared (the capture stage checks them from bytes).
    static let multiSection: Set<String> = ["gopacket/be/test200.pcapng", "gopacket/be/test202.pcapng"]

    /// Files tshark 4.0 cannot be the oracle for, and why; each is checked against another oracle in this suite.
    static let otherOracle: [String: String] = [
        // tshark 4.0 stops at an IPv4 total length of 0 (BIG TCP / TSO); tcpdump's own expected output is used.
        "tcpdump/bigtcp-ipv4-vxlan-ipv4.pcap": "bigTCPAgainstTcpdump"
    ]

    /// Every capture file of the corpus (the files that cannot be opened are the capture stage's bad-input tests).
    static let files: [String] = {
        let root = Corpus.directory
        guard let walker = FileManager.default.enumerator(atPath: root.path) else { return [] }
        var files: [String] = []
        for case let path as String in walker
        where path.hasSuffix(".pcap") || path.hasSuffix(".pcapng") || path.hasSuffix(".bin") {
            files.append(path)
        }
        return files.sorted()
    }()

    /// Protocols tshark dissects IP inside of that hoptrace does not decode (not seen on Kubernetes nodes' capture
    /// points): frames carrying them may show IP in tshark and none in hoptrace.
    static let unsupportedCarriers = ["mpls", "pppoes", "ppp", "llc", "gtp", "l2tp", "erspan", "teredo", "ieee80211"]

    /// What hoptrace says about one frame, as tshark would print it.
    struct Facts {
        var ipv4Src: [String] = []
        var ipv4Dst: [String] = []
        var ipv6Src: [String] = []
        var ipv6Dst: [String] = []
        var tcpPorts: [(UInt16, UInt16)] = []
        var udpPorts: [(UInt16, UInt16)] = []
        var tcpFlags: UInt8?
        var tcpSeq: UInt32?
        var tcpLength: Int?
        var icmpType: UInt8?
        var capturePoint = ""
        var ifIndex: Int32 = -1
        var packetType: UInt16?
        var hasNetwork = false
        var hasTunnel = false
        var warning: DecodeWarning?
    }

    static func facts(_ d: DecodedPacket, point: String) -> Facts {
        var f = Facts()
        f.capturePoint = point
        f.ifIndex = d.link.ifIndex
        f.packetType = d.link.packetType?.rawValue
        f.warning = d.warning
        func add(_ src: IPAddress, _ dst: IPAddress) {
            if src.isIPv4 {
                f.ipv4Src.append(src.description)
                f.ipv4Dst.append(dst.description)
            } else {
                f.ipv6Src.append(src.description)
                f.ipv6Dst.append(dst.description)
            }
        }
        if let tunnel = d.tunnel {
            f.hasTunnel = true
            add(tunnel.outerSrc, tunnel.outerDst)
            switch tunnel.kind {
            case .vxlan, .geneve: f.udpPorts.append((tunnel.outerSrcPort, tunnel.outerDstPort))
            default: break
            }
        }
        if let network = d.network {
            f.hasNetwork = true
            add(network.src, network.dst)
        }
        switch d.transport {
        case .tcp(let tcp):
            f.tcpPorts.append((tcp.srcPort, tcp.dstPort))
            f.tcpFlags = tcp.flags.rawValue
            f.tcpSeq = tcp.seq
            f.tcpLength = d.payloadLength
        case .udp(let udp):
            f.udpPorts.append((udp.srcPort, udp.dstPort))
        case .icmp(let icmp):
            if !icmp.isV6 { f.icmpType = icmp.type }
            if let quoted = icmp.quoted {
                add(quoted.src, quoted.dst)
                if let sport = quoted.srcPort, let dport = quoted.dstPort {
                    if quoted.protocol == .tcp { f.tcpPorts.append((sport, dport)) }
                    if quoted.protocol == .udp { f.udpPorts.append((sport, dport)) }
                }
                if let seq = quoted.tcpSeq { f.tcpSeq = seq }
            }
        default:
            break
        }
        return f
    }

    /// Ours must appear in theirs in order, with the first and last values equal.
    static func agrees(_ ours: [String], _ theirs: [String]) -> Bool {
        if ours.isEmpty { return true }
        guard let first = theirs.first, let last = theirs.last, first == ours.first, last == ours.last else {
            return false
        }
        var index = theirs.startIndex
        for value in ours {
            guard let found = theirs[index...].firstIndex(of: value) else { return false }
            index = found + 1
        }
        return true
    }

    static func list(_ field: String) -> [String] {
        field.isEmpty ? [] : field.split(separator: ",").map(String.init)
    }

    /// Compares one file; returns the disagreements (empty when all agree) and how many frames were compared.
    static func compare(_ relative: String) throws -> (mismatches: [String], frames: Int)? {
        let path = Corpus.path(relative)
        let source: any PacketSource
        do {
            source = try openCaptureFile(path: path)
        } catch {
            return nil  // a bad-input file: the capture stage's tests hold its error
        }
        let decoder = PacketDecoder(
            options: {
                var o = DecodeOptions()
                o.swallowFragments = false
                return o
            }()
        )
        let points = CapturePointTable()
        var ours: [Facts] = []
        // The loop the flow stage runs (PacketDecoder.decodePackets); a read error ends it after the packets before.
        var counts = PacketLoopCounts()
        try? decoder.decodePackets(from: source, capturePoints: points, counts: &counts) { decoded, id in
            ours.append(Self.facts(decoded, point: points[id].name))
        }
        if counts.packets != ours.count {
            Issue.record("\(relative): \(counts.packets - ours.count) packets swallowed with swallowFragments off")
        }
        // pcapng blocks that are not packets (custom blocks) show up in tshark as "data" frames without an interface.
        let interfaceColumn = Self.fields.firstIndex(of: "frame.interface_id") ?? 0
        let rows = try TShark.fields(path, Self.fields).filter { row in
            !(relative.hasSuffix(".pcapng") && row.count > interfaceColumn && row[interfaceColumn].isEmpty)
        }
        var mismatches: [String] = []
        if rows.count != ours.count {
            mismatches.append("\(relative): tshark shows \(rows.count) frames, hoptrace read \(ours.count)")
        }
        for (row, f) in zip(rows, ours) {
            func field(_ name: String) -> String {
                guard let i = Self.fields.firstIndex(of: name), i < row.count else { return "" }
                return row[i]
            }
            let frame = field("frame.number")
            var problems: [String] = []
            let protocols = field("frame.protocols")
            if !f.hasNetwork && !f.hasTunnel {
                let tsharkHasIP = !field("ip.src").isEmpty || !field("ipv6.src").isEmpty
                let carrier = Self.unsupportedCarriers.contains {
                    protocols.split(separator: ":").contains(Substring($0))
                }
                if tsharkHasIP && !carrier && f.warning == nil {
                    problems.append("tshark has IP (\(protocols)), hoptrace none")
                }
            } else {
                let tsharkV4 = Self.list(field("ip.src"))
                let tsharkV6 = Self.list(field("ipv6.src"))
                if !Self.agrees(f.ipv4Src, tsharkV4) || !Self.agrees(f.ipv4Dst, Self.list(field("ip.dst"))) {
                    problems.append("ip \(f.ipv4Src)>\(f.ipv4Dst) vs \(field("ip.src"))>\(field("ip.dst"))")
                }
                if !Self.agrees(f.ipv6Src, tsharkV6) || !Self.agrees(f.ipv6Dst, Self.list(field("ipv6.dst"))) {
                    problems.append("ipv6 \(f.ipv6Src)>\(f.ipv6Dst) vs \(field("ipv6.src"))>\(field("ipv6.dst"))")
                }
                let tcpS = Self.list(field("tcp.srcport"))
                let tcpD = Self.list(field("tcp.dstport"))
                if let last = f.tcpPorts.last {
                    if tcpS.last != String(last.0) || tcpD.last != String(last.1) {
                        problems.append("tcp ports \(last) vs \(tcpS)/\(tcpD)")
                    }
                } else if !tcpS.isEmpty && f.warning == nil {
                    problems.append("tshark has TCP ports \(tcpS), hoptrace none")
                }
                let udpS = Self.list(field("udp.srcport"))
                let udpD = Self.list(field("udp.dstport"))
                if !Self.agrees(f.udpPorts.map { String($0.0) }, udpS)
                    || !Self.agrees(f.udpPorts.map { String($0.1) }, udpD)
                {
                    problems.append("udp ports \(f.udpPorts) vs \(udpS)/\(udpD)")
                } else if f.udpPorts.isEmpty && !udpS.isEmpty && f.warning == nil {
                    problems.append("tshark has UDP ports \(udpS), hoptrace none")
                }
                if let flags = f.tcpFlags {
                    let theirs = Self.list(field("tcp.flags")).last.flatMap { UInt16($0.dropFirst(2), radix: 16) }
                    if theirs.map({ UInt8(truncatingIfNeeded: $0) }) != flags {
                        problems.append("tcp flags \(flags) vs \(field("tcp.flags"))")
                    }
                    if Self.list(field("tcp.len")).last != f.tcpLength.map(String.init) {
                        problems.append("tcp.len \(f.tcpLength.map(String.init) ?? "-") vs \(field("tcp.len"))")
                    }
                }
                if let seq = f.tcpSeq, Self.list(field("tcp.seq_raw")).last != String(seq) {
                    problems.append("tcp seq \(seq) vs \(field("tcp.seq_raw"))")
                }
                if let type = f.icmpType, Self.list(field("icmp.type")).first != String(type) {
                    problems.append("icmp type \(type) vs \(field("icmp.type"))")
                }
            }
            let interfaceName = field("frame.interface_name")
            // tshark says "unknown" for an interface without a name; the capture stage names those itself.
            if !interfaceName.isEmpty && interfaceName != "unknown" && f.ifIndex < 0
                && !Self.multiSection.contains(relative) && interfaceName != f.capturePoint
            {
                problems.append("capture point \(f.capturePoint) vs \(interfaceName)")
            }
            let ifIndex = field("sll.ifindex")
            if !ifIndex.isEmpty {
                if String(f.ifIndex) != ifIndex || f.capturePoint != "if\(ifIndex)" {
                    problems.append("ifindex \(f.ifIndex) (\(f.capturePoint)) vs \(ifIndex)")
                }
            }
            let pktType = field("sll.pkttype")
            if !pktType.isEmpty && f.packetType.map(String.init) != pktType {
                problems.append("sll packet type \(f.packetType.map(String.init) ?? "-") vs \(pktType)")
            }
            if !problems.isEmpty {
                mismatches.append("\(relative) frame \(frame): " + problems.joined(separator: "; "))
            }
        }
        return (mismatches, ours.count)
    }

    @Test("Per-packet facts agree with tshark", .enabled(if: TShark.isAvailable), arguments: Self.files)
    func agreesWithTShark(file: String) throws {
        guard Self.otherOracle[file] == nil, let result = try Self.compare(file) else { return }
        #expect(result.mismatches.isEmpty, "\(result.mismatches.prefix(10).joined(separator: "\n"))")
    }

    @Test("IPv4 BIG TCP in VXLAN agrees with tcpdump's tests/bigtcp-ipv4-vxlan-ipv4.out")
    func bigTCPAgainstTcpdump() throws {
        // Expected (tcpdump repository): outer 10.25.132.11.47044 > 10.25.132.13.4789 VXLAN vni 5001, length 80102
        // [was 0, presumed TSO]; inner 192.168.1.2.36875 > 192.168.1.1.36449: Flags [P.], seq 497210414:497290414,
        // ack 1007986268, win 370, options [nop,nop,TS val 3624964308 ecr 809011563], length 80000.
        let source = try openCaptureFile(path: Corpus.path("tcpdump/bigtcp-ipv4-vxlan-ipv4.pcap"))
        let packet = try #require(try source.next())
        let d = try #require(PacketDecoder().decode(packet))
        #expect(d.warning == nil)
        #expect(d.tunnel?.kind == .vxlan(vni: 5001))
        #expect(d.tunnel?.outerSrc.description == "10.25.132.11" && d.tunnel?.outerSrcPort == 47044)
        #expect(d.network?.src.description == "192.168.1.2" && d.network?.dst.description == "192.168.1.1")
        #expect(d.network?.totalLength == 80052)
        let tcp = try #require(d.tcp)
        #expect(tcp.srcPort == 36875 && tcp.dstPort == 36449)
        #expect(tcp.seq == 497_210_414 && tcp.ack == 1_007_986_268 && tcp.window == 370)
        #expect(tcp.flags == [.psh, .ack])
        #expect(tcp.options.timestamp == TCPTimestampOption(val: 3_624_964_308, ecr: 809_011_563))
        #expect(d.payloadLength == 80000)
    }

    @Test("The corpus is there and most of it decodes")
    func corpusPresent() throws {
        #expect(Self.files.count >= 80, "corpus at \(Corpus.directory.path)")
    }
}
