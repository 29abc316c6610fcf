#if canImport(Glibc)
import Glibc
#endif

/// A zeroed table of 64-bit words in memory of its own, which the kernel is asked to back with huge pages
/// (`madvise(MADV_HUGEPAGE)`, honoured where transparent huge pages are on, `always` or `madvise`).
///
/// A table of megabytes read at random (a hash table of tuples under a flood) costs, on 4 KiB pages, a TLB miss and
/// a page walk on top of the cache miss at almost every read: measured on `floods.py ka 500000`, the table of given-up
/// tuples took 6% of `trace`'s time for 1% of its instructions.
final class WordTable {
    /// The words (`count` of them, zero at first).
    let words: UnsafeMutablePointer<UInt64>
    let count: Int
    private let mapping: UnsafeMutableRawPointer?
    private let mappedBytes: Int

    init(count: Int) {
        self.count = count
        let bytes = count * MemoryLayout<UInt64>.stride
        #if canImport(Glibc)
        // Room to align the start to a huge page (2 MiB): only whole aligned huge pages can back a mapping.
        let huge = 2 << 20
        let length = bytes + huge
        let mapped = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        if let mapped, mapped != MAP_FAILED {
            let aligned = (Int(bitPattern: mapped) + huge - 1) & ~(huge - 1)
            let start = UnsafeMutableRawPointer(bitPattern: aligned)!
            _ = madvise(start, bytes, MADV_HUGEPAGE)
            self.mapping = mapped
            self.mappedBytes = length
            // Anonymous mappings are zero-filled.
            self.words = start.bindMemory(to: UInt64.self, capacity: count)
            return
        }
        #endif
        self.mapping = nil
        self.mappedBytes = 0
        self.words = .allocate(capacity: count)
        self.words.initialize(repeating: 0, count: count)
    }

    deinit {
        #if canImport(Glibc)
        if let mapping {
            munmap(mapping, mappedBytes)
            return
        }
        #endif
        words.deallocate()
    }
}
