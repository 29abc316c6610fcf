// The TCP connections being tracked, keyed per capture point by their addresses and ports as seen there (in a
// canonical order, so both directions find the same entry).
//
// Every packet looks its connection up, so the table is an open-addressing hash index (linear probing,
// backward-shift deletion, load at most 1/2) over a slot array, with a cheap keyed multiply-xorshift hash instead of
// SipHash: the lookup was about 10% of `hoptrace requests` with `Dictionary` (issue 7). The hash key is drawn at
// random per table, so a capture crafted to collide cannot be prepared in advance. Nothing the table hands out
// depends on hash order: bulk removals return connections sorted by id.

struct ConnectionKey: Hashable {
    var capturePoint: Int
    var low: FlowEndpoint
    var high: FlowEndpoint

    @inline(__always)
    init(capturePoint: Int, _ a: FlowEndpoint, _ b: FlowEndpoint) {
        self.capturePoint = capturePoint
        if a < b {
            self.low = a
            self.high = b
        } else {
            self.low = b
            self.high = a
        }
    }

    /// A 64-bit hash keyed with `seed`: every field folded in with a multiply-xorshift round.
    @inline(__always)
    func hash(seed: UInt64) -> UInt64 {
        @inline(__always) func mix(_ h: UInt64, _ v: UInt64) -> UInt64 {
            let m = (h ^ v) &* 0x9E37_79B9_7F4A_7C15
            return m ^ (m >> 29)
        }
        var h = seed
        h = mix(h, self.low.address.low)
        h = mix(h, self.high.address.low)
        h = mix(h, self.low.address.high ^ (self.high.address.high &* 31))
        h = mix(
            h,
            UInt64(self.low.port) << 32 | UInt64(self.high.port) << 16
                | UInt64(UInt16(truncatingIfNeeded: self.capturePoint))
        )
        return h
    }
}

struct FlowTable {
    /// Connections by slot; nil slots are on the free list.
    private var slots: [TCPConnection?] = []
    /// Each slot's key (meaningful while the slot holds a connection).
    private var slotKeys: [ConnectionKey] = []
    private var freeSlots: [Int32] = []
    /// The hash index: slot numbers, -1 for an empty bucket; a power of two long.
    private var buckets: [Int32] = Array(repeating: -1, count: 64)
    private let seed: UInt64 = UInt64.random(in: .min ... .max) | 1
    private(set) var count = 0

    @inline(__always)
    private var mask: Int { self.buckets.count - 1 }

    /// The bucket holding `key`, or the empty bucket where it would go.
    @inline(__always)
    private func bucket(for key: ConnectionKey) -> (index: Int, found: Bool) {
        var index = Int(truncatingIfNeeded: key.hash(seed: self.seed)) & self.mask
        while true {
            let slot = self.buckets[index]
            if slot < 0 { return (index, false) }
            if self.slotKeys[Int(slot)] == key { return (index, true) }
            index = (index + 1) & self.mask
        }
    }

    subscript(key: ConnectionKey) -> TCPConnection? {
        get {
            let (index, found) = self.bucket(for: key)
            return found ? self.slots[Int(self.buckets[index])] : nil
        }
        set {
            let (index, found) = self.bucket(for: key)
            if found {
                if let newValue {
                    self.slots[Int(self.buckets[index])] = newValue
                } else {
                    self.removeBucket(index)
                }
            } else if let newValue {
                self.insert(newValue, key: key, bucket: index)
            }
        }
    }

    private mutating func insert(_ connection: TCPConnection, key: ConnectionKey, bucket: Int) {
        let slot: Int32
        if let free = self.freeSlots.popLast() {
            slot = free
            self.slots[Int(slot)] = connection
            self.slotKeys[Int(slot)] = key
        } else {
            slot = Int32(self.slots.count)
            self.slots.append(connection)
            self.slotKeys.append(key)
        }
        self.buckets[bucket] = slot
        self.count += 1
        if self.count * 2 > self.buckets.count { self.grow() }
    }

    private mutating func grow() {
        let old = self.buckets
        self.buckets = Array(repeating: -1, count: old.count * 2)
        for slot in old where slot >= 0 {
            var index = Int(truncatingIfNeeded: self.slotKeys[Int(slot)].hash(seed: self.seed)) & self.mask
            while self.buckets[index] >= 0 { index = (index + 1) & self.mask }
            self.buckets[index] = slot
        }
    }

    /// Empties bucket `index` and shifts later members of its probe run back (no tombstones).
    private mutating func removeBucket(_ index: Int) {
        let slot = Int(self.buckets[index])
        self.slots[slot] = nil
        self.freeSlots.append(Int32(slot))
        self.count -= 1
        var hole = index
        var next = (index + 1) & self.mask
        while self.buckets[next] >= 0 {
            let member = self.buckets[next]
            let home = Int(truncatingIfNeeded: self.slotKeys[Int(member)].hash(seed: self.seed)) & self.mask
            // Move the member into the hole unless its home lies cyclically in (hole, next].
            let distanceToNext = (next - home) & self.mask
            let distanceToHole = (hole - home) & self.mask
            if distanceToHole < distanceToNext {
                self.buckets[hole] = member
                hole = next
            }
            next = (next + 1) & self.mask
        }
        self.buckets[hole] = -1
    }

    /// Removes and returns the connections `isDue` selects, in creation order.
    mutating func remove(where isDue: (TCPConnection) -> Bool) -> [TCPConnection] {
        var due: [ConnectionKey] = []
        for slot in self.slots.indices {
            if let connection = self.slots[slot], isDue(connection) { due.append(self.slotKeys[slot]) }
        }
        return self.remove(keys: due)
    }

    private mutating func remove(keys: [ConnectionKey]) -> [TCPConnection] {
        var removed: [TCPConnection] = []
        removed.reserveCapacity(keys.count)
        for key in keys {
            let (index, found) = self.bucket(for: key)
            guard found, let connection = self.slots[Int(self.buckets[index])] else { continue }
            removed.append(connection)
            self.removeBucket(index)
        }
        return removed.sorted { $0.id < $1.id }
    }

    /// Every connection tracked, in no particular order.
    var all: [TCPConnection] { self.slots.compactMap { $0 } }

    /// Removes and returns the `count` least recently active connections, in creation order.
    mutating func removeLeastRecent(_ count: Int) -> [TCPConnection] {
        var live: [(lastTime: Int64, key: ConnectionKey)] = []
        live.reserveCapacity(self.count)
        for slot in self.slots.indices {
            if let connection = self.slots[slot] { live.append((connection.lastTime, self.slotKeys[slot])) }
        }
        live.sort { $0.lastTime < $1.lastTime }
        return self.remove(keys: live.prefix(count).map(\.key))
    }

    /// Removes and returns everything, in creation order.
    mutating func removeAll() -> [TCPConnection] {
        let all = self.all.sorted { $0.id < $1.id }
        self = FlowTable()
        return all
    }
}
