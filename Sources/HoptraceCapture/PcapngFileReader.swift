/// Reads a pcapng file (draft-ietf-opsawg-pcapng): several sections in either byte order, several interfaces with
/// names, link types, timestamp resolutions and offsets, and the three packet blocks (EPB, SPB, obsolete OPB).
///
/// ```
///  Every block                              Enhanced Packet Block body (type 6)
///  +---------------------------+            +---------------------------+
///  | block type                |            | interface id              |
///  | block total length        |            | timestamp (high 32 bits)  |
///  | body ...                  |            | timestamp (low 32 bits)   |
///  | options (code,len,value)  |            | captured length           |
///  | block total length        |            | original length           |
///  +---------------------------+            | data, padded to 4 | opts  |
///                                           +---------------------------+
/// ```
///
/// Every length is checked: a block's length is a multiple of 4, at least 12, equal to its trailer, and every option
/// lies inside its block. Interface indices are global across sections (each Section Header Block starts a new
/// interface table, appended to ``interfaces``), so a packet's ``Packet/interfaceID`` never changes meaning.
/// Unknown, custom, name-resolution, statistics and decryption-secrets blocks are skipped. Packets before a corrupt
/// or truncated block are returned first; the error is thrown on the following call.
public final class PcapngFileReader: PacketSource {
    /// Every interface of every section read so far, in file order.
    public private(set) var interfaces: [InterfaceDescription] = []

    /// Per-interface facts needed to turn a packet block into a ``Packet``, parallel to `interfaces`.
    private struct InterfaceTiming: Hashable {
        var resolution: TimestampResolution
        var offsetSeconds: Int64
        var linkType: LinkType
        var snapLength: UInt32
    }

    private let reader: FileByteReader
    /// Bytes of the file consumed so far.
    public var bytesRead: UInt64 { reader.offset }
    private var timing: [InterfaceTiming] = []
    /// The global index of each interface of the current section, by its index in the section.
    private var sectionInterfaces: [Int] = []
    /// The global indexes the current section's interfaces took (each once per section).
    private var usedInSection = Set<Int>()
    /// The global index of each named interface read, by all it declared: a later section that declares the same
    /// interface again (captures appended with `cat`, a writer that starts a section per file it rotates to) reuses
    /// it, rather than making it an interface, and a capture point's worth of state, of its own each time.
    private var named: [NamedInterface: Int] = [:]

    private struct NamedInterface: Hashable {
        var description: InterfaceDescription
        var timing: InterfaceTiming
    }
    private var bigEndian = false
    private var sections = 0
    /// The host the current section says it was captured on.
    private var sectionHost: String?
    private var pendingConsume = 0
    private var packetsRead = 0
    private var lastTimestamp: Int64 = 0
    private var failure: CaptureError?
    /// Packets skipped for a time that cannot be placed.
    public private(set) var timestampAnomalies = TimestampAnomalies()

    private static let sectionHeaderType: UInt32 = 0x0A0D_0D0A
    private static let byteOrderMagic: UInt32 = 0x1A2B_3C4D

    /// Opens the pcapng file at `path` (`-` for standard input) and reads its first Section Header Block.
    public convenience init(path: String) throws(CaptureError) {
        let reader = try FileByteReader(path: path)
        try self.init(reader: reader)
    }

    init(reader: FileByteReader) throws(CaptureError) {
        self.reader = reader
        guard try reader.fill(4) else {
            if reader.available == 0 {
                throw CaptureError(
                    .empty,
                    "file is empty; was the capture stopped before it wrote anything?",
                    source: reader.displayName
                )
            }
            throw CaptureError(
                .notACapture,
                "not a pcap or pcapng file (only \(reader.available) bytes); hoptrace reads pcap and pcapng",
                source: reader.displayName
            )
        }
        let first = reader.bytes(4).u32(0, bigEndian: false)
        guard first == Self.sectionHeaderType else {
            throw CaptureError(
                .notACapture,
                "not a pcapng file (first block type 0x\(String(first, radix: 16)), expected a Section Header Block)"
                    + "; hoptrace reads pcap and pcapng",
                source: reader.displayName
            )
        }
        // Read up to the first packet block so that header faults (bad version, bad options) surface at open time
        // and ``interfaces`` is populated; that packet stays buffered for the first `next()`.
        try readNonPacketBlocks()
    }

    private var lookahead: Packet?
    private var lookaheadLength = 0

    /// The next packet, or `nil` at the end of the file; its bytes are valid until the next call.
    public func next() throws(CaptureError) -> Packet? {
        if let packet = lookahead {
            lookahead = nil
            pendingConsume = lookaheadLength
            return packet
        }
        if let failure {
            throw failure
        }
        reader.consume(pendingConsume)
        pendingConsume = 0
        do {
            if let packet = try readBlocks() {
                return packet
            }
            return nil
        } catch {
            failure = error
            throw error
        }
    }

    /// Reads blocks until the first packet (kept as lookahead) or the end; used at open time.
    private func readNonPacketBlocks() throws(CaptureError) {
        if let packet = try readBlocks() {
            lookahead = packet
            lookaheadLength = pendingConsume
            pendingConsume = 0
        }
    }

    /// Reads blocks until a packet block (returned, its length left in `pendingConsume`) or the end of the file.
    private func readBlocks() throws(CaptureError) -> Packet? {
        while true {
            guard try reader.fill(12) else {
                if reader.available == 0 {
                    if sections == 0 {
                        throw error(.truncated, "file ends before its Section Header Block is complete")
                    }
                    return nil
                }
                throw truncated()
            }
            let head = reader.bytes(12)
            let rawType = head.u32(0, bigEndian: false)
            if rawType == Self.sectionHeaderType {
                // The byte order of this section comes from the magic in the SHB body.
                let bom = head.u32(8, bigEndian: false)
                if bom == Self.byteOrderMagic {
                    bigEndian = false
                } else if bom.byteSwapped == Self.byteOrderMagic {
                    bigEndian = true
                } else {
                    throw error(
                        .corrupt,
                        "Section Header Block has no byte-order magic (0x\(String(bom, radix: 16)))"
                    )
                }
            } else if sections == 0 {
                throw error(.corrupt, "file does not start with a Section Header Block")
            }
            let type = head.u32(0, bigEndian: bigEndian)
            let length32 = head.u32(4, bigEndian: bigEndian)
            guard length32 >= 12, length32 % 4 == 0 else {
                throw error(.corrupt, "block of type 0x\(String(type, radix: 16)) has invalid length \(length32)")
            }
            guard length32 <= UInt32(FileByteReader.maximumRecord) else {
                throw error(
                    .corrupt,
                    "block of type 0x\(String(type, radix: 16)) claims \(length32) bytes (limit "
                        + "\(FileByteReader.maximumRecord))"
                )
            }
            let length = Int(length32)
            guard try reader.fill(length) else {
                throw truncated()
            }
            let block = reader.bytes(length)
            let trailer = block.u32(length - 4, bigEndian: bigEndian)
            guard trailer == length32 else {
                throw error(
                    .corrupt,
                    "block of type 0x\(String(type, radix: 16)) has length \(length32) in its header and "
                        + "\(trailer) in its trailer"
                )
            }
            let body = UnsafeRawBufferPointer(rebasing: block[8..<(length - 4)])
            switch type {
            case Self.sectionHeaderType:
                try readSectionHeader(body)
            case 1:
                try readInterfaceDescription(body)
            case 6:
                if let packet = try readEnhancedPacket(body) {
                    pendingConsume = length
                    packetsRead += 1
                    return packet
                }
            case 3:
                if let packet = try readSimplePacket(body) {
                    pendingConsume = length
                    packetsRead += 1
                    return packet
                }
            case 2:
                if let packet = try readObsoletePacket(body) {
                    pendingConsume = length
                    packetsRead += 1
                    return packet
                }
            default:
                // 4 name resolution, 5 interface statistics, 10 decryption secrets, 0xBAD / 0x40000BAD custom,
                // and anything unknown: skipped, as the format asks.
                break
            }
            reader.consume(length)
        }
    }

    // MARK: - Blocks

    private func readSectionHeader(_ body: UnsafeRawBufferPointer) throws(CaptureError) {
        // body: byte-order magic (4), major (2), minor (2), section length (8), options.
        guard body.count >= 16 else {
            throw error(.corrupt, "Section Header Block is too short (\(body.count + 12) bytes)")
        }
        let major = body.u16(4, bigEndian: bigEndian)
        let minor = body.u16(6, bigEndian: bigEndian)
        // Version 1.0 is the format; 1.2 was written by some early writers and is read by libpcap and Wireshark.
        guard major == 1, minor == 0 || minor == 2 else {
            throw error(
                .unsupportedVersion,
                "unsupported pcapng version \(major).\(minor) (hoptrace, like libpcap and Wireshark, reads 1.0); "
                    + "rewrite the file with editcap"
            )
        }
        var host: String?
        try forEachOption(UnsafeRawBufferPointer(rebasing: body[16...]), block: "Section Header Block") { code, value in
            // opt_comment: `hoptrace capture` records the host it ran on as "host NAME".
            let text = code == 1 && host == nil ? boundedText(value) : ""
            if text.hasPrefix("host ") {
                let name = text.dropFirst(5).prefix { !$0.isWhitespace && !$0.isNewline }
                if !name.isEmpty, name.count <= 64 { host = String(name) }
            }
        }
        sectionHost = host
        sections += 1
        sectionInterfaces = []
        usedInSection = []
    }

    /// Most interfaces read from one file (a named interface a later section declares again the same way counts
    /// once), and most interface blocks in one section. A node has tens to a few thousand interfaces; each interface
    /// is held to the end of the file (its packets may come at any time), so a file of nothing but interface blocks
    /// (20 bytes each) would otherwise hold hundreds of bytes for each.
    public static let maxInterfaces = 65_536

    private func readInterfaceDescription(_ body: UnsafeRawBufferPointer) throws(CaptureError) {
        // body: link type (2), reserved (2), snaplen (4), options.
        guard sectionInterfaces.count < Self.maxInterfaces else {
            throw tooManyInterfaces()
        }
        guard body.count >= 8 else {
            throw error(.corrupt, "Interface Description Block is too short (\(body.count + 12) bytes)")
        }
        let linkType = LinkType(rawValue: UInt32(body.u16(0, bigEndian: bigEndian)))
        let snaplen = body.u32(4, bigEndian: bigEndian)
        var name: String?
        var description: String?
        var resolution = TimestampResolution.microseconds
        var offsetSeconds: Int64 = 0
        let bigEndian = self.bigEndian
        try forEachOption(UnsafeRawBufferPointer(rebasing: body[8...]), block: "Interface Description Block") {
            code,
            value in
            switch code {
            case 2:  // if_name
                name = boundedText(value)
            case 3:  // if_description
                description = boundedText(value)
            case 9:  // if_tsresol: bit 7 clear = 10^-n, set = 2^-n; any n (a time that cannot be placed is skipped)
                guard value.count >= 1 else { return }
                resolution = TimestampResolution(optionByte: value[0])
            case 14:  // if_tsoffset: seconds added to every timestamp
                guard value.count >= 8 else { return }
                offsetSeconds = Int64(bitPattern: value.u64(0, bigEndian: bigEndian))
            default:
                break
            }
        }
        let index = interfaces.count
        let interface = InterfaceDescription(
            name: name ?? "\(baseName(reader.displayName))#\(index)",
            description: description,
            linkType: linkType,
            snapLength: snaplen,
            timestampsPerSecond: resolution.unitsPerSecond,
            isNamed: name != nil,
            node: sectionHost,
            file: reader.displayName
        )
        let facts = InterfaceTiming(
            resolution: resolution,
            offsetSeconds: offsetSeconds,
            linkType: linkType,
            snapLength: snaplen
        )
        // A named interface an earlier section declared the same way is that interface (an unnamed one is told
        // apart by its index only, so it is never taken for another's).
        let key = name == nil ? nil : NamedInterface(description: interface, timing: facts)
        if let key, let known = named[key], !usedInSection.contains(known) {
            sectionInterfaces.append(known)
            usedInSection.insert(known)
            return
        }
        guard interfaces.count < Self.maxInterfaces else {
            throw tooManyInterfaces()
        }
        interfaces.append(interface)
        timing.append(facts)
        if let key, named[key] == nil { named[key] = index }
        sectionInterfaces.append(index)
        usedInSection.insert(index)
    }

    /// The packet of an Enhanced Packet Block, or nil when its time cannot be placed (counted; the block is skipped).
    private func readEnhancedPacket(_ body: UnsafeRawBufferPointer) throws(CaptureError) -> Packet? {
        // body: interface id (4), timestamp high (4), timestamp low (4), captured (4), original (4), data, options.
        guard body.count >= 20 else {
            throw error(.corrupt, "Enhanced Packet Block is too short (\(body.count + 12) bytes)")
        }
        let localInterface = body.u32(0, bigEndian: bigEndian)
        let timestamp = UInt64(body.u32(4, bigEndian: bigEndian)) << 32 | UInt64(body.u32(8, bigEndian: bigEndian))
        let captured = body.u32(12, bigEndian: bigEndian)
        let original = body.u32(16, bigEndian: bigEndian)
        return try makePacket(
            body: body,
            dataOffset: 20,
            localInterface: localInterface,
            timestamp: timestamp,
            captured: captured,
            original: original,
            blockName: "Enhanced Packet Block",
            flagsCode: 2
        )
    }

    private func readObsoletePacket(_ body: UnsafeRawBufferPointer) throws(CaptureError) -> Packet? {
        // body: interface id (2), drops count (2), timestamp high (4), low (4), captured (4), original (4), data,
        // options (pack_flags, code 2, as epb_flags).
        guard body.count >= 20 else {
            throw error(.corrupt, "Packet Block is too short (\(body.count + 12) bytes)")
        }
        let localInterface = UInt32(body.u16(0, bigEndian: bigEndian))
        let timestamp = UInt64(body.u32(4, bigEndian: bigEndian)) << 32 | UInt64(body.u32(8, bigEndian: bigEndian))
        let captured = body.u32(12, bigEndian: bigEndian)
        let original = body.u32(16, bigEndian: bigEndian)
        return try makePacket(
            body: body,
            dataOffset: 20,
            localInterface: localInterface,
            timestamp: timestamp,
            captured: captured,
            original: original,
            blockName: "Packet Block",
            flagsCode: 2
        )
    }

    private func readSimplePacket(_ body: UnsafeRawBufferPointer) throws(CaptureError) -> Packet? {
        // body: original length (4), data (min(original, snaplen of interface 0), padded). No timestamp: the packet
        // gets the previous packet's, so that a merge by time keeps it in place.
        guard body.count >= 4 else {
            throw error(.corrupt, "Simple Packet Block is too short (\(body.count + 12) bytes)")
        }
        guard let first = sectionInterfaces.first else {
            throw error(.corrupt, "Simple Packet Block before any Interface Description Block in its section")
        }
        let original = body.u32(0, bigEndian: bigEndian)
        let info = timing[first]
        var captured = Int(original)
        if info.snapLength != 0 && captured > Int(info.snapLength) {
            captured = Int(info.snapLength)
        }
        // The block body bounds the data too (a writer may have cut it shorter than the snaplen).
        captured = min(captured, body.count - 4)
        return Packet(
            timestamp: lastTimestamp,
            interfaceID: first,
            direction: .unknown,
            linkType: info.linkType,
            originalLength: Int(original),
            bytes: UnsafeRawBufferPointer(rebasing: body[4..<(4 + captured)])
        )
    }

    private func makePacket(
        body: UnsafeRawBufferPointer,
        dataOffset: Int,
        localInterface: UInt32,
        timestamp: UInt64,
        captured: UInt32,
        original: UInt32,
        blockName: String,
        flagsCode: UInt16
    ) throws(CaptureError) -> Packet? {
        let described = sectionInterfaces.count
        guard localInterface < UInt32(described) else {
            throw error(
                .corrupt,
                "\(blockName) refers to interface \(localInterface) but its section describes \(described)"
            )
        }
        let padded = (Int(captured) + 3) & ~3
        guard Int(captured) <= body.count - dataOffset, padded <= body.count - dataOffset else {
            throw error(
                .corrupt,
                "\(blockName) claims \(captured) captured bytes but the block holds \(body.count - dataOffset)"
            )
        }
        let index = sectionInterfaces[Int(localInterface)]
        let info = timing[index]
        var direction = PacketDirection.unknown
        let bigEndian = self.bigEndian
        try forEachOption(UnsafeRawBufferPointer(rebasing: body[(dataOffset + padded)...]), block: blockName) {
            code,
            value in
            if code == flagsCode, value.count >= 4 {
                // epb_flags bits 0-1: 00 not available, 01 inbound, 10 outbound.
                switch value.u32(0, bigEndian: bigEndian) & 0x3 {
                case 1: direction = .inbound
                case 2: direction = .outbound
                default: direction = .unknown
                }
            }
        }
        guard let time = info.resolution.nanoseconds(units: timestamp, offsetSeconds: info.offsetSeconds) else {
            timestampAnomalies.unplaceablePackets += 1
            return nil
        }
        lastTimestamp = time
        return Packet(
            timestamp: lastTimestamp,
            interfaceID: index,
            direction: direction,
            linkType: info.linkType,
            originalLength: Int(original),
            bytes: UnsafeRawBufferPointer(rebasing: body[dataOffset..<(dataOffset + Int(captured))])
        )
    }

    // MARK: - Options and errors

    /// Calls `body` for each option (code, value) up to `opt_endofopt` or the end of `options`, checking that each
    /// option's value, padded to 4 bytes, lies inside the block.
    private func forEachOption(
        _ options: UnsafeRawBufferPointer,
        block: String,
        _ body: (UInt16, UnsafeRawBufferPointer) -> Void
    ) throws(CaptureError) {
        var cursor = 0
        while options.count - cursor >= 4 {
            let code = options.u16(cursor, bigEndian: bigEndian)
            let length = Int(options.u16(cursor + 2, bigEndian: bigEndian))
            if code == 0 {
                return
            }
            let padded = (length + 3) & ~3
            guard padded <= options.count - cursor - 4 else {
                throw error(
                    .corrupt,
                    "\(block) has an option (code \(code)) of \(length) bytes that runs past the end of the block"
                )
            }
            body(code, UnsafeRawBufferPointer(rebasing: options[(cursor + 4)..<(cursor + 4 + length)]))
            cursor += 4 + padded
        }
    }

    /// Reading stops at an interface block past ``maxInterfaces`` (distinct interfaces of the file, or blocks of one
    /// section): no capture holds so many.
    private func tooManyInterfaces() -> CaptureError {
        let n = packetsRead
        return CaptureError(
            .corrupt,
            "more than \(Self.maxInterfaces) Interface Description Blocks, more than a capture holds (a damaged or "
                + "crafted file); hoptrace reads no further"
                + (n == 0 ? "" : " (the \(n) packet\(n == 1 ? "" : "s") before were read)"),
            source: reader.displayName,
            offset: reader.offset
        )
    }

    private func error(_ code: CaptureError.Code, _ what: String) -> CaptureError {
        let n = packetsRead
        var tail = ""
        if code == .corrupt {
            tail =
                n == 0
                ? "; the file is damaged (pcapfix may repair it, or capture again)"
                : "; the file is damaged after packet \(n) (the \(n) packet\(n == 1 ? "" : "s") before were read)"
        }
        return CaptureError(code, what + tail, source: reader.displayName, offset: reader.offset)
    }

    private func truncated() -> CaptureError {
        let n = packetsRead
        let place = n == 0 ? "a block before any packet" : "the block after packet \(n)"
        return CaptureError(
            .truncated,
            "file ends in the middle of \(place) (truncated capture?); the \(n) packet\(n == 1 ? "" : "s") "
                + "before it were read",
            source: reader.displayName,
            offset: reader.offset
        )
    }
}

/// Interface names and descriptions come from the file: keep at most 256 bytes, decode as UTF-8 with repair, drop
/// trailing NULs (some writers include the C terminator) and replace control characters.
func boundedText(_ value: UnsafeRawBufferPointer) -> String {
    var bytes = value.prefix(256)
    while let last = bytes.last, last == 0 {
        bytes = bytes.dropLast()
    }
    let text = String(decoding: bytes, as: UTF8.self)
    return String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) })
}
