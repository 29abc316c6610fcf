/// Reads a classic pcap file: microsecond (`0xa1b2c3d4`) and nanosecond (`0xa1b23c4d`) magic, both byte orders,
/// and Alexey Kuznetzov's modified format (`0xa1b2cd34`, 24-byte records carrying the Linux packet type).
///
/// ```
///  File header (24 bytes)              Record header (16 bytes; 24 in the modified format)
///  +---------------------------+       +---------------------------+
///  | magic                     |       | ts seconds                |
///  | major (2) | minor (4)     |       | ts µs or ns               |
///  | thiszone                  |       | captured length           |
///  | sigfigs                   |       | original length           |
///  | snaplen                   |       +- modified format only: ---+
///  | FCS bits|reserved|linktype|       | ifindex | proto | type|pad|
///  +---------------------------+       +---------------------------+
/// ```
///
/// The file has one interface, named after the file. Packets are read from a refilled buffer (no `mmap`, no
/// per-packet allocation); each packet's bytes are borrowed from it until the next call to ``next()``.
public final class PcapFileReader: PacketSource {
    /// The one interface of the file: the file's base name, its link type and snapshot length.
    public private(set) var interfaces: [InterfaceDescription]

    /// The link type from the file header (FCS bits masked off).
    public let linkType: LinkType
    /// The snapshot length from the file header.
    public let snapLength: UInt32
    /// Timestamp units per second: 1_000_000 or 1_000_000_000.
    public let timestampsPerSecond: UInt64
    /// Whether the file is in the modified (Kuznetzov) format.
    public let isModifiedFormat: Bool

    private let reader: FileByteReader
    /// Bytes of the file consumed so far.
    public var bytesRead: UInt64 { reader.offset }
    private let bigEndian: Bool
    private let recordHeaderLength: Int
    /// Version 2.0-2.2 files store the original length before the captured length (libpcap's SWAPPED).
    private let lengthsSwapped: Bool
    /// Version 2.3 files may have them swapped; swap when captured > original (libpcap's MAYBE_SWAPPED).
    private let lengthsMaybeSwapped: Bool
    private let maximumCapturedLength: Int
    private var pendingConsume = 0
    private var packetsRead = 0
    private var failure: CaptureError?
    /// Records whose sub-second field was out of range (kept: the excess is carried into the seconds).
    public private(set) var timestampAnomalies = TimestampAnomalies()

    /// Opens the pcap file at `path` (`-` for standard input) and reads its header.
    public convenience init(path: String) throws(CaptureError) {
        let reader = try FileByteReader(path: path)
        try self.init(reader: reader)
    }

    init(reader: FileByteReader) throws(CaptureError) {
        self.reader = reader
        let name = reader.displayName
        guard try reader.fill(4) else {
            if reader.available == 0 {
                throw CaptureError(
                    .empty,
                    "file is empty; was the capture stopped before it wrote anything?",
                    source: name
                )
            }
            throw CaptureError(
                .notACapture,
                "not a pcap or pcapng file (only \(reader.available) bytes); hoptrace reads pcap and pcapng",
                source: name
            )
        }
        let magicBytes = reader.bytes(4)
        let magicLE = magicBytes.u32(0, bigEndian: false)
        let magicBE = magicBytes.u32(0, bigEndian: true)
        var bigEndian = false
        var perSecond: UInt64 = 1_000_000
        var modified = false
        switch (magicLE, magicBE) {
        case (0xa1b2_c3d4, _): break
        case (_, 0xa1b2_c3d4): bigEndian = true
        case (0xa1b2_3c4d, _): perSecond = 1_000_000_000
        case (_, 0xa1b2_3c4d):
            bigEndian = true
            perSecond = 1_000_000_000
        case (0xa1b2_cd34, _): modified = true
        case (_, 0xa1b2_cd34):
            bigEndian = true
            modified = true
        default:
            throw CaptureError(
                .notACapture,
                "not a pcap file (magic 0x\(String(magicBE, radix: 16))); hoptrace reads pcap and pcapng",
                source: name
            )
        }
        guard try reader.fill(24) else {
            throw CaptureError(
                .truncated,
                "file ends inside the 24-byte pcap file header (\(reader.available) bytes); the file is cut short",
                source: name
            )
        }
        let header = reader.bytes(24)
        let major = header.u16(4, bigEndian: bigEndian)
        let minor = header.u16(6, bigEndian: bigEndian)
        // libpcap's rule (sf-pcap.c): major 2, minor 0...4; older is "archaic", newer unknown.
        guard major == 2, minor <= 4 else {
            throw CaptureError(
                .unsupportedVersion,
                "unsupported pcap version \(major).\(minor) (hoptrace, like libpcap, reads 2.0 to 2.4); "
                    + "rewrite the file with editcap or tcpdump -w",
                source: name
            )
        }
        let snaplen = header.u32(16, bigEndian: bigEndian)
        let rawLinkType = header.u32(20, bigEndian: bigEndian)
        // The link-type field: low 16 bits the LINKTYPE_ value, bits 16-25 reserved (must be zero), bit 26 "FCS
        // length present", bits 28-31 the FCS length (libpcap's LT_LINKTYPE / LT_RESERVED1 / LT_FCS_LENGTH).
        guard rawLinkType & 0x03FF_0000 == 0 else {
            throw CaptureError(
                .corrupt,
                "bad pcap header: link-type reserved field not zero (0x\(String(rawLinkType, radix: 16)))"
                    + "; the file is damaged or was not written by a pcap writer",
                source: name,
                offset: 20
            )
        }
        self.bigEndian = bigEndian
        self.linkType = LinkType(rawValue: rawLinkType & 0xFFFF)
        self.snapLength = snaplen
        self.timestampsPerSecond = perSecond
        self.isModifiedFormat = modified
        self.recordHeaderLength = modified ? 24 : 16
        self.lengthsSwapped = minor < 3
        self.lengthsMaybeSwapped = minor == 3
        // Captured lengths above the snapshot length occur in real files (zeek's trunc-hdr.pcap says snaplen 1 and
        // holds an 8-byte packet; Wireshark reads it), so the bound is the larger of snaplen and Wireshark's
        // standard maximum of 256 KiB, never more than the reader's record limit.
        let limit = max(Int(min(snaplen, 0x7FFF_FFFF)), 262_144)
        self.maximumCapturedLength = min(limit, FileByteReader.maximumRecord - 24)
        self.interfaces = [
            InterfaceDescription(
                name: interfaceName(ofFile: name),
                linkType: LinkType(rawValue: rawLinkType & 0xFFFF),
                snapLength: snaplen,
                timestampsPerSecond: perSecond,
                isNamed: false,
                file: name
            )
        ]
        reader.consume(24)
    }

    /// The next packet, or `nil` at the end of the file; its bytes are valid until the next call.
    public func next() throws(CaptureError) -> Packet? {
        if let failure {
            throw failure
        }
        reader.consume(pendingConsume)
        pendingConsume = 0
        let headerLength = recordHeaderLength
        guard try reader.fill(headerLength) else {
            if reader.available == 0 {
                return nil
            }
            throw fail(truncatedError())
        }
        let header = reader.bytes(headerLength)
        let seconds = header.u32(0, bigEndian: bigEndian)
        let fraction = header.u32(4, bigEndian: bigEndian)
        var captured = header.u32(8, bigEndian: bigEndian)
        var original = header.u32(12, bigEndian: bigEndian)
        if lengthsSwapped || (lengthsMaybeSwapped && captured > original) {
            swap(&captured, &original)
        }
        var direction = PacketDirection.unknown
        if isModifiedFormat {
            // Linux packet type: 0 host, 1 broadcast, 2 multicast, 3 other host, 4 outgoing.
            let packetType = header[22]
            direction = packetType == 4 ? .outbound : (packetType <= 3 ? .inbound : .unknown)
        }
        guard captured <= UInt32(maximumCapturedLength) else {
            throw fail(
                CaptureError(
                    .corrupt,
                    "packet \(packetsRead + 1) claims \(captured) captured bytes (snapshot length \(snapLength))"
                        + "; the file is damaged after packet \(packetsRead) (the packets before were read)",
                    source: reader.displayName,
                    offset: reader.offset
                )
            )
        }
        let total = headerLength + Int(captured)
        guard try reader.fill(total) else {
            throw fail(truncatedError())
        }
        // seconds < 2^32 and fraction < 2^32: seconds * 10^9 + fraction * 1000 < 2^63, always placeable. A fraction
        // of a second or more (a damaged or hand-made file) is carried, and counted.
        let ns: Int64
        if timestampsPerSecond == 1_000_000 {
            if fraction >= 1_000_000 { timestampAnomalies.fractionOutOfRange += 1 }
            ns = Int64(seconds) * 1_000_000_000 + Int64(fraction) * 1000
        } else {
            if fraction >= 1_000_000_000 { timestampAnomalies.fractionOutOfRange += 1 }
            ns = Int64(seconds) * 1_000_000_000 + Int64(fraction)
        }
        let all = reader.bytes(total)
        pendingConsume = total
        packetsRead += 1
        return Packet(
            timestamp: ns,
            interfaceID: 0,
            direction: direction,
            linkType: linkType,
            originalLength: Int(original),
            bytes: UnsafeRawBufferPointer(rebasing: all[headerLength...])
        )
    }

    private func truncatedError() -> CaptureError {
        let n = packetsRead
        return CaptureError(
            .truncated,
            "file ends in the middle of packet \(n + 1) (truncated capture?); the \(n) packet\(n == 1 ? "" : "s") "
                + "before it were read",
            source: reader.displayName,
            offset: reader.offset
        )
    }

    private func fail(_ error: CaptureError) -> CaptureError {
        failure = error
        return error
    }
}
