import Foundation

/// Reads the cluster state with `kubectl` and its current context.
public struct Kubectl: Sendable {
    /// The arguments after `kubectl`.
    public static let arguments = ["get", "pods,services,endpointslices,nodes,ingresses", "-A", "-o", "json"]

    /// The program name or path (`kubectl`); a name is looked up in `searchPath`.
    public var program: String
    /// The directories to look in, `:`-separated (the environment's `PATH` by default).
    public var searchPath: String
    /// How long kubectl may take before it is stopped.
    public var timeout: Duration
    /// Output larger than this is refused.
    public var maximumOutput: Int

    /// A runner of `kubectl get pods,services,endpointslices,nodes,ingresses -A -o json`.
    public init(
        program: String = "kubectl",
        searchPath: String? = nil,
        timeout: Duration = .seconds(30),
        maximumOutput: Int = ClusterState.defaultMaximumFileSize
    ) {
        self.program = program
        self.searchPath = searchPath ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        self.timeout = timeout
        self.maximumOutput = maximumOutput
    }

    /// The executable kubectl would run, nil when there is none.
    public func executable() -> String? {
        if program.contains("/") { return FileManager.default.isExecutableFile(atPath: program) ? program : nil }
        for directory in searchPath.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(program)"
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue,
                FileManager.default.isExecutableFile(atPath: candidate)
            {
                return candidate
            }
        }
        return nil
    }

    /// Runs kubectl and reads its output; a one-line ``ClusterStateError`` when kubectl is missing, fails (its
    /// stderr's first line), takes longer than ``timeout`` or prints something unreadable.
    public func load() throws(ClusterStateError) -> ClusterState {
        let command = "`\(ClusterState.kubectlCommand)`"
        guard let path = executable() else {
            throw ClusterStateError(
                "\(program) not found in PATH; install it or pass --k8s FILE from \(command)"
            )
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "hoptrace-kubectl-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)"
        )
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw ClusterStateError("cannot create a temporary directory for kubectl's output; pass --k8s FILE")
        }
        defer { try? FileManager.default.removeItem(at: directory) }
        // Files, not pipes: a large output cannot fill a pipe and stall kubectl while we wait for it to exit.
        let outputURL = directory.appendingPathComponent("stdout")
        let errorURL = directory.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = Self.arguments
        process.standardInput = FileHandle.nullDevice
        do {
            let output = try FileHandle(forWritingTo: outputURL)
            let errors = try FileHandle(forWritingTo: errorURL)
            defer {
                try? output.close()
                try? errors.close()
            }
            process.standardOutput = output
            process.standardError = errors
            try process.run()
        } catch {
            throw ClusterStateError(
                "cannot run \(path): \(error.localizedDescription); pass --k8s FILE from \(command)"
            )
        }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while process.isRunning {
            if clock.now >= deadline {
                process.terminate()
                let grace = clock.now.advanced(by: .seconds(2))
                while process.isRunning, clock.now < grace { usleep(10_000) }
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                process.waitUntilExit()
                throw ClusterStateError(
                    "kubectl did not answer within \(timeout); check that the cluster is reachable, or pass --k8s FILE "
                        + "from \(command)"
                )
            }
            usleep(10_000)
        }
        process.waitUntilExit()
        if process.terminationStatus != 0 {
            let stderr = (try? Data(contentsOf: errorURL)).map { String(decoding: $0.prefix(4096), as: UTF8.self) }
            let firstLine =
                stderr?.split(whereSeparator: \.isNewline).first.map(String.init)
                ?? "exit status \(process.terminationStatus)"
            throw ClusterStateError(
                "kubectl failed: \(firstLine.prefix(300)); check the current context (`kubectl config current-context`) "
                    + "or pass --k8s FILE"
            )
        }
        var objects = ClusterObjects()
        try ClusterState.read(file: outputURL.path, limit: maximumOutput, source: "kubectl's output", &objects)
        return ClusterState(objects)
    }
}
