// fuzz-modules: HoptraceCapture HoptraceDecode Yams HoptraceKube HoptraceFlows HoptraceCorrelate
// fuzz-entry: fuzzKube
// fuzz-seeds: *.k8s.json *.yaml *.yml
//
// The Kubernetes state parser (`--k8s` files): JSON (our parser) and YAML (Yams), with any bytes. Byte 0 picks the
// form: even, the rest as given (JSON when it starts with `{` or `[`, else YAML); odd, the rest after a `{`, so that
// the JSON parser sees it. A state that parses is then asked the questions the annotator asks.
import Foundation
import HoptraceKube

func fuzzKube(_ data: [UInt8]) {
    guard let first = data.first else { return }
    var bytes = Array(data.dropFirst())
    if first & 1 == 1 { bytes.insert(UInt8(ascii: "{"), at: 0) }
    guard let state = try? ClusterState.parse(Data(bytes), source: "fuzz") else { return }
    for pod in state.pods.prefix(8) {
        for address in pod.ips.prefix(2) {
            _ = state.pod(at: address)
            _ = state.name(ofAddress: address, port: 80)
        }
    }
    for service in state.services.prefix(8) {
        for address in service.clusterIPs.prefix(2) {
            _ = state.service(at: address, port: 80)
            _ = state.service(clusterIP: address)
        }
        _ = state.endpoints(of: service.ref)
    }
    for node in state.nodes.prefix(4) {
        for address in node.internalIPs.prefix(2) { _ = state.isNodeAddress(address) }
    }
}
