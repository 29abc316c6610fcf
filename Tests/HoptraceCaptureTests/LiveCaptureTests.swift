import Foundation
import Synchronization
import Testing

@testable import HoptraceCapture

#if canImport(Glibc)
import Glibc
#endif

/// Live capture in a network-namespace lab (root only): namespaces `hc-<id>-a` and `hc-<id>-b` each hold one end
/// of a veth pair whose other end (`va`, `vb`) sits in `hc-<id>-n` on a bridge `br0`, like pod veths on cni0.
/// Traffic from a to b crosses va, br0 and vb; hoptrace's LiveSource captures in `hc-<id>-n` while tcpdump does the
/// same side by side, and tshark compares the two files.
@Suite("live capture", .serialized, .enabled(if: getuid() == 0, "needs root to create network namespaces and capture"))
struct LiveCaptureTests {
    /// The `ip netns` lab, removed by `tearDown` (called from a `defer`).
    struct Lab {
        let id = String(UInt32(truncatingIfNeeded: getpid()) % 10_000) + String(Int.random(in: 100...999))
        var hub: String { "hc-\(id)-n" }
        var left: String { "hc-\(id)-a" }
        var right: String { "hc-\(id)-b" }
        let directory = NSTemporaryDirectory() + "hc-live-\(UUID().uuidString)/"

        func ip(_ arguments: String...) throws {
            let result = try run("/usr/sbin/ip", arguments)
            try #require(result.status == 0, "ip \(arguments.joined(separator: " ")): \(result.stderr)")
        }

        func setUp() throws {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for ns in [hub, left, right] {
                try ip("netns", "add", ns)
                // No IPv6: its router and multicast-listener chatter would make the packet counts depend on when
                // each capture started.
                let disable = try run(
                    "/usr/sbin/ip",
                    [
                        "netns", "exec", ns, "sh", "-c",
                        "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; "
                            + "echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6",
                    ]
                )
                try #require(disable.status == 0, "disabling IPv6 in \(ns): \(disable.stderr)")
            }
            try ip("-n", hub, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")  // no IGMP chatter
            try ip("-n", hub, "link", "add", "va", "type", "veth", "peer", "name", "eth0", "netns", left)
            try ip("-n", hub, "link", "add", "vb", "type", "veth", "peer", "name", "eth0", "netns", right)
            for port in ["va", "vb"] {
                try ip("-n", hub, "link", "set", port, "master", "br0")
                try ip("-n", hub, "link", "set", port, "up")
            }
            try ip("-n", hub, "link", "set", "br0", "up")
            try ip("-n", left, "addr", "add", "10.199.0.1/24", "dev", "eth0")
            try ip("-n", right, "addr", "add", "10.199.0.2/24", "dev", "eth0")
            for ns in [left, right] {
                try ip("-n", ns, "link", "set", "eth0", "up")
                try ip("-n", ns, "link", "set", "lo", "up")
            }
        }

        func tearDown() {
            for ns in [hub, left, right] {
                _ = try? run("/usr/sbin/ip", ["netns", "del", ns])
            }
            if ProcessInfo.processInfo.environment["HC_KEEP"] == nil {
                try? FileManager.default.removeItem(atPath: directory)
            }
        }

        /// Sends `count` UDP datagrams from a to b, 10 ms apart.
        func sendDatagrams(_ count: Int) throws {
            let script =
                "import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                + "for i in range(\(count)):\n    s.sendto(b'hoptrace-%03d' % i, ('10.199.0.2', 9999))\n"
                + "    time.sleep(0.01)\n"
            let result = try run("/usr/sbin/ip", ["netns", "exec", left, "python3", "-c", script])
            try #require(result.status == 0, "sending datagrams: \(result.stderr)")
        }
    }

    /// A tcpdump started in a namespace, stopped by its PID with SIGINT, so it flushes and exits cleanly.
    ///
    /// Children of Foundation's Process inherit the spawning thread's signal mask, and the test's threads block
    /// SIGINT and SIGTERM; a small python3 launcher clears the mask and execs `ip netns exec NS tcpdump ...` (same
    /// PID throughout).
    final class Tcpdump {
        let process = Process()
        let errPath: String

        init(namespace: String, interface: String, file: String) throws {
            errPath = file + ".stderr"
            _ = FileManager.default.createFile(atPath: errPath, contents: nil)
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [
                "python3", "-c",
                "import os,signal,sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])",
                "/usr/sbin/ip", "netns", "exec", namespace, "tcpdump", "-i", interface, "-U", "--immediate-mode", "-w",
                file,
            ]
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            // Wait until it listens.
            for _ in 0..<200 {
                if let text = try? String(contentsOfFile: errPath, encoding: .utf8), text.contains("listening on") {
                    return
                }
                usleep(50_000)
            }
        }

        /// Stops it (SIGINT, then SIGKILL after 5 s) and returns its own counts: "N packets received by filter"
        /// (what the kernel saw) and "N packets dropped by kernel" (of those, what tcpdump lost).
        @discardableResult
        func stop() -> (received: Int, dropped: Int)? {
            if process.isRunning {
                kill(process.processIdentifier, SIGINT)
                for _ in 0..<100 where process.isRunning {
                    usleep(50_000)
                }
                if process.isRunning {
                    kill(process.processIdentifier, SIGKILL)
                }
            }
            process.waitUntilExit()
            let text = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
            var received: Int?
            var dropped: Int?
            for line in text.split(separator: "\n") {
                let number = Int(line.split(separator: " ")[0])
                if line.hasSuffix("received by filter") { received = number }
                if line.hasSuffix("dropped by kernel") { dropped = number }
            }
            guard let received, let dropped else { return nil }
            return (received, dropped)
        }
    }

    /// Captures with a LiveSource in `namespace`, on a thread of its own (a network namespace is per thread in
    /// Linux, so the test's other threads stay where they are), until stopped; writes a pcapng with the recorder.
    final class NamespacedCapture: Sendable {
        let stopHandle = Mutex<LiveSource.StopHandle?>(nil)
        let result = Mutex<Result<Int, CaptureError>?>(nil)
        /// Kernel drops on our own handles, from pcap_stats.
        let dropped = Mutex<UInt64>(0)
        let opened = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)

        init(namespace: String, interfaces: [String], output: String) {
            let thread = Thread { [self] in
                defer { finished.signal() }
                do {
                    try enter(namespace: namespace)
                    let source = try LiveSource(interfaces: interfaces)
                    stopHandle.withLock { $0 = source.stopHandle }
                    opened.signal()
                    let writer = try PcapngWriter(path: output)
                    let recorder = CaptureRecorder(writer: writer)
                    let start = wallClockNanoseconds()
                    while let packet = try source.next() {
                        try recorder.record(packet, from: source)
                    }
                    let statistics = source.statistics()
                    dropped.withLock { $0 = statistics.reduce(0) { $0 + $1.dropped } }
                    try recorder.writeStatistics(
                        statistics,
                        interfaces: source.interfaces,
                        start: start,
                        end: wallClockNanoseconds()
                    )
                    try writer.close()
                    result.withLock { $0 = .success(recorder.packets) }
                } catch {
                    let failure = error as? CaptureError ?? CaptureError(.io, "\(error)", source: namespace)
                    result.withLock { $0 = .failure(failure) }
                    opened.signal()
                }
            }
            thread.start()
        }

        func stop() throws -> Int {
            stopHandle.withLock { $0?.stop() }
            finished.wait()
            return try result.withLock { try #require($0) }.get()
        }
    }

    @Test("two veth ends: interface names right, count equals tcpdump's")
    func twoInterfaces() throws {
        let lab = Lab()
        defer { lab.tearDown() }
        try lab.setUp()
        let ours = lab.directory + "hoptrace.pcapng"
        let tcpdumps = try ["va", "vb"].map {
            try Tcpdump(namespace: lab.hub, interface: $0, file: lab.directory + "tcpdump-\($0).pcap")
        }
        defer { for t in tcpdumps { t.stop() } }
        let capture = NamespacedCapture(namespace: lab.hub, interfaces: ["va", "vb"], output: ours)
        capture.opened.wait()
        try lab.sendDatagrams(20)
        usleep(500_000)
        let written = try capture.stop()
        let reported = tcpdumps.map { $0.stop() }

        let oracle = try tsharkFacts(ours)
        #expect(oracle.status == 0, "\(oracle.stderr)")
        #expect(oracle.facts.count == written)
        #expect(Set(oracle.facts.compactMap(\.interfaceName)) == ["va", "vb"])
        let tcpdumpCount = try ["va", "vb"].map { try tsharkFacts(lab.directory + "tcpdump-\($0).pcap").facts.count }
        try expectSameCount(
            written: written,
            dropped: capture.dropped.withLock { $0 },
            tcpdump: reported,
            files: tcpdumpCount
        )
        // Each of the 20 datagrams crossed both veth ends.
        let udp = try udpPerInterface(ours)
        #expect(udp["va"] == 20)
        #expect(udp["vb"] == 20)
        // The statistics blocks: one per interface opened.
        let capinfos = try run("/usr/bin/capinfos", ["-I", ours])
        #expect(capinfos.stdout.components(separatedBy: "Number of stat entries = 1").count - 1 == 2)
    }

    @Test("-i any: one interface block per real interface, directions from LINUX_SLL2")
    func anyInterface() throws {
        let lab = Lab()
        defer { lab.tearDown() }
        try lab.setUp()
        let ours = lab.directory + "any.pcapng"
        let tcpdump = try Tcpdump(namespace: lab.hub, interface: "any", file: lab.directory + "tcpdump-any.pcap")
        defer { tcpdump.stop() }
        let capture = NamespacedCapture(namespace: lab.hub, interfaces: ["any"], output: ours)
        capture.opened.wait()
        try lab.sendDatagrams(10)
        usleep(500_000)
        let written = try capture.stop()
        let reported = tcpdump.stop()

        let oracle = try tsharkFacts(ours)
        #expect(oracle.status == 0, "\(oracle.stderr)")
        let tcpdumpCount = try tsharkFacts(lab.directory + "tcpdump-any.pcap").facts.count
        try expectSameCount(
            written: written,
            dropped: capture.dropped.withLock { $0 },
            tcpdump: [reported],
            files: [tcpdumpCount]
        )
        // Real names, not "any": the datagrams cross va (in) and vb (out); bridged frames do not show on br0.
        let udp = try udpPerInterface(ours)
        #expect(udp["va"] == 10)
        #expect(udp["vb"] == 10)
        #expect(udp["br0"] == nil)
        let tshark = try #require(tsharkPath)
        let directions = try run(
            tshark,
            [
                "-r", ours, "-Y", "udp.dstport == 9999 && !icmp", "-T", "fields", "-e", "frame.interface_name", "-e",
                "frame.packet_flags_direction", "-e", "sll.pkttype",
            ]
        )
        for line in directions.stdout.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            // sll.pkttype (the oracle from the SLL2 header): 0 host, 4 outgoing; epb_flags must agree.
            if fields[0] == "vb" {
                #expect(fields[1] == "0x00000002" && fields[2] == "4", "\(fields)")
            } else {
                #expect(fields[1] == "0x00000001" && fields[2] != "4", "\(fields)")
            }
        }
    }

    /// The built `hoptrace` binary, when `swift build` has made one (the capture command's end-to-end test).
    static let binary: String? = {
        let path = packageRoot.appendingPathComponent(".build/debug/hoptrace").path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }()

    @Test(
        "hoptrace capture: SIGTERM mid-capture leaves a valid file with statistics blocks",
        .enabled(if: binary != nil, "needs the hoptrace binary: run `swift build` first")
    )
    func captureCommandSigterm() throws {
        let lab = Lab()
        defer { lab.tearDown() }
        try lab.setUp()
        let ours = lab.directory + "cli.pcapng"
        let errPath = lab.directory + "cli.stderr"
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-c",
            "import os,signal,sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])",
            "/usr/sbin/ip", "netns", "exec", lab.hub, try #require(Self.binary), "capture", "-i", "va", "-i", "vb",
            "-f", "udp", "-w", ours,
        ]
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        try process.run()
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        usleep(700_000)
        try lab.sendDatagrams(15)
        usleep(300_000)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        let stderr = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 0, "\(stderr)")
        // 15 datagrams, each seen on va and on vb (the filter keeps UDP only).
        #expect(stderr.contains("30 packets written to \(ours)"), "\(stderr)")
        let oracle = try tsharkFacts(ours)
        #expect(oracle.status == 0, "\(oracle.stderr)")
        #expect(oracle.facts.count == 30)
        let capinfos = try run("/usr/bin/capinfos", ["-I", ours])
        #expect(capinfos.stdout.components(separatedBy: "Number of stat entries = 1").count - 1 == 2)
    }

    @Test("no such interface, bad filter: clear errors")
    func openErrors() {
        do {
            _ = try LiveSource(interfaces: ["hc-nosuch0"])
            Issue.record("opened a missing interface")
        } catch {
            #expect(error.code == .noSuchInterface)
            #expect(error.description == "cannot open hc-nosuch0: no such interface; `ip link` lists them")
        }
        do {
            _ = try LiveSource(interfaces: ["lo"], options: .init(filter: "tcp prt 80"))
            Issue.record("accepted a bad filter")
        } catch {
            #expect(error.code == .pcap)
            #expect(error.description.contains("syntax error"))
        }
    }

    /// The packets hoptrace wrote plus those its handles dropped must equal the packets the kernel offered tcpdump
    /// ("received by filter"): both sockets see the same packets. tcpdump's own drops (it sometimes loses the first
    /// packet of a capture) are its business: its file plus its drops must equal what it received.
    private func expectSameCount(
        written: Int,
        dropped: UInt64,
        tcpdump: [(received: Int, dropped: Int)?],
        files: [Int]
    ) throws {
        let counts = try tcpdump.map { try #require($0, "tcpdump printed no statistics") }
        let received = counts.reduce(0) { $0 + $1.received }
        #expect(
            written + Int(dropped) == received,
            "hoptrace wrote \(written) (+\(dropped) dropped), tcpdump \(counts)"
        )
        for (count, file) in zip(counts, files) {
            #expect(file + count.dropped == count.received, "tcpdump's file holds \(file) of \(count)")
        }
    }

    /// UDP datagrams to port 9999 per interface name, from tshark.
    private func udpPerInterface(_ path: String) throws -> [String: Int] {
        let tshark = try #require(tsharkPath)
        // Not the ICMP port-unreachable replies, which quote the datagram.
        let out = try run(
            tshark,
            ["-r", path, "-Y", "udp.dstport == 9999 && !icmp", "-T", "fields", "-e", "frame.interface_name"]
        )
        var counts: [String: Int] = [:]
        for name in out.stdout.split(separator: "\n") { counts[String(name), default: 0] += 1 }
        return counts
    }
}

/// Moves the calling thread into a named network namespace (`setns(2)`, looked up with dlsym: Glibc's Swift overlay
/// does not export it).
func enter(namespace: String) throws(CaptureError) {
    let fd = open("/var/run/netns/\(namespace)", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
        throw CaptureError(.io, "cannot open namespace \(namespace)", source: namespace)
    }
    defer { close(fd) }
    typealias SetNS = @convention(c) (Int32, Int32) -> Int32
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns") else {
        throw CaptureError(.io, "setns not found", source: namespace)
    }
    let setns = unsafeBitCast(symbol, to: SetNS.self)
    guard setns(fd, 0x4000_0000) == 0 else {  // CLONE_NEWNET
        throw CaptureError(.io, "setns failed: errno \(errno)", source: namespace)
    }
}

/// libpcap's DLT_ values against the LINKTYPE_ registry (pcap/dlt.h and https://www.tcpdump.org/linktypes.html).
@Test("DLT_ values map to LINKTYPE_ values")
func dltToLinkType() {
    #expect(linkTypeFromDLT(1) == .ethernet)  // DLT_EN10MB = LINKTYPE_ETHERNET = 1
    #expect(linkTypeFromDLT(12) == .raw)  // DLT_RAW (Linux) = 12, LINKTYPE_RAW = 101
    #expect(linkTypeFromDLT(14) == .raw)  // DLT_RAW (OpenBSD) = 14
    #expect(linkTypeFromDLT(113) == .linuxSLL)  // DLT_LINUX_SLL = LINKTYPE_LINUX_SLL = 113
    #expect(linkTypeFromDLT(276) == .linuxSLL2)  // DLT_LINUX_SLL2 = 276
    #expect(linkTypeFromDLT(0) == .null)
    #expect(linkTypeFromDLT(239) == .nflog)
}
