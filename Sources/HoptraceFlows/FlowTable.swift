// The TCP connections being tracked, keyed per capture point by their addresses and ports as seen there (in a
// canonical order, so both directions find the same entry).
//
// Every packet looks its connection up, so the table is open addressing (linear probing, backward-shift deletion,
// load at most 1/2) with the key and the connection side by side in each bucket, and a cheap keyed multiply-xorshift
// hash instead of SipHash: the lookup was about 10% of `hoptrace requests` with `Dictionary` (issue 7), most of it
// cache misses. The hash key is drawn at
// random per table, so a capture crafted to collide cannot be prepared in advance. Nothing the table hands out
// depends on hash order: bulk removals return connections sorted by id.

import HoptraceDecode

/// A connection's key at a capture point: its two endpoints in a canonical order (either direction gives the same key).
package struct ConnectionKey: Hashable {
    var capturePoint: Int
    var low: FlowEndpoint
    var high: FlowEndpoint

    @inline(__always)
    package init(capturePoint: Int, _ a: FlowEndpoint, _ b: FlowEndpoint) {
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
    package func hash(seed: UInt64) -> UInt64 {
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
    /// One bucket: the key beside its connection, one cache line, so that a lookup touches the bucket and then the
    /// connection, nothing else.
    private struct Entry {
        var key: ConnectionKey
        var connection: TCPConnection?
    }

    private static let emptyKey = ConnectionKey(
        capturePoint: 0,
        FlowEndpoint(address: IPAddress(ipv4: 0), port: 0),
        FlowEndpoint(address: IPAddress(ipv4: 0), port: 0)
    )

    /// The buckets (a power of two of them, at most half full); an empty bucket has no connection.
    private var entries = [Entry](repeating: Entry(key: FlowTable.emptyKey, connection: nil), count: 64)
    private let seed: UInt64 = UInt64.random(in: .min ... .max) | 1
    private(set) var count = 0
    /// The clock for eviction: connections in creation order with their last time when the hand last passed them
    /// (entries of connections no longer tracked are skipped and compacted away).
    private var clock: [ClockEntry] = []
    private var clockStart = 0

    private struct ClockEntry {
        var connection: TCPConnection?
        var seen: Int64
    }

    @inline(__always)
    private var mask: Int { self.entries.count - 1 }

    @inline(__always)
    private func home(of key: ConnectionKey) -> Int {
        Int(truncatingIfNeeded: key.hash(seed: self.seed)) & self.mask
    }

    /// The bucket holding `key`, or the empty bucket where it would go.
    @inline(__always)
    private func bucket(for key: ConnectionKey) -> (index: Int, found: Bool) {
        var index = self.home(of: key)
        while true {
            if self.entries[index].connection == nil { return (index, false) }
            if self.entries[index].key == key { return (index, true) }
            index = (index + 1) & self.mask
        }
    }

    subscript(key: ConnectionKey) -> TCPConnection? {
        get {
            let (index, found) = self.bucket(for: key)
            return found ? self.entries[index].connection : nil
        }
        set {
            let (index, found) = self.bucket(for: key)
            if found {
                if let newValue {
                    if let old = self.entries[index].connection { self.leaveClock(old) }
                    self.entries[index].connection = newValue
                    self.enterClock(newValue)
                } else {
                    self.removeBucket(index)
                }
            } else if let newValue {
                self.entries[index] = Entry(key: key, connection: newValue)
                self.enterClock(newValue)
                self.count += 1
                if self.clock.count > 2 * self.count + 4096 { self.compactClock() }
                if self.count * 2 > self.entries.count { self.grow() }
            }
        }
    }

    private mutating func grow() {
        let old = self.entries
        self.entries = [Entry](
            repeating: Entry(key: FlowTable.emptyKey, connection: nil),
            count: old.count * 2
        )
        for entry in old where entry.connection != nil {
            var index = self.home(of: entry.key)
            while self.entries[index].connection != nil { index = (index + 1) & self.mask }
            self.entries[index] = entry
        }
    }

    /// Empties bucket `index` and shifts later members of its probe run back (no tombstones). Entries are moved in
    /// memory (the hole is an empty entry, trivially destroyed), so that a shift costs no reference counting.
    private mutating func removeBucket(_ index: Int) {
        if let connection = self.entries[index].connection { self.leaveClock(connection) }
        self.count -= 1
        self.entries[index].connection = nil
        let mask = self.mask
        let seed = self.seed
        self.entries.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            var hole = index
            var next = (index + 1) & mask
            while base[next].connection != nil {
                let home = Int(truncatingIfNeeded: base[next].key.hash(seed: seed)) & mask
                // Move the member into the hole unless its home lies cyclically in (hole, next].
                if (hole - home) & mask < (next - home) & mask {
                    // The hole holds an empty entry: nothing to release. Move, then leave an empty entry behind.
                    (base + hole).deinitialize(count: 1)
                    (base + hole).moveInitialize(from: base + next, count: 1)
                    (base + next).initialize(to: Entry(key: FlowTable.emptyKey, connection: nil))
                    hole = next
                }
                next = (next + 1) & mask
            }
        }
    }

    /// Removes and returns the connections `isDue` selects, in creation order.
    mutating func remove(where isDue: (TCPConnection) -> Bool) -> [TCPConnection] {
        var due: [ConnectionKey] = []
        for entry in self.entries {
            if let connection = entry.connection, isDue(connection) { due.append(entry.key) }
        }
        return self.remove(keys: due)
    }

    private mutating func remove(keys: [ConnectionKey]) -> [TCPConnection] {
        var removed: [TCPConnection] = []
        removed.reserveCapacity(keys.count)
        for key in keys {
            let (index, found) = self.bucket(for: key)
            guard found, let connection = self.entries[index].connection else { continue }
            removed.append(connection)
            self.removeBucket(index)
        }
        return removed.sorted { $0.id < $1.id }
    }

    /// Every connection tracked, in no particular order.
    var all: [TCPConnection] { self.entries.compactMap(\.connection) }

    /// Removes and returns `count` connections among the least recently active, in creation order.
    ///
    /// A clock (second-chance) sweep over the connections in creation order: a connection active since the hand last
    /// passed it is passed again with its new time, the first one not active since is evicted. O(1) amortised per
    /// eviction, touching only the connections passed: scanning and sorting the whole table for each eviction batch
    /// (every connection's last time a cache miss) was most of the cost of a SYN flood. Packets come in time order,
    /// so creation order plus the second chance is least-recent order, up to one pass of the hand.
    mutating func removeLeastRecent(_ count: Int) -> [TCPConnection] {
        var victims: [TCPConnection] = []
        var passes = 0
        while victims.count < count, self.clockStart < self.clock.count {
            let slot = self.clockStart
            self.clockStart += 1
            guard let connection = self.clock[slot].connection else { continue }
            self.clock[slot].connection = nil
            if connection.lastTime > self.clock[slot].seen, passes < self.count {
                passes += 1
                self.enterClock(connection)
                continue
            }
            // A connection is filed under its own endpoints.
            let (index, found) = self.bucket(
                for: ConnectionKey(
                    capturePoint: connection.capturePoint,
                    connection.originator,
                    connection.responder
                )
            )
            guard found, self.entries[index].connection === connection else { continue }
            self.removeBucket(index)
            victims.append(connection)
        }
        self.compactClock()
        return victims.sorted { $0.id < $1.id }
    }

    /// Puts a connection at the back of the clock with its time now.
    @inline(__always)
    private mutating func enterClock(_ connection: TCPConnection) {
        connection.clockSlot = self.clock.count
        self.clock.append(ClockEntry(connection: connection, seen: connection.lastTime))
    }

    /// Takes a connection leaving the table off the clock (its entry becomes a hole: the clock holds no connection
    /// the table does not).
    @inline(__always)
    private mutating func leaveClock(_ connection: TCPConnection) {
        let slot = connection.clockSlot
        if slot >= self.clockStart, slot < self.clock.count, self.clock[slot].connection === connection {
            self.clock[slot].connection = nil
        }
        connection.clockSlot = -1
    }

    /// Drops the holes once they are most of the clock, renumbering the connections' slots.
    private mutating func compactClock() {
        let live = self.count
        guard
            self.clock.count - live > live + 4096
                || (self.clockStart >= 4096 && self.clockStart * 2 >= self.clock.count)
        else { return }
        var kept: [ClockEntry] = []
        kept.reserveCapacity(live + live / 2 + 64)
        for entry in self.clock[self.clockStart...] {
            guard let connection = entry.connection else { continue }
            connection.clockSlot = kept.count
            kept.append(entry)
        }
        self.clock = kept
        self.clockStart = 0
    }

    /// Removes and returns everything, in creation order.
    mutating func removeAll() -> [TCPConnection] {
        let all = self.all.sorted { $0.id < $1.id }
        for connection in all { connection.clockSlot = -1 }
        self = FlowTable()
        return all
    }
}
