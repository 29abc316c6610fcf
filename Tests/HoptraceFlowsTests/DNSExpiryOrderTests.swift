import HoptraceDecode
import Testing

@testable import HoptraceFlows

/// Expired DNS transactions leave the table in query-time order, whatever the order of its hash table (Swift seeds
/// hashing per process, so the `requests` output order varied from run to run before).
@Test func expiredTransactionsAreEmittedInQueryTimeOrder() throws {
    // A hand-built query: id, flags 0x0100 (RD), 1 question "a.example." type A class IN.
    func query(id: UInt16) -> [UInt8] {
        [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
            + [1, UInt8(ascii: "a"), 7] + Array("example".utf8) + [0, 0, 1, 0, 1]
    }
    var table = DNSTransactionTable()
    let client = try #require(IPAddress("10.244.0.10"))
    let server = try #require(IPAddress("10.96.0.10"))
    for i in 0..<300 {
        let bytes = query(id: UInt16(i))
        let message = try #require(bytes.withUnsafeBytes { DNSMessage(parsing: $0) })
        let key = DNSTransactionKey(
            capturePoint: 0,
            transport: .udp,
            client: FlowEndpoint(address: client, port: UInt16(30000 + i)),
            server: FlowEndpoint(address: server, port: 53),
            id: UInt16(i)
        )
        table.handle(message, key: key, time: Int64(i) * 1_000, connectionID: nil) { _ in }
    }
    var emitted: [Int64] = []
    table.expire(now: 1_000_000_000_000, linger: 0, timeout: 1) { emitted.append($0.queryTime ?? -1) }
    #expect(emitted.count == 300)
    #expect(emitted == emitted.sorted())
}
