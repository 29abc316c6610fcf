// Parsing of a complete HTTP/1.x head (RFC 9112 sections 3, 4 and 5):
//
//     request-line  = method SP request-target SP HTTP-version CRLF
//     status-line   = HTTP-version SP status-code SP [ reason-phrase ] CRLF
//     field-line    = field-name ":" OWS field-value OWS CRLF
//
// Bare LF line ends are accepted. Only the fields hoptrace keeps are looked at; every kept value is bounded and
// sanitized.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension HTTPMessageParser {
    /// Parses a head (start line through the blank line); nil when the start line is not HTTP/1.x. Without
    /// `keepsText`, of the text fields only the method is kept (the framing depends on it).
    static func parseHead(_ bytes: UnsafeRawBufferPointer, request: Bool, keepsText: Bool = true) -> HTTPHead? {
        var head = HTTPHead(isRequest: request)
        // The text fields as locals, moved into the head's box at the end.
        var method = ""
        var target = ""
        var reason = ""
        var host: String?
        var requestID: String?
        var traceparent: String?
        var forwardedFor: String?
        var userAgent: String?
        head.headLength = bytes.count
        var lineStart = 0
        var isFirst = true
        var connectionTokens: (close: Bool, keepAlive: Bool, upgrade: Bool) = (false, false, false)
        var hasUpgradeHeader = false
        while lineStart < bytes.count {
            let lineEnd = lineFeed(in: bytes, from: lineStart) ?? bytes.count
            var contentEnd = lineEnd
            if contentEnd > lineStart, bytes[contentEnd - 1] == 0x0d { contentEnd -= 1 }
            let line = UnsafeRawBufferPointer(rebasing: bytes[lineStart..<contentEnd])
            lineStart = lineEnd + 1
            if isFirst {
                isFirst = false
                guard
                    parseStartLine(
                        line,
                        into: &head,
                        method: &method,
                        target: &target,
                        reason: &reason,
                        keepsText: keepsText
                    )
                else { return nil }
                continue
            }
            if line.isEmpty { break }
            if line[0] == 0x20 || line[0] == 0x09 { continue }  // obsolete line folding: ignored
            guard let colon = firstIndex(of: UInt8(ascii: ":"), in: line), colon > 0 else { continue }
            let name = UnsafeRawBufferPointer(rebasing: line[0..<colon])
            // Only the fields kept are compared in full; the name's length picks the candidates.
            switch name.count {
            case 4:
                if keepsText, equalsIgnoringCase(name, "host") {
                    host = sanitizedString(value(of: line, colon), limit: HTTPHead.maxFieldLength)
                }
            case 6:
                if equalsIgnoringCase(name, "expect") {
                    head.expectsContinue = equalsIgnoringCase(value(of: line, colon), "100-continue")
                }
            case 7:
                if equalsIgnoringCase(name, "upgrade") { hasUpgradeHeader = true }
            case 10:
                if keepsText, equalsIgnoringCase(name, "user-agent") {
                    userAgent = sanitizedString(value(of: line, colon), limit: HTTPHead.maxFieldLength)
                } else if equalsIgnoringCase(name, "connection") {
                    forEachToken(value(of: line, colon)) { token in
                        if equalsIgnoringCase(token, "close") { connectionTokens.close = true }
                        if equalsIgnoringCase(token, "keep-alive") { connectionTokens.keepAlive = true }
                        if equalsIgnoringCase(token, "upgrade") { connectionTokens.upgrade = true }
                    }
                }
            case 11:
                if keepsText, equalsIgnoringCase(name, "traceparent") {
                    traceparent = sanitizedString(value(of: line, colon), limit: HTTPHead.maxFieldLength)
                }
            case 12:
                if keepsText, equalsIgnoringCase(name, "x-request-id") {
                    requestID = sanitizedString(value(of: line, colon), limit: HTTPHead.maxFieldLength)
                }
            case 14:
                if equalsIgnoringCase(name, "content-length") {
                    if head.contentLength == nil, let length = parseDecimal(value(of: line, colon)) {
                        head.contentLength = length
                    }
                }
            case 15:
                if keepsText, equalsIgnoringCase(name, "x-forwarded-for") {
                    forwardedFor = sanitizedString(value(of: line, colon), limit: HTTPHead.maxFieldLength)
                }
            case 17:
                if equalsIgnoringCase(name, "transfer-encoding") {
                    head.isChunked = lastToken(value(of: line, colon), is: "chunked")
                }
            default:
                break
            }
        }
        head.connectionClose = connectionTokens.close || (head.minorVersion == 0 && !connectionTokens.keepAlive)
        head.isUpgrade = hasUpgradeHeader && connectionTokens.upgrade
        if method.isEmpty && target.isEmpty && reason.isEmpty && host == nil && requestID == nil && traceparent == nil
            && forwardedFor == nil && userAgent == nil
        {
            return head  // the shared empty box (a response head without text kept)
        }
        head.text = HTTPHead.Text(
            method: method,
            target: target,
            reason: reason,
            host: host,
            requestID: requestID,
            traceparent: traceparent,
            forwardedFor: forwardedFor,
            userAgent: userAgent
        )
        return head
    }

    /// Parses the stored start of a head that was cut (over the cap): its complete lines as a head; when even the
    /// start line was cut, what it begins with (a request's method and target, a response's version and status).
    /// nil when that is not HTTP either.
    static func parseTruncatedHead(_ bytes: UnsafeRawBufferPointer, request: Bool, keepsText: Bool = true) -> HTTPHead?
    {
        var lastLineFeed: Int? = nil
        var from = 0
        while let lineFeed = lineFeed(in: bytes, from: from) {
            lastLineFeed = lineFeed
            from = lineFeed + 1
        }
        if let lastLineFeed {
            return parseHead(
                UnsafeRawBufferPointer(rebasing: bytes[0...lastLineFeed]),
                request: request,
                keepsText: keepsText
            )
        }
        // The start line itself was cut.
        var head = HTTPHead(isRequest: request)
        var method = ""
        var target = ""
        var reason = ""
        if request {
            guard let space = firstIndex(of: 0x20, in: bytes), space > 0, space <= 20 else { return nil }
            for byte in bytes[0..<space] {
                guard (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || byte == UInt8(ascii: "-") else {
                    return nil
                }
            }
            var start = space + 1
            while start < bytes.count, bytes[start] == 0x20 { start += 1 }
            method = sanitizedString(UnsafeRawBufferPointer(rebasing: bytes[0..<space]), limit: HTTPHead.maxFieldLength)
            if keepsText {
                target = sanitizedString(
                    UnsafeRawBufferPointer(rebasing: bytes[start...]),
                    limit: HTTPHead.maxFieldLength
                )
            }
        } else {
            // "HTTP/1.1 200 reason...": at least the version, a space and the status.
            guard bytes.count >= 12, let minor = parseVersion(UnsafeRawBufferPointer(rebasing: bytes[0..<8])),
                bytes[8] == 0x20
            else { return nil }
            var status = 0
            for byte in bytes[9..<12] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                status = status * 10 + Int(byte - UInt8(ascii: "0"))
            }
            head.minorVersion = minor
            head.status = status
            if keepsText, bytes.count > 13 {
                reason = sanitizedString(UnsafeRawBufferPointer(rebasing: bytes[13...]), limit: HTTPHead.maxFieldLength)
            }
        }
        head.headLength = bytes.count
        head.text = HTTPHead.Text(
            method: method,
            target: target,
            reason: reason,
            host: nil,
            requestID: nil,
            traceparent: nil,
            forwardedFor: nil,
            userAgent: nil
        )
        return head
    }

    /// The trimmed value of a field line whose colon is at `colon`.
    @inline(__always)
    private static func value(of line: UnsafeRawBufferPointer, _ colon: Int) -> UnsafeRawBufferPointer {
        trimmed(UnsafeRawBufferPointer(rebasing: line[(colon + 1)...]))
    }

    /// The index of the next line feed at or after `from` (memchr: heads are scanned a line at a time).
    @inline(__always)
    static func lineFeed(in bytes: UnsafeRawBufferPointer, from: Int) -> Int? {
        firstIndex(of: 0x0a, in: bytes, from: from)
    }

    /// The index of the first `byte` at or after `from` (memchr).
    @inline(__always)
    static func firstIndex(of byte: UInt8, in bytes: UnsafeRawBufferPointer, from: Int = 0) -> Int? {
        guard from < bytes.count, let base = bytes.baseAddress else { return nil }
        guard let found = memchr(base + from, Int32(byte), bytes.count - from) else { return nil }
        return UnsafeRawPointer(found) - base
    }

    private static func parseStartLine(
        _ line: UnsafeRawBufferPointer,
        into head: inout HTTPHead,
        method: inout String,
        target: inout String,
        reason: inout String,
        keepsText: Bool
    ) -> Bool {
        guard let firstSpace = firstIndex(of: 0x20, in: line) else { return false }
        let first = UnsafeRawBufferPointer(rebasing: line[0..<firstSpace])
        var restStart = firstSpace + 1
        while restStart < line.count, line[restStart] == 0x20 { restStart += 1 }
        let rest = UnsafeRawBufferPointer(rebasing: line[restStart...])
        if head.isRequest {
            guard !first.isEmpty, first.count <= 20, let lastSpace = rest.lastIndex(of: 0x20) else { return false }
            guard let minor = parseVersion(UnsafeRawBufferPointer(rebasing: rest[(lastSpace + 1)...])) else {
                return false
            }
            method = sanitizedString(first, limit: HTTPHead.maxFieldLength)
            guard keepsText else {
                head.minorVersion = minor
                return true
            }
            target = sanitizedString(
                UnsafeRawBufferPointer(rebasing: rest[0..<lastSpace]),
                limit: HTTPHead.maxFieldLength
            )
            head.minorVersion = minor
            return true
        }
        guard let minor = parseVersion(first), rest.count >= 3 else { return false }
        var status = 0
        for index in 0..<3 {
            let byte = rest[index]
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return false }
            status = status * 10 + Int(byte - UInt8(ascii: "0"))
        }
        guard rest.count == 3 || rest[3] == 0x20 else { return false }
        head.minorVersion = minor
        head.status = status
        if keepsText, rest.count > 4 {
            reason = sanitizedString(UnsafeRawBufferPointer(rebasing: rest[4...]), limit: HTTPHead.maxFieldLength)
        }
        return true
    }

    /// "HTTP/1.x" -> x.
    private static func parseVersion(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let prefix = HTTPMessageParser.responsePrefix
        guard bytes.count == prefix.count + 1 else { return nil }
        for index in 0..<prefix.count where bytes[index] != prefix[index] { return nil }
        let digit = bytes[prefix.count]
        guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) else { return nil }
        return Int(digit - UInt8(ascii: "0"))
    }

    static func trimmed(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }

    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = UnsafeRawBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        for index in 0..<bytes.count {
            var byte = bytes[index]
            if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { byte += 0x20 }
            if byte != expected[index] { return false }
        }
        return true
    }

    /// A non-negative decimal of at most 18 digits.
    static func parseDecimal(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
        var value = 0
        for byte in bytes {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    private static func forEachToken(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
        var start = 0
        for index in 0...bytes.count where index == bytes.count || bytes[index] == UInt8(ascii: ",") {
            body(trimmed(UnsafeRawBufferPointer(rebasing: bytes[start..<index])))
            start = index + 1
        }
    }

    private static func lastToken(_ bytes: UnsafeRawBufferPointer, is lowercase: StaticString) -> Bool {
        var last = UnsafeRawBufferPointer(rebasing: bytes[0..<0])
        forEachToken(bytes) { token in if !token.isEmpty { last = token } }
        return equalsIgnoringCase(last, lowercase)
    }
}
