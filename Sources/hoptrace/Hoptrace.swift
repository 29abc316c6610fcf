import ArgumentParser
import Foundation
import HoptraceCapture
import HoptraceCorrelate
import HoptraceDecode
import HoptraceFlows
import HoptraceKube
import HoptraceReport

@main
struct Hoptrace: ParsableCommand {
    /// Runs a subcommand; a ``CLIFailure`` or a capture error becomes one line on stderr and exit status 1.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let failure as CLIFailure {
            FileHandle.standardError.write(Data("hoptrace: \(failure.message)\n".utf8))
            Foundation.exit(1)
        } catch {
            // Usage errors exit with 2 (as the README documents), not argument-parser's EX_USAGE (64).
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
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
        ]
    )
}

/// The version `hoptrace --version` prints.
enum HoptraceVersion {
    static let string = "0.1.0"
}
