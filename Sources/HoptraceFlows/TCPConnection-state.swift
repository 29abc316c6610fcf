// Zeek's summary of a TCP connection: per-endpoint states, the history letters and conn_state.
//
// Endpoint states follow Zeek's TCP analyzer: INACTIVE until the endpoint sends something; SYN_SENT after a SYN;
// SYN_ACK_SENT after a SYN-ACK; PARTIAL after data or an ACK without a SYN; ESTABLISHED once a SYN was answered by a
// SYN-ACK; CLOSED after a FIN; RESET after a RST. conn_state is then a function of the two endpoint states (and, for
// RSTOS0, of the history), as in Zeek's base/protocols/conn/main.zeek.

/// One endpoint's state in Zeek's TCP analyzer.
enum TCPEndpointState: UInt8 {
    case inactive
    case synSent
    case synAckSent
    case partial
    case established
    case closed
    case reset

    var isInactive: Bool { self == .inactive || self == .partial }
}

/// The history letters of one connection.
///
/// Each letter is recorded once per direction, except S, H, F, R (again when the sequence number differs from the
/// last such packet's) and T, W, G (again at 10, 100, 1000, ... occurrences).
struct ConnectionHistory {
    private(set) var letters: [UInt8] = []
    private var seen: UInt64 = 0
    /// Scaled counters: T, W, G for originator then responder.
    private var counts: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0, 0, 0)
    /// At most this many letters are kept (a flapping connection cannot grow it without bound).
    static let maxLetters = 64

    /// Adds `upper` (lower-cased for the responder); returns whether it was seen before in that direction.
    @discardableResult
    mutating func check(_ upper: UInt8, originator: Bool) -> Bool {
        let bit = UInt64(1) << UInt64(upper &- UInt8(ascii: "A") &+ (originator ? 0 : 26))
        if self.seen & bit != 0 { return true }
        self.seen |= bit
        self.append(upper, originator: originator)
        return false
    }

    /// Adds `upper` unconditionally.
    mutating func append(_ upper: UInt8, originator: Bool) {
        guard self.letters.count < ConnectionHistory.maxLetters else { return }
        self.letters.append(originator ? upper : upper | 0x20)
    }

    /// Counts one more T, W or G and records the letter at 1, 10, 100, ... occurrences.
    mutating func scaled(_ upper: UInt8, originator: Bool) {
        let slot: Int
        switch upper {
        case UInt8(ascii: "T"): slot = 0
        case UInt8(ascii: "W"): slot = 1
        default: slot = 2
        }
        let index = slot + (originator ? 0 : 3)
        let count = withUnsafeMutableBytes(of: &self.counts) { counts in
            let count = counts.load(fromByteOffset: index * 4, as: UInt32.self) &+ 1
            counts.storeBytes(of: count, toByteOffset: index * 4, as: UInt32.self)
            return count
        }
        var threshold: UInt32 = 1
        while threshold < count, threshold < 1_000_000_000 { threshold *= 10 }
        if threshold == count { self.append(upper, originator: originator) }
    }

    /// Marks the direction flip (`^`), first.
    mutating func markFlipped() {
        self.letters.insert(UInt8(ascii: "^"), at: 0)
    }

    var string: String { String(decoding: self.letters, as: UTF8.self) }
}

/// Zeek's conn_state for TCP.
func zeekConnectionState(
    originator os: TCPEndpointState,
    responder rs: TCPEndpointState,
    originatorBytes: UInt64,
    responderBytes: UInt64,
    history: [UInt8]
) -> ConnectionState {
    if rs == .reset {
        if os == .synSent || os == .synAckSent || (os == .reset && originatorBytes == 0 && responderBytes == 0) {
            return .rej
        }
        return os.isInactive ? .rstrh : .rstr
    }
    if os == .reset {
        if rs.isInactive {
            return historyMatchesRSTOS0(history) ? .rstos0 : .oth
        }
        return .rsto
    }
    if rs == .closed && os == .closed { return .sf }
    if os == .closed { return rs.isInactive ? .sh : .s2 }
    if rs == .closed { return os.isInactive ? .shr : .s3 }
    if os == .synSent && rs == .inactive { return .s0 }
    if os == .established && rs == .established { return .s1 }
    return .oth
}

/// `^?S[^HAFGIQ]*R.*`: a SYN, then a RST, with no SYN-ACK, ACK, FIN, gap or odd flags from the originator between.
func historyMatchesRSTOS0(_ history: [UInt8]) -> Bool {
    var index = 0
    if index < history.count, history[index] == UInt8(ascii: "^") { index += 1 }
    guard index < history.count, history[index] == UInt8(ascii: "S") else { return false }
    index += 1
    while index < history.count {
        switch history[index] {
        case UInt8(ascii: "R"): return true
        case UInt8(ascii: "H"), UInt8(ascii: "A"), UInt8(ascii: "F"), UInt8(ascii: "G"), UInt8(ascii: "I"),
            UInt8(ascii: "Q"):
            return false
        default: index += 1
        }
    }
    return false
}
