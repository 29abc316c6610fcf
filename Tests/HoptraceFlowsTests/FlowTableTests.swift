import HoptraceDecode
import Testing

@testable import HoptraceFlows

/// The open-addressing connection table against `Dictionary` as the oracle, through random inserts, lookups and
/// removals (backward-shift deletion must never lose a key that probed past the removed one).
struct FlowTableTests {
    /// A small deterministic generator (SplitMix64), so a failure reproduces.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            self.state &+= 0x9E37_79B9_7F4A_7C15
            var z = self.state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func key(_ n: Int, point: Int = 0) -> ConnectionKey {
        // Few distinct addresses and ports, so that many keys share most fields (and hash buckets cluster).
        let client = FlowEndpoint(address: IPAddress(10, 244, 0, UInt8(n % 7)), port: UInt16(32_768 + n / 7))
        let server = FlowEndpoint(address: IPAddress(10, 96, 0, 10), port: 80)
        return ConnectionKey(capturePoint: point, client, server)
    }

    /// A connection filed under `key` has that key's endpoints (as the analyzer files them).
    static func connection(_ id: UInt64, lastTime: Int64 = 0, key: ConnectionKey? = nil) -> TCPConnection {
        let client = key?.low ?? FlowEndpoint(address: IPAddress(10, 0, 0, 1), port: 1)
        let server = key?.high ?? FlowEndpoint(address: IPAddress(10, 0, 0, 2), port: 2)
        return TCPConnection(
            id: id,
            capturePoint: 0,
            originator: client,
            responder: server,
            flipped: false,
            time: lastTime
        )
    }

    @Test func matchesDictionaryThroughRandomOperations() {
        var random = SplitMix(state: 42)
        var table = FlowTable()
        var oracle: [ConnectionKey: UInt64] = [:]
        var nextID: UInt64 = 1
        for step in 0..<60_000 {
            let key = Self.key(Int.random(in: 0..<3_000, using: &random), point: Int.random(in: 0..<3, using: &random))
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<5:
                if oracle[key] == nil {
                    table[key] = Self.connection(nextID, key: key)
                    oracle[key] = nextID
                    nextID += 1
                }
            case 5..<8:
                table[key] = nil
                oracle[key] = nil
            default:
                #expect(table[key]?.id == oracle[key], "lookup at step \(step)")
            }
            #expect(table.count == oracle.count)
        }
        for (key, id) in oracle { #expect(table[key]?.id == id) }
        // Keys never inserted are not found.
        for n in 3_000..<3_200 { #expect(table[Self.key(n)] == nil) }
    }

    @Test func bulkRemovalsReturnCreationOrderAndKeepTheRest() {
        var table = FlowTable()
        for n in 0..<500 {
            table[Self.key(n)] = Self.connection(UInt64(1_000 - n), lastTime: Int64(n % 50), key: Self.key(n))
        }
        let due = table.remove { $0.id % 3 == 0 }
        #expect(due.map(\.id) == due.map(\.id).sorted())
        #expect(due.count == (501...1_000).filter { $0 % 3 == 0 }.count)
        #expect(table.count == 500 - due.count)
        for n in 0..<500 {
            let id = UInt64(1_000 - n)
            #expect((table[Self.key(n)] != nil) == (id % 3 != 0))
        }
        // No connection was active after it was created: the clock takes them in creation order.
        let oldest = table.removeLeastRecent(10)
        let remaining: [Int] = (0..<500).filter { (1_000 - $0) % 3 != 0 }
        let expected: [UInt64] = remaining.prefix(10).map { UInt64(1_000 - $0) }.sorted()
        #expect(oldest.map(\.id) == expected)
        // One active since: passed over once (second chance), then the next two go.
        let next: [Int] = Array(remaining.dropFirst(10).prefix(3))
        table[Self.key(next[0])]?.lastTime = 10_000
        let after = table.removeLeastRecent(2)
        #expect(after.map(\.id) == [UInt64(1_000 - next[2]), UInt64(1_000 - next[1])])
        #expect(table[Self.key(next[0])] != nil)
        let all = table.removeAll()
        #expect(all.map(\.id) == all.map(\.id).sorted())
        #expect(table.count == 0)
        #expect(table[Self.key(1)] == nil)
    }
}

/// An endpoint's text, written in place for IPv4, against the address's own text and the port's decimal digits: the
/// shortest and longest dotted quads, every port length and the ports around each power of ten, and IPv6 bracketed.
@Test func endpointDescriptionSpellsAddressAndPort() throws {
    let addresses = ["0.0.0.0", "1.2.3.4", "10.96.0.10", "255.255.255.255", "fd00::1", "::"]
    let ports: [UInt16] = [0, 1, 9, 10, 11, 99, 100, 999, 1000, 9999, 10000, 65535]
    for text in addresses {
        let address = try #require(IPAddress(text))
        for port in ports {
            let expected = address.isIPv4 ? "\(text):\(port)" : "[\(text)]:\(port)"
            #expect(FlowEndpoint(address: address, port: port).description == expected)
        }
    }
}
