#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where record writers put their bytes: a buffer written to a file descriptor (standard output by default) with one
/// write(2) per 64 KiB, not per line, or kept in memory (for tests and for callers that want the text).
///
/// Writers append to ``bytes`` directly (`writer.write(record, context: ..., to: &output.bytes)`), then call
/// ``endRecord()``, which writes the buffer out once it holds 64 KiB. ``flush()`` writes what is left; it runs
/// before an error line is printed, so that everything read before a fault is out first, and on deinit.
///
/// It lives beside the writers (not in the CLI) so that a record's bytes go from the writer to the buffer without a
/// copy, and so that tests can run a writer into memory without a process.
public final class BufferedOutput {
    /// The bytes not yet written out.
    public var bytes: [UInt8]
    /// The file descriptor written to; nil keeps everything in ``bytes``.
    public let fileDescriptor: Int32?
    /// Bytes kept before a write(2).
    private static let flushThreshold = 1 << 16

    /// Output to `fileDescriptor` (standard output by default).
    public init(fileDescriptor: Int32 = 1) {
        self.fileDescriptor = fileDescriptor
        self.bytes = []
        self.bytes.reserveCapacity(Self.flushThreshold + 4096)
    }

    /// Output kept in memory: ``text`` is everything written.
    public init(inMemory: Void) {
        self.fileDescriptor = nil
        self.bytes = []
    }

    deinit {
        self.flush()
    }

    /// Everything written so far, as text (for output kept in memory).
    public var text: String { String(decoding: self.bytes, as: UTF8.self) }

    /// Appends text as it is.
    public func write(_ text: String) {
        self.bytes.append(contentsOf: text.utf8)
        self.endRecord()
    }

    /// Appends text and a newline.
    public func line(_ text: String) {
        self.bytes.append(contentsOf: text.utf8)
        self.bytes.append(0x0A)
        self.endRecord()
    }

    /// Writes the buffer out when it holds 64 KiB or more (a no-op for output kept in memory).
    @inline(__always)
    public func endRecord() {
        if self.bytes.count >= Self.flushThreshold, self.fileDescriptor != nil { self.flush() }
    }

    /// Writes out everything buffered (a no-op for output kept in memory).
    public func flush() {
        guard let fileDescriptor, !self.bytes.isEmpty else { return }
        self.bytes.withUnsafeBytes { writeAll(fileDescriptor, $0) }
        self.bytes.removeAll(keepingCapacity: true)
    }
}

/// write(2) until all of `raw` is written (or writing fails: a closed pipe ends the output, as for tcpdump).
private func writeAll(_ fileDescriptor: Int32, _ raw: UnsafeRawBufferPointer) {
    guard let base = raw.baseAddress else { return }
    var offset = 0
    while offset < raw.count {
        let written = write(fileDescriptor, base + offset, raw.count - offset)
        if written <= 0 {
            if written < 0 && errno == EINTR { continue }
            return
        }
        offset += written
    }
}
