import ArgumentParser
import Foundation
import HoptraceDecode
import HoptraceFlows
import HoptraceKube
import HoptraceReport

/// Options shared by `hoptrace flows` and `hoptrace requests`.
struct FlowCommandOptions: ParsableArguments {
    @Argument(help: "Capture files (pcap or pcapng; several are merged by time).")
    var files: [String]

    @Flag(help: "Print JSON lines instead of text.")
    var json = false

    @Option(help: "Only records involving this IP address, HTTP Host or DNS name.")
    var host: String?

    @Option(help: "Only records with this port on either side.")
    var port: UInt16?

    @Option(
        help: ArgumentHelp(
            "Only records with this status: an HTTP status (404) or class (5xx), a DNS rcode (NXDOMAIN), or a "
                + "connection state (REJ)."
        )
    )
    var status: String?

    @Option(name: .customLong("slower-than"), help: "Only records slower than this (e.g. 200ms, 1.5s, 800us).")
    var slowerThan: DurationArgument?

    @OptionGroup(title: "Interface names")
    var interfaceNames: InterfaceNameOptions

    @OptionGroup(title: "Kubernetes names")
    var kube: KubeOptions

    /// Names for the records' addresses, when --k8s or --kubectl was given.
    func addressNames() throws -> AddressNames? {
        do {
            return try kube.load().map(AddressNames.init)
        } catch let failure as CLIFailure {
            throw CLIFailure(failure.message)
        }
    }

    func validate() throws {
        if self.files.isEmpty {
            throw ValidationError("Give at least one capture file, e.g. `hoptrace flows capture.pcapng`.")
        }
    }

    /// The filters and output format as plain values, read once: the options' property wrappers are too slow to
    /// consult per record.
    var filter: FlowFilter {
        FlowFilter(json: self.json, host: self.host, port: self.port, status: self.status, slowerThan: self.slowerThan)
    }

    /// Runs the flow stage over the files, calling `print` for each record as it completes.
    ///
    /// Errors are one line on standard error and exit status 1; records completed before a fault are printed first.
    func run(header: (() -> Void)? = nil, _ print: @escaping (FlowEvent, [String]) -> Void) throws {
        let capturePoints = CapturePointTable()
        // The header goes out once the files are open: before the first record, or at the end if there is none.
        var headerWritten = false
        var names: [String] = []
        let ifIndexNames = try interfaceNames.load()
        let result: FlowPipeline.Result
        do {
            result = try FlowPipeline(ifIndexNames: ifIndexNames).run(paths: self.files, capturePoints: capturePoints) {
                event in
                if !headerWritten {
                    headerWritten = true
                    header?()
                }
                // The names array is rebuilt only when a capture point was added, not per record.
                if capturePoints.points.count != names.count { names = capturePoints.names }
                print(event, names)
            }
        } catch {
            throw CLIFailure(error.description)
        }
        if !headerWritten { header?() }
        if let failure = result.error { throw CLIFailure(failure.description) }
    }
}

/// The record filters of `flows` and `requests` (`--host`, `--port`, `--status`, `--slower-than`) and `--json`.
///
/// The record parts are autoclosures: nothing is built for a record when the filter is not set.
struct FlowFilter {
    var json: Bool
    var host: String?
    var port: UInt16?
    var status: String?
    var slowerThan: DurationArgument?

    /// Whether `status` (as given) matches a record's status text.
    func statusMatches(_ value: @autoclosure () -> String?) -> Bool {
        guard let wanted = self.status else { return true }
        guard let value = value() else { return false }
        let lowered = wanted.lowercased()
        if lowered.count == 3, lowered.hasSuffix("xx"), let first = lowered.first {
            return value.first.map { Character($0.lowercased()) } == first && value.count == 3
        }
        return value.lowercased() == lowered
    }

    /// Whether `host` matches one of the addresses or names.
    func hostMatches(addresses: @autoclosure () -> [IPAddress], names: @autoclosure () -> [String?]) -> Bool {
        guard let wanted = self.host else { return true }
        if let address = IPAddress(wanted) { return addresses().contains(address) }
        let lowered = wanted.lowercased()
        for case let name? in names() {
            var name = name.lowercased()
            if let colon = name.lastIndex(of: ":"), !name.contains("]") { name = String(name[..<colon]) }
            if name == lowered || name.hasSuffix("." + lowered) || name.hasPrefix(lowered + ".") { return true }
        }
        return false
    }

    func portMatches(_ ports: @autoclosure () -> [UInt16]) -> Bool {
        guard let wanted = self.port else { return true }
        return ports().contains(wanted)
    }

    func slowMatches(_ nanoseconds: Int64?) -> Bool {
        guard let limit = self.slowerThan else { return true }
        guard let nanoseconds else { return false }
        return nanoseconds > limit.nanoseconds
    }

    /// Whether a record between `first` and `second` passes every filter: `--host` also tries `addresses` (a DNS
    /// answer) and `names` (an HTTP Host, a DNS name); `--status` the record's `status`; `--slower-than` its `latency`.
    /// Nothing is built for a filter that is not set.
    func matches(
        _ first: FlowEndpoint,
        _ second: FlowEndpoint,
        addresses: @autoclosure () -> [IPAddress] = [],
        names: @autoclosure () -> [String?] = [],
        status: @autoclosure () -> String?,
        latency: Int64?
    ) -> Bool {
        self.hostMatches(addresses: [first.address, second.address] + addresses(), names: names())
            && self.portMatches([first.port, second.port]) && self.statusMatches(status())
            && self.slowMatches(latency)
    }
}

extension AddressNames {
    /// The names of a record's two endpoints (for the names comment or JSON member).
    mutating func names(of first: FlowEndpoint, _ second: FlowEndpoint, transport: String) -> [String: String] {
        self.names(of: [
            (first.address.description, first.port, transport),
            (second.address.description, second.port, transport),
        ])
    }
}

/// The name of capture point `id` (`cp<id>` for an id the table does not have).
func capturePointName(_ id: Int, in points: [String]) -> String {
    id >= 0 && id < points.count ? points[id] : "cp\(id)"
}

/// `hoptrace flows`: one line per TCP connection, in the spirit of Zeek's conn.log.
struct FlowsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flows",
        abstract: "List TCP connections per capture point, like Zeek's conn.log.",
        discussion: """
            One line per connection and capture point: start time, capture point, originator and responder as seen \
            there, duration, payload bytes each way, Zeek conn_state and history, handshake RTT (SYN to ACK) and \
            retransmissions (originator/responder). --slower-than compares the duration. ICMP errors quoting a \
            packet (port unreachable, TTL exceeded) are listed too, marked ICMP.
            """
    )

    @OptionGroup var options: FlowCommandOptions

    func run() throws {
        let options = self.options
        let filter = options.filter
        try withBufferedOutput { writer in
            var kubeNames = try options.addressNames()
            let header = {
                if !filter.json {
                    writer.line(
                        "#ts capture_point orig resp duration orig_bytes resp_bytes conn_state history handshake_rtt"
                            + " retrans"
                    )
                }
            }
            try options.run(header: header) { event, points in
                switch event {
                case .connection(let record):
                    guard
                        filter.matches(
                            record.originator,
                            record.responder,
                            status: record.state.rawValue,
                            latency: record.duration
                        )
                    else { return }
                    let names = kubeNames?.names(of: record.originator, record.responder, transport: "TCP") ?? [:]
                    writer.recordLine(event, json: filter.json, capturePoints: points, names: names) {
                        Self.write(record, point: capturePointName(record.capturePoint, in: points), to: writer)
                    }
                case .icmpError(let icmp):
                    // ICMP errors quoting a connection's packet (a rejected SYN, TTL exceeded) go with the flows.
                    guard
                        filter.hostMatches(
                            addresses: [icmp.sender, icmp.quotedSource.address, icmp.quotedDestination.address],
                            names: []
                        ),
                        filter.portMatches([icmp.quotedSource.port, icmp.quotedDestination.port]),
                        filter.status == nil, filter.slowerThan == nil
                    else { return }
                    writer.recordLine(event, json: filter.json, capturePoints: points, names: [:]) {
                        let seq = icmp.quotedTCPSequence.map { " seq \($0)" } ?? ""
                        writer.append(
                            "\(FlowTime.timestamp(icmp.time)) \(capturePointName(icmp.capturePoint, in: points)) ICMP "
                                + "\(icmp.kind) from \(icmp.sender) quoting \(icmp.quotedSource) > "
                                + "\(icmp.quotedDestination)\(seq)"
                        )
                    }
                case .http, .dns, .segment:
                    return
                }
            }
        }
    }

    /// A connection's line up to its retransmissions (no names comment, no newline), piece by piece into the
    /// writer's bytes: this runs once per connection.
    private static func write(_ record: ConnectionRecord, point: String, to writer: BufferedOutput) {
        writer.appendRecordStart(record.startTime, point: point, record.originator, record.responder)
        writer.append(byte: UInt8(ascii: " "))
        writer.appendTimestamp(record.duration)
        writer.append(byte: UInt8(ascii: " "))
        writer.append(unsigned: record.originatorSummary.bytes)
        writer.append(byte: UInt8(ascii: " "))
        writer.append(unsigned: record.responderSummary.bytes)
        writer.append(byte: UInt8(ascii: " "))
        writer.append(record.state.rawValue)
        writer.append(byte: UInt8(ascii: " "))
        if record.history.isEmpty {
            writer.append(byte: UInt8(ascii: "-"))
        } else {
            writer.append(record.history)
        }
        writer.append(byte: UInt8(ascii: " "))
        if let rtt = record.handshakeRTT {
            writer.appendHuman(rtt)
        } else {
            writer.append(byte: UInt8(ascii: "-"))
        }
        writer.append(byte: UInt8(ascii: " "))
        writer.append(decimal: record.originatorSummary.retransmissions)
        writer.append(byte: UInt8(ascii: "/"))
        writer.append(decimal: record.responderSummary.retransmissions)
    }
}
