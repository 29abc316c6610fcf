#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A buffered, forward-only reader over a file descriptor (a file or standard input).
///
/// The buffer holds 2 MiB at first and is refilled with `read(2)` as the cursor advances, so memory stays flat
/// however large the file is; it grows only when one record is larger than the buffer (up to ``maximumRecord``).
/// Bytes handed out by ``bytes(_:)`` point into the buffer and stay valid until the next ``fill(_:)`` or
/// ``skip(_:)``: a reader built on it returns packets whose bytes are valid until its next `next()`.
final class FileByteReader {
    /// The largest single record (pcap record or pcapng block) the buffer grows to hold.
    static let maximumRecord = 64 << 20
    /// The size of the buffer before any record forces it to grow.
    static let initialCapacity = 2 << 20

    /// The name used in error messages: the path as given, or `stdin`.
    let displayName: String
    /// The descriptor read, or -1 when reading from `memory`.
    private let fd: Int32
    /// In-memory input (fuzzing and tests): the bytes, how far they have been handed out, and the largest piece one
    /// `read` returns (small pieces exercise the refill path as a slow pipe would).
    private var memory: [UInt8] = []
    private var memoryPosition = 0
    private var memoryChunk = 0
    private let ownsDescriptor: Bool
    // Internal, not `@usableFromInline`: every access is visible to the optimizer, which can then drop the dynamic
    // exclusivity checks the per-packet cursor moves would otherwise cost.
    private(set) var storage: UnsafeMutableRawPointer
    private var capacity: Int
    private(set) var start = 0
    private(set) var end = 0
    private var atEOF = false
    /// The file offset of `storage[0]`.
    private var baseOffset: UInt64 = 0

    /// Opens `path` for reading; `-` is standard input.
    convenience init(path: String) throws(CaptureError) {
        if path == "-" {
            self.init(descriptor: 0, name: "stdin", owned: false)
            return
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let err = errno
            switch err {
            case ENOENT:
                throw CaptureError(.cannotOpen, "no such file; check the path", source: path)
            case EACCES, EPERM:
                throw CaptureError(
                    .cannotOpen,
                    "permission denied; make the file readable or run as its owner",
                    source: path
                )
            case EMFILE, ENFILE:
                throw CaptureError(
                    .cannotOpen,
                    "cannot open: too many files open at once; raise the limit (`ulimit -n`) or merge the captures "
                        + "into fewer files first (`mergecap -w merged.pcapng FILES`)",
                    source: path
                )
            default:
                throw CaptureError(.cannotOpen, "cannot open: \(errnoText(err))", source: path)
            }
        }
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            throw CaptureError(.cannotOpen, "is a directory; give a pcap or pcapng file", source: path)
        }
        self.init(descriptor: fd, name: path, owned: true)
    }

    /// Reads from an open descriptor (a pipe, a socket, a file), closing it at the end when `owned`.
    init(descriptor: Int32, name: String, owned: Bool) {
        self.fd = descriptor
        self.ownsDescriptor = owned
        self.displayName = name
        self.capacity = Self.initialCapacity
        self.storage = UnsafeMutableRawPointer.allocate(byteCount: Self.initialCapacity, alignment: 16)
    }

    /// Reads `bytes` from memory, at most `chunk` bytes per refill step, as if they were a file named `name`.
    init(bytes: [UInt8], chunk: Int = .max, name: String = "memory") {
        self.fd = -1
        self.ownsDescriptor = false
        self.displayName = name
        self.memory = bytes
        self.memoryChunk = max(chunk, 1)
        // Small inputs get a small buffer (cheap fuzzing runs; the growth path gets exercised too).
        self.capacity = max(64, min(bytes.count, Self.initialCapacity))
        self.storage = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 16)
    }

    deinit {
        storage.deallocate()
        if ownsDescriptor {
            close(fd)
        }
    }

    /// The number of buffered bytes at the cursor.
    var available: Int { end - start }

    /// The file offset of the cursor.
    var offset: UInt64 { baseOffset + UInt64(start) }

    /// Makes at least `count` bytes available at the cursor, reading as needed.
    ///
    /// - Returns: `false` when the input ends first (``available`` then tells how many bytes there were).
    @inline(__always)
    func fill(_ count: Int) throws(CaptureError) -> Bool {
        if end - start >= count {
            return true
        }
        return try refill(count)
    }

    func refill(_ count: Int) throws(CaptureError) -> Bool {
        if atEOF {
            return false
        }
        if count > capacity {
            guard count <= Self.maximumRecord else {
                return false
            }
            var newCapacity = capacity
            while newCapacity < count {
                newCapacity *= 2
            }
            let newStorage = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
            newStorage.copyMemory(from: storage + start, byteCount: end - start)
            storage.deallocate()
            storage = newStorage
            capacity = newCapacity
            baseOffset += UInt64(start)
            end -= start
            start = 0
        } else if start > 0 {
            // Move the unread tail to the front so the read fills the rest.
            let tail = end - start
            if tail > 0 {
                memmove(storage, storage + start, tail)
            }
            baseOffset += UInt64(start)
            start = 0
            end = tail
        }
        while end - start < count {
            let n = fd >= 0 ? read(fd, storage + end, capacity - end) : readMemory(capacity - end)
            if n > 0 {
                end += n
            } else if n == 0 {
                atEOF = true
                return false
            } else {
                let err = errno
                if err == EINTR {
                    continue
                }
                throw CaptureError(.io, "read failed: \(errnoText(err))", source: displayName, offset: offset)
            }
        }
        return true
    }

    private func readMemory(_ space: Int) -> Int {
        let n = min(space, memory.count - memoryPosition, memoryChunk)
        if n > 0 {
            memory.withUnsafeBytes { raw in
                if let base = raw.baseAddress { (storage + end).copyMemory(from: base + memoryPosition, byteCount: n) }
            }
            memoryPosition += n
        }
        return n
    }

    /// The `count` bytes at the cursor; ``fill(_:)`` must have returned `true` for at least `count`.
    @inline(__always)
    func bytes(_ count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage + start, count: count)
    }

    /// Moves the cursor past `count` bytes that are already buffered.
    @inline(__always)
    func consume(_ count: Int) {
        start += count
    }
}

/// `strerror` text for an errno value.
func errnoText(_ code: Int32) -> String {
    if let text = strerror(code) {
        return String(cString: text)
    }
    return "errno \(code)"
}

/// The last path component, for naming the single interface of a classic pcap file.
func baseName(_ path: String) -> String {
    if path == "-" {
        return "stdin"
    }
    if let slash = path.lastIndex(of: "/") {
        let name = path[path.index(after: slash)...]
        return name.isEmpty ? path : String(name)
    }
    return path
}

/// The file's name without its capture extension (`cni0` for `/tmp/node-a/cni0.pcap`): a classic pcap file taken with
/// `tcpdump -i IF -w IF.pcap` holds one interface, named by the file.
func interfaceName(ofFile path: String) -> String {
    let name = baseName(path)
    for suffix in [".pcap", ".cap", ".dmp"] where name.hasSuffix(suffix) && name.count > suffix.count {
        return String(name.dropLast(suffix.count))
    }
    return name
}

/// Little helpers over borrowed bytes in a file's byte order.
extension UnsafeRawBufferPointer {
    @inlinable
    func u16(_ offset: Int, bigEndian: Bool) -> UInt16 {
        let raw = self.loadUnaligned(fromByteOffset: offset, as: UInt16.self)
        return bigEndian ? UInt16(bigEndian: raw) : UInt16(littleEndian: raw)
    }

    @inlinable
    func u32(_ offset: Int, bigEndian: Bool) -> UInt32 {
        let raw = self.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
        return bigEndian ? UInt32(bigEndian: raw) : UInt32(littleEndian: raw)
    }

    @inlinable
    func u64(_ offset: Int, bigEndian: Bool) -> UInt64 {
        let raw = self.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        return bigEndian ? UInt64(bigEndian: raw) : UInt64(littleEndian: raw)
    }
}

/// Open-file limits.
public enum OpenFileLimit {
    /// Raises this process's soft limit on open files to its hard limit (capped at a million), as Go's runtime does
    /// at start: captures from many nodes and interfaces are read at once, one descriptor each, and the usual soft
    /// limit of 1,024 is a default, not a policy. Returns the soft limit now in force.
    @discardableResult
    public static func raise() -> Int {
        #if canImport(Glibc)
        let resource = Int32(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return -1 }
        let wanted = min(limit.rlim_max, 1 << 20)
        if limit.rlim_cur < wanted {
            var raised = limit
            raised.rlim_cur = wanted
            if setrlimit(resource, &raised) == 0 { return Int(wanted) }
        }
        return Int(limit.rlim_cur)
    }
}
