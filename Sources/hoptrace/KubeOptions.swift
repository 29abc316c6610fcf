import ArgumentParser
import Foundation
import HoptraceCapture
import HoptraceCorrelate
import HoptraceDecode
import HoptraceFlows
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
