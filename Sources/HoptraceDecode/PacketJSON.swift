// JSON lines for `hoptrace packets --json`: a small hand-rolled writer (no JSONEncoder per packet) with RFC 8259
// string escaping.

/// Builds one JSON object as text.
public struct JSONObjectWriter {
    /// The text so far.
    public private(set) var text: String = "{"
    private var first = true

    /// An empty object.
    public init() {}

    private mutating func key(_ key: String) {
        if !self.first { self.text += "," }
        self.first = false
        Self.appendString(key, to: &self.text)
        self.text += ":"
    }

    /// Adds `"key":"value"`.
    public mutating func string(_ key: String, _ value: String) {
        self.key(key)
        Self.appendString(value, to: &self.text)
    }

    /// Adds `"key":value`.
    public mutating func int<T: BinaryInteger>(_ key: String, _ value: T) {
        self.key(key)
        self.text += String(value)
    }

    /// Adds `"key":true|false`.
    public mutating func bool(_ key: String, _ value: Bool) {
        self.key(key)
        self.text += value ? "true" : "false"
    }

    /// Adds `"key":{...}`.
    public mutating func object(_ key: String, _ build: (inout JSONObjectWriter) -> Void) {
        var inner = JSONObjectWriter()
        build(&inner)
        self.key(key)
        self.text += inner.finished
    }

    /// Adds `"key":[n,...]`.
    public mutating func intArray<S: Sequence>(_ key: String, _ values: S) where S.Element: BinaryInteger {
        self.key(key)
        self.text += "[" + values.map { String($0) }.joined(separator: ",") + "]"
    }

    /// The object closed.
    public var finished: String { self.text + "}" }

    /// Appends `value` as a JSON string: quotes, backslash and control characters escaped.
    public static func appendString(_ value: String, to text: inout String) {
        text += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case "\u{08}": text += "\\b"
            case "\u{0C}": text += "\\f"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f || (0x2028...0x2029).contains(scalar.value) {
                    let hex = String(scalar.value, radix: 16)
                    text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    text.unicodeScalars.append(scalar)
                }
            }
        }
        text += "\""
    }
}

extension PacketSummary {
    /// One JSON line (no trailing newline) for `decoded` seen at `capturePoint`.
    public static func json(_ decoded: DecodedPacket, capturePoint: String) -> String {
        var json = JSONObjectWriter()
        json.string("time", TimestampFormat.utc(decoded.timestamp))
        json.int("timestamp_ns", decoded.timestamp)
        json.string("capture_point", capturePoint)
        json.string("direction", decoded.direction.description)
        json.string("link_type", decoded.link.linkType.description)
        json.int("length", decoded.originalLength)
        json.int("captured", decoded.capturedLength)
        if decoded.link.ifIndex >= 0 { json.int("ifindex", decoded.link.ifIndex) }
        if let type = decoded.link.packetType { json.int("sll_packet_type", type.rawValue) }
        if !decoded.link.vlanIDs.isEmpty { json.intArray("vlan", decoded.link.vlanIDs) }
        if let tunnel = decoded.tunnel {
            json.object("tunnel") { t in
                switch tunnel.kind {
                case .vxlan(let vni):
                    t.string("kind", "vxlan")
                    t.int("vni", vni)
                case .geneve(let vni):
                    t.string("kind", "geneve")
                    t.int("vni", vni)
                case .ipip:
                    t.string("kind", "ipip")
                case .gre(let key):
                    t.string("kind", "gre")
                    if let key { t.int("key", key) }
                }
                t.string("outer_src", tunnel.outerSrc.description)
                t.string("outer_dst", tunnel.outerDst.description)
                if tunnel.outerDstPort != 0 {
                    t.int("outer_sport", tunnel.outerSrcPort)
                    t.int("outer_dport", tunnel.outerDstPort)
                }
                t.int("depth", tunnel.depth)
            }
        }
        if let arp = decoded.arp {
            json.object("arp") { a in
                a.int("op", arp.operation)
                if let ip = arp.senderIP { a.string("sender_ip", ip.description) }
                if let mac = arp.senderMAC { a.string("sender_mac", mac.description) }
                if let ip = arp.targetIP { a.string("target_ip", ip.description) }
            }
        }
        if let network = decoded.network {
            json.object("ip") { ip in
                ip.int("version", network.version)
                ip.string("src", network.src.description)
                ip.string("dst", network.dst.description)
                ip.int("proto", network.protocol.rawValue)
                ip.int("id", network.ipID)
                ip.int("ttl", network.ttl)
                ip.int("total_length", network.totalLength)
                if network.isFragment {
                    ip.bool("fragment", true)
                    ip.int("fragment_offset", network.fragmentOffset)
                }
                if network.wasReassembled { ip.bool("reassembled", true) }
            }
        }
        switch decoded.transport {
        case .tcp(let tcp):
            json.object("tcp") { t in
                t.int("sport", tcp.srcPort)
                t.int("dport", tcp.dstPort)
                t.int("seq", tcp.seq)
                t.int("ack", tcp.ack)
                t.string("flags", tcp.flags.description)
                t.int("win", tcp.window)
                if let mss = tcp.options.mss { t.int("mss", mss) }
                if let scale = tcp.options.windowScale { t.int("wscale", scale) }
                if tcp.options.sackPermitted { t.bool("sack_ok", true) }
                if let ts = tcp.options.timestamp {
                    t.int("ts_val", ts.val)
                    t.int("ts_ecr", ts.ecr)
                }
                if !tcp.options.sackBlocks.isEmpty {
                    t.intArray("sack", tcp.options.sackBlocks.flatMap { [$0.left, $0.right] })
                }
            }
        case .udp(let udp):
            json.object("udp") { u in
                u.int("sport", udp.srcPort)
                u.int("dport", udp.dstPort)
                u.int("length", udp.length)
            }
        case .icmp(let icmp):
            json.object(icmp.isV6 ? "icmp6" : "icmp") { i in
                i.int("type", icmp.type)
                i.int("code", icmp.code)
                if let quoted = icmp.quoted {
                    i.object("quoted") { q in
                        q.string("src", quoted.src.description)
                        q.string("dst", quoted.dst.description)
                        q.int("proto", quoted.protocol.rawValue)
                        if let port = quoted.srcPort { q.int("sport", port) }
                        if let port = quoted.dstPort { q.int("dport", port) }
                        if let seq = quoted.tcpSeq { q.int("tcp_seq", seq) }
                    }
                }
            }
        case .other(let proto):
            json.int("ip_proto", proto.rawValue)
        case .none:
            break
        }
        if decoded.network != nil {
            json.int("payload_length", decoded.payloadLength)
            json.int("payload_captured", decoded.payload.count)
        }
        json.string("summary", Self.describe(decoded))
        if let warning = decoded.warning {
            json.string("warning", warning.code.rawValue)
            json.string("warning_detail", warning.description)
        }
        return json.finished
    }
}
