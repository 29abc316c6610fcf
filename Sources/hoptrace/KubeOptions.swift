import ArgumentParser
import Foundation
import HoptraceKube
import HoptraceReport

/// `--k8s FILE` and `--kubectl`: where Kubernetes names for addresses come from. Shared by `trace`, `packets`,
/// `flows` and `requests`.
struct KubeOptions: ParsableArguments {
    @Option(
        name: .customLong("k8s"),
        help: ArgumentHelp(
            "Cluster state to name addresses with: the output of `kubectl get pods,services,endpointslices,nodes,"
                + "ingresses -A -o json` (or -o yaml), a file or a directory of them (repeatable).",
            valueName: "file"
        )
    )
    var files: [String] = []

    @Flag(help: "Read the cluster state with kubectl (current context) to name addresses.")
    var kubectl = false

    /// Whether names were asked for.
    var isEnabled: Bool { kubectl || !files.isEmpty }

    /// The cluster state from the files and kubectl; nil when neither was given.
    func load() throws -> ClusterState? {
        guard isEnabled else { return nil }
        var state = ClusterState()
        do {
            if !files.isEmpty { state = try ClusterState.load(paths: files) }
            if kubectl { state = state.merging(try Kubectl().load()) }
        } catch {
            throw CLIFailure(error.message)
        }
        return state
    }
}

/// Names beside addresses on the lines of `packets`, `flows` and `requests`.
extension AddressNames {
    /// ` # 10.244.0.10 pod default/client, 10.96.0.100:80 service default/web:80` (empty without names).
    static func comment(_ names: [String: String]) -> String {
        guard !names.isEmpty else { return "" }
        return " # "
            + names.sorted { $0.key < $1.key }.map { "\($0.key) \(TextReport.safe($0.value, limit: 120))" }.joined(
                separator: ", "
            )
    }

    /// A JSON object line with a `names` member added before its closing brace.
    static func addNames(_ names: [String: String], toJSONObject line: String) -> String {
        guard !names.isEmpty, line.hasSuffix("}") else { return line }
        var json = JSONWriter()
        json.beginObject()
        for (key, name) in names.sorted(by: { $0.key < $1.key }) { json.field(key, name) }
        json.endObject()
        let object = String(decoding: json.bytes, as: UTF8.self)
        return String(line.dropLast()) + (line == "{}" ? "" : ",") + "\"names\":" + object + "}"
    }
}
