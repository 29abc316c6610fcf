import Foundation
import Testing

// The expected verdict of each scenario, checked on the wire with tshark: what the lab says happened
// must be visible in both capture formats.

private let formats = CaptureFormat.allCases

private func verdict(_ kind: String) -> [String] {
    LabPaths.scenarios { $0.expected.verdict.kind == kind }
}

private let slowServer = LabPaths.scenarios { $0.expected.verdict.kind == "slow" && $0.fault?.kind == "slow-server" }
private let congested = LabPaths.scenarios { $0.fault?.kind == "congested-hop" }
/// (Lookup-only scenarios have no HTTP request; the accept-queue client is not curl.)
private let completed = LabPaths.scenarios {
    ["ok", "slow"].contains($0.expected.verdict.kind) && !$0.requests.isEmpty
}
private let keepAlive = LabPaths.scenarios {
    $0.requests.count > 1 && $0.scenario != "clusterip-lb" && !$0.clientResult.transfers.isEmpty
}

/// Seconds from the request (as seen at `hop`) to the first response byte after it at `hop`.
private func serverGap(_ packets: [WirePacket], request: Truth.Request, hop: String, responder: String) -> Double? {
    guard let req = packets.first(where: { $0.hop == hop && $0.httpURI == request.path }) else { return nil }
    return packets.filter {
        $0.hop == hop && $0.stream == req.stream && $0.src == responder && $0.tcpLen > 0 && $0.time > req.time
    }.map(\.time).min().map { $0 - req.time }
}

@Suite("Lab verdicts on the wire")
struct LabVerdictTests {
    @Test(
        "ok and slow: every request reaches the pod that logged it and is answered 200",
        arguments: completed,
        formats
    )
    func requestsComplete(scenario: String, format: CaptureFormat) throws {
        let truth = try Truth.load(scenario)
        let packets = try Tshark.packets(scenario, format, truth: truth)
        #expect(truth.clientResult.exitCode == 0)
        for request in truth.requests {
            let endpoint = try #require(truth.servingEndpoint(request), "no pod logged \(request.path)")
            let seen = packets.filter { $0.httpURI == request.path }
            #expect(seen.contains { $0.hop == truth.clientHop }, "\(request.path) not seen at \(truth.clientHop)")
            let atPod = seen.first { $0.hop == endpoint.veth }
            #expect(atPod != nil, "\(request.path) not seen at \(endpoint.veth)")
            if let id = request.receivedXRequestID {
                #expect(atPod?.header("X-Request-ID") == id)
            }
            #expect(packets.contains { $0.httpCode == 200 && $0.src == endpoint.ip && $0.hop == endpoint.veth })
        }
        if truth.expected.verdict.kind == "ok" {
            let servingVeths = truth.observed.servedBy.compactMap { name in
                truth.endpoints.first { $0.name == name }?.veth
            }
            #expect(Set(truth.expected.verdict.hops) == Set(servingVeths))
        }
    }

    @Test(
        "load balancing: connections reach every endpoint, as many per pod as its log says",
        arguments: LabPaths.scenarios { $0.scenario == "clusterip-lb" },
        formats
    )
    func loadBalancing(scenario: String, format: CaptureFormat) throws {
        let truth = try Truth.load(scenario)
        let packets = try Tshark.packets(scenario, format, truth: truth)
        #expect(truth.observed.servedBy.count >= 2)
        for endpoint in truth.endpoints {
            let logged = truth.observed.serverLog.filter { $0.pod == endpoint.name }.count
            let seen = packets.filter { $0.isHTTPRequest && $0.dst == endpoint.ip && $0.hop == endpoint.veth }.count
            #expect(seen == logged, "\(endpoint.veth): \(seen) requests on the wire, \(logged) in the pod's log")
            let syns = packets.filter { $0.isSyn && $0.dst == endpoint.ip && $0.hop == endpoint.veth }.count
            #expect(syns == logged, "one connection per request (Connection: close)")
        }
        #expect(truth.clientResult.transfers.compactMap(\.num_connects).reduce(0, +) == truth.requests.count)
    }

    @Test(
        "breakpoint: the SYN reaches the fault hop, never the next one; retransmitted; no answer",
        arguments: LabPaths.scenarios { $0.expected.verdict.kind == "breakpoint" && !$0.isHairpin },
        formats
    )
    func breakpoint(scenario: String, format: CaptureFormat) throws {
        let truth = try Truth.load(scenario)
        let fault = try #require(truth.fault)
        let next = try #require(fault.nextExpectedHop)
        #expect(truth.expected.verdict.hops == [fault.hop])
        let packets = try Tshark.packets(scenario, format, truth: truth)
        let syns = packets.filter(\.isSyn)
        #expect(syns.contains { $0.hop == fault.hop }, "no SYN at the fault hop \(fault.hop)")
        #expect(!syns.contains { $0.hop == next }, "the SYN got past \(fault.hop) to \(next)")
        for endpoint in truth.endpoints {
            #expect(!syns.contains { $0.hop == endpoint.veth }, "the SYN reached \(endpoint.veth)")
        }
        let atClient = syns.filter { $0.hop == truth.clientHop }
        #expect(atClient.count >= 3, "the client retransmits its SYN (curl waited 3.5 s)")
        #expect(Set(atClient.map(\.seq)).count == 1, "one connection attempt, retransmitted")
        #expect(!packets.contains { $0.isSynAck })
        #expect(truth.clientResult.exitCode == 28)
    }

    @Test(
        "reset: the pod answers the SYN with RST; the client gets it reverse-NATed",
        arguments: LabPaths.scenarios { $0.expected.verdict.kind == "reset" && $0.fault?.kind == "not-listening" },
        formats
    )
    func reset(scenario: String, format: CaptureFormat) throws {
        let truth = try Truth.load(scenario)
        let service = try #require(truth.service)
        let endpoint = try #require(truth.endpoints.first { !$0.listening })
        #expect(truth.expected.verdict.hops == [endpoint.veth])
        let packets = try Tshark.packets(scenario, format, truth: truth)
        let resets = packets.filter(\.isRst)
        #expect(resets.contains { $0.hop == endpoint.veth && $0.src == endpoint.ip && $0.srcPort == endpoint.port })
        #expect(
            resets.contains {
                $0.hop == truth.clientHop && $0.src == service.clusterIP && $0.srcPort == service.port
            }
        )
        #expect(!packets.contains { $0.isSynAck })
        #expect(truth.clientResult.exitCode == 7)
    }

    @Test(
        "no-response: the request reaches the pod and is ACKed there; no response byte ever leaves the pod",
        arguments: verdict("no-response"),
        formats
    )
    func noResponse(scenario: String, format: CaptureFormat) throws {
        let truth = try Truth.load(scenario)
        let endpoint = try #require(truth.endpoints.first)
        #expect(truth.expected.verdict.hops == [endpoint.veth])
        let packets = try Tshark.packets(scenario, format, truth: truth)
        let request = try #require(
            packets.first { $0.hop == endpoint.veth && $0.httpURI == truth.request.path },
            "the request never reached \(endpoint.veth)"
        )
        #expect(
            packets.contains { $0.hop == endpoint.veth && $0.src == endpoint.ip && $0.ack && $0.time >= request.time }
        )
        #expect(!packets.contains { $0.src == endpoint.ip && $0.tcpLen > 0 }, "the pod sent data")
        #expect(!packets.contains { $0.isRst })
        #expect(truth.observed.servedBy.isEmpty, "the server never finished the request")
        #expect(truth.clientResult.exitCode == 28)
        #expect((truth.request.clientTiming?.time_total ?? 0) >= 2.9)
    }

    @Test(
        "rejected: ICMP port unreachable from the node, quoting the SYN to the ClusterIP",
        arguments: verdict("rejected"),
        formats
    )
    func rejected(scenario: String, format: CaptureFormat) throws {
        let truth = try Truth.load(scenario)
        let service = try #require(truth.service)
        #expect(truth.endpoints.isEmpty)
        let packets = try Tshark.packets(scenario, format, truth: truth)
        let icmp = try #require(
            packets.first { $0.icmpType == 3 && $0.icmpCode == 3 && $0.hop == truth.clientHop },
            "no ICMP port unreachable at \(truth.clientHop)"
        )
        // Outer header first, then the quoted one.
        #expect(icmp.src == truth.node.cni0, "the node (\(truth.node.cni0)) sends the ICMP")
        #expect(icmp.dst == truth.client.ip)
        #expect(icmp.ipSrc.last == truth.client.ip && icmp.ipDst.last == service.clusterIP, "quotes the SYN")
        #expect(icmp.dstPort == service.port)
        #expect(icmp.syn && !icmp.ack, "the quoted segment is the SYN")
        #expect(packets.contains { $0.isSyn && $0.dst == service.clusterIP && $0.hop == truth.clientHop })
        #expect(!packets.contains { $0.isSynAck })
        #expect(truth.clientResult.exitCode == 7)
    }

    @Test(
        "dns-failure: every expected query on the wire; NXDOMAIN at every search step, or no answer at all",
        arguments: verdict("dns-failure"),
        formats
    )
    func dnsFailure(scenario: String, format: CaptureFormat) throws {
        let truth = try Truth.load(scenario)
        let dns = try #require(truth.dns)
        #expect(truth.expected.verdict.hops == [dns.server.veth])
        let packets = try Tshark.packets(scenario, format, truth: truth)
        #expect(!packets.contains { $0.isSyn }, "no TCP without an address")
        if dns.expectedRcode == "NXDOMAIN" {
            #expect(dns.expectedQueries.count == dns.searchList.count + 1, "every search domain, then the bare name")
        }
        for query in dns.expectedQueries {
            for type in query.types {
                let code = type == "AAAA" ? 28 : 1
                let asked = packets.filter {
                    $0.isDNS && !$0.dnsResponse && $0.dnsName == query.name && $0.dnsType == code
                }
                #expect(asked.filter { $0.hop == truth.clientHop }.count == query.attempts, "\(type) \(query.name)")
                #expect(asked.contains { $0.hop == dns.server.veth }, "\(type) \(query.name) never reached the DNS pod")
                let answers = packets.filter { $0.dnsResponse && $0.dnsName == query.name && $0.dnsType == code }
                if dns.expectedRcode == "NXDOMAIN" {
                    #expect(answers.contains { $0.hop == truth.clientHop && $0.dnsRcode == 3 }, "NXDOMAIN for \(type)")
                } else {
                    #expect(answers.isEmpty)
                }
            }
        }
        if dns.expectedRcode == "timeout" {
            #expect(!packets.contains { $0.dnsResponse })
            // glibc: 5 s per attempt, two attempts per name, two names.
            let times = packets.filter { $0.isDNS && $0.hop == truth.clientHop }.map(\.time)
            let span = (times.max() ?? 0) - (times.min() ?? 0)
            #expect(span >= 14.5 && span < 16, "queries span \(span) s")
        }
        #expect(truth.clientResult.exitCode == 6)
    }

    @Test(
        "slow server: the response's first byte leaves the pod at least the configured delay after the request",
        arguments: slowServer,
        formats
    )
    func slowServerHoldsTheTime(scenario: String, format: CaptureFormat) throws {
        let truth = try Truth.load(scenario)
        let packets = try Tshark.packets(scenario, format, truth: truth)
        let slow = try #require(truth.requests.first { ($0.serverDelayMs ?? 0) > 0 })
        let delay = Double(slow.serverDelayMs ?? 0) / 1000
        let endpoint = try #require(truth.servingEndpoint(slow))
        #expect(truth.expected.verdict.hops == [endpoint.veth])
        let gap = try #require(serverGap(packets, request: slow, hop: endpoint.veth, responder: endpoint.ip))
        #expect(gap >= delay, "server gap \(gap) s < configured \(delay) s")
        #expect(gap < delay + 0.5, "server gap \(gap) s, configured \(delay) s")
        // The client saw the same wait: curl's own timing, an independent clock.
        let curl = try #require(slow.clientTiming)
        let waited = (curl.time_starttransfer ?? 0) - (curl.time_pretransfer ?? 0)
        #expect(waited >= delay)
        #expect(abs(waited - gap) < 0.1, "curl waited \(waited) s, the pod took \(gap) s")
        // The other requests on the connection were not slow at the server.
        for other in truth.requests where other.index != slow.index {
            let otherGap = serverGap(packets, request: other, hop: endpoint.veth, responder: endpoint.ip)
            #expect(otherGap != nil && otherGap! < delay / 2)
        }
    }

    @Test(
        "congested hop: response bytes leave the pod at once and crawl into the client's veth",
        arguments: congested,
        formats
    )
    func congestedHop(scenario: String, format: CaptureFormat) throws {
        let truth = try Truth.load(scenario)
        let fault = try #require(truth.fault)
        let service = try #require(truth.service)
        let endpoint = try #require(truth.servingEndpoint(truth.request))
        #expect(truth.tc.contains { $0.dev == fault.hop && $0.kind == "tbf" }, "no tbf qdisc on \(fault.hop)")
        #expect(fault.hop == truth.clientHop)
        let packets = try Tshark.packets(scenario, format, truth: truth)
        // Byte ranges, not packets: the pod's side carries TSO super-segments, tbf splits them.
        let sent = packets.filter { $0.hop == endpoint.veth && $0.src == endpoint.ip && $0.tcpLen > 0 }
        let arrived = packets.filter { $0.hop == fault.hop && $0.src == service.clusterIP && $0.tcpLen > 0 }
        #expect(!sent.isEmpty && !arrived.isEmpty)
        #expect(sent.contains { $0.tcpLen > 1448 }, "TSO: the pod hands over segments larger than the MSS")
        #expect(arrived.allSatisfy { $0.tcpLen <= 1448 }, "tbf segments them")
        var worst = 0.0
        for packet in arrived {
            guard let seq = packet.seq else { continue }
            let origin = sent.first { s in
                guard let start = s.seq else { return false }
                return seq &- start < UInt32(s.tcpLen)
            }
            if let origin { worst = max(worst, packet.time - origin.time) }
        }
        #expect(worst >= 0.5, "the slowest byte took \(worst) s from \(endpoint.veth) to \(fault.hop)")
        let gap = try #require(serverGap(packets, request: truth.request, hop: endpoint.veth, responder: endpoint.ip))
        #expect(gap < 0.2, "the server itself answered in \(gap) s; the hop holds the time")
        let total = try #require(truth.request.clientTiming?.time_total)
        #expect(total >= 1.0)
    }

    @Test("keep-alive: every request of the curl run shares one TCP connection", arguments: keepAlive, formats)
    func keepAliveSharesOneConnection(scenario: String, format: CaptureFormat) throws {
        let truth = try Truth.load(scenario)
        let packets = try Tshark.packets(scenario, format, truth: truth)
        let requests = packets.filter { $0.isHTTPRequest && $0.hop == truth.clientHop }
        #expect(requests.count == truth.requests.count)
        #expect(Set(requests.map(\.srcPort)).count == 1)
        #expect(packets.filter { $0.isSyn && $0.hop == truth.clientHop }.count == 1)
        #expect(truth.clientResult.transfers.compactMap(\.num_connects).reduce(0, +) == 1)
        #expect(Set(truth.clientResult.transfers.compactMap(\.local_port)).count == 1)
    }
}
