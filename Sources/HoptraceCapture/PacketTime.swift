// Packet times from the wire: conversion to nanoseconds since the epoch, and arithmetic that cannot trap.
//
// A timestamp field is whatever the file says: a pcapng interface may declare any resolution (`if_tsresol`, 10^-n or
// 2^-n seconds, n up to 127) and any offset (`if_tsoffset`, a signed 64-bit number of seconds), and a packet block
// any 64-bit count of units. The exact time is computed in 128 bits; a time that does not fit the 64-bit nanoseconds
// every stage uses (before 1677 or after 2262) cannot be placed: the reader counts the packet and skips it.

/// The unit of a pcapng interface's timestamps (`if_tsresol`): 10^-exponent or 2^-exponent seconds.
public struct TimestampResolution: Hashable, Sendable {
    /// Whether the unit is a power of 2 (bit 7 of `if_tsresol` set) rather than of 10.
    public var isPowerOfTwo: Bool
    /// The exponent, 0...127.
    public var exponent: UInt8

    /// Microseconds, the pcapng default.
    public static let microseconds = TimestampResolution(isPowerOfTwo: false, exponent: 6)
    /// Nanoseconds.
    public static let nanoseconds = TimestampResolution(isPowerOfTwo: false, exponent: 9)

    /// The resolution an `if_tsresol` byte declares.
    public init(optionByte byte: UInt8) {
        self.isPowerOfTwo = byte & 0x80 != 0
        self.exponent = byte & 0x7F
    }

    /// A resolution of 10^-exponent (or 2^-exponent) seconds.
    public init(isPowerOfTwo: Bool, exponent: UInt8) {
        self.isPowerOfTwo = isPowerOfTwo
        self.exponent = exponent & 0x7F
    }

    /// Units per second, saturated at `UInt64.max` (10^20 and finer, 2^64 and finer).
    public var unitsPerSecond: UInt64 {
        if self.isPowerOfTwo { return self.exponent < 64 ? 1 << UInt64(self.exponent) : .max }
        guard self.exponent <= 19 else { return .max }
        var units: UInt64 = 1
        for _ in 0..<self.exponent { units &*= 10 }
        return units
    }

    /// `units` of this resolution plus `offsetSeconds`, in nanoseconds since the epoch (sub-nanosecond parts
    /// truncated, as Wireshark does); nil when the time does not fit `Int64`.
    public func nanoseconds(units: UInt64, offsetSeconds: Int64 = 0) -> Int64? {
        // The everyday cases: µs or ns, no offset, a time that fits.
        if offsetSeconds == 0, !self.isPowerOfTwo, self.exponent == 6 || self.exponent == 9 {
            let (ns, overflow) = units.multipliedReportingOverflow(by: self.exponent == 6 ? 1000 : 1)
            if !overflow, ns <= UInt64(Int64.max) { return Int64(ns) }
        }
        // Exact in 128 bits: units < 2^64, so units * 10^9 < 2^94 and offset * 10^9 < 2^93 in magnitude.
        let scaled = Int128(units) * 1_000_000_000
        var fromUnits: Int128
        if self.isPowerOfTwo {
            fromUnits = scaled >> Int128(self.exponent)
        } else if self.exponent <= 9 {
            fromUnits = Int128(units) * Self.powerOfTen(9 - Int(self.exponent))
        } else if self.exponent - 9 <= 38 {
            fromUnits = Int128(units) / Self.powerOfTen(Int(self.exponent) - 9)
        } else {
            fromUnits = 0
        }
        let total = fromUnits + Int128(offsetSeconds) * 1_000_000_000
        guard total >= Int128(Int64.min), total <= Int128(Int64.max) else { return nil }
        return Int64(total)
    }

    private static func powerOfTen(_ exponent: Int) -> Int128 {
        var value: Int128 = 1
        for _ in 0..<exponent { value *= 10 }
        return value
    }
}

/// What a file reader found odd about the times of the packets it read.
public struct TimestampAnomalies: Hashable, Sendable {
    /// Packets skipped because their time cannot be placed: it does not fit 64-bit nanoseconds since the epoch
    /// (before 1677-09-21 or after 2262-04-11, from a huge timestamp, a coarse `if_tsresol` or a large
    /// `if_tsoffset`).
    public var unplaceablePackets = 0
    /// Packets kept whose sub-second field was out of range (a pcap record with 10^6 or more microseconds, or 10^9
    /// or more nanoseconds): the excess is carried into the seconds, as the arithmetic says.
    public var fractionOutOfRange = 0

    /// None.
    public init() {}

    /// Whether anything was counted.
    public var isEmpty: Bool { self.unplaceablePackets == 0 && self.fractionOutOfRange == 0 }

    /// Both counts summed.
    public static func + (lhs: TimestampAnomalies, rhs: TimestampAnomalies) -> TimestampAnomalies {
        var sum = lhs
        sum.unplaceablePackets += rhs.unplaceablePackets
        sum.fractionOutOfRange += rhs.fractionOutOfRange
        return sum
    }
}

extension Int64 {
    /// `self - other`, saturated at `Int64.min` and `Int64.max` instead of trapping: packet times from the wire may
    /// lie anywhere in the 64-bit range, and a duration between two of them must not stop the program.
    @inlinable
    public func saturatingSubtracting(_ other: Int64) -> Int64 {
        let (difference, overflow) = self.subtractingReportingOverflow(other)
        if overflow { return other < 0 ? .max : .min }
        return difference
    }

    /// `self + other`, saturated at `Int64.min` and `Int64.max` instead of trapping (a deadline past the end of
    /// time is the end of time).
    @inlinable
    public func saturatingAdding(_ other: Int64) -> Int64 {
        let (sum, overflow) = self.addingReportingOverflow(other)
        if overflow { return other < 0 ? .min : .max }
        return sum
    }
}
