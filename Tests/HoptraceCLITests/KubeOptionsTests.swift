import Foundation
import HoptraceTestSupport
import Testing

/// `--k8s` and `--kubectl` on the built binary: names in `trace`, `packets`, `flows` and `requests` output (checked
/// against the lab's truth files when the lab's captures are there), one-line errors otherwise.
@Suite("--k8s and --kubectl")
struct KubeOptionsTests {
    typealias CLI = PacketsCommandTests

    static var captures: URL { Lab.root }

    static var hasLab: Bool {
        FileManager.default.fileExists(atPath: lab("clusterip-ok.k8s.json"))
    }

    /// A lab file by its first-lab flat name (`clusterip-ok.pcapng`, `clusterip-ok.k8s.json`, ...); a capture
    /// without the lab's healthy background traffic (these tests were written for the scenario's request alone).
    static func lab(_ name: String) -> String {
        let file = Lab.legacyFile(name)
        guard name.hasSuffix(".pcapng") || name.hasSuffix(".pcap"), let scenario = name.split(separator: ".").first
        else { return file.path }
        return ((try? Lab.withoutBackground(file, scenario: String(scenario))) ?? file).path
    }

    @Test("a malformed --k8s file is one line naming the file and the fix, exit status 1")
    func malformedFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("hoptrace-cli-\(UUID()).json")
        try "{\"kind\": \"List\", \"items\": [".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        for command in ["trace", "packets", "flows", "requests"] {
            let run = try CLI.hoptrace(command, "/nonexistent.pcap", "--k8s", file.path)
            #expect(run.status == 1, "\(command)")
            #expect(run.stderr.hasPrefix("hoptrace: \(file.path): not valid JSON"), "\(command): \(run.stderr)")
            #expect(run.stderr.contains("kubectl get pods,services,endpointslices,nodes,ingresses -A -o json"))
            #expect(run.stderr.split(separator: "\n").count == 1)
        }
    }

    @Test("--kubectl without kubectl in PATH")
    func kubectlMissing() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = ["trace", "/nonexistent.pcap", "--kubectl"]
        process.environment = ["PATH": "/nonexistent-bin"]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let data = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 1)
        #expect(
            String(decoding: data, as: UTF8.self)
                == "hoptrace: kubectl not found in PATH; install it or pass --k8s FILE from "
                + "`kubectl get pods,services,endpointslices,nodes,ingresses -A -o json`\n"
        )
    }

    @Test(
        "trace --k8s names the lab's client pod, Service and serving pod",
        .enabled(if: KubeOptionsTests.hasLab, "no lab captures under captures/")
    )
    func traceNames() throws {
        let truthData = try Data(contentsOf: URL(fileURLWithPath: Self.lab("clusterip-ok.truth.json")))
        let truth = try #require(try JSONSerialization.jsonObject(with: truthData) as? [String: Any])
        let client = try #require(truth["client"] as? [String: Any])
        let service = try #require(truth["service"] as? [String: Any])
        let servedBy = try #require((truth["request"] as? [String: Any])?["servedBy"] as? String)
        let clientName = "pod \(client["namespace"]!)/\(client["name"]!)"
        let serviceName = "service \(service["namespace"]!)/\(service["name"]!):\(service["port"]!)"

        let text = try CLI.hoptrace(
            "trace",
            Self.lab("clusterip-ok.pcapng"),
            "--k8s",
            Self.lab("clusterip-ok.k8s.json")
        )
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("(client, \(clientName))"))
        #expect(text.stdout.contains("(\(serviceName))"))
        #expect(text.stdout.contains("/\(servedBy))"))

        let json = try CLI.hoptrace(
            "trace",
            "--json",
            Self.lab("clusterip-ok.pcapng"),
            "--k8s",
            Self.lab("clusterip-ok.k8s.json")
        )
        let line = try #require(json.stdout.split(separator: "\n").first)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let names = try #require(object["names"] as? [String: [String: Any]]).mapValues { $0["text"] as? String }
        #expect(names.values.contains(clientName))
        #expect(names.values.contains(serviceName))

        // --service selects by Kubernetes name too.
        let selected = try CLI.hoptrace(
            "trace",
            Self.lab("clusterip-ok.pcapng"),
            "--k8s",
            Self.lab("clusterip-ok.k8s.json"),
            "--service",
            "\(service["namespace"]!)/\(service["name"]!)"
        )
        #expect(selected.status == 0, "\(selected.stderr)")
        #expect(selected.stdout.contains("request #"))
    }

    @Test(
        "packets, flows and requests show names beside addresses",
        .enabled(if: KubeOptionsTests.hasLab, "no lab captures under captures/")
    )
    func streamNames() throws {
        for command in ["packets", "flows", "requests"] {
            let run = try CLI.hoptrace(
                command,
                Self.lab("clusterip-ok.pcapng"),
                "--k8s",
                Self.lab("clusterip-ok.k8s.json")
            )
            #expect(run.status == 0, "\(command): \(run.stderr)")
            #expect(run.stdout.contains("# 10.244.0.10 pod default/client"), "\(command)")
            let json = try CLI.hoptrace(
                command,
                "--json",
                Self.lab("clusterip-ok.pcapng"),
                "--k8s",
                Self.lab("clusterip-ok.k8s.json")
            )
            let named = json.stdout.split(separator: "\n").compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
            }.compactMap { $0["names"] as? [String: String] }
            #expect(named.contains { $0["10.244.0.10"] == "pod default/client" }, "\(command)")
        }
    }
}
