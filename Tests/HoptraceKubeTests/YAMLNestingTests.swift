import Foundation
import HoptraceTestSupport
import Testing

@testable import HoptraceKube

/// Deeply nested YAML is refused before Yams builds its tree recursively (it overflowed the stack: a segfault on
/// `--k8s` files of `[[[[...`, `- - - ...` or a staircase of keys); kubectl's own output passes.
@Suite("YAML nesting")
struct YAMLNestingTests {
    static func staircase(_ levels: Int) -> String {
        (0..<levels).map { String(repeating: "  ", count: $0) + "k\($0):" }.joined(separator: "\n") + " x\n"
    }

    @Test(
        "deep flow, block and compact nesting: a one-line error, not a crash",
        arguments: [
            "a: " + String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000),
            "a: " + String(repeating: "{b: ", count: 5_000) + "1" + String(repeating: "}", count: 5_000),
            String(repeating: "- ", count: 10_000) + "x",
            staircase(3_000),
            // Lines broken by a lone CR (found by the kube fuzz target): still lines.
            "\r" + String(repeating: " - ", count: 3_000) + "x",
            (0..<3_000).map { String(repeating: " ", count: $0) + "k:" }.joined(separator: "\r") + " x",
        ]
    )
    func deepIsRefused(text: String) {
        #expect(KubeValue.yamlNestingBound(text) > KubeValue.maximumYAMLNesting)
        #expect(throws: ClusterStateError.self) { try ClusterState.parse(Data(text.utf8), source: "deep.yaml") }
    }

    @Test("a bound never below the real depth, and near it on ordinary YAML")
    func bounds() {
        #expect(KubeValue.yamlNestingBound("a: 1\n") >= 1)
        #expect(KubeValue.yamlNestingBound(Self.staircase(50)) >= 50)
        #expect(KubeValue.yamlNestingBound("a: [[[1]]]\n") >= 4)
        // Brackets in quotes, plain scalars and comments open nothing.
        #expect(KubeValue.yamlNestingBound("a: \"[[[[[[\"\nb: x[y[z\nc: 1 # [[[[[\nd: '{{{{'\n") <= 3)
    }

    @Test("the lab's cluster states, as YAML, pass")
    func labStatesPass() throws {
        let folder = Repository.captures
        let walker = try #require(FileManager.default.enumerator(atPath: folder.path))
        var names: [String] = []
        for case let path as String in walker where path.hasSuffix("k8s.json") { names.append(path) }
        try #require(!names.isEmpty, "no k8s.json under captures/")
        // JSON is YAML: every lab cluster state, read through the YAML path's nesting bound, stays under it and parses.
        for name in names {
            let data = try Data(contentsOf: folder.appendingPathComponent(name))
            let text = String(decoding: data, as: UTF8.self)
            #expect(KubeValue.yamlNestingBound(text) <= KubeValue.maximumYAMLNesting, "\(name)")
            let state = try ClusterState.parse(data, source: name)
            #expect(!state.pods.isEmpty, "\(name)")
        }
        // kubectl's YAML of the same objects nests like its JSON; a staircase of 40 levels of kubectl-style YAML passes.
        #expect(KubeValue.yamlNestingBound(Self.staircase(40)) <= KubeValue.maximumYAMLNesting)
        let yaml = """
            apiVersion: v1
            items:
            - apiVersion: v1
              kind: Pod
              metadata:
                annotations:
                  kubectl.kubernetes.io/last-applied-configuration: '{"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"ports":[{"containerPort":80}]}]}}'
                name: web
                namespace: default
              spec:
                containers:
                - name: web
                  ports:
                  - containerPort: 80
                    protocol: TCP
              status:
                podIP: 10.244.0.40
                podIPs:
                - ip: 10.244.0.40
            kind: List
            """
        #expect(KubeValue.yamlNestingBound(yaml) < 20)
        let state = try ClusterState.parse(Data(yaml.utf8), source: "pods.yaml")
        #expect(state.pods.count == 1)
    }
}
