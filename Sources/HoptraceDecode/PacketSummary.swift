// One-line packet summaries in the spirit of `tcpdump -nn`, for `hoptrace packets`.
//
// Packet-derived text (DNS names) is untrusted: bounded in length and escaped before it is printed.

import HoptraceCapture

/// Formats decoded packets as one-line text summaries.
public enum PacketSummary {
    /// The summary of `decoded`: `IP 10.0.0.1.1234 > 10.0.0.2.80: Flags [S], seq 1, win 64240, options [...],
    /// length 0`; tunnels as outer then inner; ARP; fragments; a trailing `[warning: ...]` unless `warning` is false.
    public static func describe(_ decoded: DecodedPacket, warning showWarning: Bool = true) -> String {
        var text = ""
        if let tunnel = decoded.tunnel {
            text += Self.tunnelPrefix(tunnel)
        }
        if let arp = decoded.arp {
            text += Self.describeARP(arp, length: arp.length)
        } else if let network = decoded.network {
            text += Self.describeIP(decoded, network)
        } else if decoded.tunnel == nil {
            if let type = decoded.link.etherType {
                text += "ethertype \(type), length \(decoded.originalLength)"
            } else if decoded.warning?.code == .unsupportedLinkType {
                text += "\(decoded.link.linkType), length \(decoded.originalLength)"
            } else if decoded.warning == nil {
                text += "non-IP frame, length \(decoded.originalLength)"
            } else {
                text += "\(decoded.link.linkType)"
            }
        }
        if showWarning, let warning = decoded.warning {
            text += text.isEmpty ? "" : " "
            text += "[warning: \(warning)]"
        }
        return text
    }

    static func tunnelPrefix(_ tunnel: TunnelInfo) -> String {
        let ip = tunnel.outerSrc.isIPv4 ? "IP" : "IP6"
        switch tunnel.kind {
        case .vxlan, .geneve:
            let name = tunnel.kind.description
            return
                "\(ip) \(tunnel.outerSrc).\(tunnel.outerSrcPort) > \(tunnel.outerDst).\(tunnel.outerDstPort): \(name): "
        case .ipip, .gre:
            let nested = tunnel.depth > 1 ? " (\(tunnel.depth) deep)" : ""
            return "\(ip) \(tunnel.outerSrc) > \(tunnel.outerDst): \(tunnel.kind)\(nested): "
        }
    }

    static func describeARP(_ arp: ARPMessage, length: Int) -> String {
        let sender = arp.senderIP.map(String.init(describing:)) ?? "?"
        let target = arp.targetIP.map(String.init(describing:)) ?? "?"
        switch arp.operation {
        case 1:
            return "ARP, Request who-has \(target) tell \(sender), length \(length)"
        case 2:
            let mac = arp.senderMAC.map(String.init(describing:)) ?? "?"
            return "ARP, Reply \(sender) is-at \(mac), length \(length)"
        default:
            return "ARP, op \(arp.operation) \(sender) > \(target), length \(length)"
        }
    }

    static func describeIP(_ decoded: DecodedPacket, _ network: NetworkHeader) -> String {
        let ip = network.version == 4 ? "IP" : "IP6"
        let reassembled = network.wasReassembled ? " (reassembled \(network.totalLength) bytes)" : ""
        switch decoded.transport {
        case .tcp(let tcp):
            var text = "\(ip) \(network.src).\(tcp.srcPort) > \(network.dst).\(tcp.dstPort): Flags [\(tcp.flags)]"
            // tcpdump prints the sequence number for segments with data, SYN, FIN or RST (absolute, as with -S).
            if decoded.payloadLength > 0 {
                text += ", seq \(tcp.seq):\(tcp.seq &+ UInt32(truncatingIfNeeded: decoded.payloadLength))"
            } else if !tcp.flags.isDisjoint(with: [.syn, .fin, .rst]) {
                text += ", seq \(tcp.seq)"
            }
            if tcp.flags.contains(.ack) { text += ", ack \(tcp.ack)" }
            text += ", win \(tcp.window)"
            if tcp.flags.contains(.urg) { text += ", urg \(tcp.urgentPointer)" }
            if tcp.headerLength > 20 {
                let options = decoded.transportBytes.slice(20, tcp.headerLength - 20)
                let cut = options.count < tcp.headerLength - 20
                text += ", options [\(Self.describeOptions(options, truncated: cut))]"
            }
            text += ", length \(decoded.payloadLength)"
            return text + reassembled
        case .udp(let udp):
            var text = "\(ip) \(network.src).\(udp.srcPort) > \(network.dst).\(udp.dstPort): "
            if udp.srcPort == 53 || udp.dstPort == 53 || udp.srcPort == 5353 || udp.dstPort == 5353,
                let dns = Self.describeDNS(decoded.payload)
            {
                text += "\(dns) (\(decoded.payloadLength))"
            } else {
                text += "UDP, length \(decoded.payloadLength)"
            }
            return text + reassembled
        case .icmp(let icmp):
            return "\(ip) \(network.src) > \(network.dst): \(Self.describeICMP(icmp, decoded.payloadLength))"
                + reassembled
        case .other(let proto):
            if network.isFragment && !network.wasReassembled {
                return
                    "\(ip) \(network.src) > \(network.dst): fragment id \(network.ipID), offset \(network.fragmentOffset), proto \(proto), length \(decoded.payloadLength)"
            }
            return "\(ip) \(network.src) > \(network.dst): ip-proto-\(proto), length \(decoded.payloadLength)"
        case .none:
            return "\(ip) \(network.src) > \(network.dst): proto \(network.protocol)"
        }
    }

    /// TCP options as tcpdump prints them: `mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7`.
    ///
    /// - Parameters:
    ///   - bytes: the option bytes as captured.
    ///   - truncated: whether the snapshot length cut them (the walk's end is then shown as `[|tcp]`).
    package static func describeOptions(_ bytes: UnsafeRawBufferPointer, truncated: Bool = false) -> String {
        var parts: [String] = []
        var iterator = TCPOptionIterator(bytes)
        while let option = iterator.next() {
            let at = option.offset
            switch (option.kind, option.length) {
            case (0, _): parts.append("eol")
            case (1, _): parts.append("nop")
            case (2, 4): parts.append("mss \(bytes.be16(at + 2))")
            case (3, 3): parts.append("wscale \(bytes.u8(at + 2))")
            case (4, 2): parts.append("sackOK")
            case (5, let length) where length > 2 && (length - 2) % 8 == 0:
                var text = "sack \((length - 2) / 8) "
                var block = at + 2
                while block + 8 <= at + length {
                    text += "{\(bytes.be32(block)):\(bytes.be32(block + 4))}"
                    block += 8
                }
                parts.append(text)
            case (8, 10): parts.append("TS val \(bytes.be32(at + 2)) ecr \(bytes.be32(at + 6))")
            case (2, _), (3, _), (4, _), (5, _), (8, _):
                // A known option with the wrong length: tcpdump stops there.
                parts.append("[bad opt]")
                return parts.joined(separator: ",")
            case (let kind, let length):
                // tcpdump: the kind and the option's data in hex.
                var text = "unknown-\(kind) 0x"
                for i in 2..<length {
                    let byte = bytes.u8(at + i)
                    text += (byte < 16 ? "0" : "") + String(byte, radix: 16)
                }
                parts.append(text)
            }
        }
        if iterator.malformed { parts.append(truncated ? "[|tcp]" : "[bad opt]") }
        return parts.joined(separator: ",")
    }

    static func protocolName(_ proto: IPProtocol) -> String {
        switch proto {
        case .tcp: return "tcp"
        case .udp: return "udp"
        case .icmp: return "icmp"
        case .icmpv6: return "icmp6"
        case .sctp: return "sctp"
        default: return "proto-\(proto)"
        }
    }

    static func describeICMP(_ icmp: ICMPMessage, _ length: Int) -> String {
        var text: String
        if icmp.isV6 {
            switch (icmp.type, icmp.code) {
            case (1, 4): text = "ICMP6, destination unreachable, port"
            case (1, let code): text = "ICMP6, destination unreachable, code \(code)"
            case (2, _): text = "ICMP6, packet too big, mtu \(icmp.restOfHeader)"
            case (3, _): text = "ICMP6, time exceeded in-transit"
            case (128, _):
                text = "ICMP6, echo request, id \(icmp.restOfHeader >> 16), seq \(icmp.restOfHeader & 0xffff)"
            case (129, _): text = "ICMP6, echo reply, id \(icmp.restOfHeader >> 16), seq \(icmp.restOfHeader & 0xffff)"
            case (133, _): text = "ICMP6, router solicitation"
            case (134, _): text = "ICMP6, router advertisement"
            case (135, _): text = "ICMP6, neighbor solicitation"
            case (136, _): text = "ICMP6, neighbor advertisement"
            default: text = "ICMP6, type \(icmp.type), code \(icmp.code)"
            }
        } else {
            switch (icmp.type, icmp.code) {
            case (0, _): text = "ICMP echo reply, id \(icmp.restOfHeader >> 16), seq \(icmp.restOfHeader & 0xffff)"
            case (8, _): text = "ICMP echo request, id \(icmp.restOfHeader >> 16), seq \(icmp.restOfHeader & 0xffff)"
            case (3, 3):
                if let quoted = icmp.quoted {
                    let port = quoted.dstPort.map { " port \($0)" } ?? ""
                    text = "ICMP \(quoted.dst) \(Self.protocolName(quoted.protocol))\(port) unreachable"
                } else {
                    text = "ICMP port unreachable"
                }
            case (3, 1): text = "ICMP host \(icmp.quoted.map { "\($0.dst)" } ?? "?") unreachable"
            case (3, 4): text = "ICMP unreachable - need to frag (mtu \(icmp.restOfHeader & 0xffff))"
            case (3, 13): text = "ICMP unreachable - admin prohibited filter"
            case (3, let code): text = "ICMP unreachable, code \(code)"
            case (11, 0): text = "ICMP time exceeded in-transit"
            case (11, _): text = "ICMP ip reassembly time exceeded"
            default: text = "ICMP type \(icmp.type), code \(icmp.code)"
            }
        }
        text += ", length \(length)"
        if let quoted = icmp.quoted {
            let ip = quoted.version == 4 ? "IP" : "IP6"
            let sport = quoted.srcPort.map { ".\($0)" } ?? ""
            let dport = quoted.dstPort.map { ".\($0)" } ?? ""
            text +=
                " [quoted \(ip) \(quoted.src)\(sport) > \(quoted.dst)\(dport): \(Self.protocolName(quoted.protocol))"
            if let seq = quoted.tcpSeq { text += " seq \(seq)" }
            text += "]"
        }
        return text
    }

    /// A DNS message in tcpdump's manner: `4660+ A? example.com.` for a query; `4660 2/0/0 CNAME web., A 10.96.0.10`
    /// for a response (answer/authority/additional counts, then the answers: A, AAAA and CNAME with their data, others by type), errors named
    /// (`NXDomain`, `ServFail`). Nil when not DNS-shaped.
    package static func describeDNS(_ message: UnsafeRawBufferPointer) -> String? {
        guard message.has(12, at: 0) else { return nil }
        let id = message.be16(0)
        let flags = message.be16(2)
        let questions = Int(message.be16(4))
        let answers = Int(message.be16(6))
        let opcode = Int(flags >> 11 & 0x0f)
        let opcodeText = opcode == 0 ? "" : " op\(opcode)"
        if flags & 0x8000 == 0 {
            // tcpdump: id, opcode, "+" recursion desired, "%" checking disabled, then non-zero section counts.
            var text = "\(id)\(opcodeText)" + (flags & 0x0100 != 0 ? "+" : "") + (flags & 0x0010 != 0 ? "%" : "")
            if questions != 1 { text += " [\(questions)q]" }
            if answers != 0 { text += " [\(answers)a]" }
            if message.be16(8) != 0 { text += " [\(message.be16(8))n]" }
            if message.be16(10) != 0 { text += " [\(message.be16(10))au]" }
            if questions >= 1, let (name, end) = Self.dnsName(message, 12), message.has(4, at: end) {
                text += " \(Self.dnsTypeName(message.be16(end)))? \(name)"
            }
            return text
        }
        // tcpdump: id, opcode, rcode, "*" authoritative, "-" recursion not available, "|" truncated, counts.
        let rcode = flags & 0x000f
        var text = "\(id)\(opcodeText)"
        switch rcode {
        case 0: break
        case 1: text += " FormErr"
        case 2: text += " ServFail"
        case 3: text += " NXDomain"
        case 4: text += " NotImp"
        case 5: text += " Refused"
        default: text += " Resp\(rcode)"
        }
        text += (flags & 0x0400 != 0 ? "*" : "") + (flags & 0x0080 == 0 ? "-" : "") + (flags & 0x0200 != 0 ? "|" : "")
        if questions != 1 { text += " [\(questions)q]" }
        text += " \(answers)/\(message.be16(8))/\(message.be16(10))"
        // Skip the questions, then list up to eight answers.
        var at = 12
        for _ in 0..<Swift.min(questions, 64) {
            guard let end = Self.skipDNSName(message, at), message.has(4, at: end) else { return text }
            at = end + 4
        }
        var shown: [String] = []
        for _ in 0..<Swift.min(answers, 64) {
            guard let end = Self.skipDNSName(message, at), message.has(10, at: end) else { break }
            let type = message.be16(end)
            let length = Int(message.be16(end + 8))
            let data = end + 10
            guard message.has(length, at: data) else { break }
            switch (type, length) {
            case (1, 4):
                shown.append("A \(IPAddress.ipv4(message, data))")
            case (28, 16):
                shown.append("AAAA \(IPAddress.ipv6(message, data))")
            case (5, _):
                shown.append("CNAME \(Self.dnsName(message, data)?.0 ?? "?")")
            default:
                shown.append(Self.dnsTypeName(type))
            }
            at = data + length
        }
        if !shown.isEmpty { text += " " + shown.joined(separator: ", ") }
        return text
    }

    /// The offset just past the (possibly compressed) name at `start`.
    static func skipDNSName(_ message: UnsafeRawBufferPointer, _ start: Int) -> Int? {
        var at = start
        while message.has(1, at: at) {
            let length = message.u8(at)
            if length == 0 { return at + 1 }
            if length & 0xc0 == 0xc0 { return message.has(2, at: at) ? at + 2 : nil }
            guard length < 64 else { return nil }
            at += 1 + Int(length)
        }
        return nil
    }

    static func dnsTypeName(_ type: UInt16) -> String {
        switch type {
        case 1: return "A"
        case 2: return "NS"
        case 5: return "CNAME"
        case 6: return "SOA"
        case 12: return "PTR"
        case 15: return "MX"
        case 16: return "TXT"
        case 28: return "AAAA"
        case 33: return "SRV"
        case 41: return "OPT"
        case 43: return "DS"
        case 46: return "RRSIG"
        case 47: return "NSEC"
        case 48: return "DNSKEY"
        case 50: return "NSEC3"
        case 64: return "SVCB"
        case 65: return "HTTPS"
        case 255: return "ANY"
        case 257: return "CAA"
        default: return "type\(type)"
        }
    }

    /// Reads a name (following at most 16 compression pointers), escaped and bounded to 255 bytes: printable ASCII
    /// as is, `.` and `\\` escaped, everything else as `\\DDD`.
    ///
    /// - Returns: the name and the offset just past it where it started (before any pointer).
    static func dnsName(_ message: UnsafeRawBufferPointer, _ start: Int) -> (String, Int)? {
        var name = ""
        var at = start
        var end: Int? = nil
        var total = 0
        var jumps = 0
        while message.has(1, at: at) {
            let length = Int(message.u8(at))
            if length == 0 { return (name.isEmpty ? "." : name, end ?? at + 1) }
            if length & 0xc0 == 0xc0 {
                guard message.has(2, at: at), jumps < 16 else { return nil }
                if end == nil { end = at + 2 }
                at = Int(message.be16(at) & 0x3fff)
                jumps += 1
                continue
            }
            guard length < 64, message.has(1 + length, at: at) else { return nil }
            total += length + 1
            guard total <= 255 else { return nil }
            for i in 0..<length {
                let byte = message.u8(at + 1 + i)
                switch byte {
                case UInt8(ascii: "."), UInt8(ascii: "\\"):
                    name += "\\" + String(UnicodeScalar(byte))
                case 0x21...0x7e:
                    name.unicodeScalars.append(UnicodeScalar(byte))
                default:
                    let digits = String(byte)
                    name += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
                }
            }
            name += "."
            at += 1 + length
        }
        return nil
    }
}
