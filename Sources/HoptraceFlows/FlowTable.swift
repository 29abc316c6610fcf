// The TCP connections being tracked, keyed per capture point by their addresses and ports as seen there (in a
// canonical order, so both directions find the same entry).

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
}

struct FlowTable {
    private(set) var connections: [ConnectionKey: TCPConnection] = [:]

    var count: Int { self.connections.count }

    subscript(key: ConnectionKey) -> TCPConnection? {
        get { self.connections[key] }
        set { self.connections[key] = newValue }
    }

    /// Removes and returns the connections `isDue` selects.
    mutating func remove(where isDue: (TCPConnection) -> Bool) -> [TCPConnection] {
        var due: [ConnectionKey] = []
        for (key, connection) in self.connections where isDue(connection) { due.append(key) }
        return due.compactMap { self.connections.removeValue(forKey: $0) }.sorted { $0.id < $1.id }
    }

    /// Every connection tracked, in no particular order.
    var all: Dictionary<ConnectionKey, TCPConnection>.Values { self.connections.values }

    /// Removes and returns the `count` least recently active connections.
    mutating func removeLeastRecent(_ count: Int) -> [TCPConnection] {
        let victims = self.connections.sorted { $0.value.lastTime < $1.value.lastTime }.prefix(count)
        for (key, _) in victims { self.connections.removeValue(forKey: key) }
        return victims.map(\.value).sorted { $0.id < $1.id }
    }

    /// Removes and returns everything, in creation order.
    mutating func removeAll() -> [TCPConnection] {
        let all = self.connections.values.sorted { $0.id < $1.id }
        self.connections.removeAll()
        return all
    }
}
