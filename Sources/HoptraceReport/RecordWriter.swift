import HoptraceFlows

/// Writes records of one kind in one format: one record, many writers, as Zeek declares a log record once and lets
/// the writer (ASCII TSV, JSON) be a separate choice.
///
/// The record kinds and their writers:
///
/// | record (`Record`)  | command            | text                  | JSON lines            | Zeek TSV             |
/// |--------------------|--------------------|-----------------------|-----------------------|----------------------|
/// | ``PacketRecord``   | `hoptrace packets` | ``PacketTextWriter``  | ``PacketJSONWriter``  | ``PacketTSVWriter``  |
/// | ``FlowRecord``     | `hoptrace flows`   | ``FlowTextWriter``    | ``FlowJSONWriter``    | ``FlowTSVWriter``    |
/// | ``RequestRecord``  | `hoptrace requests`| ``RequestTextWriter`` | ``RequestJSONWriter`` | ``RequestTSVWriter`` |
///
/// A writer appends bytes to the caller's ``BufferedOutput``: ``writeHeader(to:)`` once before the first record
/// (TSV's `#` block, text's column line), ``write(_:context:to:)`` per record (one line, newline included),
/// ``writeFooter(to:)`` once at the end (TSV's `#close`). Nothing is allocated per record: text goes piece by piece
/// into the output (numbers digit by digit, times by ``TimeFormat``, packet text through ``TerminalText``); JSON and
/// TSV lines are built in a buffer the writer keeps and reuses (``JSONWriter``, ``TSVRow``), then copied out once. The JSON of every kind follows one dialect (see
/// ``JSONWriter``) and its schema in `docs/`; TSV columns are named by the JSON keys.
///
/// The `hoptrace trace` record plugs in the same way: a `TraceTextWriter`, `TraceJSONWriter` and `TraceHTMLWriter`
/// with `Record == RequestTrace` (a trace carries its own names, so `context` is unused), each appending what
/// `TextReport`, `TraceJSON` (through ``JSONWriter/finish(appendingTo:)``) and `HTMLReport` render; the CLI picks one
/// from ``RecordFormat`` as it does for the other kinds.
public protocol RecordWriter<Record> {
    /// The record kind written.
    associatedtype Record

    /// Appends what goes before the first record (nothing for JSON lines).
    mutating func writeHeader(to out: BufferedOutput)

    /// Appends one record, as one line.
    mutating func write(_ record: Record, context: RecordContext, to out: BufferedOutput)

    /// Appends what goes after the last record (nothing but for TSV).
    mutating func writeFooter(to out: BufferedOutput)
}

extension RecordWriter {
    /// Nothing.
    public mutating func writeHeader(to out: BufferedOutput) {}

    /// Nothing.
    public mutating func writeFooter(to out: BufferedOutput) {}
}

/// What a record is written with besides itself: the name of its capture point and the cluster's names for its
/// addresses.
public struct RecordContext: Sendable {
    /// The capture point's name (`eth0`, `cni0`, `if7`): file-derived, escaped by the writers.
    public var capturePoint: String
    /// Names for the record's addresses (`10.96.0.10:53` → `service kube-system/kube-dns:53`), empty without
    /// cluster state.
    public var names: [String: String]

    /// A context.
    public init(capturePoint: String, names: [String: String] = [:]) {
        self.capturePoint = capturePoint
        self.names = names
    }
}

/// The output formats of the record commands (`--format`).
public enum RecordFormat: String, CaseIterable, Sendable {
    /// One line per record for people, in the spirit of tcpdump and Zeek's conn.log; colour on a terminal.
    case text
    /// JSON lines: one object per record, following docs/<kind>.schema.json.
    case json
    /// Zeek's ASCII TSV with `#fields` and `#types` headers (what `zeek-cut` reads).
    case tsv
}

/// How the text writers mark things up.
public struct TextStyle: Sendable {
    /// Whether to colour statuses and warnings with ANSI escapes.
    public var color: Bool

    /// A style.
    public init(color: Bool = false) {
        self.color = color
    }
}
