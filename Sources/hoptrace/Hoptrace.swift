import ArgumentParser
import HoptraceReport

@main
struct Hoptrace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hoptrace",
        abstract: "Trace one request through a Kubernetes node's network path from packet captures.",
        version: HoptraceVersion.string,
        subcommands: [FlowsCommand.self, RequestsCommand.self]
    )
}

/// The version `hoptrace --version` prints.
enum HoptraceVersion {
    static let string = "0.1.0"
}
