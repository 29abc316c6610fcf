import CPcap
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Captures live with libpcap on one interface, several at once, or `any`.
///
/// Each interface gets its own `pcap_t` (snaplen, immediate mode, buffer size, nanosecond timestamps where the
/// platform has them, the BPF filter), non-blocking, and ``next()`` takes packets from them in turn, sleeping in
/// `poll(2)` when none is ready. On `any` the link type is LINUX_SLL2: each packet carries the interface index and
/// the direction, the index is resolved with `if_indextoname` at capture time, and every real interface seen gets its
/// own entry in ``interfaces`` (named `eth0`, `cni0`, ...; link type LINUX_SLL2 kept), so a pcapng written from this
/// source shows real interface names. Packets are borrowed from libpcap's ring and valid until the next call.
///
/// ``stop()`` (or the ``stopHandle``, from any thread or a signal handler's dispatch source) ends the capture:
/// ``next()`` then returns what the kernel still held and `nil` within twice ``blockTimeout``.
public final class LiveSource: PacketSource {
    /// How to open each interface.
    public struct Options: Sendable {
        /// Bytes kept of each packet (`-s`); 262144 keeps everything.
        public var snapLength: Int
        /// The kernel buffer per interface, in bytes.
        public var bufferSize: Int
        /// A BPF filter expression (`-f`, pcap-filter(7) syntax), or nil for all packets.
        public var filter: String?
        /// Whether to put the interfaces in promiscuous mode.
        public var promiscuous: Bool
        /// Deliver each packet as it arrives (libpcap's immediate mode) rather than in blocks.
        ///
        /// Off by default: in immediate mode Linux libpcap uses TPACKET_V2, a ring of one fixed slot per packet sized
        /// for the largest packet the interface can hand over (64 KiB and more with offloads, 256 KiB on `any`), so
        /// a 32 MiB buffer holds a few hundred packets and a burst overflows it; tcpdump, which keeps such bursts,
        /// uses TPACKET_V3 blocks that pack packets by their real size. Without it a block is handed over when full
        /// or after ``LiveSource/blockTimeout`` (100 ms), and ``LiveSource/next()`` drains the last ones on stop.
        public var immediate: Bool

        /// Options with the defaults of `hoptrace capture`.
        public init(
            snapLength: Int = 262_144,
            bufferSize: Int = 32 << 20,
            filter: String? = nil,
            promiscuous: Bool = false,
            immediate: Bool = false
        ) {
            self.snapLength = snapLength
            self.bufferSize = bufferSize
            self.filter = filter
            self.promiscuous = promiscuous
            self.immediate = immediate
        }
    }

    /// Counters libpcap keeps for one opened interface (`pcap_stats`).
    public struct Statistics: Sendable, Hashable {
        /// The interface opened (`eth0`, `any`).
        public var interface: String
        /// Its index in ``LiveSource/interfaces``.
        public var interfaceID: Int
        /// Packets received (on Linux: that passed the filter).
        public var received: UInt64
        /// Packets dropped because the buffer was full (kernel drops).
        public var dropped: UInt64
        /// Packets dropped by the interface or driver, where known.
        public var interfaceDropped: UInt64
    }

    /// Ends a capture from another thread: thread-safe and cheap (an atomic flag and a byte on a pipe that wakes
    /// the poll).
    public final class StopHandle: Sendable {
        private let stopped = Atomic<Bool>(false)
        fileprivate let readFD: Int32
        private let writeFD: Int32

        fileprivate init() throws(CaptureError) {
            (readFD, writeFD) = try makeWakeupPipe()
        }

        deinit {
            close(readFD)
            close(writeFD)
        }

        /// Asks the capture to stop; ``LiveSource/next()`` returns `nil` soon after.
        public func stop() {
            if !stopped.exchange(true, ordering: .sequentiallyConsistent) {
                var byte: UInt8 = 1
                _ = write(writeFD, &byte, 1)
            }
        }

        /// Whether ``stop()`` was called.
        public var isStopped: Bool { stopped.load(ordering: .sequentiallyConsistent) }
    }

    /// One opened interface.
    private struct Handle {
        var pcap: OpaquePointer
        var name: String
        var interfaceID: Int
        var linkType: LinkType
        var nanosecond: Bool
        /// `any` with LINUX_SLL2: resolve each packet's interface index.
        var resolvesIndex: Bool
    }

    /// The opened interfaces, then (on `any`) each real interface seen, in order of first packet.
    public private(set) var interfaces: [InterfaceDescription] = []
    /// Stops this capture from any thread.
    public let stopHandle: StopHandle
    /// Called by ``next()`` on the capturing thread each time it has waited about a quarter second without a
    /// packet (for a status line that keeps ticking when the link is quiet).
    public var onIdle: (() -> Void)?

    private var handles: [Handle] = []
    private var pollFDs: [pollfd] = []
    private var nextHandle = 0
    /// Once stopped: when draining the kernel's partly filled blocks ends (monotonic ms).
    private var drainDeadline: Int64?
    /// `any`: interface index -> index in `interfaces`.
    private var indexMap: [Int32: Int] = [:]
    private let snapLength: Int

    /// Opens and activates every interface in `names` (`any` allowed), applying `options` to each.
    ///
    /// - Throws: `.noSuchInterface`, `.permissionDenied`, `.pcap` (bad filter, libpcap refusal); the message names the
    ///   interface and what to do.
    public init(interfaces names: [String], options: Options = Options()) throws(CaptureError) {
        guard !names.isEmpty else {
            throw CaptureError(
                .noSuchInterface,
                "no interface given; name one with -i (`ip link` lists them)",
                source: "capture"
            )
        }
        stopHandle = try StopHandle()
        snapLength = options.snapLength
        do {
            for name in names {
                try open(name, options: options)
            }
        } catch {
            closeAll()
            throw error
        }
        for handle in handles {
            let fd = pcap_get_selectable_fd(handle.pcap)
            pollFDs.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
        }
        pollFDs.append(pollfd(fd: stopHandle.readFD, events: Int16(POLLIN), revents: 0))
    }

    deinit {
        closeAll()
    }

    /// Asks ``next()`` to return `nil`; same as `stopHandle.stop()`.
    public func stop() {
        stopHandle.stop()
    }

    /// How long the kernel holds a partly filled block before handing it over (`pcap_set_timeout`), in ms.
    public static let blockTimeout: Int32 = 100

    /// The next packet from any of the interfaces, waiting for one; `nil` once stopped and drained.
    ///
    /// After a stop, the packets the kernel still holds in partly filled blocks are read for up to twice the block
    /// timeout (it hands such a block over when the timeout expires), so that stopping loses nothing captured.
    ///
    /// - Throws: `.pcap` when libpcap reports an error (e.g. the interface went away).
    public func next() throws(CaptureError) -> Packet? {
        while true {
            if let packet = try readReady() { return packet }
            if stopHandle.isStopped {
                let now = monotonicMilliseconds()
                let deadline = drainDeadline ?? (now + 2 * Int64(Self.blockTimeout))
                drainDeadline = deadline
                guard now < deadline else { return nil }
                // The interfaces only: the stop pipe stays readable once stopped.
                let wait = Int32(clamping: deadline - now)
                let ready = pollFDs.withUnsafeMutableBufferPointer { fds in
                    poll(fds.baseAddress, nfds_t(fds.count - 1), wait)
                }
                if ready < 0 && errno != EINTR {
                    throw CaptureError(.io, "poll failed: \(errnoText(errno))", source: "capture")
                }
                continue
            }
            let ready = pollFDs.withUnsafeMutableBufferPointer { fds in
                poll(fds.baseAddress, nfds_t(fds.count), 250)
            }
            if ready < 0 && errno != EINTR {
                throw CaptureError(.io, "poll failed: \(errnoText(errno))", source: "capture")
            }
            if ready == 0, let onIdle {
                onIdle()
            }
        }
    }

    /// A packet already buffered on one of the interfaces (round robin), or nil.
    private func readReady() throws(CaptureError) -> Packet? {
        let count = handles.count
        for k in 0..<count {
            let index = (nextHandle + k) % count
            var header: UnsafeMutablePointer<pcap_pkthdr>?
            var data: UnsafePointer<UInt8>?
            let result = pcap_next_ex(handles[index].pcap, &header, &data)
            if result == 1, let header, let data {
                nextHandle = (index + 1) % count
                return packet(from: index, header: header.pointee, data: data)
            }
            if result == PCAP_ERROR {
                let handle = handles[index]
                throw CaptureError(
                    .pcap,
                    "capture on \(handle.name) failed: \(pcapError(handle.pcap)); is the interface still up "
                        + "(`ip link show \(handle.name)`)?",
                    source: handle.name
                )
            }
        }
        return nil
    }

    /// libpcap's counters for each opened interface.
    public func statistics() -> [Statistics] {
        handles.map { handle in
            var stats = pcap_stat()
            if pcap_stats(handle.pcap, &stats) != 0 {
                return Statistics(
                    interface: handle.name,
                    interfaceID: handle.interfaceID,
                    received: 0,
                    dropped: 0,
                    interfaceDropped: 0
                )
            }
            return Statistics(
                interface: handle.name,
                interfaceID: handle.interfaceID,
                received: UInt64(stats.ps_recv),
                dropped: UInt64(stats.ps_drop),
                interfaceDropped: UInt64(stats.ps_ifdrop)
            )
        }
    }

    // MARK: - Packets

    private func packet(from index: Int, header: pcap_pkthdr, data: UnsafePointer<UInt8>) -> Packet {
        let handle = handles[index]
        let fraction = Int64(header.ts.tv_usec)
        let timestamp = Int64(header.ts.tv_sec) &* 1_000_000_000 &+ (handle.nanosecond ? fraction : fraction &* 1000)
        let bytes = UnsafeRawBufferPointer(start: data, count: Int(header.caplen))
        var interfaceID = handle.interfaceID
        var direction = PacketDirection.unknown
        if handle.resolvesIndex && bytes.count >= 20 {
            // LINUX_SLL2: protocol (2), reserved (2), interface index (4, big-endian), ARPHRD type (2),
            // packet type (1: 0 host, 1 broadcast, 2 multicast, 3 other host, 4 outgoing), address length (1),
            // address (8).
            let ifIndex = Int32(bitPattern: bytes.u32(4, bigEndian: true))
            interfaceID = interface(forIndex: ifIndex)
            let packetType = bytes[10]
            direction = packetType == 4 ? .outbound : (packetType <= 3 ? .inbound : .unknown)
        }
        return Packet(
            timestamp: timestamp,
            interfaceID: interfaceID,
            direction: direction,
            linkType: handle.linkType,
            originalLength: Int(header.len),
            bytes: bytes
        )
    }

    /// The entry for a Linux interface index, named with `if_indextoname` the first time it is seen.
    private func interface(forIndex ifIndex: Int32) -> Int {
        if let known = indexMap[ifIndex] {
            return known
        }
        var name = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
        let resolved: String
        if ifIndex > 0, if_indextoname(UInt32(ifIndex), &name) != nil {
            resolved = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        } else {
            resolved = "if\(ifIndex)"
        }
        interfaces.append(
            InterfaceDescription(
                name: resolved,
                description: "ifindex \(ifIndex), captured on any",
                linkType: .linuxSLL2,
                snapLength: UInt32(clamping: snapLength),
                timestampsPerSecond: 1_000_000_000
            )
        )
        indexMap[ifIndex] = interfaces.count - 1
        return interfaces.count - 1
    }

    // MARK: - Opening

    private func open(_ name: String, options: Options) throws(CaptureError) {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let pcap = pcap_create(name, &errbuf) else {
            throw CaptureError(.pcap, "cannot open \(name): \(text(errbuf))", source: name)
        }
        var keep = false
        defer {
            if !keep { pcap_close(pcap) }
        }
        _ = pcap_set_snaplen(pcap, Int32(clamping: options.snapLength))
        _ = pcap_set_promisc(pcap, options.promiscuous ? 1 : 0)
        _ = pcap_set_timeout(pcap, Self.blockTimeout)
        _ = pcap_set_immediate_mode(pcap, options.immediate ? 1 : 0)
        _ = pcap_set_buffer_size(pcap, Int32(clamping: options.bufferSize))
        let wantsNano = pcap_set_tstamp_precision(pcap, PCAP_TSTAMP_PRECISION_NANO) == 0
        let status = pcap_activate(pcap)
        if status < 0 {
            throw activationError(status, name: name, pcap: pcap)
        }
        let isAny = name == "any"
        if isAny {
            // Ask for LINUX_SLL2 so that each packet carries its interface index; keep SLL if libpcap refuses.
            _ = pcap_set_datalink(pcap, DLT_LINUX_SLL2)
        }
        if let filter = options.filter {
            var program = bpf_program()
            if pcap_compile(pcap, &program, filter, 1, PCAP_NETMASK_UNKNOWN) != 0 {
                throw CaptureError(
                    .pcap,
                    "bad filter \"\(filter)\": \(pcapError(pcap)); see `man 7 pcap-filter`",
                    source: name
                )
            }
            defer { pcap_freecode(&program) }
            if pcap_setfilter(pcap, &program) != 0 {
                throw CaptureError(.pcap, "cannot set the filter on \(name): \(pcapError(pcap))", source: name)
            }
        }
        if pcap_setnonblock(pcap, 1, &errbuf) != 0 {
            throw CaptureError(.pcap, "cannot make \(name) non-blocking: \(text(errbuf))", source: name)
        }
        let linkType = linkTypeFromDLT(pcap_datalink(pcap))
        let nano = wantsNano && pcap_get_tstamp_precision(pcap) == PCAP_TSTAMP_PRECISION_NANO
        interfaces.append(
            InterfaceDescription(
                name: name,
                linkType: linkType,
                snapLength: UInt32(clamping: Int(pcap_snapshot(pcap))),
                timestampsPerSecond: nano ? 1_000_000_000 : 1_000_000
            )
        )
        handles.append(
            Handle(
                pcap: pcap,
                name: name,
                interfaceID: interfaces.count - 1,
                linkType: linkType,
                nanosecond: nano,
                resolvesIndex: isAny && linkType == .linuxSLL2
            )
        )
        keep = true
    }

    private func activationError(_ status: Int32, name: String, pcap: OpaquePointer) -> CaptureError {
        let detail = pcapError(pcap)
        switch status {
        case PCAP_ERROR_NO_SUCH_DEVICE:
            return CaptureError(
                .noSuchInterface,
                "cannot open \(name): no such interface; `ip link` lists them",
                source: name
            )
        case PCAP_ERROR_PERM_DENIED, PCAP_ERROR_PROMISC_PERM_DENIED:
            return CaptureError(.permissionDenied, permissionMessage(name), source: name)
        case PCAP_ERROR_IFACE_NOT_UP:
            return CaptureError(
                .pcap,
                "cannot capture on \(name): the interface is down; `ip link set \(name) up`",
                source: name
            )
        default:
            let lowered = detail.lowercased()
            if lowered.contains("operation not permitted") || lowered.contains("permission") {
                return CaptureError(.permissionDenied, permissionMessage(name), source: name)
            }
            if lowered.contains("no such device") {
                return CaptureError(
                    .noSuchInterface,
                    "cannot open \(name): no such interface; `ip link` lists them",
                    source: name
                )
            }
            return CaptureError(
                .pcap,
                "cannot capture on \(name): \(detail.isEmpty ? "libpcap error \(status)" : detail)",
                source: name
            )
        }
    }

    private func permissionMessage(_ name: String) -> String {
        "capturing on \(name) needs root or CAP_NET_RAW (try sudo, or setcap cap_net_raw,cap_net_admin=eip "
            + "$(which hoptrace))"
    }

    private func closeAll() {
        for handle in handles {
            pcap_close(handle.pcap)
        }
        handles.removeAll()
    }
}

/// Maps libpcap's DLT_ value (what `pcap_datalink` returns) to the LINKTYPE_ value files carry; they differ for a
/// few historical types.
func linkTypeFromDLT(_ dlt: Int32) -> LinkType {
    switch dlt {
    case 12, 14: return .raw  // DLT_RAW is 12 on most systems, 14 on OpenBSD; LINKTYPE_RAW is 101.
    case 11: return LinkType(rawValue: 100)  // DLT_ATM_RFC1483 -> LINKTYPE_ATM_RFC1483
    case 17: return LinkType(rawValue: 117)  // DLT_OLD_PFLOG (OpenBSD) -> LINKTYPE_PFLOG
    case 18: return LinkType(rawValue: 118)  // DLT_PFSYNC
    default: return LinkType(rawValue: UInt32(bitPattern: dlt))
    }
}

private func pcapError(_ pcap: OpaquePointer) -> String {
    guard let message = pcap_geterr(pcap) else { return "" }
    return String(cString: message)
}

private func text(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// CLOCK_MONOTONIC in milliseconds.
private func monotonicMilliseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}

/// A pipe with both ends non-blocking and closed on exec: how a stop request (a ``LiveSource/StopHandle``, the CLI's
/// signal handler) wakes a `poll(2)` or dispatch loop.
package func makeWakeupPipe() throws(CaptureError) -> (read: Int32, write: Int32) {
    var fds: [Int32] = [-1, -1]
    guard pipe(&fds) == 0 else {
        throw CaptureError(.io, "cannot create a pipe: \(errnoText(errno))", source: "capture")
    }
    for fd in fds {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    }
    return (fds[0], fds[1])
}
