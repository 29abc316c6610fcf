import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a store request failed: one line, naming the fix.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    /// The line.
    public var description: String
    /// Whether the store could not be reached at all (worth retrying later), as opposed to refusing the request.
    public var isUnreachable: Bool

    /// An error with its line.
    public init(_ description: String, isUnreachable: Bool = false) {
        self.description = description
        self.isUnreachable = isUnreachable
    }
}

/// An `http://HOST[:PORT][/]` address (no TLS, no path: ClickHouse's HTTP interface).
public struct StoreURL: Hashable, Sendable, CustomStringConvertible {
    /// The host name or address.
    public var host: String
    /// The TCP port.
    public var port: UInt16

    /// Parses `http://host:port`; the port defaults to 8123.
    public init(_ text: String) throws(StoreError) {
        let fix = "write the store as http://HOST:8123 (ClickHouse's HTTP interface)"
        guard text.hasPrefix("http://") else {
            throw StoreError("store '\(text.prefix(80))' is not an http:// address: \(fix)")
        }
        var rest = Substring(text.dropFirst("http://".count))
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        var host = rest
        var port: UInt16 = 8123
        if rest.hasPrefix("[") {
            // [IPv6]:port
            guard let close = rest.firstIndex(of: "]") else { throw StoreError("store '\(text.prefix(80))': \(fix)") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let value = UInt16(after.dropFirst()), value > 0 else {
                    throw StoreError("store '\(text.prefix(80))' has a bad port: \(fix)")
                }
                port = value
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            guard let value = UInt16(rest[rest.index(after: colon)...]), value > 0 else {
                throw StoreError("store '\(text.prefix(80))' has a bad port: \(fix)")
            }
            port = value
        }
        guard !host.isEmpty, !host.contains("/"), !host.contains("@"), !host.contains("?") else {
            throw StoreError("store '\(text.prefix(80))' has no plain host: \(fix)")
        }
        self.host = String(host)
        self.port = port
    }

    /// `http://host:port`.
    public var description: String {
        "http://" + (self.host.contains(":") ? "[\(self.host)]" : self.host) + ":\(self.port)"
    }
}

/// A minimal HTTP/1.1 client over POSIX sockets: one request per connection (`Connection: close`), a body of any
/// size, a response with a length or chunked; timeouts on connecting and on each read and write.
public struct HTTPClient: Sendable {
    /// The server.
    public var url: StoreURL
    /// Seconds allowed for connecting and for each read or write.
    public var timeout: Int

    /// A client of `url`.
    public init(url: StoreURL, timeout: Int = 30) {
        self.url = url
        self.timeout = timeout
    }

    /// A response.
    public struct Response: Sendable {
        /// The status code.
        public var status: Int
        /// The body, de-chunked.
        public var body: [UInt8]
        /// The body as text.
        public var text: String { String(decoding: self.body, as: UTF8.self) }
    }

    /// Sends one request and reads its whole response.
    ///
    /// - Parameters:
    ///   - method: `GET` or `POST`.
    ///   - target: the path and query, already percent-encoded (`/?query=...`).
    ///   - body: the request body.
    public func request(_ method: String, _ target: String, body: [UInt8] = []) throws(StoreError) -> Response {
        let socket = try self.open()
        defer { close(socket) }
        let host = url.description.dropFirst("http://".count)
        var head = "\(method) \(target) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n"
        head += "Content-Length: \(body.count)\r\nUser-Agent: hoptrace\r\n\r\n"
        try self.write(socket, Array(head.utf8))
        if !body.isEmpty { try self.write(socket, body) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw StoreError(
                    "\(url): no answer within \(timeout) s (\(Self.errorText(errno))): check that the store is up",
                    isUnreachable: true
                )
            }
            received.append(contentsOf: buffer[0..<count])
            if received.count > 1 << 30 { throw StoreError("\(url): answer larger than 1 GiB: narrow the query") }
        }
        return try Self.parse(received, url: url)
    }

    /// Percent-encodes a query parameter's value.
    public static func encode(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%"
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 15)]))
            }
        }
        return out
    }

    private static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }

    private func open() throws(StoreError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(url.host, String(url.port), &hints, &list)
        guard status == 0, let first = list else {
            throw StoreError(
                "\(url): cannot resolve \(url.host) (\(String(cString: gai_strerror(status)))): check the store's name",
                isUnreachable: true
            )
        }
        defer { freeaddrinfo(list) }
        var lastError: Int32 = 0
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            entry = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            if fd < 0 {
                lastError = errno
                continue
            }
            if self.connectWithTimeout(fd, info.pointee.ai_addr, info.pointee.ai_addrlen, error: &lastError) {
                var time = timeval(tv_sec: timeout, tv_usec: 0)
                _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
                _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
                return fd
            }
            close(fd)
        }
        throw StoreError(
            "\(url): cannot connect (\(Self.errorText(lastError))): start the store or fix --store",
            isUnreachable: true
        )
    }

    /// Connects with a timeout (non-blocking connect, then poll).
    private func connectWithTimeout(
        _ fd: Int32,
        _ address: UnsafeMutablePointer<sockaddr>?,
        _ length: socklen_t,
        error: inout Int32
    ) -> Bool {
        let flags = fcntl(fd, F_GETFL, 0)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(fd, F_SETFL, flags) }
        if connect(fd, address, length) == 0 { return true }
        guard errno == EINPROGRESS else {
            error = errno
            return false
        }
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        // A signal caught on this thread (a live agent's SIGTERM) interrupts the wait; it goes on to the deadline.
        let deadline = DispatchTime.now().uptimeNanoseconds &+ UInt64(max(0, timeout)) &* 1_000_000_000
        var ready: Int32
        repeat {
            let left = deadline &- min(deadline, DispatchTime.now().uptimeNanoseconds)
            ready = poll(&poller, 1, Int32(clamping: left / 1_000_000))
        } while ready < 0 && errno == EINTR
        guard ready > 0 else {
            error = ready == 0 ? ETIMEDOUT : errno
            return false
        }
        var result: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &result, &size)
        if result != 0 {
            error = result
            return false
        }
        return true
    }

    private func write(_ fd: Int32, _ bytes: [UInt8]) throws(StoreError) {
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes { raw in
                send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw StoreError(
                    "\(url): sending failed (\(Self.errorText(errno))): check that the store is up",
                    isUnreachable: true
                )
            }
            sent += count
        }
    }

    /// Parses a whole response (status line, headers, body by length, chunks or close).
    static func parse(_ bytes: [UInt8], url: StoreURL) throws(StoreError) -> Response {
        let bad = StoreError("\(url) did not answer in HTTP/1.1: is it ClickHouse's HTTP port (8123)?")
        guard let end = Self.find([13, 10, 13, 10], in: bytes, from: 0) else { throw bad }
        let head = String(decoding: bytes[0..<end], as: UTF8.self)
        let lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusParts = lines.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw bad
        }
        var chunked = false
        var length: Int?
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: " \t")
            if name == "transfer-encoding", value.lowercased().contains("chunked") { chunked = true }
            if name == "content-length" { length = Int(value) }
        }
        var body = Array(bytes[(end + 4)...])
        if chunked {
            var out: [UInt8] = []
            var at = 0
            while true {
                guard let lineEnd = Self.find([13, 10], in: body, from: at) else { throw bad }
                let sizeText = String(decoding: body[at..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: " "), radix: 16), size >= 0 else { throw bad }
                at = lineEnd + 2
                if size == 0 { break }
                guard at + size <= body.count else { throw bad }
                out.append(contentsOf: body[at..<(at + size)])
                at += size + 2
            }
            body = out
        } else if let length, length <= body.count {
            body = Array(body[0..<length])
        }
        return Response(status: status, body: body)
    }

    private static func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard bytes.count >= needle.count, start <= bytes.count - needle.count else { return nil }
        var index = start
        while index <= bytes.count - needle.count {
            if bytes[index] == needle[0], Array(bytes[index..<(index + needle.count)]) == needle { return index }
            index += 1
        }
        return nil
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var text = self
        while let first = text.first, set.contains(first) { text = text.dropFirst() }
        while let last = text.last, set.contains(last) { text = text.dropLast() }
        return String(text)
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String { Substring(self).trimmingCharacters(in: set) }
}
