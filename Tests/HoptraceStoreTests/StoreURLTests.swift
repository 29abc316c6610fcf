import HoptraceStore
import Testing

/// Store addresses as users write them, and the ones refused with the fix.
@Suite("store: addresses")
struct StoreURLTests {
    @Test("host, port, IPv6 in brackets; 8123 by default")
    func parses() throws {
        let plain = try StoreURL("http://clickhouse.hoptrace:8123/")
        #expect(plain.host == "clickhouse.hoptrace" && plain.port == 8123)
        #expect(try StoreURL("http://10.0.0.5").port == 8123)
        let v6 = try StoreURL("http://[fd00::1]:9000")
        #expect(v6.host == "fd00::1" && v6.port == 9000 && v6.description == "http://[fd00::1]:9000")
    }

    @Test(
        "not http, no host, a bad port, a path: refused",
        arguments: [
            "https://h:8123", "h:8123", "http://", "http://h:0", "http://h:70000", "http://h:8123/db",
            "http://u@h:8123",
            "http://[fd00::1", "http://h:x",
        ]
    )
    func refuses(_ text: String) {
        #expect(throws: StoreError.self) { try StoreURL(text) }
    }

    @Test("a database name is an identifier; quoted literals escape what SQL would read")
    func identifiers() {
        #expect(ClickHouseStore.isIdentifier("hoptrace_2"))
        for bad in ["", "1db", "a-b", "a;b", "a b", "a.b", String(repeating: "a", count: 65)] {
            #expect(!ClickHouseStore.isIdentifier(bad), "\(bad)")
        }
        #expect(ClickHouseStore.quoted("a'b\\c\n") == "a\\'b\\\\c\\n")
    }
}
