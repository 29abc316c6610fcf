/// A hash table from ids the program numbers itself (flow records' ids, in the order the flow stage made them) to
/// values: open addressing with linear probing in one array of slots, the key beside its value, and a multiplicative
/// hash (Fibonacci hashing), which spreads consecutive ids evenly.
///
/// The correlator asks where a record stands once or twice per flow record; under a flood that is millions of lookups,
/// most of them misses. `Dictionary` hashes each key with SipHash (a per-process seed, ~100 instructions) and keeps
/// keys and values in separate arrays (two cache misses); here a lookup is a multiply, and a miss mostly reads only a
/// byte array of tags (seven bits of the hash per slot, a sixteenth of the slots' size: it stays in the core's cache
/// where the slots do not), a hit one slot besides.
/// Not for keys from the wire: an adversary choosing keys could make every one land in the same run.
struct IDTable<Key: FixedWidthInteger, Value> {
    private struct Slot {
        /// The key plus one; 0 marks an empty slot.
        var stored: UInt64
        var value: Value?
    }

    private var slots: [Slot]
    /// Per slot: 0 when empty, else 0x80 and seven bits of the key's hash (a miss is mostly decided here).
    private var tags: [UInt8]
    private var shift: UInt64
    /// Keys held.
    private(set) var count = 0
    /// The one key that cannot be stored plus one (`UInt64.max`), held apart.
    private var maxKeyValue: Value?

    /// An empty table.
    init() {
        slots = Array(repeating: Slot(stored: 0, value: nil), count: 16)
        tags = Array(repeating: 0, count: 16)
        shift = 64 - 4
    }

    var isEmpty: Bool { count == 0 }

    @inline(__always)
    private func home(_ stored: UInt64) -> Int {
        Int(truncatingIfNeeded: (stored &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    @inline(__always)
    private static func tag(_ stored: UInt64) -> UInt8 {
        UInt8(truncatingIfNeeded: (stored &* 0x9E37_79B9_7F4A_7C15) >> 24) | 0x80
    }

    /// The slot holding `key`, or nil.
    @inline(__always)
    private func find(_ stored: UInt64) -> Int? {
        let mask = slots.count - 1
        let tag = Self.tag(stored)
        var index = home(stored)
        while true {
            let found = tags[index]
            if found == 0 { return nil }
            if found == tag, slots[index].stored == stored { return index }
            index = (index + 1) & mask
        }
    }

    /// The value of `key`, or nil; setting nil removes it.
    subscript(id: Key) -> Value? {
        get {
            let key = UInt64(truncatingIfNeeded: id)
            guard key != .max else { return maxKeyValue }
            guard let index = find(key &+ 1) else { return nil }
            return slots[index].value
        }
        set {
            let key = UInt64(truncatingIfNeeded: id)
            guard key != .max else {
                count += (newValue != nil ? 1 : 0) - (maxKeyValue != nil ? 1 : 0)
                maxKeyValue = newValue
                return
            }
            let stored = key &+ 1
            if let index = find(stored) {
                if let newValue {
                    slots[index].value = newValue
                } else {
                    remove(at: index)
                }
            } else if let newValue {
                if (count + 1) * 2 > slots.count { grow() }
                let mask = slots.count - 1
                var index = home(stored)
                while tags[index] != 0 { index = (index + 1) & mask }
                slots[index] = Slot(stored: stored, value: newValue)
                tags[index] = Self.tag(stored)
                count += 1
            }
        }
    }

    /// Empties slot `index` and moves back the slots after it that would no longer be found (backward-shift
    /// deletion: no tombstones, so lookups stay as short as the table is full).
    private mutating func remove(at index: Int) {
        let mask = slots.count - 1
        var hole = index
        var next = (index + 1) & mask
        while tags[next] != 0 {
            let wanted = home(slots[next].stored)
            // The entry at `next` may fill the hole unless its home lies cyclically in (hole, next].
            let stays = hole <= next ? (hole < wanted && wanted <= next) : (hole < wanted || wanted <= next)
            if !stays {
                slots[hole] = slots[next]
                tags[hole] = tags[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        slots[hole] = Slot(stored: 0, value: nil)
        tags[hole] = 0
        count -= 1
    }

    /// The values, in no particular order.
    var values: [Value] {
        var values: [Value] = []
        values.reserveCapacity(count)
        for slot in slots where slot.stored != 0 {
            if let value = slot.value { values.append(value) }
        }
        if let maxKeyValue { values.append(maxKeyValue) }
        return values
    }

    private mutating func grow() {
        rebuild(capacity: slots.count * 2)
    }

    /// Moves every entry into a table of `capacity` slots (a power of two, at least twice the count).
    private mutating func rebuild(capacity: Int) {
        let old = slots
        slots = Array(repeating: Slot(stored: 0, value: nil), count: capacity)
        tags = Array(repeating: 0, count: capacity)
        shift = 64 - UInt64(capacity.trailingZeroBitCount)
        let mask = capacity - 1
        for slot in old where slot.stored != 0 {
            var index = home(slot.stored)
            while tags[index] != 0 { index = (index + 1) & mask }
            slots[index] = slot
            tags[index] = Self.tag(slot.stored)
        }
    }

    /// Removes the entries `shouldRemove` says so of, and sizes the table to what is left.
    mutating func removeAll(where shouldRemove: (Key, Value) -> Bool) {
        var kept = 0
        for index in slots.indices where slots[index].stored != 0 {
            if let value = slots[index].value, shouldRemove(Key(truncatingIfNeeded: slots[index].stored &- 1), value) {
                slots[index] = Slot(stored: 0, value: nil)
                tags[index] = 0
            } else {
                kept += 1
            }
        }
        if let value = maxKeyValue, shouldRemove(Key(truncatingIfNeeded: UInt64.max), value) { maxKeyValue = nil }
        count = kept + (maxKeyValue != nil ? 1 : 0)
        // Emptied slots broke probe runs: placing every entry again mends them (in a table sized to what is left).
        var capacity = 16
        while capacity < kept * 2 + 2 { capacity *= 2 }
        rebuild(capacity: capacity)
    }
}
