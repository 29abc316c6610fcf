// IP fragment reassembly, bounded: at most `maxDatagramsInFlight` datagrams, 65535 bytes each, dropped after
// `reassemblyTimeout` of packet time without a new fragment. The only part of decoding that allocates: one buffer
// per datagram in flight, from a pool that is reused.
//
// Overlaps: a fragment that overlaps received bytes with the same content (a retransmission, a duplicate capture) is
// accepted; one that overlaps with different content drops the datagram (as Linux does since 4.19 and RFC 5722
// requires for IPv6), with a `fragment-overlap` warning.

/// Reassembles IPv4 and IPv6 fragments.
final class FragmentReassembler {
    struct Key: Equatable {
        var src: IPAddress
        var dst: IPAddress
        var id: UInt32
        var proto: UInt8
        var version: UInt8
    }

    /// One datagram being put together. `storage` is 65536 data bytes followed by a bitmap of received 8-byte
    /// blocks (8192 bits).
    struct Datagram {
        var key: Key
        var storage: UnsafeMutableRawBufferPointer
        /// The datagram's payload length, known once the last fragment came.
        var total: Int?
        var lastSeen: Int64
    }

    enum Result {
        /// Stored; the datagram is not complete yet.
        case incomplete
        /// The datagram is complete: its payload, valid until the next `add` or `releaseCompleted`.
        case complete(UnsafeRawBufferPointer)
        /// The fragment or its datagram was dropped.
        case dropped(DecodeWarning)
    }

    static let maxBytes = 65535
    static let dataCapacity = 65536
    static let bitmapBytes = 65536 / 8 / 8
    let maxInFlight: Int
    let timeout: Int64
    private var inFlight: [Datagram] = []
    private var pool: [UnsafeMutableRawBufferPointer] = []
    private var completed: UnsafeMutableRawBufferPointer?
    /// Datagrams dropped since creation (timeout, eviction, conflict).
    private(set) var dropped = 0

    init(maxInFlight: Int, timeout: Int64) {
        self.maxInFlight = Swift.max(1, maxInFlight)
        self.timeout = timeout
    }

    deinit {
        for datagram in self.inFlight { datagram.storage.deallocate() }
        for buffer in self.pool { buffer.deallocate() }
        self.completed?.deallocate()
    }

    /// Gives the last completed datagram's buffer back to the pool (its payload pointer is invalid afterwards).
    func releaseCompleted() {
        if let buffer = self.completed {
            self.pool.append(buffer)
            self.completed = nil
        }
    }

    private func takeBuffer() -> UnsafeMutableRawBufferPointer {
        let buffer =
            self.pool.popLast()
            ?? UnsafeMutableRawBufferPointer.allocate(
                byteCount: Self.dataCapacity + Self.bitmapBytes,
                alignment: 8
            )
        // Clear the bitmap only: data bytes are read only where the bitmap says they were written.
        UnsafeMutableRawBufferPointer(rebasing: buffer[Self.dataCapacity...]).initializeMemory(
            as: UInt8.self,
            repeating: 0
        )
        return buffer
    }

    private func drop(at index: Int) {
        self.pool.append(self.inFlight[index].storage)
        self.inFlight.remove(at: index)
        self.dropped += 1
    }

    /// Adds one fragment.
    ///
    /// - Parameters:
    ///   - offset: the fragment's offset in bytes within the datagram's payload.
    ///   - more: the more-fragments flag.
    ///   - data: the fragment's captured bytes (must be all of it: `wireLength`).
    ///   - time: the packet's timestamp (ns), for the timeout.
    func add(key: Key, offset: Int, more: Bool, data: UnsafeRawBufferPointer, wireLength: Int, time: Int64) -> Result {
        // Expire datagrams whose last fragment is older than the timeout.
        var index = 0
        while index < self.inFlight.count {
            if time &- self.inFlight[index].lastSeen > self.timeout {
                self.drop(at: index)
            } else {
                index += 1
            }
        }
        let slot: Int
        if let found = self.inFlight.firstIndex(where: { $0.key == key }) {
            slot = found
        } else {
            if self.inFlight.count >= self.maxInFlight {
                // Evict the datagram that waited longest.
                var oldest = 0
                for i in self.inFlight.indices where self.inFlight[i].lastSeen < self.inFlight[oldest].lastSeen {
                    oldest = i
                }
                self.drop(at: oldest)
            }
            self.inFlight.append(Datagram(key: key, storage: self.takeBuffer(), total: nil, lastSeen: time))
            slot = self.inFlight.count - 1
        }
        self.inFlight[slot].lastSeen = time
        let end = offset + wireLength
        guard data.count >= wireLength else {
            self.drop(at: slot)
            return .dropped(DecodeWarning(.truncated, .fragment, "IP fragment (snapshot length)"))
        }
        guard end <= Self.maxBytes, !more || wireLength % 8 == 0, wireLength > 0 || !more else {
            self.drop(at: slot)
            return .dropped(DecodeWarning(.badFragment, .fragment, "IP fragment bounds"))
        }
        if let total = self.inFlight[slot].total, end > total || (!more && end != total) {
            self.drop(at: slot)
            return .dropped(DecodeWarning(.badFragment, .fragment, "IP fragment past the datagram's end"))
        }
        let storage = self.inFlight[slot].storage
        let bitmap = UnsafeMutableRawBufferPointer(rebasing: storage[Self.dataCapacity...])
        // Overlap: bytes already received must agree.
        var block = offset / 8
        while block * 8 < end {
            let byte = bitmap[block / 8]
            if byte & (1 << UInt8(block % 8)) != 0 {
                let from = Swift.max(block * 8, offset)
                let to = Swift.min(block * 8 + 8, end)
                for position in from..<to where storage[position] != data[position - offset] {
                    self.drop(at: slot)
                    return .dropped(DecodeWarning(.fragmentOverlap, .fragment, "overlapping IP fragments differ"))
                }
            }
            block += 1
        }
        if wireLength > 0 {
            UnsafeMutableRawBufferPointer(rebasing: storage[offset..<end]).copyMemory(
                from: UnsafeRawBufferPointer(rebasing: data[0..<wireLength])
            )
        }
        block = offset / 8
        while block * 8 < end {
            bitmap[block / 8] |= 1 << UInt8(block % 8)
            block += 1
        }
        if !more { self.inFlight[slot].total = end }
        guard let total = self.inFlight[slot].total else { return .incomplete }
        var complete = true
        block = 0
        while block * 8 < total {
            if bitmap[block / 8] & (1 << UInt8(block % 8)) == 0 {
                complete = false
                break
            }
            block += 1
        }
        guard complete else { return .incomplete }
        self.releaseCompleted()
        self.completed = storage
        self.inFlight.remove(at: slot)
        return .complete(UnsafeRawBufferPointer(rebasing: storage[0..<total]))
    }
}

extension PacketDecoder {
    /// Handles one IP fragment: stores it, and decodes the transport of the datagram it completes.
    func handleFragment(
        _ data: UnsafeRawBufferPointer,
        wireLength: Int,
        more: Bool,
        nextHeader: IPProtocol,
        _ decoded: inout DecodedPacket,
        depth: Int
    ) {
        guard var network = decoded.network else { return }
        self.statistics.fragments += 1
        decoded.transport = .other(protocol: nextHeader)
        decoded.transportBytes = data
        decoded.payload = data
        decoded.payloadLength = wireLength
        guard self.options.reassembleFragments else {
            if network.fragmentOffset == 0 {
                // The first fragment holds the transport header: decode what it has.
                self.decodeTransport(nextHeader, data, wireLength: wireLength, &decoded, depth: depth)
            }
            return
        }
        let key = FragmentReassembler.Key(
            src: network.src,
            dst: network.dst,
            id: network.ipID,
            proto: nextHeader.rawValue,
            version: network.version
        )
        let result = self.reassembler.add(
            key: key,
            offset: network.fragmentOffset,
            more: more,
            data: data,
            wireLength: wireLength,
            time: decoded.timestamp
        )
        switch result {
        case .incomplete:
            decoded.swallowed = true
        case .dropped(let warning):
            decoded.warning = warning
        case .complete(let datagram):
            self.statistics.reassembled += 1
            network.wasReassembled = true
            network.totalLength = network.headerLength + datagram.count
            var proto = nextHeader
            var start = 0
            if network.version == 6 {
                // The fragmentable part may begin with more extension headers (destination options).
                let walk = Self.walkIPv6Extensions(datagram, 0, nextHeader)
                if let warning = walk.warning {
                    decoded.network = network
                    decoded.warning = warning
                    return
                }
                proto = walk.nextHeader
                start = walk.offset
                network.protocol = proto
            }
            decoded.network = network
            self.decodeTransport(
                proto,
                datagram.slice(start, datagram.count - start),
                wireLength: datagram.count - start,
                &decoded,
                depth: depth
            )
        }
    }
}
