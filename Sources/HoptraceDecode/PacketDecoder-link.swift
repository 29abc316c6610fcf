// Link-layer decoders: each reads its header, fills `LinkInfo`, and hands back the EtherType of what follows and
// where it starts.

import HoptraceCapture

/// Where the network layer starts and what it is.
struct LinkResult {
    var etherType: EtherType
    var offset: Int

    init(_ etherType: EtherType, _ offset: Int) {
        self.etherType = etherType
        self.offset = offset
    }
}

/// Address families of DLT_NULL / LOOP headers.
private enum AddressFamily {
    static let inet: UInt32 = 2
    /// AF_INET6 on the BSDs (24), FreeBSD/DragonFly (28), macOS (30); Linux's 10 as well.
    static func isInet6(_ value: UInt32) -> Bool { value == 24 || value == 28 || value == 30 || value == 10 }
}

extension PacketDecoder {
    /// Decodes the link layer of `bytes` as `linkType`.
    ///
    /// - Returns: the payload's EtherType and offset, or nil (with `decoded.warning` set when it is a fault; without
    ///   a warning when the frame is simply not IP, such as an 802.3 LLC frame).
    func decodeLink(
        _ linkType: LinkType,
        _ bytes: UnsafeRawBufferPointer,
        _ decoded: inout DecodedPacket
    )
        -> LinkResult?
    {
        switch linkType.rawValue {
        case LinkType.ethernet.rawValue:
            return Self.decodeEthernet(bytes, 0, &decoded)
        case LinkType.linuxSLL2.rawValue:
            return Self.decodeSLL2(bytes, &decoded)
        case LinkType.linuxSLL.rawValue:
            return Self.decodeSLL(bytes, &decoded)
        case LinkType.raw.rawValue, 12, 14:
            return Self.decodeRaw(bytes, &decoded)
        case LinkType.ipv4.rawValue:
            decoded.link.etherType = .ipv4
            return LinkResult(.ipv4, 0)
        case LinkType.ipv6.rawValue:
            decoded.link.etherType = .ipv6
            return LinkResult(.ipv6, 0)
        case LinkType.null.rawValue, LinkType.loop.rawValue:
            return Self.decodeNull(bytes, networkOrder: linkType == .loop, &decoded)
        case LinkType.nflog.rawValue:
            return Self.decodeNFLOG(bytes, &decoded)
        default:
            decoded.warning = DecodeWarning(.unsupportedLinkType, .link, "link-layer type")
            return nil
        }
    }

    // Ethernet II (IEEE 802.3 clause 3), with 802.1Q / 802.1ad tags:
    //
    //  0                   6                  12      14
    // +-------------------+-------------------+-------+---------
    // | destination MAC   | source MAC        | type  | payload
    // +-------------------+-------------------+-------+---------
    //  a tag (type 0x8100, 0x88a8 or 0x9100) inserts 4 bytes before the type: TPID(2) | PCP DEI VID(12 bits)
    static func decodeEthernet(
        _ bytes: UnsafeRawBufferPointer,
        _ start: Int,
        _ decoded: inout DecodedPacket
    )
        -> LinkResult?
    {
        guard bytes.has(14, at: start) else {
            decoded.warning = DecodeWarning(.truncated, .link, "Ethernet header")
            return nil
        }
        decoded.link.dstMAC = MACAddress.read(bytes, start)
        decoded.link.srcMAC = MACAddress.read(bytes, start + 6)
        var type = bytes.be16(start + 12)
        var offset = start + 14
        while type == EtherType.vlan.rawValue || type == EtherType.qinq.rawValue
            || type == EtherType.qinqLegacy.rawValue
        {
            guard bytes.has(4, at: offset) else {
                decoded.warning = DecodeWarning(.truncated, .link, "VLAN tag")
                return nil
            }
            decoded.link.vlanIDs.append(bytes.be16(offset) & 0x0fff)
            type = bytes.be16(offset + 2)
            offset += 4
        }
        guard type >= 0x0600 else {
            // An 802.3 length field: LLC/SNAP follows, not IP.
            return nil
        }
        decoded.link.etherType = EtherType(rawValue: type)
        return LinkResult(EtherType(rawValue: type), offset)
    }

    // Linux cooked capture v2 (LINKTYPE_LINUX_SLL2), 20 bytes:
    //
    // +--------+--------+----------------+--------+----+----+-------------------+
    // |protocol|reserved| interface index| ARPHRD |pkt |addr| address (8 bytes) |
    // |  (2)   |  (2)   |      (4)       |  (2)   |type|len |                   |
    // +--------+--------+----------------+--------+----+----+-------------------+
    static func decodeSLL2(_ bytes: UnsafeRawBufferPointer, _ decoded: inout DecodedPacket) -> LinkResult? {
        guard bytes.has(20, at: 0) else {
            decoded.warning = DecodeWarning(.truncated, .link, "SLL2 header")
            return nil
        }
        let proto = bytes.be16(0)
        decoded.link.ifIndex = Int32(bitPattern: bytes.be32(4))
        decoded.link.arphrdType = bytes.be16(8)
        decoded.link.packetType = SLLPacketType(rawValue: UInt16(bytes.u8(10)))
        if bytes.u8(11) == 6 { decoded.link.srcMAC = MACAddress.read(bytes, 12) }
        return Self.sllPayload(proto, arphrd: bytes.be16(8), bytes, 20, &decoded)
    }

    // Linux cooked capture v1 (LINKTYPE_LINUX_SLL), 16 bytes:
    //
    // +----------+--------+----------+-------------------+----------+
    // | pkt type | ARPHRD | addr len | address (8 bytes) | protocol |
    // |   (2)    |  (2)   |   (2)    |                   |   (2)    |
    // +----------+--------+----------+-------------------+----------+
    static func decodeSLL(_ bytes: UnsafeRawBufferPointer, _ decoded: inout DecodedPacket) -> LinkResult? {
        guard bytes.has(16, at: 0) else {
            decoded.warning = DecodeWarning(.truncated, .link, "SLL header")
            return nil
        }
        decoded.link.packetType = SLLPacketType(rawValue: bytes.be16(0))
        decoded.link.arphrdType = bytes.be16(2)
        if bytes.be16(4) == 6 { decoded.link.srcMAC = MACAddress.read(bytes, 6) }
        return Self.sllPayload(bytes.be16(14), arphrd: bytes.be16(2), bytes, 16, &decoded)
    }

    /// The payload of an SLL/SLL2 header: an EtherType, except for the Linux-specific protocol values below 0x0600
    /// (802.2 LLC, 802.3 raw, CAN, ...) which are not IP.
    static func sllPayload(
        _ proto: UInt16,
        arphrd: UInt16,
        _ bytes: UnsafeRawBufferPointer,
        _ offset: Int,
        _ decoded: inout DecodedPacket
    ) -> LinkResult? {
        if decoded.direction == .unknown, let type = decoded.link.packetType {
            decoded.direction = type.direction
        }
        // ARPHRD_NETLINK (824) carries netlink messages in the protocol field's place.
        guard proto >= 0x0600, arphrd != 824 else { return nil }
        if proto == EtherType.vlan.rawValue || proto == EtherType.qinq.rawValue {
            // A VLAN tag left in the frame (no hardware VLAN offload): TCI then the real type.
            var type = proto
            var at = offset
            while type == EtherType.vlan.rawValue || type == EtherType.qinq.rawValue {
                guard bytes.has(4, at: at) else {
                    decoded.warning = DecodeWarning(.truncated, .link, "VLAN tag")
                    return nil
                }
                decoded.link.vlanIDs.append(bytes.be16(at) & 0x0fff)
                type = bytes.be16(at + 2)
                at += 4
            }
            decoded.link.etherType = EtherType(rawValue: type)
            return LinkResult(EtherType(rawValue: type), at)
        }
        decoded.link.etherType = EtherType(rawValue: proto)
        return LinkResult(EtherType(rawValue: proto), offset)
    }

    /// Raw IP: the version nibble tells IPv4 from IPv6.
    static func decodeRaw(_ bytes: UnsafeRawBufferPointer, _ decoded: inout DecodedPacket) -> LinkResult? {
        guard bytes.has(1, at: 0) else {
            decoded.warning = DecodeWarning(.truncated, .link, "raw IP packet")
            return nil
        }
        switch bytes.u8(0) >> 4 {
        case 4:
            decoded.link.etherType = .ipv4
            return LinkResult(.ipv4, 0)
        case 6:
            decoded.link.etherType = .ipv6
            return LinkResult(.ipv6, 0)
        default:
            decoded.warning = DecodeWarning(.badVersion, .network, "raw IP version")
            return nil
        }
    }

    // DLT_NULL: a 4-byte address family in the capturing host's byte order (so either order is accepted);
    // LOOP: the same in network byte order.
    static func decodeNull(
        _ bytes: UnsafeRawBufferPointer,
        networkOrder: Bool,
        _ decoded: inout DecodedPacket
    )
        -> LinkResult?
    {
        guard bytes.has(4, at: 0) else {
            decoded.warning = DecodeWarning(.truncated, .link, "loopback header")
            return nil
        }
        let big = bytes.be32(0)
        let little = bytes.le32(0)
        let family = networkOrder ? big : (big <= 0xffff ? big : little)
        let type: EtherType
        if family == AddressFamily.inet {
            type = .ipv4
        } else if AddressFamily.isInet6(family) {
            type = .ipv6
        } else {
            return nil
        }
        decoded.link.etherType = type
        return LinkResult(type, 4)
    }

    // NFLOG (LINKTYPE_NFLOG): family(1) version(1) resource id(2, big-endian), then TLVs:
    //
    // +-------------+-------------+------------------ - - -+---------+
    // | length (2)  | type (2)    | value                   | padding | to a multiple of 4
    // | host order  | host order  | (length - 4 bytes)      |         |
    // +-------------+-------------+------------------ - - -+---------+
    //
    // Type 9 (NFULA_PAYLOAD) holds the IP packet. Lengths are in the capturing host's order: little-endian on every
    // machine that matters (a big-endian reading is tried when the little-endian one does not fit).
    static func decodeNFLOG(_ bytes: UnsafeRawBufferPointer, _ decoded: inout DecodedPacket) -> LinkResult? {
        guard bytes.has(4, at: 0) else {
            decoded.warning = DecodeWarning(.truncated, .link, "NFLOG header")
            return nil
        }
        let family = bytes.u8(0)
        let type: EtherType
        switch family {
        case 2: type = .ipv4
        case 10: type = .ipv6
        default: return nil
        }
        var offset = 4
        while bytes.has(4, at: offset) {
            var length = Int(bytes.le16(offset))
            var tlvType = bytes.le16(offset + 2)
            if length < 4 || !bytes.has(length, at: offset) {
                let bigLength = Int(bytes.be16(offset))
                if bigLength >= 4, bytes.has(bigLength, at: offset) {
                    length = bigLength
                    tlvType = bytes.be16(offset + 2)
                } else if length >= 4, tlvType & 0x7fff == 9 {
                    // The payload TLV cut by the snapshot length: what is there is the packet's start.
                    decoded.link.etherType = type
                    return LinkResult(type, offset + 4)
                } else {
                    decoded.warning = DecodeWarning(.badLength, .link, "NFLOG TLV")
                    return nil
                }
            }
            // The top bit of the type is NLA_F_NESTED / byte-order flags; the type is the low 15 bits.
            if tlvType & 0x7fff == 9 {
                decoded.link.etherType = type
                return LinkResult(type, offset + 4)
            }
            // Length, then padding to a multiple of 4.
            offset += (length + 3) & ~3
        }
        decoded.warning = DecodeWarning(.truncated, .link, "NFLOG payload TLV")
        return nil
    }
}
