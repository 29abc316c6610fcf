import ArgumentParser
import Foundation
import HoptraceCapture
import HoptraceDecode
import HoptraceFlows
import HoptraceKube
import HoptraceReport

/// `hoptrace packets FILE...`: one line per packet, in the spirit of `tcpdump -nn`, or JSON lines, or Zeek TSV.
struct PacketsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "packets",
        abstract: "Print one line per packet of capture files: time, capture point, direction, summary.",
        usage: """
            hoptrace packets [<options>] <file> ...
            hoptrace packets [<options>] -r <file> ... [<filter words> ...]
            """,
        discussion: """
            Several files are merged by timestamp. Each line: the time (RFC 3339, UTC, nanoseconds), the capture \
            point (the pcapng interface name, or if<N> for an SLL2 interface index from `tcpdump -i any`), the \
            direction (In, Out, or - when the capture does not say), and a tcpdump -nn style summary. Tunnels are \
            shown as the outer packet, then the inner one. Decode problems are shown as [warning: ...].

            --format json writes one object per line (docs/packet.schema.json); --format tsv writes Zeek's log \
            format, whose columns zeek-cut selects by name.
            """
    )

    @OptionGroup var input: CaptureInputOptions

    @OptionGroup var output: RecordOutputOptions

    @Option(
        name: [.customShort("c"), .customLong("count")],
        help: ArgumentHelp("Stop after printing this many packets (as tcpdump -c).", valueName: "n")
    )
    var count: Int?

    @OptionGroup(title: "Interface names")
    var interfaceNames: InterfaceNameOptions

    @OptionGroup(title: "Kubernetes names")
    var kube: KubeOptions

    func validate() throws {
        if input.store.store != nil {
            throw ValidationError("the store holds flow records, not packets: hoptrace flows or requests --store")
        }
        if let count, count <= 0 { throw ValidationError("-c must be a positive number of packets, got \(count)") }
    }

    func run() throws {
        switch output.chosenFormat {
        case .text: try self.run(PacketTextWriter(style: output.style))
        case .json: try self.run(PacketJSONWriter())
        case .tsv: try self.run(PacketTSVWriter(names: kube.isEnabled))
        }
    }

    private func run<Writer: RecordWriter>(_ writer: Writer) throws where Writer.Record == PacketRecord {
        var writer = writer
        let ifIndexNames = try interfaceNames.loadAll()
        var kubeNames = try kube.load().map(AddressNames.init)
        let filter = try input.packetFilter()
        let specs = try input.specs()
        let source: any PacketSource
        do {
            source = try CaptureSet.open(specs).source
            for interface in source.interfaces { try filter?.prepare(for: interface.linkType) }
        } catch {
            throw error.code == .pcap ? UsageFailure(error.reason) as any Error : CLIFailure(error.description)
        }
        var options = DecodeOptions()
        options.swallowFragments = false
        let decoder = PacketDecoder(options: options)
        let points = CapturePointTable()
        points.setIfIndexNames(ifIndexNames.shared)
        for (node, names) in ifIndexNames.perNode { points.setIfIndexNames(names, node: node) }
        let out = BufferedOutput()
        defer { out.flush() }
        writer.writeHeader(to: out)
        var printed = 0
        var decoded = DecodedPacket.empty
        while count.map({ printed < $0 }) ?? true {
            let next: Packet?
            do {
                next = try source.next()
                if let packet = next, let filter, try !filter.matches(packet) { continue }
            } catch {
                writer.writeFooter(to: out)
                out.flush()
                throw error.code == .pcap ? UsageFailure(error.reason) as any Error : CLIFailure(error.description)
            }
            guard let packet = next else { break }
            guard packet.linkType.isDecodable else {
                writer.writeFooter(to: out)
                out.flush()
                let interfaces = source.interfaces
                let origin =
                    packet.interfaceID >= 0 && packet.interfaceID < interfaces.count
                    ? interfaces[packet.interfaceID].file ?? interfaces[packet.interfaceID].name
                    : specs.map(\.path).joined(separator: ", ")
                throw CLIFailure(
                    CaptureError(.unsupportedLinkType, packet.linkType.unsupportedReason, source: origin).description
                )
            }
            guard decoder.decode(packet, into: &decoded) else { continue }
            let point = points[points.id(for: decoded, interfaces: source.interfaces)].description
            let context = RecordContext(capturePoint: point, names: kubeNames?.names(of: decoded) ?? [:])
            writer.write(PacketRecord(decoded), context: context, to: out)
            out.endRecord()
            printed += 1
        }
        writer.writeFooter(to: out)
    }
}
