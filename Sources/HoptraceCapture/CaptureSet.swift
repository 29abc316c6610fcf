/// One capture file to read, and the node it was taken on when the user says so.
public struct CaptureFileSpec: Sendable, Hashable {
    /// The file (`-` for standard input).
    public var path: String
    /// The node (host) the file was captured on, as the user named it (`--node NAME=PATH`); nil: see
    /// ``CaptureSet``.
    public var node: String?

    /// A file, with its node when known.
    public init(path: String, node: String? = nil) {
        self.path = path
        self.node = node
    }
}

/// Capture files opened together and merged by time, each interface labeled with the node it belongs to.
///
/// Several nodes' captures hold interfaces of the same names (`eth0`, `cni0` on every node) and SLL2 indexes that
/// mean different interfaces on each node: they are told apart by node. A file's node is, in order:
/// 1. the one the user gave (``CaptureFileSpec/node``);
/// 2. the host its pcapng section header names (`hoptrace capture` writes `host NAME` there);
/// 3. for a capture of a whole node (`tcpdump -i any`, or a pcapng file with several interfaces) when there are
///    at least two such files: the file's name without its extensions (`node-a.pcap`), or, when two files share it
///    (`node-a/any.pcap`, `node-b/any.pcap`), its directory's name;
/// 4. none: a one-interface file (`tcpdump -i cni0 -w cni0.pcap`) cannot say which node it is of (give
///    `--node`); it is named after its interface.
///
/// When the files name at most one node, no interface is labeled: one node's captures read as they always did.
public enum CaptureSet {
    /// The files opened, merged and labeled, and the nodes found (sorted; empty for one node).
    public struct Opened {
        /// The merged, labeled source.
        public var source: any PacketSource
        /// Each file's node, in the order of the specs (nil: none).
        public var nodes: [String?]
        /// The distinct nodes, sorted; empty when there is one node or none.
        public var distinctNodes: [String] { Array(Set(nodes.compactMap { $0 })).sorted() }
    }

    /// Opens every file (failing before anything is read when one cannot be opened) and labels its interfaces.
    public static func open(_ specs: [CaptureFileSpec]) throws(CaptureError) -> Opened {
        var sources: [any PacketSource] = []
        for spec in specs { sources.append(try openCaptureFile(path: spec.path)) }
        let nodes = Self.nodes(specs: specs, interfaces: sources.map(\.interfaces))
        let labeled: [any PacketSource] = zip(sources, nodes).map { source, node in
            LabeledPacketSource(source, node: node)
        }
        let source: any PacketSource = labeled.count == 1 ? labeled[0] : MergedPacketSource(labeled)
        return Opened(source: source, nodes: nodes)
    }

    /// Each file's node by the rules above, given the interfaces each file declares at its start.
    public static func nodes(specs: [CaptureFileSpec], interfaces: [[InterfaceDescription]]) -> [String?] {
        var nodes: [String?] = zip(specs, interfaces).map { spec, interfaces in
            spec.node ?? interfaces.lazy.compactMap(\.node).first
        }
        // Whole-node captures without a node: named after their files when there are at least two of them.
        let whole = nodes.indices.filter { index in
            nodes[index] == nil && Self.isWholeNode(interfaces[index])
        }
        if whole.count >= 2 {
            let stems = whole.map { Self.stem(specs[$0].path) }
            let unique = Set(stems).count == stems.count
            for (position, index) in whole.enumerated() {
                let name = unique ? stems[position] : Self.directoryName(specs[index].path)
                if !name.isEmpty { nodes[index] = name }
            }
        }
        if Set(nodes.compactMap { $0 }).count <= 1 { return nodes.map { _ in nil } }
        return nodes
    }

    /// Whether a file captures a whole node: an `any` interface (SLL2, or a pcapng interface so named), or several
    /// interfaces.
    static func isWholeNode(_ interfaces: [InterfaceDescription]) -> Bool {
        if interfaces.count >= 2 { return true }
        return interfaces.contains { $0.linkType == .linuxSLL2 || ($0.isNamed && $0.name == "any") }
    }

    /// `captures/node-a.any.pcap` → `node-a`: the base name without any extension.
    static func stem(_ path: String) -> String {
        let base = path.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? path
        return String(base.prefix { $0 != "." })
    }

    /// `captures/x/node-a/any.pcap` → `node-a`.
    static func directoryName(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        return parts.count >= 2 ? String(parts[parts.count - 2]) : ""
    }
}
