import CPcap

/// A BPF filter (pcap-filter(7) syntax, as `tcpdump` takes it) applied to packets read from files.
///
/// libpcap compiles the expression for a link type (`pcap_open_dead` with the link type and a 262144-byte snapshot
/// length, then `pcap_compile`); each packet's captured bytes go through `pcap_offline_filter`, exactly as
/// `tcpdump -r FILE EXPRESSION` applies it. Merged files of different link types get one program per link type,
/// compiled when the first packet of that type arrives (or ahead of time with ``prepare(for:)``).
///
/// Per packet: no allocation; a compare with the last link type seen and the BPF interpreter's run.
/// Not thread-safe: one filter per packet stream.
public final class PacketFilter {
    /// The expression as given.
    public let expression: String
    /// Compiled programs by LINKTYPE number.
    private var programs: [UInt32: UnsafeMutablePointer<bpf_program>] = [:]
    /// The program of the last link type used (most files have one).
    private var lastLinkType: UInt32 = .max
    private var lastProgram: UnsafeMutablePointer<bpf_program>?
    /// Stands in for the bytes of an empty packet.
    private let empty = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)

    /// Compiles `expression` for Ethernet, to reject a malformed expression before anything is read.
    ///
    /// - Throws: ``CaptureError`` with code `.pcap` and libpcap's own words: `filter 'tcp prot 80': syntax
    ///   error; see pcap-filter(7) for the syntax`.
    public init(_ expression: String) throws(CaptureError) {
        self.expression = expression
        self.empty.initialize(to: 0)
        try self.prepare(for: .ethernet)
    }

    deinit {
        for program in self.programs.values {
            pcap_freecode(program)
            program.deallocate()
        }
        self.empty.deallocate()
    }

    /// Compiles the expression for `linkType` now (when it is not yet compiled).
    ///
    /// - Throws: ``CaptureError`` (`.pcap`) when libpcap cannot compile it for this link type (`ether host` on raw
    ///   IP packets).
    public func prepare(for linkType: LinkType) throws(CaptureError) {
        _ = try self.program(for: linkType.rawValue)
    }

    /// Whether `packet` passes the filter.
    ///
    /// - Throws: ``CaptureError`` (`.pcap`) when the expression cannot be compiled for the packet's link type.
    @inline(__always)
    public func matches(_ packet: borrowing Packet) throws(CaptureError) -> Bool {
        let program: UnsafeMutablePointer<bpf_program>
        if packet.linkType.rawValue == self.lastLinkType, let last = self.lastProgram {
            program = last
        } else {
            program = try self.program(for: packet.linkType.rawValue)
        }
        var header = pcap_pkthdr()
        header.caplen = UInt32(truncatingIfNeeded: packet.bytes.count)
        header.len = UInt32(clamping: max(packet.originalLength, packet.bytes.count))
        let base = packet.bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(self.empty)
        return pcap_offline_filter(program, &header, base) != 0
    }

    /// The program for a LINKTYPE number, compiled on first use.
    private func program(for linkType: UInt32) throws(CaptureError) -> UnsafeMutablePointer<bpf_program> {
        if let known = self.programs[linkType] {
            self.lastLinkType = linkType
            self.lastProgram = known
            return known
        }
        guard let dead = pcap_open_dead(Self.dlt(forLinkType: linkType), 262_144) else {
            throw CaptureError(.pcap, "libpcap could not make a handle to compile the filter", source: "")
        }
        defer { pcap_close(dead) }
        let program = UnsafeMutablePointer<bpf_program>.allocate(capacity: 1)
        program.initialize(to: bpf_program())
        guard pcap_compile(dead, program, self.expression, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            let message = pcap_geterr(dead).map { String(cString: $0) } ?? "cannot compile"
            program.deallocate()
            let linkName = linkType == LinkType.ethernet.rawValue ? "" : " for \(LinkType(rawValue: linkType)) packets"
            throw CaptureError(
                .pcap,
                "filter '\(self.expression)'\(linkName): \(message); see pcap-filter(7) for the syntax",
                source: ""
            )
        }
        self.programs[linkType] = program
        self.lastLinkType = linkType
        self.lastProgram = program
        return program
    }

    /// libpcap's DLT_ value for a LINKTYPE_ value (they differ for raw IP only, among the types hoptrace reads).
    static func dlt(forLinkType linkType: UInt32) -> Int32 {
        linkType == LinkType.raw.rawValue ? Int32(DLT_RAW) : Int32(bitPattern: linkType)
    }
}
