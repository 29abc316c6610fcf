#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a pcapng file: one Section Header Block (hardware, OS, application, and the host name in a comment), an
/// Interface Description Block per interface (name, link type, snaplen, nanosecond timestamps), Enhanced Packet
/// Blocks with the direction in `epb_flags`, and Interface Statistics Blocks (packets received and dropped).
///
/// Blocks go through a 1 MiB buffer. When a write fails (disk full, I/O error), the file is cut back to the last
/// complete block, so it stays readable up to there, and the error says how many packets it holds.
public final class PcapngWriter {
    /// What to put in the Section Header Block.
    public struct SectionInfo: Sendable {
        /// `shb_hardware`: the machine (e.g. `x86_64`).
        public var hardware: String?
        /// `shb_os`: the operating system (e.g. `Linux 6.1.0`).
        public var os: String?
        /// `shb_userappl`: the writing application.
        public var application: String
        /// `opt_comment`: free text; the capture command records the host name here.
        public var comment: String?

        /// Section facts; each string is cut to 1024 bytes.
        public init(
            hardware: String? = nil,
            os: String? = nil,
            application: String = "hoptrace",
            comment: String? = nil
        ) {
            self.hardware = hardware
            self.os = os
            self.application = application
            self.comment = comment
        }

        /// The running machine: `uname` for hardware and OS, and `host <hostname>` as the comment.
        public static func currentHost(application: String = "hoptrace") -> SectionInfo {
            var info = SectionInfo(application: application)
            var names = utsname()
            if uname(&names) == 0 {
                info.hardware = withUnsafeBytes(of: &names.machine) { cString($0) }
                let system = withUnsafeBytes(of: &names.sysname) { cString($0) }
                let release = withUnsafeBytes(of: &names.release) { cString($0) }
                info.os = "\(system) \(release)"
                let node = withUnsafeBytes(of: &names.nodename) { cString($0) }
                info.comment = "host \(node)"
            }
            return info
        }
    }

    /// The file being written (`-` for standard output).
    public let path: String
    /// Packets written so far (in complete blocks, buffered or on disk).
    public private(set) var packetsWritten = 0
    /// Bytes of the file so far, buffered ones included.
    public var byteCount: UInt64 { durableBytes + UInt64(used) }
    /// The interfaces whose Interface Description Blocks have been written, by file interface id.
    public private(set) var interfaces: [InterfaceDescription] = []

    private let fd: Int32
    private let ownsDescriptor: Bool
    private var buffer: UnsafeMutableRawPointer
    private var capacity = 1 << 20
    private var used = 0
    /// Ends (in `buffer`) of the complete blocks buffered, and the packets each block's end brings the count to.
    private var blockEnds: [(end: Int, packets: Int)] = []
    /// Bytes on disk that end on a block boundary, and the packets they hold.
    private var durableBytes: UInt64 = 0
    private var durablePackets = 0
    private var failure: CaptureError?
    private var closed = false

    /// Creates (or truncates) `path` and writes the Section Header Block.
    ///
    /// - Throws: `.io` when the file cannot be created (the reason names the fix), `.diskFull`.
    public init(path: String, section: SectionInfo = .currentHost()) throws(CaptureError) {
        self.path = path
        if path == "-" {
            fd = 1
            ownsDescriptor = false
        } else {
            let opened = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            if opened < 0 {
                let err = errno
                let fix: String
                switch err {
                case EACCES, EPERM, EROFS: fix = "choose a writable directory"
                case ENOENT: fix = "create the directory first"
                case ENOSPC, EDQUOT: fix = "free some space or write elsewhere"
                default: fix = "choose another path"
                }
                throw CaptureError(
                    err == ENOSPC || err == EDQUOT ? .diskFull : .io,
                    "cannot create the capture file: \(errnoText(err)); \(fix)",
                    source: path
                )
            }
            fd = opened
            ownsDescriptor = true
        }
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        blockEnds.reserveCapacity(4096)
        try writeSectionHeader(section)
    }

    deinit {
        if !closed {
            try? flush()
            if ownsDescriptor {
                systemClose(fd)
            }
        }
        buffer.deallocate()
    }

    // MARK: - Blocks

    /// Writes an Interface Description Block and returns the interface's id in this file.
    ///
    /// Timestamps are always written in nanoseconds (`if_tsresol` 9), whatever `description.timestampsPerSecond`.
    @discardableResult
    public func addInterface(_ description: InterfaceDescription) throws(CaptureError) -> Int {
        var block = BlockBuilder(type: 1)
        block.u16(UInt16(truncatingIfNeeded: description.linkType.rawValue))
        block.u16(0)
        block.u32(description.snapLength)
        block.option(2, text: description.name)
        if let text = description.description {
            block.option(3, text: text)
        }
        block.option(9, bytes: [9])
        block.endOfOptions()
        try append(block, packets: 0)
        var written = description
        written.timestampsPerSecond = 1_000_000_000
        interfaces.append(written)
        return interfaces.count - 1
    }

    /// Writes `packet` as an Enhanced Packet Block on file interface `interface` (from ``addInterface(_:)``), with
    /// its direction in `epb_flags` when known.
    public func write(_ packet: Packet, interface: Int) throws(CaptureError) {
        guard interface >= 0, interface < interfaces.count else {
            throw CaptureError(.io, "internal error: packet for unknown interface \(interface)", source: path)
        }
        let captured = packet.bytes.count
        let padded = (captured + 3) & ~3
        let hasFlags = packet.direction != .unknown
        let total = 32 + padded + (hasFlags ? 12 : 0)
        try reserve(total)
        let units = UInt64(max(packet.timestamp, 0))
        var cursor = BlockCursor(base: buffer + used)
        cursor.u32(6)
        cursor.u32(UInt32(total))
        cursor.u32(UInt32(interface))
        cursor.u32(UInt32(truncatingIfNeeded: units >> 32))
        cursor.u32(UInt32(truncatingIfNeeded: units))
        cursor.u32(UInt32(captured))
        cursor.u32(UInt32(clamping: packet.originalLength))
        cursor.bytes(packet.bytes)
        cursor.zeros(padded - captured)
        if hasFlags {
            cursor.u16(2)  // epb_flags
            cursor.u16(4)
            cursor.u32(packet.direction == .inbound ? 1 : 2)
            cursor.u32(0)  // opt_endofopt
        }
        cursor.u32(UInt32(total))
        used += total
        packetsWritten += 1
        blockEnds.append((used, packetsWritten))
    }

    /// Writes an Interface Statistics Block for file interface `interface`: packets received and dropped (as
    /// `pcap_stats` counts them), at `timestamp` (nanoseconds), with the capture's start and end times.
    public func writeStatistics(
        interface: Int,
        timestamp: Int64,
        received: UInt64?,
        dropped: UInt64?,
        start: Int64? = nil,
        end: Int64? = nil
    ) throws(CaptureError) {
        var block = BlockBuilder(type: 5)
        block.u32(UInt32(interface))
        let units = UInt64(max(timestamp, 0))
        block.u32(UInt32(truncatingIfNeeded: units >> 32))
        block.u32(UInt32(truncatingIfNeeded: units))
        if let start { block.option(2, timestamp: start) }  // isb_starttime
        if let end { block.option(3, timestamp: end) }  // isb_endtime
        if let received { block.option(4, u64: received) }  // isb_ifrecv
        if let dropped { block.option(5, u64: dropped) }  // isb_ifdrop
        block.endOfOptions()
        try append(block, packets: 0)
    }

    /// Writes the buffered blocks to the file.
    public func flush() throws(CaptureError) {
        if let failure {
            throw failure
        }
        var written = 0
        while written < used {
            let n = systemWrite(fd, buffer + written, used - written)
            if n > 0 {
                written += n
                continue
            }
            let err = n < 0 ? errno : ENOSPC
            if err == EINTR {
                continue
            }
            // Keep the file readable: cut it back to the last block that reached the disk whole.
            var packets = durablePackets
            var keep = 0
            for (end, count) in blockEnds where end <= written {
                keep = end
                packets = count
            }
            if ownsDescriptor {
                _ = ftruncate(fd, off_t(durableBytes + UInt64(keep)))
            }
            let full = err == ENOSPC || err == EDQUOT
            let error = CaptureError(
                full ? .diskFull : .io,
                (full ? "disk full" : "write failed: \(errnoText(err))")
                    + "; the file is valid up to packet \(packets) (\(packetsWritten - packets) packets lost); "
                    + (full ? "free some space or write elsewhere" : "check the disk and the path"),
                source: path
            )
            failure = error
            throw error
        }
        durableBytes += UInt64(used)
        durablePackets = packetsWritten
        used = 0
        blockEnds.removeAll(keepingCapacity: true)
    }

    /// Flushes and closes the file. Further writes throw.
    public func close() throws(CaptureError) {
        guard !closed else { return }
        defer {
            closed = true
            if ownsDescriptor {
                systemClose(fd)
            }
        }
        try flush()
        if ownsDescriptor && fsync(fd) != 0 {
            let err = errno
            if err != EINVAL && err != EROFS {
                throw CaptureError(
                    err == ENOSPC ? .diskFull : .io,
                    "cannot sync the capture file: \(errnoText(err))",
                    source: path
                )
            }
        }
    }

    // MARK: - Buffer

    private func writeSectionHeader(_ section: SectionInfo) throws(CaptureError) {
        var block = BlockBuilder(type: 0x0A0D_0D0A)
        block.u32(0x1A2B_3C4D)
        block.u16(1)
        block.u16(0)
        block.u64(UInt64.max)  // section length: not given
        if let comment = section.comment { block.option(1, text: comment) }
        if let hardware = section.hardware { block.option(2, text: hardware) }
        if let os = section.os { block.option(3, text: os) }
        block.option(4, text: section.application)
        block.endOfOptions()
        try append(block, packets: 0)
    }

    private func reserve(_ count: Int) throws(CaptureError) {
        if let failure {
            throw failure
        }
        if closed {
            throw CaptureError(.io, "internal error: write after close", source: path)
        }
        if capacity - used < count {
            try flush()
        }
        if count > capacity {
            // A block bigger than the whole buffer: grow it for this block (rare: packets up to 256 KiB).
            let bigger = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 16)
            buffer.deallocate()
            buffer = bigger
            capacity = count
        }
    }

    private func append(_ block: BlockBuilder, packets: Int) throws(CaptureError) {
        let bytes = block.finished()
        try reserve(bytes.count)
        bytes.withUnsafeBytes { raw in
            (buffer + used).copyMemory(from: raw.baseAddress!, byteCount: raw.count)
        }
        used += bytes.count
        packetsWritten += packets
        blockEnds.append((used, packetsWritten))
    }
}

/// Writes little-endian words at a raw pointer (the writer's buffer has room: `reserve` checked it).
private struct BlockCursor {
    var base: UnsafeMutableRawPointer
    var offset = 0

    mutating func u16(_ value: UInt16) {
        base.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt16.self)
        offset += 2
    }

    mutating func u32(_ value: UInt32) {
        base.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self)
        offset += 4
    }

    mutating func bytes(_ data: UnsafeRawBufferPointer) {
        if let source = data.baseAddress, data.count > 0 {
            (base + offset).copyMemory(from: source, byteCount: data.count)
        }
        offset += data.count
    }

    mutating func zeros(_ count: Int) {
        if count > 0 {
            (base + offset).initializeMemory(as: UInt8.self, repeating: 0, count: count)
        }
        offset += count
    }
}

/// Builds a non-packet block (rare: headers and statistics) in a little-endian byte array.
private struct BlockBuilder {
    var bytes: [UInt8] = []

    init(type: UInt32) {
        bytes.reserveCapacity(128)
        u32(type)
        u32(0)  // total length, patched by `finished()`
    }

    mutating func u16(_ value: UInt16) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func u32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func u64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func option(_ code: UInt16, bytes value: [UInt8]) {
        u16(code)
        u16(UInt16(value.count))
        bytes.append(contentsOf: value)
        while bytes.count % 4 != 0 { bytes.append(0) }
    }

    mutating func option(_ code: UInt16, text: String) {
        option(code, bytes: Array(text.utf8.prefix(1024)))
    }

    mutating func option(_ code: UInt16, u64 value: UInt64) {
        var v: [UInt8] = []
        withUnsafeBytes(of: value.littleEndian) { v.append(contentsOf: $0) }
        option(code, bytes: v)
    }

    /// A pcapng timestamp option: high 32 bits then low 32 bits, in the interface's units (nanoseconds).
    mutating func option(_ code: UInt16, timestamp: Int64) {
        let units = UInt64(max(timestamp, 0))
        var v: [UInt8] = []
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: units >> 32).littleEndian) { v.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: units).littleEndian) { v.append(contentsOf: $0) }
        option(code, bytes: v)
    }

    mutating func endOfOptions() {
        u32(0)
    }

    func finished() -> [UInt8] {
        var result = bytes
        let total = UInt32(result.count + 4)
        withUnsafeBytes(of: total.littleEndian) { result.append(contentsOf: $0) }
        result.replaceSubrange(4..<8, with: withUnsafeBytes(of: total.littleEndian) { Array($0) })
        return result
    }
}

/// A NUL-terminated C string inside a fixed-size field.
private func cString(_ raw: UnsafeRawBufferPointer) -> String {
    let end = raw.firstIndex(of: 0) ?? raw.count
    return String(decoding: raw[..<end], as: UTF8.self)
}

private func systemWrite(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, pointer, count)
}

private func systemClose(_ fd: Int32) {
    close(fd)
}
