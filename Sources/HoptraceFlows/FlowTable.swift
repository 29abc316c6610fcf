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
                    self.entries[index].connection = newValue
                } else {
                    self.removeBucket(index)
                }
            } else if let newValue {
                self.entries[index] = Entry(key: key, connection: newValue)
                self.count += 1
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

    /// Empties bucket `index` and shifts later members of its probe run back (no tombstones).
    private mutating func removeBucket(_ index: Int) {
        self.count -= 1
        var hole = index
        var next = (index + 1) & self.mask
        while self.entries[next].connection != nil {
            let home = self.home(of: self.entries[next].key)
            // Move the member into the hole unless its home lies cyclically in (hole, next].
            if (hole - home) & self.mask < (next - home) & self.mask {
                self.entries[hole] = self.entries[next]
                hole = next
            }
            next = (next + 1) & self.mask
        }
        self.entries[hole].connection = nil
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

    /// Removes and returns the `count` least recently active connections, in creation order.
    mutating func removeLeastRecent(_ count: Int) -> [TCPConnection] {
        var live: [(lastTime: Int64, key: ConnectionKey)] = []
        live.reserveCapacity(self.count)
        for entry in self.entries {
            if let connection = entry.connection { live.append((connection.lastTime, entry.key)) }
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
