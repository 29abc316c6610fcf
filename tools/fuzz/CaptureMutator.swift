// A structure-aware libFuzzer mutator for capture files (linked into targets that say `// fuzz-mutator: capture`).
//
// The input is parsed as pcap (file header, then records) or pcapng (blocks); one field or record is changed and the
// file is written back with its lengths made consistent again, so that the change reaches the stages behind the
// reader instead of being rejected by it. The fields: record and block timestamps (to either end of the 64-bit range,
// backwards, repeated), captured and original lengths, the link type, if_tsresol and if_tsoffset (added when
// absent), EPB interface ids and flags, and inside the packet the IPv4 total length, the TCP sequence and
// acknowledgment numbers and the TCP flags; records are also duplicated, dropped, swapped and spliced. A quarter of
// the time, or when the input does not parse, libFuzzer's own byte mutation runs instead.

@_silgen_name("LLVMFuzzerMutate")
private func libFuzzerMutate(_ data: UnsafeMutablePointer<UInt8>, _ size: Int, _ maxSize: Int) -> Int

@_cdecl("LLVMFuzzerCustomMutator")
public func captureCustomMutator(
    _ data: UnsafeMutablePointer<UInt8>,
    _ size: Int,
    _ maxSize: Int,
    _ seed: UInt32
) -> Int {
    var random = MutatorRandom(seed: UInt64(seed) | 1 << 40)
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    if random.below(4) != 0, var capture = MutableCapture(parsing: input) {
        capture.mutate(&random)
        let output = capture.serialized()
        if output.count <= maxSize, output != input {
            output.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: output.count) }
            return output.count
        }
    }
    return libFuzzerMutate(data, size, maxSize)
}

/// xorshift64*: cheap, deterministic per seed.
struct MutatorRandom {
    var state: UInt64
    init(seed: UInt64) { self.state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
    mutating func next() -> UInt64 {
        self.state ^= self.state >> 12
        self.state ^= self.state << 25
        self.state ^= self.state >> 27
        return self.state &* 0x2545_F491_4F6C_DD1D
    }
    mutating func below(_ bound: Int) -> Int { bound <= 1 ? 0 : Int(self.next() % UInt64(bound)) }
    /// An interesting 64-bit value: an extreme, a small number, a power of two or ten, or anything.
    mutating func interesting() -> UInt64 {
        switch self.below(8) {
        case 0: return [0, 1, .max, .max - 1, 1 << 63, (1 << 63) - 1, 1 << 32, 0xFFFF_FFFF][self.below(8)]
        case 1: return UInt64(self.below(1000))
        case 2: return 1 << UInt64(self.below(64))
        case 3:
            var value: UInt64 = 1
            for _ in 0..<self.below(20) { value &*= 10 }
            return value
        case 4: return 9_223_372_036_854_775 &+ UInt64(self.below(3))  // the last µs of 2262, and after
        default: return self.next()
        }
    }
}

/// A capture as records or blocks, each a header and its bytes.
struct MutableCapture {
    enum Format { case pcap, pcapng }
    var format: Format
    var bigEndian: Bool
    /// pcap: the 24-byte file header; pcapng: unused.
    var header: [UInt8] = []
    /// pcap: (16-byte record header, data); pcapng: (type, body without the length fields).
    var records: [(head: [UInt8], body: [UInt8])] = []
    /// pcap: whether records are 24 bytes (the modified format).
    var recordHeaderLength = 16

    init?(parsing bytes: [UInt8]) {
        guard bytes.count >= 24 else { return nil }
        let le = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
        if le == 0x0A0D_0D0A {
            self.format = .pcapng
            self.bigEndian = bytes[8] == 0x1A
            var offset = 0
            var bigEndian = self.bigEndian
            while bytes.count - offset >= 12 {
                let typeLE = Self.u32(bytes, offset, bigEndian: false)
                if typeLE == 0x0A0D_0D0A { bigEndian = bytes[offset + 8] == 0x1A }
                let length = Int(Self.u32(bytes, offset + 4, bigEndian: bigEndian))
                guard length >= 12, length % 4 == 0, length <= bytes.count - offset else { break }
                self.records.append(
                    (Array(bytes[offset..<(offset + 4)]), Array(bytes[(offset + 8)..<(offset + length - 4)]))
                )
                offset += length
            }
            guard !self.records.isEmpty else { return nil }
            return
        }
        self.format = .pcap
        switch le {
        case 0xa1b2_c3d4, 0xa1b2_3c4d: self.bigEndian = false
        case 0xd4c3_b2a1, 0x4d3c_b2a1: self.bigEndian = true
        case 0xa1b2_cd34:
            self.bigEndian = false
            self.recordHeaderLength = 24
        case 0x34cd_b2a1:
            self.bigEndian = true
            self.recordHeaderLength = 24
        default: return nil
        }
        self.header = Array(bytes[0..<24])
        var offset = 24
        while bytes.count - offset >= self.recordHeaderLength {
            let captured = Int(Self.u32(bytes, offset + 8, bigEndian: self.bigEndian))
            let end = offset + self.recordHeaderLength
            guard captured <= bytes.count - end else { break }
            self.records.append((Array(bytes[offset..<end]), Array(bytes[end..<(end + captured)])))
            offset = end + captured
        }
    }

    static func u32(_ bytes: [UInt8], _ offset: Int, bigEndian: Bool) -> UInt32 {
        let b = bytes[offset..<(offset + 4)].map(UInt32.init)
        return bigEndian ? b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3] : b[3] << 24 | b[2] << 16 | b[1] << 8 | b[0]
    }

    func encode32(_ value: UInt32) -> [UInt8] {
        let le = [UInt8(value & 0xff), UInt8(value >> 8 & 0xff), UInt8(value >> 16 & 0xff), UInt8(value >> 24)]
        return self.bigEndian ? le.reversed() : le
    }

    func encode16(_ value: UInt16) -> [UInt8] {
        let le = [UInt8(value & 0xff), UInt8(value >> 8)]
        return self.bigEndian ? le.reversed() : le
    }

    static func set(_ bytes: inout [UInt8], _ offset: Int, _ value: [UInt8]) {
        guard offset >= 0, offset + value.count <= bytes.count else { return }
        bytes.replaceSubrange(offset..<(offset + value.count), with: value)
    }

    mutating func mutate(_ random: inout MutatorRandom) {
        guard !self.records.isEmpty else { return }
        let index = random.below(self.records.count)
        switch random.below(12) {
        case 0:  // duplicate a record
            self.records.insert(self.records[index], at: random.below(self.records.count + 1))
        case 1:  // drop one
            if self.records.count > 1 { self.records.remove(at: index) }
        case 2:  // swap two
            self.records.swapAt(index, random.below(self.records.count))
        case 3:  // splice: another record's bytes into this one
            let other = self.records[random.below(self.records.count)].body
            let cut = random.below(self.records[index].body.count + 1)
            self.records[index].body = Array(self.records[index].body.prefix(cut)) + other.suffix(random.below(other.count + 1))
        case 4, 5:
            self.mutateTime(index, &random)
        case 6:
            self.mutateLengths(index, &random)
        case 7:
            self.mutateInterface(&random)
        default:
            self.mutatePacket(index, &random)
        }
    }

    /// A record's timestamp (pcap: seconds or fraction; pcapng EPB/OPB: the 64-bit count).
    mutating func mutateTime(_ index: Int, _ random: inout MutatorRandom) {
        let value = random.interesting()
        switch self.format {
        case .pcap:
            Self.set(&self.records[index].head, random.below(2) * 4, self.encode32(UInt32(truncatingIfNeeded: value)))
        case .pcapng:
            guard self.type(index) == 6 || self.type(index) == 2 else { return self.mutateInterface(&random) }
            Self.set(&self.records[index].body, 4, self.encode32(UInt32(truncatingIfNeeded: value >> 32)))
            Self.set(&self.records[index].body, 8, self.encode32(UInt32(truncatingIfNeeded: value)))
        }
    }

    /// Captured and original lengths (the bytes stay; the reader must catch the contradiction).
    mutating func mutateLengths(_ index: Int, _ random: inout MutatorRandom) {
        let value = UInt32(truncatingIfNeeded: random.interesting())
        switch self.format {
        case .pcap:
            Self.set(&self.records[index].head, 8 + 4 * random.below(2), self.encode32(value))
        case .pcapng:
            if self.type(index) == 6 || self.type(index) == 2 {
                Self.set(&self.records[index].body, 12 + 4 * random.below(2), self.encode32(value))
            } else if self.type(index) == 3 {
                Self.set(&self.records[index].body, 0, self.encode32(value))
            }
        }
    }

    /// The link type, if_tsresol, if_tsoffset, an EPB's interface id or flags.
    mutating func mutateInterface(_ random: inout MutatorRandom) {
        let linkTypes: [UInt16] = [1, 101, 113, 276, 0, 228, 229, 239, 147, 12, 14, 108, UInt16(random.below(300))]
        let linkType = linkTypes[random.below(linkTypes.count)]
        switch self.format {
        case .pcap:
            Self.set(&self.header, 20, self.encode32(UInt32(linkType)))
        case .pcapng:
            let interfaces = self.records.indices.filter { self.type($0) == 1 }
            let packets = self.records.indices.filter { self.type($0) == 6 }
            if !packets.isEmpty, random.below(3) == 0 {
                let packet = packets[random.below(packets.count)]
                Self.set(&self.records[packet].body, 0, self.encode32(UInt32(random.below(4))))
                return
            }
            guard !interfaces.isEmpty else { return }
            let interface = interfaces[random.below(interfaces.count)]
            switch random.below(3) {
            case 0:
                Self.set(&self.records[interface].body, 0, self.encode16(linkType))
            case 1:
                // if_tsresol (code 9): any byte; appended before the options end (or as the only option).
                let resolution = [UInt8(random.below(256)), 0x80 | UInt8(random.below(128)), 9, 6, 0, 19, 20][
                    random.below(7)]
                self.appendOption(interface, code: 9, value: [resolution, 0, 0, 0], length: 1)
            default:
                // if_tsoffset (code 14): a signed 64-bit number of seconds.
                let value = random.interesting()
                let high = self.encode32(UInt32(truncatingIfNeeded: value >> 32))
                let low = self.encode32(UInt32(truncatingIfNeeded: value))
                self.appendOption(interface, code: 14, value: self.bigEndian ? high + low : low + high, length: 8)
            }
        }
    }

    /// Puts an option first in an IDB's options (earlier options of the same code are then overridden by none:
    /// readers take the last, so it is appended after the others and before an end-of-options).
    mutating func appendOption(_ index: Int, code: UInt16, value: [UInt8], length: UInt16) {
        var body = self.records[index].body
        guard body.count >= 8 else { return }
        // Walk the options to the end marker (or the end of the body).
        var offset = 8
        while body.count - offset >= 4 {
            let (b0, b1, b2, b3) = (UInt16(body[offset]), UInt16(body[offset + 1]), body[offset + 2], body[offset + 3])
            let optionCode = self.bigEndian ? b0 << 8 | b1 : b1 << 8 | b0
            let optionLength = self.bigEndian ? Int(b2) << 8 | Int(b3) : Int(b3) << 8 | Int(b2)
            if optionCode == 0 { break }
            offset += 4 + (optionLength + 3) & ~3
        }
        offset = min(offset, body.count)
        let option = self.encode16(code) + self.encode16(length) + value
        body = Array(body.prefix(offset)) + option + [0, 0, 0, 0]
        self.records[index].body = body
    }

    /// A field inside the packet: the IPv4 total length, the TCP sequence, acknowledgment or flags; or libFuzzer's
    /// byte mutation on the packet alone.
    mutating func mutatePacket(_ index: Int, _ random: inout MutatorRandom) {
        let dataStart = self.format == .pcap ? 0 : (self.type(index) == 3 ? 4 : 20)
        var body = self.records[index].body
        guard body.count > dataStart else { return }
        // Find an IPv4 header with a TCP payload: version/IHL 0x45 and protocol 6, at the offsets link layers put it.
        var ip: Int?
        for offset in [14, 0, 16, 20, 18, 4, 28] where dataStart + offset + 40 <= body.count {
            let at = dataStart + offset
            if body[at] == 0x45, body[at + 9] == 6 || body[at + 9] == 17 {
                ip = at
                break
            }
        }
        guard let ip, random.below(5) != 0 else {
            var packet = Array(body[dataStart...])
            let capacity = packet.count * 2 + 64
            packet += [UInt8](repeating: 0, count: capacity - packet.count)
            let newSize = packet.withUnsafeMutableBufferPointer {
                libFuzzerMutate($0.baseAddress!, body.count - dataStart, capacity)
            }
            body = Array(body[..<dataStart]) + packet.prefix(newSize)
            if self.format == .pcapng, self.type(index) == 6 || self.type(index) == 2 {
                // The captured length follows the new packet; what followed it (options) is gone.
                Self.set(&body, 12, self.encode32(UInt32(newSize)))
            }
            self.records[index].body = body
            return
        }
        let tcp = ip + 20
        let value = random.interesting()
        switch random.below(5) {
        case 0:  // IPv4 total length
            body[ip + 2] = UInt8(truncatingIfNeeded: value >> 8)
            body[ip + 3] = UInt8(truncatingIfNeeded: value)
        case 1, 2:  // sequence or acknowledgment number, big-endian on the wire
            let at = tcp + 4 + 4 * random.below(2)
            for byte in 0..<4 { body[at + byte] = UInt8(truncatingIfNeeded: value >> UInt64(24 - 8 * byte)) }
        case 3:  // TCP flags: any combination
            body[tcp + 13] = UInt8(truncatingIfNeeded: value)
        default:  // ports: towards 80 and 53, or anything
            let port: UInt16 = [80, 53, 8080, UInt16(truncatingIfNeeded: value)][random.below(4)]
            let at = tcp + 2 * random.below(2)
            body[at] = UInt8(port >> 8)
            body[at + 1] = UInt8(port & 0xff)
        }
        self.records[index].body = body
    }

    func type(_ index: Int) -> UInt32 {
        Self.u32(self.records[index].head, 0, bigEndian: self.bigEndian)
    }

    /// The file again, each record's captured length (pcap) or block lengths (pcapng) made to match its bytes, unless
    /// a length mutation just set it (pcap keeps the header's captured length only when it fits the data).
    func serialized() -> [UInt8] {
        var out: [UInt8] = []
        switch self.format {
        case .pcap:
            out += self.header
            for record in self.records {
                var head = record.head
                let claimed = Int(Self.u32(head, 8, bigEndian: self.bigEndian))
                if claimed != record.body.count {
                    Self.set(&head, 8, self.encode32(UInt32(record.body.count)))
                }
                out += head + record.body
            }
        case .pcapng:
            for record in self.records {
                var body = record.body
                while body.count % 4 != 0 { body.append(0) }
                let total = self.encode32(UInt32(12 + body.count))
                out += record.head + total + body + total
            }
        }
        return out
    }
}
