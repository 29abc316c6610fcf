// TCP, UDP, ICMP/ICMPv6 (with the quoted packet of errors), and the tunnels found at this layer.

extension PacketDecoder {
    /// Decodes the transport layer.
    ///
    /// - Parameters:
    ///   - data: the captured bytes of the IP payload (no trailer padding; may be cut by the snapshot length).
    ///   - wireLength: the IP payload's length on the wire, from the IP header.
    func decodeTransport(
        _ proto: IPProtocol,
        _ data: UnsafeRawBufferPointer,
        wireLength: Int,
        _ decoded: inout DecodedPacket,
        depth: Int
    ) {
        decoded.transportBytes = data
        switch proto.rawValue {
        case IPProtocol.tcp.rawValue:
            Self.decodeTCP(data, wireLength: wireLength, &decoded)
        case IPProtocol.udp.rawValue:
            self.decodeUDP(data, wireLength: wireLength, &decoded, depth: depth)
        case IPProtocol.icmp.rawValue:
            Self.decodeICMP(data, wireLength: wireLength, isV6: false, &decoded)
        case IPProtocol.icmpv6.rawValue:
            Self.decodeICMP(data, wireLength: wireLength, isV6: true, &decoded)
        case IPProtocol.ipip.rawValue, IPProtocol.ipv6.rawValue:
            decoded.transport = .other(protocol: proto)
            decoded.payload = data
            decoded.payloadLength = wireLength
            guard self.enterTunnel(.ipip, 0, 0, &decoded, depth: depth) else { return }
            let type: EtherType = proto == .ipip ? .ipv4 : .ipv6
            self.decodeEtherPayload(type, data, 0, &decoded, depth: depth + 1)
        case IPProtocol.gre.rawValue:
            self.decodeGRE(data, wireLength: wireLength, &decoded, depth: depth)
        default:
            decoded.transport = .other(protocol: proto)
            decoded.payload = data
            decoded.payloadLength = wireLength
        }
    }

    // TCP (RFC 9293 section 3.1):
    //
    //  0                   1                   2                   3
    //  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |          Source Port          |       Destination Port        |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |                        Sequence Number                        |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |                    Acknowledgment Number                      |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |  Data |       |C|E|U|A|P|R|S|F|                               |
    // | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |           Checksum            |         Urgent Pointer        |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |                    Options (data offset > 5)                  |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    static func decodeTCP(_ data: UnsafeRawBufferPointer, wireLength: Int, _ decoded: inout DecodedPacket) {
        guard data.has(20, at: 0) else {
            decoded.warning = DecodeWarning(.truncated, .transport, "TCP header")
            return
        }
        let headerLength = Int(data.u8(12) >> 4) &* 4
        var header = TCPHeader(
            srcPort: data.be16(0),
            dstPort: data.be16(2),
            seq: data.be32(4),
            ack: data.be32(8),
            flags: TCPFlags(rawValue: data.u8(13)),
            window: data.be16(14),
            headerLength: headerLength,
            options: TCPOptions(),
            checksum: data.be16(16),
            urgentPointer: data.be16(18)
        )
        guard headerLength >= 20 else {
            decoded.transport = .tcp(header)
            decoded.warning = DecodeWarning(.badLength, .transport, "TCP data offset")
            return
        }
        guard data.has(headerLength, at: 0) else {
            decoded.transport = .tcp(header)
            decoded.warning = DecodeWarning(.truncated, .transport, "TCP options")
            return
        }
        header.options = TCPOptions(parsing: data.slice(20, headerLength - 20))
        decoded.transport = .tcp(header)
        if header.options.malformed {
            decoded.warning = DecodeWarning(.badOption, .transport, "TCP option length")
        }
        guard wireLength >= headerLength else {
            decoded.warning = DecodeWarning(.badLength, .transport, "TCP header longer than IP payload")
            return
        }
        decoded.payloadLength = wireLength - headerLength
        decoded.payload = data.slice(headerLength, decoded.payloadLength)
    }

    // UDP (RFC 768): source port(2) | destination port(2) | length(2) | checksum(2).
    func decodeUDP(_ data: UnsafeRawBufferPointer, wireLength: Int, _ decoded: inout DecodedPacket, depth: Int) {
        guard data.has(8, at: 0) else {
            decoded.warning = DecodeWarning(.truncated, .transport, "UDP header")
            return
        }
        let header = UDPHeader(
            srcPort: data.be16(0),
            dstPort: data.be16(2),
            length: data.be16(4),
            checksum: data.be16(6)
        )
        decoded.transport = .udp(header)
        let length = Int(header.length)
        if length >= 8 && length <= wireLength {
            decoded.payloadLength = length - 8
        } else if length == 0 && wireLength > 0xffff {
            // A UDP jumbogram (RFC 2675) or GSO super-packet: the IP length counts.
            decoded.payloadLength = wireLength - 8
        } else {
            decoded.payloadLength = Swift.max(0, wireLength - 8)
            decoded.payload = data.slice(8, decoded.payloadLength)
            decoded.warning = DecodeWarning(.badLength, .transport, "UDP length")
            return
        }
        decoded.payload = data.slice(8, decoded.payloadLength)
        let port = header.dstPort
        if port == self.options.vxlanPorts.0 || port == self.options.vxlanPorts.1 {
            self.decodeVXLAN(decoded.payload, header, &decoded, depth: depth)
        } else if port == self.options.genevePort {
            self.decodeGeneve(decoded.payload, header, &decoded, depth: depth)
        }
    }

    // ICMP (RFC 792) / ICMPv6 (RFC 4443): type(1) code(1) checksum(2) rest-of-header(4); errors then quote the
    // original IP header and at least 8 bytes of what followed it.
    static func decodeICMP(
        _ data: UnsafeRawBufferPointer,
        wireLength: Int,
        isV6: Bool,
        _ decoded: inout DecodedPacket
    ) {
        guard data.has(4, at: 0) else {
            decoded.warning = DecodeWarning(.truncated, .transport, isV6 ? "ICMPv6 header" : "ICMP header")
            return
        }
        var message = ICMPMessage(
            type: data.u8(0),
            code: data.u8(1),
            isV6: isV6,
            restOfHeader: data.has(8, at: 0) ? data.be32(4) : 0,
            quoted: nil
        )
        if message.isError, data.has(8, at: 0) {
            message.quoted = Self.decodeQuoted(data.slice(8, data.count - 8))
        }
        decoded.transport = .icmp(message)
        decoded.payloadLength = Swift.max(0, wireLength - 8)
        decoded.payload = data.slice(8, decoded.payloadLength)
        if !data.has(8, at: 0) {
            decoded.warning = DecodeWarning(.truncated, .transport, isV6 ? "ICMPv6 header" : "ICMP header")
        }
    }

    /// The quoted packet inside an ICMP error: as much of the IP header and the transport ports as the quote holds.
    static func decodeQuoted(_ quote: UnsafeRawBufferPointer) -> QuotedPacket? {
        guard quote.has(1, at: 0) else { return nil }
        var quoted: QuotedPacket
        var transportOffset: Int
        switch quote.u8(0) >> 4 {
        case 4:
            guard quote.has(20, at: 0) else { return nil }
            let ihl = Int(quote.u8(0) & 0x0f) &* 4
            guard ihl >= 20 else { return nil }
            quoted = QuotedPacket(
                version: 4,
                src: IPAddress.ipv4(quote, 12),
                dst: IPAddress.ipv4(quote, 16),
                protocol: IPProtocol(rawValue: quote.u8(9)),
                ipID: UInt32(quote.be16(4)),
                totalLength: Int(quote.be16(2)),
                srcPort: nil,
                dstPort: nil,
                tcpSeq: nil
            )
            // A quoted non-first fragment has no transport header.
            guard quote.be16(6) & 0x1fff == 0 else { return quoted }
            transportOffset = ihl
        case 6:
            guard quote.has(40, at: 0) else { return nil }
            let walk = Self.walkIPv6Extensions(quote, 40, IPProtocol(rawValue: quote.u8(6)))
            quoted = QuotedPacket(
                version: 6,
                src: IPAddress.ipv6(quote, 8),
                dst: IPAddress.ipv6(quote, 24),
                protocol: walk.nextHeader,
                ipID: walk.fragment?.id ?? 0,
                totalLength: 40 + Int(quote.be16(4)),
                srcPort: nil,
                dstPort: nil,
                tcpSeq: nil
            )
            guard walk.warning == nil, (walk.fragment?.offset ?? 0) == 0 else { return quoted }
            transportOffset = walk.offset
        default:
            return nil
        }
        switch quoted.protocol.rawValue {
        case IPProtocol.tcp.rawValue, IPProtocol.udp.rawValue, IPProtocol.sctp.rawValue:
            if quote.has(4, at: transportOffset) {
                quoted.srcPort = quote.be16(transportOffset)
                quoted.dstPort = quote.be16(transportOffset + 2)
            }
            if quoted.protocol == .tcp, quote.has(8, at: transportOffset) {
                quoted.tcpSeq = quote.be32(transportOffset + 4)
            }
        default:
            break
        }
        return quoted
    }
}
