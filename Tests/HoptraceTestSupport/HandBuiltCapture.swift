import Foundation

/// Hand-built packets and capture files: the independent facts of a test are the bytes it wrote.
///
/// Frames are Ethernet II with IPv4 and TCP or UDP, checksums computed (RFC 791, RFC 793), written to a classic pcap
/// file (microsecond timestamps, LINKTYPE_ETHERNET).
public struct HandBuiltCapture {
    /// One frame and its capture time in nanoseconds since the epoch.
    public var frames: [(time: Int64, bytes: [UInt8])] = []

    /// An empty capture.
    public init() {}

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

    /// Appends a TCP segment from `src` to `dst` (`"10.0.0.1:80"`).
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
        dstMAC: [UInt8] = [2, 0, 0, 0, 0, 2]
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
        frames.append((time, Self.ethernet(srcMAC, dstMAC, Self.ipv4(sa, da, protocol: 6, ttl: ttl, id: ipID, tcp))))
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
        frames.append(
            (
                time,
                Self.ethernet(
                    [2, 0, 0, 0, 0, 1],
                    [2, 0, 0, 0, 0, 2],
                    Self.ipv4(sa, da, protocol: 17, ttl: ttl, id: ipID, udp)
                )
            )
        )
    }

    /// The classic pcap file bytes (little-endian, microseconds, snaplen 262144, Ethernet).
    public var pcap: [UInt8] {
        var out: [UInt8] = []
        out += Self.le32(0xa1b2_c3d4) + Self.le16(2) + Self.le16(4) + Self.le32(0) + Self.le32(0)
        out += Self.le32(262_144) + Self.le32(1)
        for (time, bytes) in frames {
            let seconds = UInt32(truncatingIfNeeded: time / 1_000_000_000)
            let micros = UInt32(truncatingIfNeeded: (time % 1_000_000_000) / 1000)
            out +=
                Self.le32(seconds) + Self.le32(micros) + Self.le32(UInt32(bytes.count)) + Self.le32(UInt32(bytes.count))
            out += bytes
        }
        return out
    }

    /// Writes the pcap file to a new temporary path and returns it.
    public func write(name: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "hoptrace-tests-\(ProcessInfo.processInfo.processIdentifier)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent(name).path
        try Data(pcap).write(to: URL(fileURLWithPath: path))
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
