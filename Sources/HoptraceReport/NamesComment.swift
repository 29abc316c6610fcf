/// Cluster names beside a record's addresses.
enum NamesComment {
    /// ` # 10.244.0.10 pod default/client, 10.96.0.100:80 service default/web:80` (nothing without names), sorted by
    /// address, each name made safe for a terminal.
    static func append(_ names: [String: String], to out: BufferedOutput) {
        guard !names.isEmpty else { return }
        out.append(" # " as StaticString)
        for (index, entry) in names.sorted(by: { $0.key < $1.key }).enumerated() {
            if index > 0 { out.append(", " as StaticString) }
            out.appendTerminal(entry.key, limit: 64)
            out.append(UInt8(ascii: " "))
            out.appendTerminal(entry.value, limit: 120)
        }
    }

    /// `address name` entries, sorted by address (for a TSV set).
    static func entries(_ names: [String: String]) -> [String] {
        names.sorted(by: { $0.key < $1.key }).map { "\($0.key) \($0.value)" }
    }
}
