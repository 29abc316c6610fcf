import ArgumentParser
import Foundation
import HoptraceCapture

@main
struct Hoptrace: ParsableCommand {
    /// Runs a subcommand. A ``CLIFailure`` or a capture error becomes one line on standard error and exit status 1;
    /// a usage error (a bad option, an unknown command, a filter libpcap rejects) one line and exit status 2.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let unknown = Self.unknownCommand(in: arguments) {
            Self.fail(unknown, status: 2)
        }
        OpenFileLimit.raise()
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch let failure as CLIFailure {
            Self.fail(failure.message, status: 1)
        } catch let failure as UsageFailure {
            Self.fail(failure.message, status: 2)
        } catch {
            // Usage errors exit with 2 (as the README documents), not argument-parser's EX_USAGE (64), on one line:
            // the message without the usage block after it.
            let code = exitCode(for: error)
            if code == .validationFailure {
                let message = Self.message(for: error).split(separator: "\n").first.map(String.init) ?? ""
                Self.fail(message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message, status: 2)
            }
            exit(withError: error)
        }
    }

    /// Prints `hoptrace: <message>` on standard error and exits with `status`.
    static func fail(_ message: String, status: Int32) -> Never {
        FileHandle.standardError.write(Data("hoptrace: \(message)\n".utf8))
        Foundation.exit(status)
    }

    static let configuration = CommandConfiguration(
        commandName: "hoptrace",
        abstract: "Trace one request through a Kubernetes node's network path from packet captures.",
        version: HoptraceVersion.string,
        subcommands: [
            TraceCommand.self,
            CaptureCommand.self,
            PacketsCommand.self,
            FlowsCommand.self,
            RequestsCommand.self,
            AgentCommand.self,
            StoreCommand.self,
        ]
    )

    /// The subcommand names.
    static var commandNames: [String] {
        configuration.subcommands.compactMap { $0.configuration.commandName }
    }

    /// The one-line error for a first argument (or the word after `help`) that names no command, with the nearest
    /// command when one is near: `unknown command 'tracee'; did you mean 'trace'?`.
    static func unknownCommand(in arguments: [String]) -> String? {
        guard var word = arguments.first, !word.hasPrefix("-") else { return nil }
        let names = commandNames
        if word == "help" {
            guard arguments.count > 1, !arguments[1].hasPrefix("-") else { return nil }
            word = arguments[1]
        }
        guard !names.contains(word) else { return nil }
        if word.contains(".") || word.contains("/") {
            return "unknown command '\(word)'; name a command before the file, e.g. hoptrace trace \(word)"
        }
        let nearest = names.map { (name: $0, distance: editDistance(word.lowercased(), $0)) }.min {
            $0.distance < $1.distance
        }
        if let nearest, nearest.distance <= max(2, word.count / 3) || nearest.name.hasPrefix(word.lowercased()) {
            return "unknown command '\(word)'; did you mean '\(nearest.name)'?"
        }
        return "unknown command '\(word)'; the commands are " + names.joined(separator: ", ")
    }

    /// Levenshtein distance (insertions, deletions, substitutions).
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1] + Array(repeating: 0, count: b.count)
            for (j, y) in b.enumerated() {
                current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

/// The version `hoptrace --version` prints.
enum HoptraceVersion {
    static let string = "0.1.0"
}
