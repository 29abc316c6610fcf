#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Copies packets from a source into a pcapng file, writing an Interface Description Block for each source
/// interface the first time one of its packets (or its statistics) is written, so a file from `-i any` holds one
/// block per real interface (eth0, cni0, ...) and none for interfaces that saw nothing.
public final class CaptureRecorder {
    /// The file written.
    public let writer: PcapngWriter
    /// Packets written.
    public private(set) var packets = 0
    /// Source interface id -> file interface id (-1: not written yet).
    private var fileInterface: [Int] = []
    private var lastFlush: Int64 = 0

    /// Records into `writer`.
    public init(writer: PcapngWriter) {
        self.writer = writer
    }

    /// Writes one packet of `source`.
    public func record(_ packet: Packet, from source: any PacketSource) throws(CaptureError) {
        let id = try fileInterfaceID(for: packet.interfaceID, in: source.interfaces)
        try writer.write(packet, interface: id)
        packets += 1
        // Flush about once a second of capture time, so a killed capture loses little.
        if packet.timestamp &- lastFlush > 1_000_000_000 {
            lastFlush = packet.timestamp
            try writer.flush()
        }
    }

    /// The file's interface id for source interface `sourceID`, writing its description block if needed.
    public func fileInterfaceID(for sourceID: Int, in interfaces: [InterfaceDescription]) throws(CaptureError) -> Int {
        if sourceID >= 0 && sourceID < fileInterface.count && fileInterface[sourceID] >= 0 {
            return fileInterface[sourceID]
        }
        guard sourceID >= 0, sourceID < interfaces.count else {
            throw CaptureError(.io, "internal error: packet on unknown interface \(sourceID)", source: writer.path)
        }
        while fileInterface.count <= sourceID {
            fileInterface.append(-1)
        }
        var description = interfaces[sourceID]
        description.timestampsPerSecond = 1_000_000_000
        let id = try writer.addInterface(description)
        fileInterface[sourceID] = id
        return id
    }

    /// Writes an Interface Statistics Block for each opened interface (`isb_ifrecv`, `isb_ifdrop` = kernel drops
    /// plus interface drops, start and end times).
    public func writeStatistics(
        _ statistics: [LiveSource.Statistics],
        interfaces: [InterfaceDescription],
        start: Int64,
        end: Int64
    ) throws(CaptureError) {
        for stats in statistics {
            let id = try fileInterfaceID(for: stats.interfaceID, in: interfaces)
            try writer.writeStatistics(
                interface: id,
                timestamp: end,
                received: stats.received,
                dropped: stats.dropped &+ stats.interfaceDropped,
                start: start,
                end: end
            )
        }
    }
}

/// The wall clock in nanoseconds since the epoch.
public func wallClockNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}
