import ArgumentParser
import Foundation
import HoptraceReport

extension RecordFormat: ExpressibleByArgument {}

/// `--color auto|always|never`.
enum ColorMode: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// Colour when standard output is a terminal and NO_COLOR is not set.
    case auto
    /// Colour, whatever the output and NO_COLOR.
    case always
    /// No colour.
    case never

    /// Whether to colour standard output.
    var enabled: Bool {
        switch self {
        case .always: return true
        case .never: return false
        case .auto: return Terminal.coloursByDefault
        }
    }
}

/// What `--color auto` looks at.
enum Terminal {
    /// Whether standard output is a terminal and the user did not ask for no colour (no-color.org: NO_COLOR set to
    /// anything but the empty string).
    static var coloursByDefault: Bool {
        isatty(STDOUT_FILENO) != 0 && !self.noColor
    }

    /// Whether NO_COLOR is set and not empty.
    static var noColor: Bool {
        guard let value = ProcessInfo.processInfo.environment["NO_COLOR"] else { return false }
        return !value.isEmpty
    }
}

/// `--format`, `--json` and `--color`: how `packets`, `flows` and `requests` write their records.
struct RecordOutputOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Output: text (for people), json (one object per line, see docs/*.schema.json) or tsv (Zeek's log "
                + "format, for zeek-cut).",
            valueName: "format"
        )
    )
    var format: RecordFormat = .text

    @Flag(help: "The same as --format json.")
    var json = false

    @Option(
        help: ArgumentHelp(
            "Colour the text: auto (on a terminal, unless NO_COLOR is set), always or never.",
            valueName: "when"
        )
    )
    var color: ColorMode = .auto

    /// The format chosen.
    var chosenFormat: RecordFormat { json ? .json : format }

    /// The text style: colour only for text.
    var style: TextStyle { TextStyle(color: chosenFormat == .text && color.enabled) }

    func validate() throws {
        if json && format != .text && format != .json {
            throw ValidationError("--json is --format json; give one of them, not --json with --format \(format)")
        }
    }
}
