import Foundation
import HoptraceTestSupport
import Testing

/// The README's `console` examples of `packets`, `flows` and `requests` are what the commands print: each `$ hoptrace
/// ...` line is run by bash from the repository's root with the built `hoptrace` first on PATH, and its output must
/// equal the lines the README shows under it, byte for byte.
@Suite("README examples")
struct ReadmeTests {
    /// A command of a `console` block and the output shown under it.
    struct Example: CustomTestStringConvertible, Sendable {
        var command: String
        var output: String
        var testDescription: String { command }
    }

    static let examples: [Example] = {
        let url = Repository.root.appendingPathComponent("README.md")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        var examples: [Example] = []
        var inConsole = false
        var current: Example?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.trimmingCharacters(in: .whitespaces).hasPrefix("```") {
                if let example = current { examples.append(example) }
                current = nil
                inConsole = !inConsole && line.trimmingCharacters(in: .whitespaces) == "```console"
                continue
            }
            guard inConsole else { continue }
            if line.hasPrefix("$ ") {
                if let example = current { examples.append(example) }
                current = Example(command: String(line.dropFirst(2)), output: "")
            } else if current != nil {
                current!.output += line + "\n"
            }
        }
        // The record commands' examples (the trace sections are checked by their own tests).
        return examples.filter { example in
            ["packets", "flows", "requests"].contains { example.command.hasPrefix("hoptrace \($0) ") }
        }
    }()

    @Test("The README shows record commands", .enabled(if: !examples.isEmpty))
    func thereAreExamples() {
        #expect(Self.examples.count >= 6)
    }

    @Test("Each example prints exactly what the README shows", arguments: Self.examples)
    func exampleIsTrue(_ example: Example) throws {
        let directory = URL(fileURLWithPath: Command.hoptrace).deletingLastPathComponent().path
        let path = directory + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let run = try Command.run(
            "/bin/bash",
            ["-c", "cd '\(Repository.root.path)' && set -o pipefail && \(example.command)"],
            environment: ["PATH": path]
        )
        #expect(run.status == 0, "\(example.command): \(run.stderr)")
        #expect(run.stdout == example.output, "\(example.command)")
    }
}
