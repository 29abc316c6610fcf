/// Slots of a table by their key's hash (for a chained table, the first slot of each key's chain): an
/// open-addressing table of 8-byte entries (the low 32 bits of the hash and the slot), so that a lookup touches a
/// small table and then the slot it names, whose key the caller compares. Linear probing; removal shifts the entries
/// after it back (no tombstones). It never holds more than half its entries, so it costs 16 to 32 bytes per slot
/// (a Dictionary keyed by the key itself costs the key's size again, at up to four thirds).
package struct SlotIndex {
    package init() {}

    /// `UInt64(hash low bits) << 32 | UInt64(slot + 1)`; 0 is empty.
    private var entries = [UInt64](repeating: 0, count: 1024)
    /// Entries held.
    package private(set) var count = 0

    private var mask: Int { self.entries.count - 1 }

    private static func home(_ entry: UInt64, mask: Int) -> Int { Int(truncatingIfNeeded: entry >> 32) & mask }

    /// The entry for `hash` whose slot passes `matches`: its position and slot.
    package func find(hash: Int, where matches: (Int32) -> Bool) -> (position: Int, slot: Int32)? {
        let fingerprint = UInt64(UInt32(truncatingIfNeeded: hash))
        let mask = self.mask
        var position = Int(fingerprint) & mask
        while true {
            let entry = self.entries[position]
            if entry == 0 { return nil }
            if entry >> 32 == fingerprint {
                let slot = Int32(truncatingIfNeeded: entry & 0xffff_ffff) - 1
                if matches(slot) { return (position, slot) }
            }
            position = (position + 1) & mask
        }
    }

    /// Adds `slot` for `hash` (the caller knows no entry matches).
    package mutating func insert(_ slot: Int32, hash: Int) {
        if (self.count + 1) * 2 > self.entries.count { self.grow() }
        let entry = UInt64(UInt32(truncatingIfNeeded: hash)) << 32 | UInt64(UInt32(bitPattern: slot + 1))
        self.place(entry)
        self.count += 1
    }

    private mutating func place(_ entry: UInt64) {
        let mask = self.mask
        var position = Self.home(entry, mask: mask)
        while self.entries[position] != 0 { position = (position + 1) & mask }
        self.entries[position] = entry
    }

    private mutating func grow() {
        let old = self.entries
        self.entries = [UInt64](repeating: 0, count: old.count * 2)
        for entry in old where entry != 0 { self.place(entry) }
    }

    /// Points the entry at `position` to another slot (same key).
    package mutating func update(at position: Int, to slot: Int32) {
        self.entries[position] =
            self.entries[position] & 0xffff_ffff_0000_0000 | UInt64(UInt32(bitPattern: slot + 1))
    }

    /// Removes the entry at `position`, moving back later entries of the same probe run that may not stay.
    package mutating func remove(at position: Int) {
        let mask = self.mask
        var hole = position
        var next = position
        while true {
            next = (next + 1) & mask
            let entry = self.entries[next]
            if entry == 0 { break }
            let home = Self.home(entry, mask: mask)
            // The entry stays if its home is cyclically in (hole, next].
            let stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next)
            if stays { continue }
            self.entries[hole] = entry
            hole = next
        }
        self.entries[hole] = 0
        self.count -= 1
    }

    package mutating func removeAll() {
        self.entries = [UInt64](repeating: 0, count: 1024)
        self.count = 0
    }
}
