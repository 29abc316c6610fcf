import Testing

@testable import HoptraceFlows

/// Drives an ``HTTPSession`` with hand-built streams, tracking offsets the way the TCP layer does.
struct SessionDriver {
    var session = HTTPSession()
    var clientOffset: UInt64 = 1
    var serverOffset: UInt64 = 1
    var exchanges: [HTTPExchange] = []

    mutating func client(_ text: String, at time: Int64, chunk: Int = .max, ack: UInt64? = nil) {
        self.send(Array(text.utf8), fromClient: true, time: time, chunk: chunk, ack: ack)
    }

    mutating func server(_ text: String, at time: Int64, chunk: Int = .max) {
        self.send(Array(text.utf8), fromClient: false, time: time, chunk: chunk, ack: nil)
    }

    mutating func send(_ bytes: [UInt8], fromClient: Bool, time: Int64, chunk: Int, ack: UInt64?) {
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + chunk)
            let offset = fromClient ? self.clientOffset : self.serverOffset
            var emitted: [HTTPExchange] = []
            bytes[start..<end].withUnsafeBytes { slice in
                self.session.data(
                    slice,
                    fromClient: fromClient,
                    offset: offset,
                    time: time,
                    clientAck: ack ?? self.serverOffset
                ) { emitted.append($0) }
            }
            self.exchanges += emitted
            if fromClient { self.clientOffset += UInt64(end - start) } else { self.serverOffset += UInt64(end - start) }
            start = end
        }
    }

    mutating func gap(fromClient: Bool, length: UInt64, at time: Int64) {
        let offset = fromClient ? self.clientOffset : self.serverOffset
        var emitted: [HTTPExchange] = []
        self.session.gap(fromClient: fromClient, length: length, offset: offset, time: time) { emitted.append($0) }
        self.exchanges += emitted
        if fromClient { self.clientOffset += length } else { self.serverOffset += length }
    }

    mutating func finish() {
        var emitted: [HTTPExchange] = []
        let last = StreamMark(offset: self.serverOffset - 1, time: 999)
        self.session.finish(lastServerByte: last) { emitted.append($0) }
        self.exchanges += emitted
    }
}

struct HTTPParserTests {
    static let request =
        "GET /a HTTP/1.1\r\nHost: example.com\r\nX-Request-ID: abc-1\r\n"
        + "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\nUser-Agent: curl/8\r\n"
        + "X-Forwarded-For: 10.0.0.1\r\n\r\n"
    static let response = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"

    @Test(arguments: [1, 2, 3, 7, 1000])
    func requestAndResponseSplitAnywhere(chunk: Int) throws {
        var driver = SessionDriver()
        driver.client(Self.request, at: 10, chunk: chunk)
        driver.server(Self.response, at: 20, chunk: chunk)
        #expect(driver.exchanges.count == 1)
        let exchange = try #require(driver.exchanges.first)
        #expect(exchange.request?.method == "GET")
        #expect(exchange.request?.target == "/a")
        #expect(exchange.request?.host == "example.com")
        #expect(exchange.request?.requestID == "abc-1")
        #expect(exchange.request?.traceparent == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        #expect(exchange.request?.userAgent == "curl/8")
        #expect(exchange.request?.forwardedFor == "10.0.0.1")
        #expect(exchange.response?.status == 200)
        #expect(exchange.response?.reason == "OK")
        #expect(exchange.responseBodyLength == 5)
        #expect(exchange.requestFirstByte == StreamMark(offset: 1, time: 10))
        #expect(exchange.requestLastByte?.offset == UInt64(Self.request.utf8.count))
        #expect(exchange.responseFirstByte == StreamMark(offset: 1, time: 20))
        #expect(exchange.responseLastByte?.offset == UInt64(Self.response.utf8.count))
        #expect(exchange.latency == 10)
        #expect(exchange.isRequestComplete && exchange.isResponseComplete)
    }

    @Test(arguments: [1, 4, 1000])
    func chunkedWithExtensionsAndTrailers(chunk: Int) throws {
        var driver = SessionDriver()
        driver.client(
            "POST /up HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\n\r\n",
            at: 1,
            chunk: chunk
        )
        let body =
            "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "A\r\n0123456789\r\n1a ; name=value\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: yes\r\nY: z\r\n\r\n"
        driver.server(body, at: 2, chunk: chunk)
        let exchange = try #require(driver.exchanges.first)
        #expect(driver.exchanges.count == 1)
        #expect(exchange.request?.isChunked == true)
        #expect(exchange.requestBodyLength == 3)
        #expect(exchange.response?.status == 201)
        #expect(exchange.responseBodyLength == 36)
        #expect(exchange.responseLastByte?.offset == UInt64(body.utf8.count))
    }

    @Test func chunkedZeroWithoutTrailersAndBareLF() throws {
        var driver = SessionDriver()
        driver.client("GET / HTTP/1.1\nHost: h\n\n", at: 1)
        driver.server("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\nhi\n0\n\n", at: 2)
        #expect(driver.exchanges.count == 1)
        #expect(driver.exchanges.first?.responseBodyLength == 2)
        #expect(driver.exchanges.first?.request?.host == "h")
    }

    @Test func pipelinedRequestsPairInOrder() throws {
        var driver = SessionDriver()
        driver.client("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nHEAD /3 HTTP/1.1\r\n\r\n", at: 1)
        driver.server(
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
                + "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
            at: 2,
            chunk: 5
        )
        #expect(driver.exchanges.map { $0.request?.target } == ["/1", "/2", "/3"])
        #expect(driver.exchanges.map { $0.response?.status } == [200, 404, 200])
        // HEAD: Content-Length does not announce a body.
        #expect(driver.exchanges[2].responseBodyLength == 0)
    }

    /// Without text (`FlowConfiguration.emitHTTP` off, `hoptrace flows`): the same exchanges, framed the same (the
    /// method still decides HEAD's body), with only the method and status kept.
    @Test(arguments: [5, 1000])
    func framingOnlyWithoutText(chunk: Int) throws {
        var driver = SessionDriver(session: HTTPSession(keepsText: false))
        driver.client(Self.request, at: 1, chunk: chunk)
        driver.client("HEAD /3 HTTP/1.1\r\nHost: h\r\n\r\n", at: 2, chunk: chunk)
        driver.server(Self.response, at: 3, chunk: chunk)
        driver.server("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", at: 4, chunk: chunk)
        driver.client("GET /4 HTTP/1.1\r\n\r\n", at: 5, chunk: chunk)
        driver.server("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", at: 6, chunk: chunk)
        #expect(driver.exchanges.map { $0.request?.method } == ["GET", "HEAD", "GET"])
        #expect(driver.exchanges.map { $0.response?.status } == [200, 200, 404])
        #expect(driver.exchanges.map(\.responseBodyLength) == [5, 0, 0])
        let first = try #require(driver.exchanges.first)
        #expect(first.request?.target == "" && first.request?.host == nil && first.request?.userAgent == nil)
        #expect(first.request?.requestID == nil && first.request?.traceparent == nil)
        #expect(first.response?.reason == "")
        #expect(first.isRequestComplete && first.isResponseComplete)
    }

    @Test func noBodyStatuses() throws {
        var driver = SessionDriver()
        for (index, status) in [204, 304].enumerated() {
            driver.client("GET /\(index) HTTP/1.1\r\n\r\n", at: Int64(index * 10))
            driver.server("HTTP/1.1 \(status) X\r\nContent-Length: 10\r\n\r\n", at: Int64(index * 10 + 1))
        }
        driver.client("GET /last HTTP/1.1\r\n\r\n", at: 30)
        driver.server("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", at: 31)
        #expect(driver.exchanges.map { $0.response?.status } == [204, 304, 200])
        #expect(driver.exchanges.map(\.responseBodyLength) == [0, 0, 1])
    }

    @Test func hundredContinueIsInterim() throws {
        var driver = SessionDriver()
        driver.client("POST /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n", at: 1)
        driver.server("HTTP/1.1 100 Continue\r\n\r\n", at: 2)
        driver.client("data", at: 3)
        driver.server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", at: 5)
        #expect(driver.exchanges.count == 1)
        let exchange = try #require(driver.exchanges.first)
        #expect(exchange.interimStatuses == [100])
        #expect(exchange.response?.status == 200)
        #expect(exchange.request?.expectsContinue == true)
        #expect(exchange.requestLastByte?.time == 3)
        #expect(exchange.latency == 2)
    }

    @Test func readUntilClose() throws {
        var driver = SessionDriver()
        driver.client("GET / HTTP/1.0\r\n\r\n", at: 1)
        driver.server("HTTP/1.0 200 OK\r\n\r\nsome body", at: 2)
        #expect(driver.exchanges.isEmpty)
        driver.server(" more", at: 3)
        driver.finish()
        #expect(driver.exchanges.count == 1)
        #expect(driver.exchanges.first?.responseBodyLength == 14)
        #expect(driver.exchanges.first?.request?.connectionClose == true)
    }

    @Test func gapInsideBodyIsAbsorbed() throws {
        var driver = SessionDriver()
        driver.client("GET / HTTP/1.1\r\n\r\n", at: 1)
        driver.server("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", at: 2)
        driver.gap(fromClient: false, length: 50, at: 3)
        driver.server(String(repeating: "z", count: 40), at: 4)
        driver.client("GET /next HTTP/1.1\r\n\r\n", at: 5)
        driver.server("HTTP/1.1 204 No Content\r\n\r\n", at: 6)
        #expect(driver.exchanges.count == 2)
        #expect(driver.exchanges[0].responseHasGap)
        #expect(driver.exchanges[0].responseBodyLength == 100)
        #expect(driver.exchanges[1].response?.status == 204)
        #expect(!driver.exchanges[1].responseHasGap)
    }

    @Test func lostResponseIsSkippedByAck() throws {
        // Response 1 (headers and body) is lost in a hole; request 2 was sent after the client had acknowledged it.
        var driver = SessionDriver()
        driver.client("GET /1 HTTP/1.1\r\n\r\n", at: 1, ack: 1)
        let lost = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
        driver.gap(fromClient: false, length: UInt64(lost.utf8.count), at: 2)
        driver.client("GET /2 HTTP/1.1\r\n\r\n", at: 3, ack: UInt64(lost.utf8.count) + 1)
        driver.server("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ndef", at: 4)
        driver.finish()
        #expect(driver.exchanges.count == 2)
        #expect(driver.exchanges[0].request?.target == "/1")
        #expect(driver.exchanges[0].response == nil)
        #expect(driver.exchanges[1].request?.target == "/2")
        #expect(driver.exchanges[1].response?.status == 200)
    }

    @Test func gapInHeadResynchronises() throws {
        var driver = SessionDriver()
        driver.client("GET / HTTP/1.1\r\nHo", at: 1)
        driver.gap(fromClient: true, length: 10, at: 2)
        driver.client("garbage\r\nGET /ok HTTP/1.1\r\n\r\n", at: 3)
        // The server answers in order: the damaged request first, then /ok.
        driver.server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 201 Created\r\n\r\n", at: 4)
        driver.finish()
        #expect(driver.exchanges.count == 2)
        #expect(driver.exchanges[0].requestHasGap && driver.exchanges[0].response?.status == 200)
        #expect(driver.exchanges[1].request?.target == "/ok" && driver.exchanges[1].response?.status == 201)
    }

    @Test func notHTTPIsMarked() {
        var driver = SessionDriver()
        driver.client("\u{16}\u{03}\u{01}\u{02}\u{00}binary tls hello", at: 1)
        driver.server("HTTP/1.1 200 OK\r\n\r\n", at: 2)
        #expect(driver.session.isNotHTTP)
        #expect(driver.exchanges.isEmpty)
    }

    @Test func fieldsAreBoundedAndSanitized() throws {
        var driver = SessionDriver()
        let long = String(repeating: "h", count: 1000)
        driver.client("GET /\u{01}x HTTP/1.1\r\nHost: \(long)\r\nX-Request-ID: a\"b\\c\r\n\r\n", at: 1)
        driver.server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", at: 2)
        let request = try #require(driver.exchanges.first?.request)
        #expect(request.host?.utf8.count == HTTPHead.maxFieldLength)
        #expect(request.target == "/\\x01x")
        #expect(request.requestID == "a\"b\\x5cc")
    }

    @Test func chunkSizeParser() {
        func size(_ text: String) -> Int? { Array(text.utf8).withUnsafeBytes { HTTPMessageParser.parseChunkSize($0) } }
        #expect(size("0") == 0)
        #expect(size("1a") == 26)
        #expect(size("FF;x=y") == 255)
        #expect(size("") == nil)
        #expect(size("g") == nil)
        #expect(size(String(repeating: "f", count: 16)) == nil)
    }
}
