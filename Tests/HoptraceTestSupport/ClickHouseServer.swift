import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A ClickHouse server of its own for a test: `/usr/sbin/clickhouse-server` (Debian's, 18.16) started as a process
/// with a temporary config (127.0.0.1, free ports, data in a temporary directory), ready once `GET /ping` answers,
/// stopped by its PID (SIGTERM, then SIGKILL) and its directory removed by ``stop()``; call it in a `defer`.
public final class ClickHouseServer: @unchecked Sendable {
    /// The server binary.
    public static let binary = "/usr/sbin/clickhouse-server"

    /// Why there is no server to test with, or nil when there is one.
    public static var unavailable: String? {
        FileManager.default.isExecutableFile(atPath: binary)
            ? nil : "\(binary) is not installed (tools/setup.sh test installs clickhouse-server)"
    }

    /// `http://127.0.0.1:PORT`.
    public let url: String
    /// The HTTP port.
    public let httpPort: Int
    /// The temporary directory (config, data, log).
    public let directory: URL
    private var child: pid_t = 0

    /// The server's process id while it runs.
    public var pid: Int32? { child > 0 ? child : nil }

    /// Starts a server and waits until it answers (up to 30 s).
    public init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("hoptrace-clickhouse-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        httpPort = try Self.freePort()
        let tcpPort = try Self.freePort()
        url = "http://127.0.0.1:\(httpPort)"
        let path = directory.path
        let config = """
            <?xml version="1.0"?>
            <yandex>
                <logger><level>warning</level><console>1</console></logger>
                <listen_host>127.0.0.1</listen_host>
                <http_port>\(httpPort)</http_port>
                <tcp_port>\(tcpPort)</tcp_port>
                <path>\(path)/data/</path>
                <tmp_path>\(path)/tmp/</tmp_path>
                <user_files_path>\(path)/user_files/</user_files_path>
                <format_schema_path>\(path)/format_schemas/</format_schema_path>
                <users_config>\(path)/users.xml</users_config>
                <default_profile>default</default_profile>
                <default_database>default</default_database>
                <mark_cache_size>5368709120</mark_cache_size>
            </yandex>
            """
        let users = """
            <?xml version="1.0"?>
            <yandex>
                <profiles><default></default></profiles>
                <users>
                    <default>
                        <password></password>
                        <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
                        <profile>default</profile>
                        <quota>default</quota>
                    </default>
                </users>
                <quotas><default></default></quotas>
            </yandex>
            """
        try config.write(to: directory.appendingPathComponent("config.xml"), atomically: true, encoding: .utf8)
        try users.write(to: directory.appendingPathComponent("users.xml"), atomically: true, encoding: .utf8)
        try start()
    }

    /// Starts the server process (again, after ``terminate()``, on the same ports and data) and waits for `/ping`.
    ///
    /// The server is spawned with `posix_spawn`, not Foundation's `Process`: Foundation's child monitor waits for
    /// its children one at a time, and a server that runs on would keep it from noticing `hoptrace` runs that ended.
    public func start() throws {
        precondition(child == 0, "already running")
        let log = directory.appendingPathComponent("server.log").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let arguments = [Self.binary, "--config-file=\(directory.path)/config.xml"]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, Self.binary, &actions, nil, &argv, environ)
        guard status == 0 else { throw Failure("posix_spawn \(Self.binary): \(status)") }
        child = pid
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if Self.ping(port: httpPort) { return }
            var code: Int32 = 0
            if waitpid(pid, &code, WNOHANG) == pid {
                child = 0
                break
            }
            usleep(100_000)
        }
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        terminate()
        throw Failure("clickhouse-server did not answer /ping within 30 s: \(text.suffix(600))")
    }

    /// Stops the server process by its PID: SIGTERM, then SIGKILL after 10 s; reaps it. The data stays
    /// (``start()`` again).
    public func terminate() {
        let pid = child
        guard pid > 0 else { return }
        child = 0
        kill(pid, SIGTERM)
        var code: Int32 = 0
        let deadline = Date().addingTimeInterval(10)
        while waitpid(pid, &code, WNOHANG) == 0 {
            if Date() >= deadline {
                kill(pid, SIGKILL)
                waitpid(pid, &code, 0)
                return
            }
            usleep(50_000)
        }
    }

    /// Stops the server and removes its directory.
    public func stop() {
        terminate()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs `sql` (its answer's body), over a plain HTTP/1.0 request of the test's own.
    public func query(_ sql: String) throws -> String {
        guard
            let answer = Self.exchange(
                port: httpPort,
                "POST / HTTP/1.0\r\nContent-Length: \(sql.utf8.count)\r\n\r\n" + sql
            ),
            let split = answer.range(of: "\r\n\r\n")
        else { throw Failure("no answer from \(url)") }
        let body = String(answer[split.upperBound...])
        guard answer.hasPrefix("HTTP/1.") && answer.split(separator: " ").dropFirst().first == "200" else {
            throw Failure("\(url): \(body.prefix(300))")
        }
        return body
    }

    /// Whether a server on 127.0.0.1:`port` answers `GET /ping` with `Ok.`.
    public static func ping(port: Int) -> Bool {
        guard let text = exchange(port: port, "GET /ping HTTP/1.0\r\n\r\n") else { return false }
        return text.hasPrefix("HTTP/1.") && text.contains(" 200 ") && text.hasSuffix("Ok.\n")
    }

    /// Sends `request` to 127.0.0.1:`port` and reads the answer to its end; nil when nobody answers.
    static func exchange(port: Int, _ request: String) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { return nil }
        let bytes = Array(request.utf8)
        guard send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { return nil }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            answer += buffer[0..<count]
        }
        return String(decoding: answer, as: UTF8.self)
    }

    /// A TCP port free on 127.0.0.1 now (nobody listens on it).
    public static func freePortForTests() throws -> Int { try freePort() }

    /// A TCP port free on 127.0.0.1 now (bound to 0, read, closed).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket: \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw Failure("bind: \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A failure starting the server.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }
}
