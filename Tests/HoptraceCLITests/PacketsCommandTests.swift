import Foundation
import HoptraceTestSupport
import Testing

/// `hoptrace packets`, run as the built binary: its lines against tcpdump, its JSON against Foundation's parser,
/// its exit codes and one-line errors.
@Suite("hoptrace packets")
struct PacketsCommandTests {
    static var packageRoot: URL {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        return url
    }

    static var corpus: URL {
        Repository.corpus
    }

    /// The built `hoptrace` next to this test bundle (debug or release), else under .build/debug.
    static var binary: String {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [besideTests, besideTests.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("hoptrace").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return packageRoot.appendingPathComponent(".build/debug/hoptrace").path
    }

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read before waiting, so a full pipe cannot block the child (its stderr is at most a line or two).
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus,
            stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self)
        )
    }

    static func hoptrace(_ arguments: String...) throws -> Run { try run(binary, arguments) }

    /// Plain Ethernet TCP captures: every TCP line must read as `tcpdump -nn -S` prints it (up to "length N";
    /// tcpdump then adds application-layer text). Left out, by design: tunnels (hoptrace prints outer then inner on
    /// one line), IPv6 extension headers (tcpdump names them), truncated options (tcpdump prints `[|tcp]` where
    /// hoptrace shows the option bytes it has).
    static let tcpdumpFiles = [
        "deepflow/client-no-response.pcap", "deepflow/server-reset.pcap", "deepflow/syn-retrans.pcap",
        "deepflow/out-of-order.pcap", "deepflow/rtt-syn-2-ack.pcap", "deepflow/tcp-syn-ack-zerowin.pcap",
        "deepflow/http/httpv1.pcap", "deepflow/http/istio-tcp-frag.pcap", "deepflow/dns/dns-tcp-multi.pcap",
        "zeek/http/get.pcap", "zeek/http/pipelined-requests.pcap", "zeek/tcp/missing-syn.pcap",
        "zeek/tcp/retransmit-fast009.pcap", "zeek/tcp/syn-then-stuff-then-rst.pcap", "tcpdump/tcp_rst_data.pcap",
        "tcpdump/ipv4_tcp_http_xml.pcap", "tcpdump/tcp-handshake-nano.pcap", "skydive/eth-ipv4-tcp-http-ooo.pcap",
        "skydive/simple-tcpv6.pcap", "tcpdump/dns_tcp.pcap",
    ]

    static func tcpLines(_ text: String, dropFields: Int) -> [String] {
        text.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ", maxSplits: dropFields, omittingEmptySubsequences: false)
            guard fields.count > dropFields else { return nil }
            let rest = String(fields[dropFields])
            guard rest.contains("Flags [") else { return nil }
            guard let range = rest.range(of: #"length [0-9]+"#, options: .regularExpression) else { return rest }
            return String(rest[..<range.upperBound])
        }
    }

    @Test(
        "TCP lines read as tcpdump -nn -S prints them",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tcpdump")),
        arguments: Self.tcpdumpFiles
    )
    func matchesTcpdump(file: String) throws {
        let path = Self.corpus.appendingPathComponent(file).path
        let ours = try Self.hoptrace("packets", path)
        #expect(ours.status == 0, "\(ours.stderr)")
        let theirs = try Self.run("/usr/bin/tcpdump", ["-nn", "-S", "-r", path])
        // hoptrace: "TIME POINT DIR summary"; tcpdump: "TIME summary".
        let oursTCP = Self.tcpLines(ours.stdout, dropFields: 3)
        let theirsTCP = Self.tcpLines(theirs.stdout, dropFields: 1)
        #expect(!oursTCP.isEmpty)
        #expect(oursTCP == theirsTCP)
    }

    /// DNS over UDP and ARP, in Ethernet and SLL captures: whole lines as `tcpdump -nn` prints them.
    static let dnsAndARPFiles = [
        "skydive/eth-ip4-arp-dns-req-http-google.pcap", "zeek/linuxsll-arp.pcap", "tcpdump/dns_udp.pcap",
        "gopacket/test_dns.pcap", "skydive/dns.pcap", "zeek/dns-two-responses.pcap", "zeek/dns/tm1t.pcap",
    ]

    @Test(
        "DNS and ARP lines read as tcpdump -nn prints them",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tcpdump")),
        arguments: Self.dnsAndARPFiles
    )
    func dnsAndARPMatchTcpdump(file: String) throws {
        let path = Self.corpus.appendingPathComponent(file).path
        func lines(_ text: String, dropFields: Int) -> [String] {
            text.split(separator: "\n").compactMap { line -> String? in
                let fields = line.split(separator: " ", maxSplits: dropFields, omittingEmptySubsequences: false)
                guard fields.count > dropFields else { return nil }
                let rest = String(fields[dropFields])
                return (rest.hasPrefix("ARP") || rest.contains(".53: ") || rest.contains(".53 > "))
                    && !rest.contains("Flags [") ? rest : nil
            }
        }
        let ours = lines(try Self.hoptrace("packets", path).stdout, dropFields: 3)
        let theirs = lines(try Self.run("/usr/bin/tcpdump", ["-nn", "-r", path]).stdout, dropFields: 1)
        #expect(!ours.isEmpty)
        #expect(ours == theirs)
    }

    @Test("One line per frame, as many as tshark counts; every --json line parses as a JSON object")
    func jsonLines() throws {
        for file in ["zeek/linux_dlt_sll2.pcap", "zeek/tunnels/vxlan.pcap", "zeek/ipv4/fragmented-1.pcap"] {
            let path = Self.corpus.appendingPathComponent(file).path
            let text = try Self.hoptrace("packets", path)
            let json = try Self.hoptrace("packets", "--json", path)
            #expect(text.status == 0 && json.status == 0)
            let tshark = try Self.run("/usr/bin/tshark", ["-r", path, "-T", "fields", "-e", "frame.number"])
            let frames = tshark.stdout.split(separator: "\n").count
            #expect(text.stdout.split(separator: "\n").count == frames, "\(file)")
            let lines = json.stdout.split(separator: "\n")
            #expect(lines.count == frames, "\(file)")
            for line in lines {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object?["summary"] is String)
                #expect(object?["timeNs"] is Int)
            }
        }
    }

    @Test("SLL2 capture points are if<N>, named by --ifname; direction from the packet type")
    func sll2Names() throws {
        let path = Self.corpus.appendingPathComponent("zeek/linux_dlt_sll2.pcap").path
        // tshark: sll.ifindex and sll.pkttype of each frame.
        let tshark = try Self.run(
            "/usr/bin/tshark",
            ["-r", path, "-T", "fields", "-e", "sll.ifindex", "-e", "sll.pkttype"]
        )
        let expected = tshark.stdout.split(separator: "\n").map { row -> String in
            let f = row.split(separator: "\t")
            let direction = f.count > 1 ? (f[1] == "4" ? "Out" : "In") : "-"
            return "if\(f.first ?? "") \(direction)"
        }
        let ours = try Self.hoptrace("packets", path)
        let got = ours.stdout.split(separator: "\n").map { $0.split(separator: " ")[1...2].joined(separator: " ") }
        #expect(got == expected)
        let named = try Self.hoptrace("packets", "--ifname", "1=lo", path)
        #expect(named.stdout.contains(" lo In "))
    }

    @Test("Several files are merged by time")
    func merged() throws {
        let a = Self.corpus.appendingPathComponent("zeek/http/get.pcap").path
        let b = Self.corpus.appendingPathComponent("tcpdump/tcp-handshake-nano.pcap").path
        let run = try Self.hoptrace("packets", "--json", a, b)
        #expect(run.status == 0)
        let times = run.stdout.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["timeNs"] as? Int
        }
        #expect(times.count == 14 + 3)
        #expect(times == times.sorted())
    }

    @Test("Exit codes: 1 with one line on stderr for file faults (after the packets before it), 2 for usage")
    func exitCodes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hoptrace-packets-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }

        func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        func le16(_ v: UInt16) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        func pcap(linkType: UInt32, records: [[UInt8]], tail: [UInt8] = []) -> Data {
            var bytes = le32(0xa1b2_c3d4) + le16(2) + le16(4) + le32(0) + le32(0) + le32(65535) + le32(linkType)
            for (i, record) in records.enumerated() {
                bytes +=
                    le32(UInt32(i + 1)) + le32(0) + le32(UInt32(record.count)) + le32(UInt32(record.count)) + record
            }
            return Data(bytes + tail)
        }
        let ip: [UInt8] = [
            0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x1f, 0x90, 0, 53, 0, 8, 0, 0,
        ]
        let user0 = dir.appendingPathComponent("user0.pcap")
        try pcap(linkType: 147, records: [[1, 2, 3, 4]]).write(to: user0)
        let run = try Self.hoptrace("packets", user0.path)
        #expect(run.status == 1)
        #expect(
            run.stderr
                == "hoptrace: \(user0.path): LINKTYPE 147 (USER0) is not supported; hoptrace decodes Ethernet, SLL, SLL2, raw IP, NULL/LOOP, NFLOG\n"
        )

        let truncated = dir.appendingPathComponent("truncated.pcap")
        try pcap(linkType: 101, records: [ip, ip], tail: le32(3) + le32(0) + le32(100) + le32(100) + [1, 2]).write(
            to: truncated
        )
        let partial = try Self.hoptrace("packets", truncated.path)
        #expect(partial.status == 1)
        #expect(partial.stdout.split(separator: "\n").count == 2)
        #expect(partial.stdout.contains("IP 10.0.0.1.8080 > 10.0.0.2.53"))
        #expect(partial.stderr.hasPrefix("hoptrace: ") && partial.stderr.split(separator: "\n").count == 1)

        let missing = try Self.hoptrace("packets", dir.appendingPathComponent("nope.pcap").path)
        #expect(missing.status == 1 && missing.stderr.hasPrefix("hoptrace: "))
        #expect(try Self.hoptrace("packets").status == 2)
        #expect(try Self.hoptrace("packets", "--ifname", "eth0", "x.pcap").status == 2)
        let help = try Self.hoptrace("packets", "--help")
        #expect(help.status == 0 && help.stdout.contains("--json"))
    }

    static let corpusFiles: [String] = {
        guard let walker = FileManager.default.enumerator(atPath: corpus.path) else { return [] }
        var files: [String] = []
        for case let path as String in walker
        where path.hasSuffix(".pcap") || path.hasSuffix(".pcapng") || path.hasSuffix(".bin") {
            files.append(path)
        }
        return files.sorted()
    }()

    @Test(
        "Every corpus file: exit 0 with one line per frame tshark shows, or exit 1 with one stderr line after them",
        arguments: Self.corpusFiles
    )
    func everyCorpusFile(file: String) throws {
        let path = Self.corpus.appendingPathComponent(file).path
        let run = try Self.hoptrace("packets", path)
        #expect(run.status == 0 || run.status == 1, "\(file): status \(run.status) \(run.stderr)")
        let lines = run.stdout.split(separator: "\n").count
        // tshark's frames that are packets (pcapng custom blocks show as frames without an interface).
        let tshark = try Self.run(
            "/usr/bin/tshark",
            ["-r", path, "-T", "fields", "-e", "frame.number", "-e", "frame.interface_id"]
        )
        let frames = tshark.stdout.split(separator: "\n").filter { row in
            !(file.hasSuffix(".pcapng") && row.split(separator: "\t").count < 2)
        }.count
        if run.status == 0 {
            #expect(run.stderr.isEmpty)
            #expect(lines == frames, "\(file)")
        } else {
            #expect(run.stderr.hasPrefix("hoptrace: "), "\(file)")
            #expect(run.stderr.split(separator: "\n").count == 1, "\(file): \(run.stderr)")
            // What was read before the fault is printed, and nothing tshark does not see as a packet.
            #expect(lines <= frames, "\(file)")
        }
    }
}
