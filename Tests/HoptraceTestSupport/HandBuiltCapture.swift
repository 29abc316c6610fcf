import Foundation

/// Hand-built packets and capture files: the independent facts of a test are the bytes it wrote.
///
/// Frames are Ethernet II with IPv4 and TCP or UDP, checksums computed (RFC 791, RFC 793), written to a classic pcap
/// file (microsecond timestamps, LINKTYPE_ETHERNET).
public struct HandBuiltCapture {
    /// One frame, its capture time in nanoseconds since the epoch, the interface it was captured on and the
    /// direction recorded (pcapng only: 0 none, 1 inbound, 2 outbound).
    public var frames: [(time: Int64, bytes: [UInt8], interface: Int, direction: UInt32)] = []
    /// Interface names (pcapng interface description blocks, in order).
    public var interfaces: [String] = ["eth0"]
    /// The interface and direction the next frames are captured with.
    public var current: (interface: Int, direction: UInt32) = (0, 0)

    /// An empty capture.
    public init() {}

    /// An empty capture on these named interfaces (written as pcapng).
    public init(interfaces: [String]) {
        self.interfaces = interfaces
    }

    /// The direction flags of pcapng's `epb_flags` (bits 0-1).
    public enum Direction: UInt32, Sendable {
        /// Not recorded.
        case none = 0
        /// Received.
        case inbound = 1
        /// Sent.
        case outbound = 2
    }

    /// Captures the next frames on `interface` (by name, added when new) with `direction`.
    public mutating func at(_ interface: String, _ direction: Direction = .none) {
        if let index = interfaces.firstIndex(of: interface) {
            current = (index, direction.rawValue)
        } else {
            interfaces.append(interface)
            current = (interfaces.count - 1, direction.rawValue)
        }
    }

    /// TCP flag bits (RFC 793, RFC 3168).
    public struct Flags: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let fin = Flags(rawValue: 0x01)
        public static let syn = Flags(rawValue: 0x02)
        public static let rst = Flags(rawValue: 0x04)
        public static let psh = Flags(rawValue: 0x08)
        public static let ack = Flags(rawValue: 0x10)
    }

    /// An overlay the next frames are carried in between two nodes (outer addresses `"192.168.60.11"`).
    public enum Tunnel: Sendable {
        /// Geneve (RFC 8926) over UDP 6081, carrying the inner Ethernet frame.
        case geneve(vni: UInt32, outerSource: String, outerDestination: String)
        /// IP in IP (RFC 2003, protocol 4), as Calico's tunl0 sends it: the inner IPv4 packet, no Ethernet.
        case ipip(outerSource: String, outerDestination: String)
        /// VXLAN (RFC 7348) over UDP `port` (4789, or flannel's 8472), carrying the inner Ethernet frame.
        case vxlan(vni: UInt32, port: UInt16, outerSource: String, outerDestination: String)
    }

    /// The frame of `inner` (an IPv4 packet), bare or in `tunnel` between two node MACs.
    static func frame(
        _ inner: [UInt8],
        srcMAC: [UInt8],
        dstMAC: [UInt8],
        tunnel: Tunnel?,
        ipID: UInt16
    ) -> [UInt8] {
        let nodeMACs: ([UInt8], [UInt8]) = ([2, 0, 0, 0, 0xa, 1], [2, 0, 0, 0, 0xb, 1])
        func udp(_ src: [UInt8], _ dst: [UInt8], port: UInt16, _ payload: [UInt8]) -> [UInt8] {
            // Source port from the inner flow, as kernels do; UDP checksum 0 (allowed over IPv4).
            let body = be16(40_000) + be16(port) + be16(UInt16(8 + payload.count)) + [0, 0] + payload
            return ipv4(src, dst, protocol: 17, ttl: 64, id: ipID, body)
        }
        switch tunnel {
        case nil:
            return ethernet(srcMAC, dstMAC, inner)
        case .ipip(let outerSource, let outerDestination):
            let (sa, _) = endpoint(outerSource)
            let (da, _) = endpoint(outerDestination)
            return ethernet(nodeMACs.0, nodeMACs.1, ipv4(sa, da, protocol: 4, ttl: 64, id: ipID, inner))
        case .geneve(let vni, let outerSource, let outerDestination):
            let (sa, _) = endpoint(outerSource)
            let (da, _) = endpoint(outerDestination)
            // Version 0, no options, protocol type Transparent Ethernet Bridging, VNI, reserved.
            let header: [UInt8] = [0, 0] + be16(0x6558) + Array(be32(vni << 8))
            return ethernet(nodeMACs.0, nodeMACs.1, udp(sa, da, port: 6081, header + ethernet(srcMAC, dstMAC, inner)))
        case .vxlan(let vni, let port, let outerSource, let outerDestination):
            let (sa, _) = endpoint(outerSource)
            let (da, _) = endpoint(outerDestination)
            let header: [UInt8] = [0x08, 0, 0, 0] + Array(be32(vni << 8))
            return ethernet(nodeMACs.0, nodeMACs.1, udp(sa, da, port: port, header + ethernet(srcMAC, dstMAC, inner)))
        }
    }

    /// Appends a TCP segment from `src` to `dst` (`"10.0.0.1:80"`), in `tunnel` when given.
    public mutating func tcp(
        at time: Int64,
        _ src: String,
        _ dst: String,
        _ flags: Flags,
        seq: UInt32,
        ack: UInt32 = 0,
        payload: [UInt8] = [],
        ttl: UInt8 = 64,
        ipID: UInt16 = 0,
        srcMAC: [UInt8] = [2, 0, 0, 0, 0, 1],
        dstMAC: [UInt8] = [2, 0, 0, 0, 0, 2],
        tunnel: Tunnel? = nil
    ) {
        let (sa, sp) = Self.endpoint(src)
        let (da, dp) = Self.endpoint(dst)
        var tcp: [UInt8] = []
        tcp += Self.be16(sp) + Self.be16(dp) + Self.be32(seq) + Self.be32(ack)
        tcp += [5 << 4, flags.rawValue] + Self.be16(65_535) + [0, 0] + [0, 0]
        tcp += payload
        var pseudo = sa + da + [0, 6] + Self.be16(UInt16(tcp.count))
        pseudo += tcp
        let sum = Self.checksum(pseudo)
        tcp[16] = UInt8(sum >> 8)
        tcp[17] = UInt8(sum & 0xff)
        let inner = Self.ipv4(sa, da, protocol: 6, ttl: ttl, id: ipID, tcp)
        frames.append(
            (
                time, Self.frame(inner, srcMAC: srcMAC, dstMAC: dstMAC, tunnel: tunnel, ipID: ipID),
                current.interface, current.direction
            )
        )
    }

    /// Appends a UDP datagram.
    public mutating func udp(
        at time: Int64,
        _ src: String,
        _ dst: String,
        payload: [UInt8],
        ttl: UInt8 = 64,
        ipID: UInt16 = 0
    ) {
        let (sa, sp) = Self.endpoint(src)
        let (da, dp) = Self.endpoint(dst)
        var udp = Self.be16(sp) + Self.be16(dp) + Self.be16(UInt16(8 + payload.count)) + [0, 0] + payload
        let sum = Self.checksum(sa + da + [0, 17] + Self.be16(UInt16(udp.count)) + udp)
        udp[6] = UInt8(sum >> 8)
        udp[7] = UInt8(sum & 0xff)
        append(
            at: time,
            Self.ethernet(
                [2, 0, 0, 0, 0, 1],
                [2, 0, 0, 0, 0, 2],
                Self.ipv4(sa, da, protocol: 17, ttl: ttl, id: ipID, udp)
            )
        )
    }

    /// Appends one whole HTTP connection from `client` to `server`: the handshake, `request`, its `response`
    /// `serverTime` after the request, and a close begun by the client; the other packets `gap` apart from `start`.
    /// Only the SYN carries `ipID`.
    public mutating func httpConnection(
        at start: Int64,
        _ client: String,
        _ server: String,
        clientISN c: UInt32,
        serverISN s: UInt32,
        request: [UInt8],
        response: [UInt8],
        gap: Int64,
        serverTime: Int64,
        ipID: UInt16 = 0
    ) {
        let q = UInt32(request.count)
        let r = UInt32(response.count)
        tcp(at: start, client, server, .syn, seq: c, ipID: ipID)
        tcp(at: start + gap, server, client, [.syn, .ack], seq: s, ack: c &+ 1)
        tcp(at: start + 2 * gap, client, server, .ack, seq: c &+ 1, ack: s &+ 1)
        tcp(at: start + 3 * gap, client, server, [.psh, .ack], seq: c &+ 1, ack: s &+ 1, payload: request)
        let end = start + 3 * gap + serverTime
        tcp(at: end, server, client, [.psh, .ack], seq: s &+ 1, ack: c &+ 1 &+ q, payload: response)
        tcp(at: end + gap, client, server, [.fin, .ack], seq: c &+ 1 &+ q, ack: s &+ 1 &+ r)
        tcp(at: end + 2 * gap, server, client, [.fin, .ack], seq: s &+ 1 &+ r, ack: c &+ 2 &+ q)
        tcp(at: end + 3 * gap, client, server, .ack, seq: c &+ 2 &+ q, ack: s &+ 2 &+ r)
    }

    /// Appends `count` keep-alive connections from distinct clients (`10.1.x.y`, ports from 20,000) to `server`, each
    /// answered once (`GET /ka/<n>`, 200) and never closed, one packet every `gap` from `start`: six packets a
    /// connection (SYN, SYN-ACK, ACK, request, response, the client's ACK), opened one after the other, or
    /// (`interleaved`) all SYNs, then all SYN-ACKs, ..., then all ACKs, as `tools/bench/floods.py ka-serial` and `ka`
    /// write them. Only the SYN carries an IP id (`n + 1`).
    public mutating func keepAliveConnections(
        _ count: Int,
        to server: String,
        interleaved: Bool,
        start: Int64 = 0,
        gap: Int64 = 1_000
    ) {
        let response = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)
        let r = UInt32(response.count)
        var time = start
        func packet(_ n: Int, _ step: Int) {
            let client = "10.1.\(n / 250).\(n % 250 + 1):\(20_000 + n)"
            let c = UInt32(1_000 + n * 7_919)
            let s = c ^ 0x5555
            let request = Array("GET /ka/\(n) HTTP/1.1\r\nHost: svc\r\n\r\n".utf8)
            let q = UInt32(request.count)
            time += gap
            switch step {
            case 0: tcp(at: time, client, server, .syn, seq: c, ipID: UInt16(truncatingIfNeeded: n + 1))
            case 1: tcp(at: time, server, client, [.syn, .ack], seq: s, ack: c &+ 1)
            case 2: tcp(at: time, client, server, .ack, seq: c &+ 1, ack: s &+ 1)
            case 3: tcp(at: time, client, server, [.psh, .ack], seq: c &+ 1, ack: s &+ 1, payload: request)
            case 4: tcp(at: time, server, client, [.psh, .ack], seq: s &+ 1, ack: c &+ 1 &+ q, payload: response)
            default: tcp(at: time, client, server, .ack, seq: c &+ 1 &+ q, ack: s &+ 1 &+ r)
            }
        }
        if interleaved {
            for step in 0..<6 { for n in 0..<count { packet(n, step) } }
        } else {
            for n in 0..<count { for step in 0..<6 { packet(n, step) } }
        }
    }

    /// Appends a frame at the current interface and direction.
    private mutating func append(at time: Int64, _ frame: [UInt8]) {
        frames.append((time, frame, current.interface, current.direction))
    }

    /// Appends an ICMP destination unreachable (`code` 3: port) from `sender`, quoting the IPv4 header and first 8
    /// bytes of a TCP segment from `src` to `dst` with sequence number `seq`.
    public mutating func icmpUnreachable(
        at time: Int64,
        from sender: String,
        _ src: String,
        _ dst: String,
        seq: UInt32,
        code: UInt8 = 3
    ) {
        let (ra, _) = Self.endpoint(sender)
        let (sa, sp) = Self.endpoint(src)
        let (da, dp) = Self.endpoint(dst)
        let quotedTCP = Self.be16(sp) + Self.be16(dp) + Self.be32(seq)
        let quoted = Self.ipv4(sa, da, protocol: 6, ttl: 63, id: 0, quotedTCP + [UInt8](repeating: 0, count: 12))
        var icmp: [UInt8] = [3, code, 0, 0, 0, 0, 0, 0] + quoted.prefix(28)
        let sum = Self.checksum(icmp)
        icmp[2] = UInt8(sum >> 8)
        icmp[3] = UInt8(sum & 0xff)
        append(
            at: time,
            Self.ethernet(
                [2, 0, 0, 0, 0, 3],
                [2, 0, 0, 0, 0, 1],
                Self.ipv4(ra, sa, protocol: 1, ttl: 64, id: 0, icmp)
            )
        )
    }

    /// The classic pcap file bytes (little-endian, microseconds, snaplen 262144, Ethernet).
    public var pcap: [UInt8] {
        var out: [UInt8] = []
        out += Self.le32(0xa1b2_c3d4) + Self.le16(2) + Self.le16(4) + Self.le32(0) + Self.le32(0)
        out += Self.le32(262_144) + Self.le32(1)
        for (time, bytes, _, _) in frames {
            let seconds = UInt32(truncatingIfNeeded: time / 1_000_000_000)
            let micros = UInt32(truncatingIfNeeded: (time % 1_000_000_000) / 1000)
            out +=
                Self.le32(seconds) + Self.le32(micros) + Self.le32(UInt32(bytes.count)) + Self.le32(UInt32(bytes.count))
            out += bytes
        }
        return out
    }

    /// The pcapng file bytes (little-endian): a section header, one Ethernet interface block per interface (with
    /// `if_name` and nanosecond `if_tsresol`), one enhanced packet block per frame with `epb_flags` when a direction
    /// is set. Frames are written in time order.
    public var pcapng: [UInt8] {
        func option(_ code: UInt16, _ value: [UInt8]) -> [UInt8] {
            var out = Self.le16(code) + Self.le16(UInt16(value.count)) + value
            while out.count % 4 != 0 { out.append(0) }
            return out
        }
        func block(_ type: UInt32, _ body: [UInt8]) -> [UInt8] {
            let length = UInt32(12 + body.count)
            return Self.le32(type) + Self.le32(length) + body + Self.le32(length)
        }
        var out: [UInt8] = []
        out += block(
            0x0A0D_0D0A,
            Self.le32(0x1A2B_3C4D) + Self.le16(1) + Self.le16(0) + [UInt8](repeating: 0xff, count: 8)
        )
        for name in interfaces {
            var body = Self.le16(1) + Self.le16(0) + Self.le32(262_144)
            body += option(2, Array(name.utf8)) + option(9, [9]) + option(0, [])
            out += block(1, body)
        }
        for (time, bytes, interface, direction) in frames.sorted(by: { $0.time < $1.time }) {
            let stamp = UInt64(bitPattern: time)
            var body = Self.le32(UInt32(interface)) + Self.le32(UInt32(truncatingIfNeeded: stamp >> 32))
            body += Self.le32(UInt32(truncatingIfNeeded: stamp)) + Self.le32(UInt32(bytes.count))
            body += Self.le32(UInt32(bytes.count)) + bytes
            while body.count % 4 != 0 { body.append(0) }
            if direction != 0 { body += option(2, Self.le32(direction)) + option(0, []) }
            out += block(6, body)
        }
        return out
    }

    /// Writes the capture to a new temporary path and returns it: pcapng when the name ends in `.pcapng`, else
    /// classic pcap.
    public func write(name: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "hoptrace-tests-\(ProcessInfo.processInfo.processIdentifier)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent(name).path
        // Atomically: tests running at once may write the same capture while another reads it.
        try Data(name.hasSuffix(".pcapng") ? pcapng : pcap).write(to: URL(fileURLWithPath: path), options: .atomic)
        return path
    }

    // MARK: Bytes

    static func endpoint(_ text: String) -> ([UInt8], UInt16) {
        let parts = text.split(separator: ":")
        let address = parts[0].split(separator: ".").map { UInt8($0) ?? 0 }
        return (address, parts.count > 1 ? UInt16(parts[1]) ?? 0 : 0)
    }

    static func ipv4(
        _ src: [UInt8],
        _ dst: [UInt8],
        protocol: UInt8,
        ttl: UInt8,
        id: UInt16,
        _ payload: [UInt8]
    ) -> [UInt8] {
        var header: [UInt8] = [0x45, 0] + be16(UInt16(20 + payload.count)) + be16(id) + [0x40, 0]
        header += [ttl, `protocol`, 0, 0] + src + dst
        let sum = checksum(header)
        header[10] = UInt8(sum >> 8)
        header[11] = UInt8(sum & 0xff)
        return header + payload
    }

    static func ethernet(_ src: [UInt8], _ dst: [UInt8], _ payload: [UInt8]) -> [UInt8] {
        dst + src + [0x08, 0x00] + payload
    }

    /// The Internet checksum (RFC 1071).
    static func checksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index + 1 < bytes.count {
            sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.count { sum += UInt32(bytes[index]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }

    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }
    static func be32(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)]
    }
    static func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
    static func le32(_ v: UInt32) -> [UInt8] {
        [UInt8(v & 0xff), UInt8((v >> 8) & 0xff), UInt8((v >> 16) & 0xff), UInt8(v >> 24)]
    }
}

/// DNS messages by hand (RFC 1035): queries and responses with A, AAAA, CNAME and SRV answers.
public enum DNSBytes {
    /// An answer record.
    public enum Answer: Sendable {
        /// An IPv4 address.
        case a(String)
        /// A canonical name.
        case cname(String)
        /// A service record (priority, weight, port, target).
        case srv(UInt16, UInt16, UInt16, String)
    }

    static func name(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        for label in text.split(separator: ".") {
            out.append(UInt8(label.utf8.count))
            out += Array(label.utf8)
        }
        return out + [0]
    }

    /// A query for `name` of type `type` (1 A, 28 AAAA, 33 SRV), recursion desired.
    public static func query(id: UInt16, _ name: String, type: UInt16) -> [UInt8] {
        HandBuiltCapture.be16(id) + [0x01, 0x00] + HandBuiltCapture.be16(1) + [0, 0, 0, 0, 0, 0]
            + Self.name(name) + HandBuiltCapture.be16(type) + [0, 1]
    }

    /// A response with `rcode` (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED) and these answers.
    public static func response(
        id: UInt16,
        _ name: String,
        type: UInt16,
        rcode: UInt8 = 0,
        answers: [Answer] = []
    ) -> [UInt8] {
        var out = HandBuiltCapture.be16(id) + [0x81, 0x80 | rcode] + HandBuiltCapture.be16(1)
        out += HandBuiltCapture.be16(UInt16(answers.count)) + [0, 0, 0, 0]
        out += Self.name(name) + HandBuiltCapture.be16(type) + [0, 1]
        var owner = name
        for answer in answers {
            var data: [UInt8]
            let rrType: UInt16
            switch answer {
            case .a(let address):
                rrType = 1
                data = address.split(separator: ".").map { UInt8($0) ?? 0 }
            case .cname(let target):
                rrType = 5
                data = Self.name(target)
            case .srv(let priority, let weight, let port, let target):
                rrType = 33
                data =
                    HandBuiltCapture.be16(priority) + HandBuiltCapture.be16(weight) + HandBuiltCapture.be16(port)
                    + Self.name(target)
            }
            out += Self.name(owner) + HandBuiltCapture.be16(rrType) + [0, 1] + [0, 0, 0, 30]
            out += HandBuiltCapture.be16(UInt16(data.count)) + data
            if case .cname(let target) = answer { owner = target }
        }
        return out
    }
}
