// Overlay decapsulation: VXLAN, Geneve, GRE (IP-in-IP is in the transport dispatch). After a tunnel header the
// inner frame is decoded into the same `DecodedPacket`: `network`/`transport` become the inner ones, `tunnel`
// keeps the outermost tunnel's addresses.

extension PacketDecoder {
    /// Records the tunnel (the outermost one only) and clears the outer network and transport for the inner frame.
    ///
    /// - Returns: false (with a warning) when the packet is nested deeper than ``DecodeOptions/maxTunnelDepth``.
    func enterTunnel(
        _ kind: TunnelKind,
        _ srcPort: UInt16,
        _ dstPort: UInt16,
        _ decoded: inout DecodedPacket,
        depth: Int
    ) -> Bool {
        guard depth < self.options.maxTunnelDepth, let outer = decoded.network else {
            decoded.warning = DecodeWarning(.tunnelTooDeep, .tunnel, "tunnel nesting")
            return false
        }
        if decoded.tunnel == nil {
            decoded.tunnel = TunnelInfo(
                kind: kind,
                outerSrc: outer.src,
                outerDst: outer.dst,
                outerSrcPort: srcPort,
                outerDstPort: dstPort
            )
        } else {
            decoded.tunnel?.depth += 1
        }
        decoded.network = nil
        decoded.transport = .none
        decoded.transportBytes = UnsafeRawBufferPointer(start: nil, count: 0)
        decoded.payload = UnsafeRawBufferPointer(start: nil, count: 0)
        decoded.payloadLength = 0
        return true
    }

    /// Decodes an Ethernet frame inside a tunnel; the outer link information is kept.
    func decodeInnerEthernet(
        _ bytes: UnsafeRawBufferPointer,
        _ offset: Int,
        _ decoded: inout DecodedPacket,
        depth: Int
    ) {
        let outerLink = decoded.link
        let inner = Self.decodeEthernet(bytes, offset, &decoded)
        decoded.link = outerLink
        if let inner {
            self.decodeEtherPayload(inner.etherType, bytes, inner.offset, &decoded, depth: depth)
        }
    }

    // VXLAN (RFC 7348 section 5):
    //
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |R|R|R|R|I|R|R|R|            Reserved                           |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |                VXLAN Network Identifier (VNI) |   Reserved    |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    //  then an Ethernet frame.
    func decodeVXLAN(
        _ payload: UnsafeRawBufferPointer,
        _ udp: UDPHeader,
        _ decoded: inout DecodedPacket,
        depth: Int
    ) {
        guard payload.has(8, at: 0) else {
            decoded.warning = DecodeWarning(.truncated, .tunnel, "VXLAN header")
            return
        }
        // Without the I flag this is not VXLAN (some other protocol on the port): leave it as UDP.
        guard payload.u8(0) & 0x08 != 0 else { return }
        let vni = payload.be32(4) >> 8
        guard self.enterTunnel(.vxlan(vni: vni), udp.srcPort, udp.dstPort, &decoded, depth: depth) else { return }
        self.decodeInnerEthernet(payload, 8, &decoded, depth: depth + 1)
    }

    // Geneve (RFC 8926 section 3.4):
    //
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |Ver|  Opt Len  |O|C|    Rsvd.  |          Protocol Type        |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |        Virtual Network Identifier (VNI)       |    Reserved   |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |                    Variable-Length Options (Opt Len * 4)      |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    func decodeGeneve(
        _ payload: UnsafeRawBufferPointer,
        _ udp: UDPHeader,
        _ decoded: inout DecodedPacket,
        depth: Int
    ) {
        guard payload.has(8, at: 0) else {
            decoded.warning = DecodeWarning(.truncated, .tunnel, "Geneve header")
            return
        }
        guard payload.u8(0) >> 6 == 0 else {
            decoded.warning = DecodeWarning(.badTunnel, .tunnel, "Geneve version")
            return
        }
        let optionsLength = Int(payload.u8(0) & 0x3f) &* 4
        guard payload.has(8 + optionsLength, at: 0) else {
            decoded.warning = DecodeWarning(.truncated, .tunnel, "Geneve options")
            return
        }
        let proto = EtherType(rawValue: payload.be16(2))
        let vni = payload.be32(4) >> 8
        guard self.enterTunnel(.geneve(vni: vni), udp.srcPort, udp.dstPort, &decoded, depth: depth) else { return }
        self.decodeTunnelPayload(proto, payload, 8 + optionsLength, &decoded, depth: depth + 1)
    }

    /// What a Geneve or GRE header announces: an Ethernet frame (0x6558) or an IP packet.
    func decodeTunnelPayload(
        _ proto: EtherType,
        _ bytes: UnsafeRawBufferPointer,
        _ offset: Int,
        _ decoded: inout DecodedPacket,
        depth: Int
    ) {
        if proto == .transparentEthernet {
            self.decodeInnerEthernet(bytes, offset, &decoded, depth: depth)
        } else {
            self.decodeEtherPayload(proto, bytes, offset, &decoded, depth: depth)
        }
    }

    // GRE (RFC 2784, key and sequence from RFC 2890):
    //
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |C|R|K|S| Reserved0       | Ver |         Protocol Type         |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |      Checksum (optional)      |       Reserved1 (Optional)    |
    // |                         Key (optional)                        |
    // |                 Sequence Number (Optional)                    |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    func decodeGRE(_ data: UnsafeRawBufferPointer, wireLength: Int, _ decoded: inout DecodedPacket, depth: Int) {
        decoded.transport = .other(protocol: .gre)
        decoded.payload = data
        decoded.payloadLength = wireLength
        guard data.has(4, at: 0) else {
            decoded.warning = DecodeWarning(.truncated, .tunnel, "GRE header")
            return
        }
        let flags = data.be16(0)
        // Version 1 is PPTP's enhanced GRE, and the routing bit is obsolete: neither is an overlay.
        guard flags & 0x0007 == 0, flags & 0x4000 == 0 else { return }
        let hasChecksum = flags & 0x8000 != 0
        let hasKey = flags & 0x2000 != 0
        let hasSequence = flags & 0x1000 != 0
        let headerLength = 4 + (hasChecksum ? 4 : 0) + (hasKey ? 4 : 0) + (hasSequence ? 4 : 0)
        guard data.has(headerLength, at: 0) else {
            decoded.warning = DecodeWarning(.truncated, .tunnel, "GRE header")
            return
        }
        let key: UInt32? = hasKey ? data.be32(hasChecksum ? 8 : 4) : nil
        let proto = EtherType(rawValue: data.be16(2))
        guard proto == .ipv4 || proto == .ipv6 || proto == .transparentEthernet else { return }
        guard self.enterTunnel(.gre(key: key), 0, 0, &decoded, depth: depth) else { return }
        self.decodeTunnelPayload(proto, data, headerLength, &decoded, depth: depth + 1)
    }
}
