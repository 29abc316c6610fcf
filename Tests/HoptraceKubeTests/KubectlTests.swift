import Foundation
import HoptraceKube
import Testing

/// `--kubectl` with stand-in `kubectl` scripts in a private PATH: missing, failing like an unreachable cluster,
/// hanging, and answering.
@Suite("kubectl")
struct KubectlTests {
    /// A directory holding an executable `kubectl` with this shell body; removed by the caller.
    static func fakeKubectl(_ body: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hoptrace-kubectl-test-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let script = directory.appendingPathComponent("kubectl")
        try "#!/bin/sh\n\(body)\n".write(to: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
        return directory
    }

    @Test("kubectl missing from PATH")
    func missing() throws {
        let directory = try Self.fakeKubectl("exit 0")
        defer { try? FileManager.default.removeItem(at: directory) }
        let empty = directory.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        do {
            _ = try Kubectl(searchPath: empty.path).load()
            Issue.record("no error without kubectl")
        } catch {
            #expect(
                error.message
                    == "kubectl not found in PATH; install it or pass --k8s FILE from "
                    + "`kubectl get pods,services,endpointslices,nodes,ingresses -A -o json`"
            )
        }
    }

    @Test("an unreachable cluster: kubectl's first stderr line")
    func unreachable() throws {
        let directory = try Self.fakeKubectl(
            """
            echo 'The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?' >&2
            echo 'second line' >&2
            exit 1
            """
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            _ = try Kubectl(searchPath: directory.path).load()
            Issue.record("no error from a failing kubectl")
        } catch {
            #expect(error.message.hasPrefix("kubectl failed: The connection to the server 127.0.0.1:6443 was refused"))
            #expect(!error.message.contains("second line"))
            #expect(error.message.contains("--k8s FILE"))
        }
    }

    @Test("a kubectl that hangs is stopped at the timeout")
    func timeout() throws {
        let directory = try Self.fakeKubectl("exec sleep 30")
        defer { try? FileManager.default.removeItem(at: directory) }
        let start = ContinuousClock.now
        do {
            _ = try Kubectl(searchPath: directory.path, timeout: .milliseconds(300)).load()
            Issue.record("no error from a hanging kubectl")
        } catch {
            #expect(error.message.hasPrefix("kubectl did not answer within"))
        }
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test("kubectl's JSON is read, with the arguments the cluster-state files are made with")
    func answers() throws {
        let list = Objects.list(Objects.multiPort).replacingOccurrences(of: "'", with: "")
        let directory = try Self.fakeKubectl(
            """
            [ "$*" = "get pods,services,endpointslices,nodes,ingresses -A -o json" ] || { echo "bad args: $*" >&2; exit 2; }
            cat <<'EOF'
            \(list)
            EOF
            """
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        let state = try Kubectl(searchPath: directory.path).load()
        #expect(state.name(ofAddress: "10.96.7.7", port: 80) == "service shop/cart:80")
    }

    @Test("kubectl printing something else is a one-line error")
    func garbage() throws {
        let directory = try Self.fakeKubectl("echo '{\"kind\": '")
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            _ = try Kubectl(searchPath: directory.path).load()
            Issue.record("garbage accepted")
        } catch {
            #expect(error.message.hasPrefix("kubectl's output: not valid JSON"))
        }
    }
}
