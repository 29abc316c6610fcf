import HoptraceCapture
import HoptraceDecode
import HoptraceFlows

/// One decoded packet, as `hoptrace packets` prints it (docs/packet.schema.json).
///
/// The decoded packet borrows the source's bytes (its payload and transport bytes): a record is valid only while
/// the packet it was made from is, i.e. during one write.
public struct PacketRecord {
    /// The decoded packet.
    public var decoded: DecodedPacket

    /// A record of `decoded`.
    public init(_ decoded: DecodedPacket) {
        self.decoded = decoded
    }
}

/// `hoptrace packets`' text: `TIME POINT DIRECTION SUMMARY`, the summary in the manner of `tcpdump -nn` (tunnels as
/// the outer packet then the inner one), a `[warning: ...]` when decoding stopped early (yellow with colour), and
/// `# address name, ...` when there are names.
public struct PacketTextWriter: RecordWriter {
    /// Colour or not.
    public var style: TextStyle

    /// A writer.
    public init(style: TextStyle = TextStyle()) {
        self.style = style
    }

    /// Appends one line.
    public mutating func write(_ record: PacketRecord, context: RecordContext, to out: BufferedOutput) {
        let decoded = record.decoded
        out.appendRFC3339(decoded.timestamp)
        out.append(UInt8(ascii: " "))
        out.appendTerminal(context.capturePoint, limit: 64)
        out.append(UInt8(ascii: " "))
        out.append(decoded.direction.description)
        out.append(UInt8(ascii: " "))
        out.appendTerminal(PacketSummary.describe(decoded, warning: false), limit: 4096)
        if let warning = decoded.warning {
            out.append(UInt8(ascii: " "))
            if self.style.color { TerminalText.beginColor(.yellow, to: out) }
            out.appendTerminal("[warning: \(warning)]", limit: 512)
            if self.style.color { TerminalText.endColor(to: out) }
        }
        NamesComment.append(context.names, to: out)
        out.append(0x0A)
    }
}

/// `hoptrace packets --format json`: one object per packet, layer by layer (docs/packet.schema.json).
public struct PacketJSONWriter: RecordWriter {
    /// The line being written, reused.
    private var json = JSONWriter()

    /// A writer.
    public init() {}

    /// Appends one JSON line.
    public mutating func write(_ record: PacketRecord, context: RecordContext, to out: BufferedOutput) {
        self.json.reset()
        Self.write(record.decoded, context: context, into: &self.json)
        self.json.withUnsafeBytes { out.append($0) }
        out.append(0x0A)
    }

    /// Writes the packet's object.
    static func write(_ decoded: DecodedPacket, context: RecordContext, into json: inout JSONWriter) {
        json.beginObject()
        json.instant("time", "timeNs", decoded.timestamp)
        json.member("capturePoint", context.capturePoint, limit: 256)
        json.member("direction", decoded.direction.description)
        json.member("linkType", decoded.link.linkType.description)
        json.member("length", decoded.originalLength)
        json.member("captured", decoded.capturedLength)
        if decoded.link.ifIndex >= 0 { json.member("ifIndex", decoded.link.ifIndex) }
        json.member("sllPacketType", decoded.link.packetType?.rawValue)
        json.member("vlan", integers: decoded.link.vlanIDs)
        if let tunnel = decoded.tunnel {
            json.object("tunnel") { t in
                switch tunnel.kind {
                case .vxlan(let vni):
                    t.member("kind", "vxlan")
                    t.member("vni", vni)
                case .geneve(let vni):
                    t.member("kind", "geneve")
                    t.member("vni", vni)
                case .ipip:
                    t.member("kind", "ipip")
                case .gre(let key):
                    t.member("kind", "gre")
                    t.member("key", key)
                }
                t.member("outerSrc", address: tunnel.outerSrc)
                t.member("outerDst", address: tunnel.outerDst)
                if tunnel.outerDstPort != 0 {
                    t.member("outerSrcPort", tunnel.outerSrcPort)
                    t.member("outerDstPort", tunnel.outerDstPort)
                }
                t.member("depth", tunnel.depth)
            }
        }
        if let arp = decoded.arp {
            json.object("arp") { a in
                a.member("operation", arp.operation)
                a.member("senderIP", address: arp.senderIP)
                a.member("senderMAC", arp.senderMAC?.description)
                a.member("targetIP", address: arp.targetIP)
            }
        }
        if let network = decoded.network {
            json.object("ip") { ip in
                ip.member("version", network.version)
                ip.member("src", address: network.src)
                ip.member("dst", address: network.dst)
                ip.member("protocol", network.protocol.rawValue)
                ip.member("id", network.ipID)
                ip.member("ttl", network.ttl)
                ip.member("totalLength", network.totalLength)
                if network.isFragment {
                    ip.member("fragment", true)
                    ip.member("fragmentOffset", network.fragmentOffset)
                }
                if network.wasReassembled { ip.member("reassembled", true) }
            }
        }
        switch decoded.transport {
        case .tcp(let tcp):
            json.object("tcp") { t in
                t.member("srcPort", tcp.srcPort)
                t.member("dstPort", tcp.dstPort)
                t.member("seq", tcp.seq)
                t.member("ack", tcp.ack)
                t.member("flags", tcp.flags.description)
                t.member("window", tcp.window)
                t.member("mss", tcp.options.mss)
                t.member("windowScale", tcp.options.windowScale)
                if tcp.options.sackPermitted { t.member("sackPermitted", true) }
                t.member("tsVal", tcp.options.timestamp?.val)
                t.member("tsEcr", tcp.options.timestamp?.ecr)
                t.member("sack", integers: tcp.options.sackBlocks.flatMap { [$0.left, $0.right] })
            }
        case .udp(let udp):
            json.object("udp") { u in
                u.member("srcPort", udp.srcPort)
                u.member("dstPort", udp.dstPort)
                u.member("length", udp.length)
            }
        case .icmp(let icmp):
            let write: (inout JSONWriter) -> Void = { i in
                i.member("type", icmp.type)
                i.member("code", icmp.code)
                if let quoted = icmp.quoted {
                    i.object("quoted") { q in
                        q.member("src", address: quoted.src)
                        q.member("dst", address: quoted.dst)
                        q.member("protocol", quoted.protocol.rawValue)
                        q.member("srcPort", quoted.srcPort)
                        q.member("dstPort", quoted.dstPort)
                        q.member("tcpSeq", quoted.tcpSeq)
                    }
                }
            }
            if icmp.isV6 { json.object("icmp6", write) } else { json.object("icmp", write) }
        case .other(let proto):
            json.member("ipProtocol", proto.rawValue)
        case .none:
            break
        }
        if decoded.network != nil {
            json.member("payloadLength", decoded.payloadLength)
            json.member("payloadCaptured", decoded.payload.count)
        }
        json.member("summary", PacketSummary.describe(decoded), limit: 4096)
        if let warning = decoded.warning {
            json.member("warning", warning.code.rawValue)
            json.member("warningDetail", warning.description, limit: 512)
        }
        json.names(context.names)
        json.endObject()
    }
}

/// `hoptrace packets --format tsv`: Zeek TSV with `#path packets`; the columns are the JSON keys of the fields
/// most asked for (ports per transport: `tcp.srcPort`, `udp.srcPort`), the rest is in `summary`.
public struct PacketTSVWriter: RecordWriter {
    /// Whether the log has a `names` column (cluster state given).
    public var names: Bool
    /// The line being written, reused.
    private var line: [UInt8] = []

    /// A writer; `names` adds the `names` column.
    public init(names: Bool = false) {
        self.names = names
    }

    /// The columns.
    public var fields: [ZeekTSV.Field] {
        [
            .init("time", "time"), .init("capturePoint", "string"), .init("direction", "string"),
            .init("linkType", "string"), .init("length", "count"), .init("captured", "count"),
            .init("ip.src", "addr"), .init("ip.dst", "addr"), .init("ip.protocol", "count"), .init("ip.id", "count"),
            .init("ip.ttl", "count"), .init("tcp.srcPort", "port"), .init("tcp.dstPort", "port"),
            .init("tcp.flags", "string"), .init("tcp.seq", "count"), .init("tcp.ack", "count"),
            .init("tcp.window", "count"), .init("udp.srcPort", "port"), .init("udp.dstPort", "port"),
            .init("icmp.type", "count"), .init("icmp.code", "count"), .init("payloadLength", "count"),
            .init("summary", "string"), .init("warning", "string"),
        ] + (self.names ? [.init("names", "set[string]")] : [])
    }

    /// The `#` block.
    public mutating func writeHeader(to out: BufferedOutput) {
        ZeekTSV.appendHeader(path: "packets", fields: self.fields, to: out)
    }

    /// One line.
    public mutating func write(_ record: PacketRecord, context: RecordContext, to out: BufferedOutput) {
        let decoded = record.decoded
        var row = TSVRow(appendingTo: &self.line)
        row.seconds(decoded.timestamp)
        row.string(context.capturePoint, limit: 256)
        row.string(decoded.direction.description)
        row.string(decoded.link.linkType.description)
        row.integer(decoded.originalLength)
        row.integer(decoded.capturedLength)
        row.address(decoded.network?.src)
        row.address(decoded.network?.dst)
        row.integer(decoded.network?.protocol.rawValue)
        row.integer(decoded.network?.ipID)
        row.integer(decoded.network?.ttl)
        let tcp: TCPHeader? = if case .tcp(let header) = decoded.transport { header } else { nil }
        let udp: UDPHeader? = if case .udp(let header) = decoded.transport { header } else { nil }
        let icmp: ICMPMessage? = if case .icmp(let message) = decoded.transport { message } else { nil }
        row.integer(tcp?.srcPort)
        row.integer(tcp?.dstPort)
        row.string(tcp?.flags.description)
        row.integer(tcp?.seq)
        row.integer(tcp?.ack)
        row.integer(tcp?.window)
        row.integer(udp?.srcPort)
        row.integer(udp?.dstPort)
        row.integer(icmp?.type)
        row.integer(icmp?.code)
        row.integer(decoded.network != nil ? decoded.payloadLength : nil)
        row.string(PacketSummary.describe(decoded, warning: false), limit: 4096)
        row.string(decoded.warning?.description, limit: 512)
        if self.names { row.strings(NamesComment.entries(context.names)) }
        row.finish(into: &self.line)
        out.append(contentsOf: self.line)
        self.line.removeAll(keepingCapacity: true)
    }

    /// `#close`.
    public mutating func writeFooter(to out: BufferedOutput) {
        ZeekTSV.appendClose(to: out)
    }
}
