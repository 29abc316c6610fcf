#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Records a capture into one pcapng file, or a series of them rotated by size or time (`--rotate-size`,
/// `--rotate-seconds`), keeping at most `maxFiles` (the oldest are deleted).
///
/// Rotation happens between two packets, on the capturing thread: the packet that crosses the limit goes to the new
/// file, so no packet is lost at a boundary (the kernel buffers arriving packets meanwhile). Each file is a complete
/// pcapng: its own section header, a description block for each interface it holds, and statistics blocks (cumulative
/// since the capture started) when it is closed.
public final class RotatingRecorder {
    /// When to start a new file.
    public struct Rotation: Sendable, Hashable {
        /// Start a new file once the current one holds this many bytes.
        public var bytes: UInt64?
        /// Start a new file once a packet is this many nanoseconds later than the first one of the current file.
        public var nanoseconds: Int64?
        /// Keep at most this many files, deleting the oldest.
        public var maxFiles: Int?

        /// A rotation policy; all nil means one file.
        public init(bytes: UInt64? = nil, nanoseconds: Int64? = nil, maxFiles: Int? = nil) {
            self.bytes = bytes
            self.nanoseconds = nanoseconds
            self.maxFiles = maxFiles
        }

        /// Whether any rotation is asked for.
        public var rotates: Bool { bytes != nil || nanoseconds != nil }
    }

    /// The paths written so far that still exist, oldest first.
    public private(set) var files: [String] = []
    /// Packets written over all files.
    public private(set) var packets = 0
    /// Bytes written over all files.
    public private(set) var bytes: UInt64 = 0

    private let path: String
    private let rotation: Rotation
    private let section: PcapngWriter.SectionInfo
    private var recorder: CaptureRecorder
    private var fileIndex = 0
    private var fileStart: Int64?
    private var closedBytes: UInt64 = 0

    /// Creates the first file: `path` itself when not rotating, else `name-00000.ext` (then `-00001`, ...).
    public init(
        path: String,
        rotation: Rotation = Rotation(),
        section: PcapngWriter.SectionInfo = .currentHost()
    ) throws(CaptureError) {
        self.path = path
        self.rotation = rotation
        self.section = section
        let first = rotation.rotates ? Self.rotatedName(path, 0) : path
        recorder = CaptureRecorder(writer: try PcapngWriter(path: first, section: section))
        files = [first]
    }

    /// The name of the `index`-th file of a rotated capture: `dir/name-00003.pcapng` for `dir/name.pcapng`.
    public static func rotatedName(_ path: String, _ index: Int) -> String {
        let slash = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
        let number = String(index)
        let padded = String(repeating: "0", count: max(0, 5 - number.count)) + number
        if let dot = path[slash...].lastIndex(of: "."), dot > slash {
            return "\(path[..<dot])-\(padded)\(path[dot...])"
        }
        return "\(path)-\(padded)"
    }

    /// Writes `packet` of `source`, first moving to a new file if the current one is full or old enough.
    ///
    /// - Parameter statistics: the capture's counters, written into the file being closed at a rotation.
    public func record(
        _ packet: Packet,
        from source: any PacketSource,
        statistics: () -> [LiveSource.Statistics] = { [] }
    ) throws(CaptureError) {
        if rotation.rotates && recorder.packets > 0 {
            let full = rotation.bytes.map { recorder.writer.byteCount >= $0 } ?? false
            let old = rotation.nanoseconds.map { packet.timestamp &- (fileStart ?? packet.timestamp) >= $0 } ?? false
            if full || old {
                try rotate(statistics: statistics(), interfaces: source.interfaces)
            }
        }
        if fileStart == nil {
            fileStart = packet.timestamp
        }
        let before = recorder.writer.byteCount
        try recorder.record(packet, from: source)
        bytes += recorder.writer.byteCount - before
        packets += 1
    }

    /// Writes the statistics blocks and closes the current file.
    public func finish(
        statistics: [LiveSource.Statistics],
        interfaces: [InterfaceDescription],
        start: Int64
    ) throws(CaptureError) {
        try recorder.writeStatistics(statistics, interfaces: interfaces, start: start, end: wallClockNanoseconds())
        try recorder.writer.close()
    }

    private func rotate(statistics: [LiveSource.Statistics], interfaces: [InterfaceDescription]) throws(CaptureError) {
        let now = wallClockNanoseconds()
        try recorder.writeStatistics(statistics, interfaces: interfaces, start: fileStart ?? now, end: now)
        try recorder.writer.close()
        fileIndex += 1
        let next = Self.rotatedName(path, fileIndex)
        recorder = CaptureRecorder(writer: try PcapngWriter(path: next, section: section))
        fileStart = nil
        files.append(next)
        if let maxFiles = rotation.maxFiles, maxFiles > 0 {
            while files.count > maxFiles {
                let oldest = files.removeFirst()
                _ = unlink(oldest)
            }
        }
    }
}
