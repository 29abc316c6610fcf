/// A streaming JSON writer into a reusable byte buffer: commas and string escaping handled, keys in the order
/// written. Used for JSON lines (`--json`) and for whole documents.
public struct JSONWriter {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []
    /// One entry per open container: whether the next value needs a comma before it.
    private var needsComma: [Bool] = []
    /// Whether the last thing written was a key (the value follows without a comma).
    private var afterKey = false

    public init(capacity: Int = 4096) {
        bytes.reserveCapacity(capacity)
    }

    /// Empties the buffer (keeping its capacity) for the next line.
    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        needsComma.removeAll(keepingCapacity: true)
        afterKey = false
    }

    private mutating func separate() {
        if afterKey {
            afterKey = false
            return
        }
        if let last = needsComma.last {
            if last { bytes.append(UInt8(ascii: ",")) }
            needsComma[needsComma.count - 1] = true
        }
    }

    public mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma.append(false)
    }

    public mutating func endObject() {
        needsComma.removeLast()
        bytes.append(UInt8(ascii: "}"))
    }

    public mutating func beginArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma.append(false)
    }

    public mutating func endArray() {
        needsComma.removeLast()
        bytes.append(UInt8(ascii: "]"))
    }

    /// Writes an object key; the next call writes its value.
    public mutating func key(_ name: String) {
        separate()
        appendEscaped(name)
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    public mutating func string(_ value: String) {
        separate()
        appendEscaped(value)
    }

    public mutating func int<T: BinaryInteger>(_ value: T) {
        separate()
        if let small = Int64(exactly: value) {
            if small < 0 {
                bytes.append(UInt8(ascii: "-"))
                appendDecimal(small.magnitude, minimumDigits: 1)
            } else {
                appendDecimal(UInt64(small), minimumDigits: 1)
            }
        } else {
            bytes.append(contentsOf: String(value).utf8)
        }
    }

    /// The decimal digits of `value`, zero-padded to `minimumDigits`, without building a String.
    private mutating func appendDecimal(_ value: UInt64, minimumDigits: Int) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch, enough for 20 digits
        withUnsafeMutableBytes(of: &digits) { scratch in
            var end = scratch.count
            var rest = value
            repeat {
                end -= 1
                scratch[end] = UInt8(truncatingIfNeeded: 0x30 &+ rest % 10)
                rest /= 10
            } while rest > 0
            while scratch.count - end < minimumDigits, end > 0 {
                end -= 1
                scratch[end] = 0x30
            }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[end...]))
        }
    }

    /// A number with at most `decimals` digits after the point, trailing zeros kept for alignment-free parsing.
    public mutating func double(_ value: Double, decimals: Int = 3) {
        separate()
        guard value.isFinite else {
            bytes.append(contentsOf: "null".utf8)
            return
        }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (value * scale).rounded()
        let negative = scaled < 0
        let magnitude = UInt64(abs(scaled))
        let whole = magnitude / UInt64(scale)
        let fraction = magnitude % UInt64(scale)
        if negative { bytes.append(UInt8(ascii: "-")) }
        appendDecimal(whole, minimumDigits: 1)
        if decimals > 0 {
            bytes.append(UInt8(ascii: "."))
            appendDecimal(fraction, minimumDigits: decimals)
        }
    }

    public mutating func bool(_ value: Bool) {
        separate()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    public mutating func null() {
        separate()
        bytes.append(contentsOf: "null".utf8)
    }

    /// `key: value` for optional strings and integers, `null` when absent.
    public mutating func field(_ name: String, _ value: String?) {
        key(name)
        if let value { string(value) } else { null() }
    }

    public mutating func field<T: BinaryInteger>(_ name: String, _ value: T?) {
        key(name)
        if let value { int(value) } else { null() }
    }

    /// Whether any byte is a control character, DEL, a quote or a backslash; eight bytes at a time (SWAR: a byte
    /// below 0x20 or equal to c shows as a borrow into its top bit).
    static func needsEscaping(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        @inline(__always) func hasZeroByte(_ v: UInt64) -> Bool { (v &- ones) & ~v & high != 0 }
        var index = 0
        while index + 8 <= bytes.count {
            let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            if (word &- ones &* 0x20) & ~word & high != 0 || hasZeroByte(word ^ (ones &* 0x22))
                || hasZeroByte(word ^ (ones &* 0x5C)) || hasZeroByte(word ^ (ones &* 0x7F))
            {
                return true
            }
            index += 8
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte < 0x20 || byte == 0x7F || byte == 0x22 || byte == 0x5C { return true }
            index += 1
        }
        return false
    }

    /// Appends `value` as a JSON string: quotes, backslashes and control characters escaped; invalid UTF-8 never
    /// arises (Swift strings are valid Unicode).
    private mutating func appendEscaped(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        // Common case: nothing to escape; the string's bytes go in at once.
        var value = value
        let clean = value.withUTF8 { utf8 in
            guard !Self.needsEscaping(UnsafeRawBufferPointer(utf8)) else { return false }
            bytes.append(contentsOf: utf8)
            return true
        }
        if clean {
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20, 0x7F:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [
                    0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)],
                ])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
