/// Opens a capture file, pcap or pcapng, by its magic number (not its name).
///
/// - Parameter path: the file, or `-` for standard input.
/// - Returns: a ``PcapFileReader`` or a ``PcapngFileReader``, with the file's header already read.
/// - Throws: ``CaptureError`` with code `.cannotOpen`, `.empty`, `.notACapture`, `.unsupportedVersion`,
///   `.corrupt` or `.truncated`; its description is one line naming the problem and the fix.
public func openCaptureFile(path: String) throws(CaptureError) -> any PacketSource {
    try openCapture(FileByteReader(path: path))
}

/// Opens a capture held in memory (`name` is used in error messages); for tests and fuzzing.
func openCapture(bytes: [UInt8], chunk: Int = .max, name: String = "memory") throws(CaptureError) -> any PacketSource {
    try openCapture(FileByteReader(bytes: bytes, chunk: chunk, name: name))
}

func openCapture(_ reader: FileByteReader) throws(CaptureError) -> any PacketSource {
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
    let magic = reader.bytes(4).u32(0, bigEndian: false)
    switch magic {
    case 0x0A0D_0D0A:
        return try PcapngFileReader(reader: reader)
    case 0xa1b2_c3d4, 0xd4c3_b2a1, 0xa1b2_3c4d, 0x4d3c_b2a1, 0xa1b2_cd34, 0x34cd_b2a1:
        return try PcapFileReader(reader: reader)
    default:
        let shown = String(magic.byteSwapped, radix: 16)
        throw CaptureError(
            .notACapture,
            "not a pcap or pcapng file (magic 0x\(String(repeating: "0", count: 8 - shown.count))\(shown))"
                + "; hoptrace reads pcap and pcapng",
            source: reader.displayName
        )
    }
}
