// IPv4, IPv6 (extension headers) and ARP.

extension PacketDecoder {
    /// Decodes what follows a link-layer header (or a tunnel header) announcing `type`.
    func decodeEtherPayload(
        _ type: EtherType,
        _ bytes: UnsafeRawBufferPointer,
        _ offset: Int,
        _ decoded: inout DecodedPacket,
        depth: Int
    ) {
        switch type.rawValue {
        case EtherType.ipv4.rawValue:
            self.decodeIPv4(bytes, offset, &decoded, depth: depth)
        case EtherType.ipv6.rawValue:
            self.decodeIPv6(bytes, offset, &decoded, depth: depth)
        case EtherType.arp.rawValue:
            Self.decodeARP(bytes, offset, &decoded)
        default:
            break
        }
    }

    // IPv4 (RFC 791 section 3.1):
    //
    //  0                   1                   2                   3
    //  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |Version|  IHL  |    DSCP   |ECN|          Total Length         |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |         Identification        |Flags|      Fragment Offset    |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |  Time to Live |    Protocol   |         Header Checksum       |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |                       Source Address                          |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |                    Destination Address                        |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |                    Options (IHL > 5)                          |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    func decodeIPv4(_ bytes: UnsafeRawBufferPointer, _ offset: Int, _ decoded: inout DecodedPacket, depth: Int) {
        guard bytes.has(20, at: offset) else {
            decoded.warning = DecodeWarning(.truncated, .network, "IPv4 header")
            return
        }
        let versionIHL = bytes.u8(offset)
        guard versionIHL >> 4 == 4 else {
            decoded.warning = DecodeWarning(.badVersion, .network, "IPv4 header")
            return
        }
        let ihl = Int(versionIHL & 0x0f) &* 4
        guard ihl >= 20 else {
            decoded.warning = DecodeWarning(.badLength, .network, "IPv4 header length")
            return
        }
        guard bytes.has(ihl, at: offset) else {
            decoded.warning = DecodeWarning(.truncated, .network, "IPv4 options")
            return
        }
        var totalLength = Int(bytes.be16(offset + 2))
        if totalLength == 0 {
            // TSO / BIG TCP (Linux 6.3+ for IPv4): a total length of 0 means "as long as the frame".
            totalLength = Self.frameRemainder(bytes, offset, decoded)
        }
        var header = NetworkHeader(
            version: 4,
            src: IPAddress.ipv4(bytes, offset + 12),
            dst: IPAddress.ipv4(bytes, offset + 16),
            protocol: IPProtocol(rawValue: bytes.u8(offset + 9))
        )
        let tos = bytes.u8(offset + 1)
        header.dscp = tos >> 2
        header.ecn = tos & 0x03
        header.ipID = UInt32(bytes.be16(offset + 4))
        header.ttl = bytes.u8(offset + 8)
        header.totalLength = totalLength
        header.headerLength = ihl
        let flagsOffset = bytes.be16(offset + 6)
        header.dontFragment = flagsOffset & 0x4000 != 0
        let moreFragments = flagsOffset & 0x2000 != 0
        header.fragmentOffset = Int(flagsOffset & 0x1fff) &* 8
        header.isFragment = moreFragments || header.fragmentOffset != 0
        decoded.network = header
        guard totalLength >= ihl else {
            decoded.warning = DecodeWarning(.badLength, .network, "IPv4 total length")
            return
        }
        // The IP payload as captured, without Ethernet trailer padding past the total length.
        let data = bytes.slice(offset + ihl, totalLength - ihl)
        if header.isFragment {
            self.handleFragment(
                data,
                wireLength: totalLength - ihl,
                more: moreFragments,
                nextHeader: header.protocol,
                &decoded,
                depth: depth
            )
            return
        }
        self.decodeTransport(header.protocol, data, wireLength: totalLength - ihl, &decoded, depth: depth)
    }

    /// The bytes of the frame from `offset` to its end on the wire (for length fields that say "0: all of it").
    static func frameRemainder(_ bytes: UnsafeRawBufferPointer, _ offset: Int, _ decoded: DecodedPacket) -> Int {
        // The snapshot length may have cut the frame: the wire length is the captured count plus what was cut.
        let cut = Swift.max(0, decoded.originalLength - decoded.capturedLength)
        return Swift.max(0, bytes.count - offset) + cut
    }

    // IPv6 (RFC 8200 section 3), then its extension headers (section 4):
    //
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |Version| Traffic Class |           Flow Label                  |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |         Payload Length        |  Next Header  |   Hop Limit   |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |                 Source Address (16 bytes)                     |
    // |              Destination Address (16 bytes)                   |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    func decodeIPv6(_ bytes: UnsafeRawBufferPointer, _ offset: Int, _ decoded: inout DecodedPacket, depth: Int) {
        guard bytes.has(40, at: offset) else {
            decoded.warning = DecodeWarning(.truncated, .network, "IPv6 header")
            return
        }
        let first = bytes.be32(offset)
        guard first >> 28 == 6 else {
            decoded.warning = DecodeWarning(.badVersion, .network, "IPv6 header")
            return
        }
        var totalLength = 40 &+ Int(bytes.be16(offset + 4))
        if totalLength == 40 && bytes.u8(offset + 6) != IPProtocol.noNextHeader.rawValue {
            // Payload length 0 with a payload: a jumbogram / BIG TCP; the frame says how long.
            totalLength = Swift.max(40, Self.frameRemainder(bytes, offset, decoded))
        }
        var header = NetworkHeader(
            version: 6,
            src: IPAddress.ipv6(bytes, offset + 8),
            dst: IPAddress.ipv6(bytes, offset + 24),
            protocol: IPProtocol(rawValue: bytes.u8(offset + 6))
        )
        let trafficClass = UInt8(truncatingIfNeeded: first >> 20)
        header.dscp = trafficClass >> 2
        header.ecn = trafficClass & 0x03
        header.ttl = bytes.u8(offset + 7)
        header.totalLength = totalLength
        // Only the bytes of this datagram: trailer padding excluded.
        let datagram = bytes.slice(offset, totalLength)
        let walk = Self.walkIPv6Extensions(datagram, 40, IPProtocol(rawValue: bytes.u8(offset + 6)))
        header.protocol = walk.nextHeader
        header.headerLength = walk.offset
        if let fragment = walk.fragment {
            header.ipID = fragment.id
            header.isFragment = fragment.offset != 0 || fragment.more
            header.fragmentOffset = fragment.offset
        }
        decoded.network = header
        if let warning = walk.warning {
            decoded.warning = warning
            return
        }
        guard walk.offset <= totalLength else {
            decoded.warning = DecodeWarning(.badLength, .network, "IPv6 payload length")
            return
        }
        let data = datagram.slice(walk.offset, totalLength - walk.offset)
        if header.isFragment {
            self.handleFragment(
                data,
                wireLength: totalLength - walk.offset,
                more: walk.fragment?.more ?? false,
                nextHeader: walk.nextHeader,
                &decoded,
                depth: depth
            )
            return
        }
        self.decodeTransport(walk.nextHeader, data, wireLength: totalLength - walk.offset, &decoded, depth: depth)
    }

    /// An IPv6 fragment header's fields.
    struct IPv6Fragment {
        var id: UInt32
        var offset: Int
        var more: Bool
    }

    /// Where the IPv6 extension-header chain ends.
    struct IPv6Walk {
        /// The upper-layer protocol (or the header after a fragment header that stops the walk).
        var nextHeader: IPProtocol
        /// Offset of the upper-layer header.
        var offset: Int
        /// The fragment header, if one was met; a non-atomic one stops the walk right after it.
        var fragment: IPv6Fragment?
        var warning: DecodeWarning?
    }

    // Extension headers (RFC 8200 section 4): hop-by-hop (0), routing (43), destination options (60) are
    // next-header(1) | length in 8-byte units not counting the first (1) | ...; AH (51, RFC 4302) counts 4-byte units
    // minus 2; fragment (44) is 8 bytes: next-header(1) | reserved(1) | offset(13 bits) res(2) M(1) | id(4).
    /// Walks the extension headers of the IPv6 datagram `bytes` (which starts at the IPv6 header) from `start`.
    static func walkIPv6Extensions(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ first: IPProtocol) -> IPv6Walk {
        var walk = IPv6Walk(nextHeader: first, offset: start, fragment: nil, warning: nil)
        var remaining = 16  // at most this many extension headers
        while remaining > 0 {
            remaining -= 1
            let at = walk.offset
            switch walk.nextHeader.rawValue {
            case IPProtocol.hopByHop.rawValue, IPProtocol.routing.rawValue, IPProtocol.destinationOptions.rawValue:
                guard bytes.has(2, at: at) else {
                    walk.warning = DecodeWarning(.truncated, .network, "IPv6 extension header")
                    return walk
                }
                let length = (Int(bytes.u8(at + 1)) &+ 1) &* 8
                guard bytes.has(length, at: at) else {
                    walk.warning = DecodeWarning(.truncated, .network, "IPv6 extension header")
                    return walk
                }
                walk.nextHeader = IPProtocol(rawValue: bytes.u8(at))
                walk.offset = at + length
            case IPProtocol.authentication.rawValue:
                guard bytes.has(2, at: at) else {
                    walk.warning = DecodeWarning(.truncated, .network, "IPv6 authentication header")
                    return walk
                }
                let length = (Int(bytes.u8(at + 1)) &+ 2) &* 4
                guard bytes.has(length, at: at) else {
                    walk.warning = DecodeWarning(.truncated, .network, "IPv6 authentication header")
                    return walk
                }
                walk.nextHeader = IPProtocol(rawValue: bytes.u8(at))
                walk.offset = at + length
            case IPProtocol.fragment.rawValue:
                guard bytes.has(8, at: at) else {
                    walk.warning = DecodeWarning(.truncated, .network, "IPv6 fragment header")
                    return walk
                }
                let offsetFlags = bytes.be16(at + 2)
                let fragment = IPv6Fragment(
                    id: bytes.be32(at + 4),
                    offset: Int(offsetFlags & 0xfff8),
                    more: offsetFlags & 0x0001 != 0
                )
                walk.fragment = fragment
                walk.nextHeader = IPProtocol(rawValue: bytes.u8(at))
                walk.offset = at + 8
                if fragment.offset != 0 || fragment.more {
                    // The rest belongs to the fragmentable part: walked after reassembly.
                    return walk
                }
            // An atomic fragment (RFC 6946): offset 0, M 0; the chain goes on.
            default:
                return walk
            }
        }
        return walk
    }

    // ARP over Ethernet/IPv4 (RFC 826): htype(2) ptype(2) hlen(1) plen(1) op(2) sha spa tha tpa.
    static func decodeARP(_ bytes: UnsafeRawBufferPointer, _ offset: Int, _ decoded: inout DecodedPacket) {
        guard bytes.has(8, at: offset) else {
            decoded.warning = DecodeWarning(.truncated, .arp, "ARP header")
            return
        }
        let hlen = Int(bytes.u8(offset + 4))
        let plen = Int(bytes.u8(offset + 5))
        let operation = bytes.be16(offset + 6)
        guard bytes.has(2 &* (hlen + plen), at: offset + 8) else {
            decoded.warning = DecodeWarning(.truncated, .arp, "ARP addresses")
            decoded.arp = ARPMessage(
                operation: operation,
                senderMAC: nil,
                senderIP: nil,
                targetMAC: nil,
                targetIP: nil,
                length: Swift.max(0, decoded.originalLength - offset)
            )
            return
        }
        let sha = offset + 8
        let spa = sha + hlen
        let tha = spa + plen
        let tpa = tha + hlen
        let isIPv4 = bytes.be16(offset + 2) == EtherType.ipv4.rawValue && plen == 4
        decoded.arp = ARPMessage(
            operation: operation,
            senderMAC: hlen == 6 ? MACAddress.read(bytes, sha) : nil,
            senderIP: isIPv4 ? IPAddress.ipv4(bytes, spa) : nil,
            targetMAC: hlen == 6 ? MACAddress.read(bytes, tha) : nil,
            targetIP: isIPv4 ? IPAddress.ipv4(bytes, tpa) : nil,
            length: Swift.max(0, decoded.originalLength - offset)
        )
    }
}
