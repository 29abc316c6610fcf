import ArgumentParser
import Foundation
import HoptraceCapture
import HoptraceDecode
import HoptraceKube
import HoptraceReport

/// `hoptrace packets FILE...`: one line per packet, in the spirit of `tcpdump -nn`, or JSON lines.
struct PacketsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "packets",
        abstract: "Print one line per packet of capture files: time, capture point, direction, summary.",
        discussion: """
            Several files are merged by timestamp. Each line: UTC time with nanoseconds, the capture point \
            (the pcapng interface name, or if<N> for an SLL2 interface index from `tcpdump -i any`), the \
            direction (In, Out, or - when the capture does not say), and a tcpdump -nn style summary. Tunnels \
            are shown as the outer packet, then the inner one. Decode problems are shown as [warning: ...].
            """
    )

    @Argument(help: "pcap or pcapng files ('-' for standard input); several are merged by time.")
    var files: [String] = []

    @Flag(help: "Write JSON lines (one object per packet) instead of text.")
    var json = false

    @OptionGroup(title: "Interface names")
    var interfaceNames: InterfaceNameOptions

    @OptionGroup(title: "Kubernetes names")
    var kube: KubeOptions

    func validate() throws {
        if files.isEmpty {
            throw ValidationError("give at least one capture file, e.g. `hoptrace packets capture.pcapng`")
        }
    }

    func run() throws {
        let names = try interfaceNames.load()

        var kubeNames = try kube.load().map(AddressNames.init)
        var sources: [any PacketSource] = []
        for file in files {
            do {
                sources.append(try openCaptureFile(path: file))
            } catch {
                throw CLIFailure(error.description)
            }
        }
        let source: any PacketSource = sources.count == 1 ? sources[0] : MergedPacketSource(sources)
        var options = DecodeOptions()
        options.swallowFragments = false
        let decoder = PacketDecoder(options: options)
        let points = CapturePointTable()
        points.setIfIndexNames(names)
        let out = BufferedOutput()
        defer { out.flush() }
        while true {
            let next: Packet?
            do {
                next = try source.next()
            } catch {
                out.flush()
                throw CLIFailure(error.description)
            }
            guard let packet = next else { break }
            guard packet.linkType.isDecodable else {
                out.flush()
                let interfaces = source.interfaces
                let origin =
                    packet.interfaceID < interfaces.count
                    ? interfaces[packet.interfaceID].name : files.joined(separator: ", ")
                throw CLIFailure(
                    CaptureError(.unsupportedLinkType, packet.linkType.unsupportedReason, source: origin).description
                )
            }
            guard let decoded = decoder.decode(packet) else { continue }
            let point = points[points.id(for: decoded, interfaces: source.interfaces)].name
            var names: [String: String] = [:]
            if kubeNames != nil, let network = decoded.network {
                let transport = decoded.tcp != nil ? "TCP" : decoded.udp != nil ? "UDP" : nil
                let ports = decoded.tcp.map { ($0.srcPort, $0.dstPort) } ?? decoded.udp.map { ($0.srcPort, $0.dstPort) }
                names = kubeNames!.names(of: [
                    (network.src.description, ports?.0, transport), (network.dst.description, ports?.1, transport),
                ])
            }
            if json {
                out.write(AddressNames.addNames(names, toJSONObject: PacketSummary.json(decoded, capturePoint: point)))
            } else {
                out.write(TimestampFormat.utc(decoded.timestamp))
                out.write(" ")
                out.write(PacketSummary.printable(point))
                out.write(" ")
                out.write(decoded.direction.description)
                out.write(" ")
                out.write(PacketSummary.describe(decoded))
                out.write(AddressNames.comment(names))
            }
            out.write("\n")
        }
    }
}
