import Foundation
import Testing

@testable import HoptraceFlows

/// The flow stage against tshark (and Zeek's documented results) on the public corpus.
struct CorpusOracleTests {
    /// Files where tshark cannot be the oracle, and why.
    static let tsharkBlind: Set<String> = [
        // BIG TCP: the outer UDP length field is 0; tshark 4.0 stops at "BAD UDP LENGTH" and sees no TCP.
        "tcpdump/bigtcp-ipv4-vxlan-ipv4.pcap"
    ]
    /// Files whose HTTP tshark only reassembles with out-of-order reassembly on (off by default in 4.0).
    static let needsOutOfOrder: Set<String> = ["skydive/eth-ipv4-tcp-http-ooo.pcap"]
    /// One microsecond, the agreement asked for.
    static let tolerance: Int64 = 1_000

    /// The corpus files tshark can be the oracle for.
    static let oracleFiles = Corpus.captureFiles.filter { !tsharkBlind.contains($0) }

    /// Connection count, HTTP requests, responses, status codes and http.time, DNS ids, rcodes and dns.time, from one
    /// tshark run and one analysis per file.
    @Test(arguments: oracleFiles)
    func agreesWithTshark(file: String) throws {
        let options = Self.needsOutOfOrder.contains(file) ? ["-o", "tcp.reassemble_out_of_order:TRUE"] : []
        let rows = try Corpus.tshark(
            file,
            filter: nil,
            fields: [
                "tcp.srcport", "tcp.stream", "http.request.method", "http.response.code", "http.time", "dns.id",
                "dns.flags.response", "dns.flags.rcode", "dns.time", "tcp.dstport", "udp.srcport", "udp.dstport",
            ],
            options: options
        )
        let records = Corpus.analyze(file)
        self.checkConnections(file, rows, records)
        self.checkHTTP(file, rows.filter { !$0[0].isEmpty }, records.exchanges)
        self.checkDNS(file, rows, records.dns)
    }

    func checkConnections(_ file: String, _ rows: [[String]], _ records: FlowRecords) {
        let streams = Set(rows.compactMap { $0.count > 1 && !$0[1].isEmpty ? $0[1] : nil })
        #expect(records.connections.count == streams.count, "\(file): connections")
    }

    /// HTTP over TCP only (tshark also parses SSDP over UDP as HTTP).
    func checkHTTP(_ file: String, _ rows: [[String]], _ exchanges: [HTTPExchange]) {
        let tsharkRequests = rows.filter { !$0[2].isEmpty }.count
        let tsharkResponses = rows.filter { !$0[3].isEmpty }
        let tsharkFinal = tsharkResponses.filter { !$0[3].hasPrefix("1") }
        let tsharkInterim = tsharkResponses.count - tsharkFinal.count
        #expect(exchanges.filter { $0.request != nil }.count == tsharkRequests, "\(file): requests")
        #expect(exchanges.filter { $0.response != nil }.count == tsharkFinal.count, "\(file): final responses")
        #expect(exchanges.map(\.interimStatuses.count).reduce(0, +) == tsharkInterim, "\(file): interim responses")
        #expect(
            exchanges.compactMap { $0.response.map { String($0.status) } }.sorted()
                == tsharkFinal.map { $0[3] }.sorted(),
            "\(file): status codes"
        )
        // http.time: response (reassembled) minus request (reassembled), per paired response.
        let expected = tsharkFinal.compactMap { nanoseconds($0[4]) }.sorted()
        let ours = exchanges.compactMap { $0.response != nil && $0.request != nil ? $0.latency : nil }.sorted()
        #expect(ours.count == expected.count, "\(file): http.time count")
        for (mine, theirs) in zip(ours, expected) {
            #expect(abs(mine - theirs) <= Self.tolerance, "\(file): http.time \(mine) vs \(theirs)")
        }
    }

    func checkDNS(_ file: String, _ rows: [[String]], _ transactions: [DNSTransaction]) {
        // Several DNS messages in one frame (DNS over TCP) give comma-separated values. Port 53 only: tshark also
        // shows mDNS and LLMNR as DNS.
        func onPort53(_ row: [String]) -> Bool {
            [row[0], row[9], row[10], row[11]].contains { $0.split(separator: ",").contains("53") }
        }
        var queries: [UInt16] = []
        var responses: [String] = []
        var times: [Int64] = []
        for row in rows where !row[5].isEmpty && onPort53(row) {
            let ids = row[5].split(separator: ",")
            let kinds = row[6].split(separator: ",")
            let rcodes = row[7].split(separator: ",")
            for (index, id) in ids.enumerated() {
                guard let value = UInt16(id.dropFirst(2), radix: 16) else { continue }
                if index < kinds.count, kinds[index] == "1" {
                    responses.append("\(value)/\(index < rcodes.count ? String(rcodes[index]) : "?")")
                } else {
                    queries.append(value)
                }
            }
            for delta in row[8].split(separator: ",") {
                if let time = nanoseconds(String(delta)) { times.append(time) }
            }
        }
        var ourQueries: [UInt16] = []
        var ourResponses: [String] = []
        for transaction in transactions {
            if transaction.queryTime != nil {
                ourQueries += [UInt16](repeating: transaction.id, count: 1 + transaction.queryRetransmissions)
            }
            if let rcode = transaction.rcode {
                ourResponses += [String](
                    repeating: "\(transaction.id)/\(rcode.rawValue)",
                    count: 1 + transaction.extraResponses
                )
            }
        }
        #expect(ourQueries.sorted() == queries.sorted(), "\(file): query ids")
        #expect(ourResponses.sorted() == responses.sorted(), "\(file): response ids and rcodes")
        let ours = transactions.compactMap(\.latency).sorted()
        let expected = times.sorted()
        #expect(ours.count == expected.count, "\(file): dns.time count")
        for (mine, theirs) in zip(ours, expected) {
            #expect(abs(mine - theirs) <= Self.tolerance, "\(file): dns.time \(mine) vs \(theirs)")
        }
    }

    /// Zeek's own conn_state and history for the reset traces (corpus README).
    @Test(arguments: [
        ("zeek/tcp/single-rst.pcap", "OTH", "R"),
        ("zeek/tcp/syn-then-rst.pcap", "RSTOS0", "SR"),
        ("zeek/tcp/syn-then-ack-then-rst.pcap", "RSTOS0", "SaR"),
        ("zeek/tcp/syn-then-stuff-then-rst.pcap", "OTH", "SaFR"),
    ])
    func resetTracesMatchZeek(file: String, state: String, history: String) throws {
        let connections = Corpus.analyze(file).connections
        try #require(connections.count == 1)
        #expect(connections[0].state.rawValue == state)
        #expect(connections[0].history == history)
    }

    @Test func thousandRequestsOneDroppedResponse() throws {
        let file = "zeek/http/1000-requests-one-dropped-response.pcap"
        let exchanges = Corpus.analyze(file).exchanges
        #expect(exchanges.filter { $0.request != nil }.count == 1000)
        #expect(exchanges.filter { $0.response != nil }.count == 999)
        // The unanswered request is the one tshark leaves without a response.
        let answered = Set(
            try Corpus.tshark(file, filter: "http.response", fields: ["http.request_in"]).compactMap { Int($0[0]) }
        )
        let requests = try Corpus.tshark(file, filter: "http.request", fields: ["frame.number", "frame.time_epoch"])
        let unanswered = requests.filter { !answered.contains(Int($0[0]) ?? -1) }
        try #require(unanswered.count == 1)
        let lost = try #require(exchanges.first { $0.response == nil })
        // tshark dates a request by its last segment.
        #expect(lost.requestLastByte?.time == nanoseconds(unanswered[0][1]))
    }

    /// Each response is paired with the request tshark pairs it with (http.request_in), on traces with several
    /// requests per connection (keep-alive, pipelining) and with an interim 100 Continue.
    @Test(arguments: [
        "zeek/http/pipelined-requests.pcap", "zeek/http/100-continue.pcap", "gopacket/test_loopback.pcap",
        "skydive/eth-ip4-arp-dns-req-http-google.pcap",
    ])
    func pairingAgreesWithTshark(file: String) throws {
        let requests = try Corpus.tshark(
            file,
            filter: "http.request",
            fields: ["frame.number", "frame.time_epoch", "http.request.uri"]
        )
        let responses = try Corpus.tshark(
            file,
            filter: "http.response && http.response.code >= 200",
            fields: ["http.request_in", "frame.time_epoch", "http.response.code"]
        )
        var requestByFrame: [String: (time: Int64?, uri: String)] = [:]
        for row in requests { requestByFrame[row[0]] = (nanoseconds(row[1]), row[2]) }
        let expected = responses.compactMap { row -> String? in
            guard let request = requestByFrame[row[0]] else { return nil }
            return "\(request.uri) \(request.time ?? 0) -> \(row[2]) \(nanoseconds(row[1]) ?? 0)"
        }.sorted()
        let ours = Corpus.analyze(file).exchanges.compactMap { exchange -> String? in
            guard let request = exchange.request, let response = exchange.response else { return nil }
            return "\(request.target) \(exchange.requestLastByte?.time ?? 0) -> \(response.status) "
                + "\(exchange.responseLastByte?.time ?? 0)"
        }.sorted()
        #expect(!expected.isEmpty)
        #expect(ours == expected)
    }

    @Test func hundredContinueIsInterim() throws {
        let exchanges = Corpus.analyze("zeek/http/100-continue.pcap").exchanges
        try #require(exchanges.count == 1)
        #expect(exchanges[0].interimStatuses == [100])
        #expect(exchanges[0].request?.method == "POST")
        #expect(exchanges[0].response?.status == 200)
    }
}
