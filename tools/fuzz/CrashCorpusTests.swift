import Foundation
import HoptraceTestSupport
import Testing

/// Every input that once crashed a fuzz target (tools/fuzz/crashes/<target>/) goes through the same entry point
/// again and must end cleanly: a trap here stops the test process, and the test fails. Runs without libFuzzer, in
/// the ordinary test suite (`make test`, CI).
@Suite("fuzz crash corpus")
struct CrashCorpusTests {
    /// Each target's entry point, by the target's name (tools/fuzz/targets/<name>.swift, `// fuzz-entry:`).
    static let entries: [String: @Sendable ([UInt8]) -> Void] = [
        "capture": { fuzzCapture($0) },
        "correlate": { fuzzCorrelate($0) },
        "decode": { fuzzDecode($0) },
        "flows": { fuzzFlows($0) },
        "kube": { fuzzKube($0) },
        "pcap": { fuzzPcap($0) },
        "pcapng": { fuzzPcapng($0) },
        "pipeline": { fuzzPipeline($0) },
    ]

    static let fuzz = Repository.root.appendingPathComponent("tools/fuzz")

    static func files(in folder: String) -> [URL] {
        let url = fuzz.appendingPathComponent(folder)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { url.appendingPathComponent($0) }
    }

    @Test("every fuzz target has its entry point here")
    func everyTargetListed() {
        let targets = Self.files(in: "targets").map { $0.deletingPathExtension().lastPathComponent }
        #expect(Set(targets) == Set(Self.entries.keys))
    }

    @Test("every committed crash input ends cleanly", arguments: entries.keys.sorted())
    func crashInputs(target: String) throws {
        let entry = try #require(Self.entries[target])
        for file in Self.files(in: "crashes/\(target)") {
            let bytes = try [UInt8](Data(contentsOf: file))
            entry(bytes)
        }
    }

    @Test("every crash folder belongs to a target")
    func noOrphanCrashes() {
        for folder in Self.files(in: "crashes") {
            #expect(Self.entries[folder.lastPathComponent] != nil, "\(folder.lastPathComponent)")
        }
    }
}
