import Foundation

/// Runs programs for tests: the built `hoptrace`, and the oracles (tshark, tcpdump).
public enum Command {
    /// What a finished program printed, and its exit status.
    public struct Result: Sendable {
        /// The exit status (128 + N when killed by signal N, as a shell reports it).
        public var status: Int32
        /// Standard output.
        public var stdout: String
        /// Standard error.
        public var stderr: String
    }

    /// The built `hoptrace` beside the test bundle (debug or release), else `.build/debug/hoptrace`.
    public static var hoptrace: String {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [besideTests, besideTests.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("hoptrace").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return Repository.root.appendingPathComponent(".build/debug/hoptrace").path
    }

    /// Runs `executable` with `arguments` to its end and collects what it printed.
    public static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil
    ) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Standard error is read on another thread so that neither pipe can fill and block the child.
        let errData = ErrorBox()
        let reader = Thread {
            errData.set(err.fileHandleForReading.readDataToEndOfFile())
        }
        reader.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let stderr = errData.wait()
        let status =
            process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return Result(
            status: status,
            stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self)
        )
    }

    /// Runs the built `hoptrace`.
    public static func hoptrace(_ arguments: [String], environment: [String: String]? = nil) throws -> Result {
        try run(hoptrace, arguments, environment: environment)
    }

    /// A value set once by another thread and waited for.
    private final class ErrorBox: @unchecked Sendable {
        // @unchecked: `data` is written once under `condition` and read after the signal under the same lock.
        private let condition = NSCondition()
        private var data: Data?

        func set(_ value: Data) {
            condition.lock()
            data = value
            condition.signal()
            condition.unlock()
        }

        func wait() -> Data {
            condition.lock()
            defer { condition.unlock() }
            while data == nil { condition.wait() }
            return data ?? Data()
        }
    }
}
