import HoptraceDecode

/// What identifies one TCP packet at one capture point, hashed: sequence and acknowledgment numbers, flags, window,
/// payload length, the timestamp and SACK options, and IP identification. Two packets with the same signature
/// microseconds apart are one packet tapped twice; a duplicate ACK differs in its SACK blocks or IP identification, a
/// retransmission in its time (never sooner than a round trip) and usually its timestamp option.
struct PacketSignature {
    /// The hash.
    var value: UInt64
    /// Whether the IP identification took part (IPv4 with a non-zero ID).
    var hasIdentification: Bool

    init(_ tcp: TCPHeader, length: Int, ipID: UInt32) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        @inline(__always) func mix(_ value: UInt64) {
            hash = (hash ^ value) &* 0x0000_0100_0000_01b3
            hash ^= hash >> 29
        }
        mix(UInt64(tcp.seq))
        mix(UInt64(tcp.ack))
        mix(UInt64(tcp.flags.rawValue) | UInt64(tcp.window) << 8)
        if let timestamp = tcp.options.timestamp { mix(UInt64(timestamp.val) << 32 | UInt64(timestamp.ecr)) }
        for block in tcp.options.sackBlocks { mix(UInt64(block.left) << 32 | UInt64(block.right)) }
        mix(UInt64(truncatingIfNeeded: length))
        mix(UInt64(ipID))
        self.value = hash
        self.hasIdentification = ipID != 0
    }

    /// A side's last packet: its signature and time (`.min`: none yet).
    struct Mark {
        var signature: UInt64 = 0
        var time: Int64 = .min
    }
}
