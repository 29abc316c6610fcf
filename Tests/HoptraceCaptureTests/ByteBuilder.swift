/// Builds capture files byte by byte, in either byte order, for hand-made test inputs.
struct ByteBuilder {
    var bytes: [UInt8] = []
    var bigEndian: Bool

    init(bigEndian: Bool = false) {
        self.bigEndian = bigEndian
    }

    mutating func u8(_ value: UInt8) {
        bytes.append(value)
    }

    mutating func u16(_ value: UInt16) {
        let v = bigEndian ? value.bigEndian : value.littleEndian
        withUnsafeBytes(of: v) { bytes.append(contentsOf: $0) }
    }

    mutating func u32(_ value: UInt32) {
        let v = bigEndian ? value.bigEndian : value.littleEndian
        withUnsafeBytes(of: v) { bytes.append(contentsOf: $0) }
    }

    mutating func u64(_ value: UInt64) {
        let v = bigEndian ? value.bigEndian : value.littleEndian
        withUnsafeBytes(of: v) { bytes.append(contentsOf: $0) }
    }

    mutating func raw(_ data: [UInt8]) {
        bytes.append(contentsOf: data)
    }

    mutating func pad4() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }
}

/// Classic pcap files.
enum PcapBuilder {
    static func header(
        magic: UInt32 = 0xa1b2_c3d4,
        bigEndian: Bool = false,
        major: UInt16 = 2,
        minor: UInt16 = 4,
        snaplen: UInt32 = 65535,
        linkType: UInt32 = 1
    ) -> ByteBuilder {
        var b = ByteBuilder(bigEndian: bigEndian)
        b.u32(magic)
        b.u16(major)
        b.u16(minor)
        b.u32(0)
        b.u32(0)
        b.u32(snaplen)
        b.u32(linkType)
        return b
    }

    static func record(
        _ b: inout ByteBuilder,
        seconds: UInt32,
        fraction: UInt32,
        data: [UInt8],
        originalLength: UInt32? = nil
    ) {
        b.u32(seconds)
        b.u32(fraction)
        b.u32(UInt32(data.count))
        b.u32(originalLength ?? UInt32(data.count))
        b.raw(data)
    }
}

/// pcapng blocks.
enum PcapngBuilder {
    /// One option: code, length, value padded to 4.
    static func option(_ code: UInt16, _ value: [UInt8], bigEndian: Bool) -> [UInt8] {
        var b = ByteBuilder(bigEndian: bigEndian)
        b.u16(code)
        b.u16(UInt16(value.count))
        b.raw(value)
        b.pad4()
        return b.bytes
    }

    static func endOfOptions(bigEndian: Bool) -> [UInt8] {
        [0, 0, 0, 0]
    }

    /// A block: type, total length, body (padded to 4), total length.
    static func block(_ type: UInt32, _ body: [UInt8], bigEndian: Bool, trailer: UInt32? = nil) -> [UInt8] {
        var padded = body
        while padded.count % 4 != 0 { padded.append(0) }
        var b = ByteBuilder(bigEndian: bigEndian)
        let total = UInt32(12 + padded.count)
        b.u32(type)
        b.u32(total)
        b.raw(padded)
        b.u32(trailer ?? total)
        return b.bytes
    }

    static func sectionHeader(bigEndian: Bool, major: UInt16 = 1, minor: UInt16 = 0, options: [UInt8] = []) -> [UInt8] {
        var b = ByteBuilder(bigEndian: bigEndian)
        b.u32(0x1A2B_3C4D)
        b.u16(major)
        b.u16(minor)
        b.u64(UInt64.max)  // section length unknown (-1)
        b.raw(options)
        return block(0x0A0D_0D0A, b.bytes, bigEndian: bigEndian)
    }

    static func interface(
        bigEndian: Bool,
        linkType: UInt16 = 1,
        snaplen: UInt32 = 0,
        name: String? = nil,
        tsresol: UInt8? = nil,
        tsoffset: Int64? = nil,
        extraOptions: [UInt8] = []
    ) -> [UInt8] {
        var b = ByteBuilder(bigEndian: bigEndian)
        b.u16(linkType)
        b.u16(0)
        b.u32(snaplen)
        if let name { b.raw(option(2, Array(name.utf8), bigEndian: bigEndian)) }
        if let tsresol { b.raw(option(9, [tsresol], bigEndian: bigEndian)) }
        if let tsoffset {
            var v = ByteBuilder(bigEndian: bigEndian)
            v.u64(UInt64(bitPattern: tsoffset))
            b.raw(option(14, v.bytes, bigEndian: bigEndian))
        }
        b.raw(extraOptions)
        if name != nil || tsresol != nil || tsoffset != nil || !extraOptions.isEmpty {
            b.raw(endOfOptions(bigEndian: bigEndian))
        }
        return block(1, b.bytes, bigEndian: bigEndian)
    }

    static func enhancedPacket(
        bigEndian: Bool,
        interface: UInt32,
        timestamp: UInt64,
        data: [UInt8],
        originalLength: UInt32? = nil,
        flags: UInt32? = nil,
        rawOptions: [UInt8] = []
    ) -> [UInt8] {
        var b = ByteBuilder(bigEndian: bigEndian)
        b.u32(interface)
        b.u32(UInt32(timestamp >> 32))
        b.u32(UInt32(truncatingIfNeeded: timestamp))
        b.u32(UInt32(data.count))
        b.u32(originalLength ?? UInt32(data.count))
        b.raw(data)
        b.pad4()
        if let flags {
            var v = ByteBuilder(bigEndian: bigEndian)
            v.u32(flags)
            b.raw(option(2, v.bytes, bigEndian: bigEndian))
            b.raw(endOfOptions(bigEndian: bigEndian))
        }
        b.raw(rawOptions)
        return block(6, b.bytes, bigEndian: bigEndian)
    }

    static func simplePacket(bigEndian: Bool, originalLength: UInt32, data: [UInt8]) -> [UInt8] {
        var b = ByteBuilder(bigEndian: bigEndian)
        b.u32(originalLength)
        b.raw(data)
        return block(3, b.bytes, bigEndian: bigEndian)
    }

    static func obsoletePacket(
        bigEndian: Bool,
        interface: UInt16,
        timestamp: UInt64,
        data: [UInt8],
        originalLength: UInt32? = nil,
        flags: UInt32? = nil
    ) -> [UInt8] {
        var b = ByteBuilder(bigEndian: bigEndian)
        b.u16(interface)
        b.u16(0)  // drops count
        b.u32(UInt32(timestamp >> 32))
        b.u32(UInt32(truncatingIfNeeded: timestamp))
        b.u32(UInt32(data.count))
        b.u32(originalLength ?? UInt32(data.count))
        b.raw(data)
        b.pad4()
        if let flags {
            var v = ByteBuilder(bigEndian: bigEndian)
            v.u32(flags)
            b.raw(option(2, v.bytes, bigEndian: bigEndian))
            b.raw(endOfOptions(bigEndian: bigEndian))
        }
        return block(2, b.bytes, bigEndian: bigEndian)
    }
}

/// Some packet-like bytes of a given length.
func payload(_ count: Int, seed: UInt8 = 0) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0) &+ seed }
}
