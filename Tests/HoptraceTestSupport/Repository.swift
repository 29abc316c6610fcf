import Foundation

/// Where the repository's test inputs are. Every test reads inside the repository only: a bare clone has all of it.
public enum Repository {
    /// The package root: the nearest folder above this file holding Package.swift.
    public static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    /// The public capture corpus (`Tests/Corpus`: captures from other projects' test suites, with their origins in
    /// `SOURCES.tsv` and their licences in `LICENSES/`).
    public static let corpus: URL = root.appendingPathComponent("Tests/Corpus")

    /// The lab's captures, truth files and cluster state (`captures/`).
    public static let captures: URL = root.appendingPathComponent("captures")

    /// A file of the corpus, by its path relative to `Tests/Corpus`.
    public static func corpusFile(_ relative: String) -> String { corpus.appendingPathComponent(relative).path }

    /// Every pcap and pcapng file of the corpus, relative to its root, sorted.
    public static let corpusCaptures: [String] = {
        guard let walker = FileManager.default.enumerator(atPath: corpus.path) else { return [] }
        var files: [String] = []
        while let next = walker.nextObject() as? String {
            if next.hasSuffix(".pcap") || next.hasSuffix(".pcapng") { files.append(next) }
        }
        return files.sorted()
    }()
}
