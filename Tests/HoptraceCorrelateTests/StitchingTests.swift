import HoptraceCapture
import Testing

@testable import HoptraceCorrelate

/// Hand-built observation sequences for each NAT pattern the design notes describe. The facts asserted are those
/// of the hand-built topology (which hop rewrote what, who sent the RST), not hoptrace output.
let t0: Int64 = 1_700_000_000_000_000_000
func ms(_ v: Double) -> Int64 { t0 + Int64(v * 1_000_000) }

let client = Endpoint("10.244.0.2", 41000)
let vip = Endpoint("10.96.0.20", 80)
let pod = Endpoint("10.244.0.5", 8080)

/// One exchange as seen at a capture point `offset` ms along a 0.02 ms path: the request arrives at the server
/// (offset 0.02) at 10.02 ms, the server answers `serverTime` later, and the response travels back.
func exchange(_ offset: Double, serverTime: Double = 2, status: Int = 200, id: String? = nil) -> HTTPSighting {
    HTTPSighting(
        method: "GET",
        path: "/hello",
        host: "web",
        requestID: id,
        status: status,
        requestFirst: ms(10 + offset),
        requestLast: ms(10 + offset),
        responseFirst: ms(10.04 + serverTime - offset),
        responseLast: ms(10.05 + serverTime - offset),
        responseComplete: true
    )
}

/// The four sightings of a ClusterIP connection on one node: client veth In, bridge In (pre-DNAT), bridge Out
/// (post-DNAT), server veth Out. The post-DNAT bridge copy is stamped 3 µs *before* the pre-DNAT one.
func clusterIPSightings(serverTime: Double = 2) -> [TCPSighting] {
    func sighting(_ point: String, _ dir: PacketDirection, _ c: Endpoint, _ s: Endpoint, _ at: Double) -> TCPSighting {
        TCPSighting(
            capturePoint: point,
            clientDirection: dir,
            client: c,
            server: s,
            clientISN: 1000,
            serverISN: 5000,
            synTime: ms(at),
            synCount: 1,
            synAckTime: ms(1 - at),
            synAckCount: 1,
            ackTime: ms(1.01),
            clientDataFirst: ms(10 + at),
            clientDataLast: ms(10 + at),
            serverDataFirst: ms(11 - at + serverTime),
            serverDataLast: ms(11.1 - at + serverTime),
            clientBytes: 80,
            serverBytes: 200,
            exchanges: [exchange(at, serverTime: serverTime)],
            firstTime: ms(at),
            lastTime: ms(20)
        )
    }
    return [
        sighting("vethclient0", .inbound, client, vip, 0),
        sighting("cni0", .inbound, client, vip, 0.010),
        sighting("cni0", .outbound, client, pod, 0.007),  // clock noise: stamped before the pre-DNAT copy
        sighting("vethweb1", .outbound, client, pod, 0.020),
    ].shuffled()
}

@Test func clusterIPConnectionIsStitchedInCausalOrder() {
    let connections = Stitcher.stitch(clusterIPSightings())
    #expect(connections.count == 1)
    let path = connections[0].path
    #expect(path.map(\.capturePoint) == ["vethclient0", "cni0", "cni0", "vethweb1"])
    #expect(path[1].server == vip && path[2].server == pod)

    let hops = Stitcher.hops(of: connections[0], index: 0)
    #expect(hops.map(\.capturePoint) == ["vethclient0", "cni0", "vethweb1"])
    #expect(hops.map(\.translation) == [.none, .dnat, .none])
    #expect(hops[1].directions == [.inbound, .outbound])
    #expect(hops.allSatisfy { ($0.synDelay ?? 0) >= 0 })
}

@Test func clusterIPRequestIsOKWithPhasesAddingUp() {
    let dns = [
        DNSSighting(
            capturePoint: "vethclient0",
            client: Endpoint("10.244.0.2", 5353),
            server: Endpoint("10.96.0.10", 53),
            id: 7,
            name: "web.default.svc.cluster.local",
            type: "A",
            queryTime: ms(-3),
            responseTime: ms(-2),
            rcode: "NOERROR",
            addresses: ["10.96.0.20"]
        ),
        DNSSighting(
            capturePoint: "vethdns",
            client: Endpoint("10.244.0.2", 5353),
            server: Endpoint("10.244.0.9", 53),
            id: 7,
            name: "web.default.svc.cluster.local",
            type: "A",
            queryTime: ms(-2.9),
            responseTime: ms(-2.1),
            rcode: "NOERROR",
            addresses: ["10.96.0.20"]
        ),
    ]
    let traces = Correlator().trace(Observations(tcp: clusterIPSightings(), dns: dns, captureEnd: ms(30)))
    #expect(traces.count == 1)
    let trace = traces[0]
    #expect(trace.mode == .clusterip)
    #expect(trace.verdict.kind == .ok)
    #expect(trace.dns?.queries.count == 1)
    #expect(trace.timings.dns == 1_000_000)
    #expect(trace.server == pod && trace.service == vip)
    let t = trace.timings
    let sum = [t.dns, t.connect, t.request, t.server, t.network, t.response, t.client].compactMap { $0 }.reduce(0, +)
    #expect(sum == t.total)
    #expect(t.server == 2_000_000)  // the hand-built server time, measured at the pod's veth
    #expect(t.network == 40_000)  // 0.02 ms each way between the client's veth and the pod's
}

@Test func slowServerIsNamed() {
    let traces = Correlator().trace(Observations(tcp: clusterIPSightings(serverTime: 900), captureEnd: ms(2000)))
    #expect(traces.count == 1)
    #expect(traces[0].verdict.kind == .slow)
    #expect(traces[0].verdict.hop == "vethweb1")
}

@Test func nodePortWithMasqueradeAndHalfTranslatedReply() {
    let external = Endpoint("192.168.49.100", 50000)
    let nodePort = Endpoint("192.168.49.2", 30080)
    let masq = Endpoint("10.244.0.1", 50000)
    let syn = TCPSighting(
        capturePoint: "eth0",
        clientDirection: .inbound,
        client: external,
        server: nodePort,
        clientISN: 77,
        serverISN: 99,
        synTime: ms(0),
        synCount: 1,
        synAckTime: ms(0.5),
        synAckCount: 1,
        clientBytes: 10,
        firstTime: ms(0),
        lastTime: ms(5)
    )
    var bridge = syn
    bridge.capturePoint = "cni0"
    bridge.clientDirection = .outbound
    bridge.client = masq
    bridge.server = pod
    bridge.synTime = ms(0.004)
    var veth = bridge
    veth.capturePoint = "vethweb1"
    veth.synTime = ms(0.006)
    // The reply on the bridge, MASQUERADE undone and DNAT not yet: only server packets, no SYN.
    let halfTranslated = TCPSighting(
        capturePoint: "cni0",
        clientDirection: .outbound,
        client: external,
        server: pod,
        clientISN: 77,
        serverISN: 99,
        synAckTime: ms(0.45),
        synAckCount: 1,
        serverBytes: 100,
        firstTime: ms(0.45),
        lastTime: ms(4)
    )
    let connections = Stitcher.stitch([veth, halfTranslated, bridge, syn])
    #expect(connections.count == 1)
    #expect(connections[0].path.map(\.capturePoint) == ["eth0", "cni0", "vethweb1"])
    let hops = Stitcher.hops(of: connections[0], index: 0)
    #expect(hops.map(\.translation) == [.none, .dnatSnat, .none])
    let trace = Correlator().trace(Observations(tcp: [veth, halfTranslated, bridge, syn], captureEnd: ms(10)))
    #expect(trace.first?.mode == .nodeport)
}

@Test func unNATedResetIsAFindingAndTheServerIsTheOrigin() {
    // The pod does not listen: it answers the SYN with an RST, which the client sees twice: reverse-NATed
    // (from the ClusterIP) and un-NATed (from the pod IP, conntrack INVALID).
    func synOnly(_ point: String, _ dir: PacketDirection, _ s: Endpoint, _ at: Double, rstAt: Double) -> TCPSighting {
        TCPSighting(
            capturePoint: point,
            clientDirection: dir,
            client: client,
            server: s,
            clientISN: 4242,
            synTime: ms(at),
            synCount: 1,
            reset: ResetSighting(time: ms(rstAt), fromClient: false, seq: 0, ack: 4243),
            firstTime: ms(at),
            lastTime: ms(rstAt)
        )
    }
    let stray = TCPSighting(
        capturePoint: "vethclient0",
        clientDirection: .outbound,
        client: client,
        server: pod,
        reset: ResetSighting(time: ms(0.2), fromClient: false, seq: 0, ack: 4243),
        firstTime: ms(0.2),
        lastTime: ms(0.2)
    )
    let observations = Observations(
        tcp: [
            synOnly("vethclient0", .inbound, vip, 0, rstAt: 0.1), synOnly("cni0", .inbound, vip, 0.01, rstAt: 0.09),
            synOnly("cni0", .outbound, pod, 0.02, rstAt: 0.08), synOnly("vethweb1", .outbound, pod, 0.03, rstAt: 0.05),
            stray,
        ],
        captureEnd: ms(1)
    )
    let traces = Correlator().trace(observations)
    #expect(traces.count == 1)
    #expect(traces[0].verdict.kind == .reset)
    #expect(traces[0].verdict.hop == "vethweb1")
    #expect(traces[0].findings.contains { $0.kind == "unnatted-reply" })
}

@Test func droppedSYNIsABreakpointAtTheLastHopThatSawIt() {
    var a = TCPSighting(
        capturePoint: "vethclient0",
        clientDirection: .inbound,
        client: client,
        server: vip,
        clientISN: 9,
        synTime: ms(0),
        synCount: 4,
        firstTime: ms(0),
        lastTime: ms(7000)
    )
    var b = a
    b.capturePoint = "cni0"
    var c = a
    c.capturePoint = "cni0"
    c.clientDirection = .outbound
    c.server = pod
    a.synTime = ms(0)
    b.synTime = ms(0.01)
    c.synTime = ms(0.02)
    let traces = Correlator().trace(Observations(tcp: [c, a, b], captureEnd: ms(8000)))
    #expect(traces.count == 1)
    #expect(traces[0].verdict.kind == .breakpoint)
    #expect(traces[0].verdict.hop == "cni0")
    #expect(traces[0].findings.contains { $0.kind == "syn-retransmitted" })
}

@Test func icmpRejectionNamesItsSender() {
    let syn = TCPSighting(
        capturePoint: "vethclient0",
        clientDirection: .inbound,
        client: client,
        server: Endpoint("10.96.0.30", 80),
        clientISN: 31337,
        synTime: ms(0),
        synCount: 1,
        firstTime: ms(0),
        lastTime: ms(0)
    )
    let icmp = ICMPSighting(
        capturePoint: "vethclient0",
        time: ms(0.1),
        sender: "10.244.0.1",
        receiver: "10.244.0.2",
        type: 3,
        code: 3,
        name: "port-unreachable",
        quotedSource: client,
        quotedDestination: Endpoint("10.96.0.30", 80),
        quotedProtocol: 6,
        quotedSeq: 31337
    )
    let traces = Correlator().trace(Observations(tcp: [syn], icmp: [icmp], captureEnd: ms(1)))
    #expect(traces.first?.verdict.kind == .rejected)
    #expect(traces.first?.verdict.detail.contains("10.244.0.1") == true)
}

@Test func nxdomainSearchWalkIsOneDNSFailure() {
    let names = ["nope.default.svc.cluster.local", "nope.svc.cluster.local", "nope.cluster.local", "nope"]
    var sightings: [DNSSighting] = []
    for (i, name) in names.enumerated() {
        for (j, type) in ["A", "AAAA"].enumerated() {
            let at = Double(i * 2 + j)
            sightings.append(
                DNSSighting(
                    capturePoint: "vethclient0",
                    client: Endpoint("10.244.0.2", 40000),
                    server: Endpoint("10.96.0.10", 53),
                    id: UInt16(i * 2 + j),
                    name: name,
                    type: type,
                    queryTime: ms(at),
                    responseTime: ms(at + 0.5),
                    rcode: "NXDOMAIN"
                )
            )
        }
    }
    let traces = Correlator().trace(Observations(dns: sightings, captureEnd: ms(100)))
    #expect(traces.count == 1)
    #expect(traces[0].verdict.kind == .dnsFailure)
    #expect(traces[0].dns?.queries.count == 8)
    #expect(traces[0].dns?.outcome == "NXDOMAIN")
}

@Test func ingressJoinsByRequestID() {
    let external = Endpoint("192.168.49.100", 50000)
    let ingress = Endpoint("192.168.49.2", 80)
    let inbound = TCPSighting(
        capturePoint: "eth0",
        clientDirection: .inbound,
        client: external,
        server: ingress,
        clientISN: 1,
        serverISN: 2,
        synTime: ms(0),
        synCount: 1,
        synAckTime: ms(0.1),
        synAckCount: 1,
        clientBytes: 90,
        serverBytes: 300,
        exchanges: [
            HTTPSighting(
                method: "GET",
                path: "/shop",
                host: "shop.example",
                requestFirst: ms(1),
                requestLast: ms(1),
                responseFirst: ms(9),
                responseLast: ms(9.1),
                responseComplete: true
            )
        ],
        firstTime: ms(0),
        lastTime: ms(10)
    )
    let onward = TCPSighting(
        capturePoint: "vethweb1",
        clientDirection: .outbound,
        client: Endpoint("10.244.0.1", 33000),
        server: pod,
        clientISN: 555,
        serverISN: 666,
        synTime: ms(1.2),
        synCount: 1,
        synAckTime: ms(1.3),
        synAckCount: 1,
        clientBytes: 120,
        serverBytes: 300,
        exchanges: [
            HTTPSighting(
                method: "GET",
                path: "/shop",
                host: "shop.example",
                requestID: "abc123",
                requestFirst: ms(1.5),
                requestLast: ms(1.5),
                responseFirst: ms(8.5),
                responseLast: ms(8.6),
                responseComplete: true
            )
        ],
        firstTime: ms(1.2),
        lastTime: ms(9)
    )
    let traces = Correlator().trace(Observations(tcp: [onward, inbound], captureEnd: ms(10)))
    #expect(traces.count == 1)
    #expect(traces[0].mode == .ingress)
    #expect(traces[0].request?.requestID == "abc123")
    #expect(traces[0].hops.map(\.translation).contains(.l7Proxy))
    #expect(traces[0].timings.server == 7_000_000)
}

/// A client that looked a name up several times: the connection takes the last lookup (in capture order) that
/// returned its server's address within `dnsToConnectWindow` before it, not one outside the window, and not one that
/// returned another address.
@Test func connectionTakesTheLastMatchingLookupInItsWindow() {
    func lookup(_ name: String, port: UInt16, query: Double, response: Double, address: String) -> DNSSighting {
        DNSSighting(
            capturePoint: "vethclient0",
            client: Endpoint("10.244.0.2", port),
            server: Endpoint("10.96.0.10", 53),
            id: port,
            name: name,
            type: "A",
            queryTime: ms(query),
            responseTime: ms(response),
            rcode: "NOERROR",
            addresses: [address]
        )
    }
    let dns = [
        lookup("old.default.svc.cluster.local", port: 5001, query: -12_001, response: -12_000, address: "10.96.0.20"),
        lookup("early.default.svc.cluster.local", port: 5002, query: -6, response: -5, address: "10.96.0.20"),
        lookup("late.default.svc.cluster.local", port: 5003, query: -3, response: -2, address: "10.96.0.20"),
        lookup("other.default.svc.cluster.local", port: 5004, query: -1.5, response: -1, address: "10.96.0.99"),
    ]
    let traces = Correlator().trace(Observations(tcp: clusterIPSightings(), dns: dns, captureEnd: ms(30)))
    let withConnection = traces.filter { $0.server != nil }
    #expect(withConnection.count == 1)
    #expect(withConnection.first?.dns?.name == "late.default.svc.cluster.local")
    #expect(withConnection.first?.dns?.start == ms(-3))

    // Only the lookup 12 s before: outside the default 10 s window, the connection has no DNS phase.
    let alone = Correlator().trace(Observations(tcp: clusterIPSightings(), dns: [dns[0]], captureEnd: ms(30)))
    #expect(alone.filter { $0.server != nil }.first?.dns == nil)
}
