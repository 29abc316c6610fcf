import Foundation
import HoptraceTestSupport
import Testing

@testable import HoptraceCapture

/// The package root, found from this file's path.
let packageRoot: URL = {
    var url = URL(fileURLWithPath: #filePath)
    while url.path != "/" {
        url.deleteLastPathComponent()
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            return url
        }
    }
    return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
}()

/// The public capture corpus in the repository (`Tests/Corpus`).
let corpusRoot: URL = {
    Repository.corpus
}()

/// Every capture under the corpus, as paths relative to it, sorted.
let corpusFiles: [String] = {
    guard let walker = FileManager.default.enumerator(atPath: corpusRoot.path) else { return [] }
    var files: [String] = []
    while let next = walker.nextObject() as? String {
        if next.hasSuffix(".pcap") || next.hasSuffix(".pcapng") || next.hasSuffix(".bin") {
            files.append(next)
        }
    }
    return files.sorted()
}()

func corpusPath(_ relative: String) -> String {
    corpusRoot.appendingPathComponent(relative).path
}

/// What a test compares for one packet.
struct PacketFacts: Equatable, CustomStringConvertible {
    var timestamp: Int64?
    var length: Int
    var capturedLength: Int
    var interfaceName: String?
    var direction: PacketDirection = .unknown

    var description: String {
        "\(timestamp.map(String.init) ?? "-") \(length) \(capturedLength) \(interfaceName ?? "-") \(direction)"
    }
}

/// Everything a reader produced for one file: the packets before the end or the fault, and the fault.
struct ReadResult {
    var packets: [PacketFacts] = []
    var interfaces: [InterfaceDescription] = []
    var error: CaptureError?
}

/// Reads a whole file with hoptrace's readers, catching the fault at open or while reading.
func readAll(_ path: String) -> ReadResult {
    var result = ReadResult()
    do {
        let source = try openCaptureFile(path: path)
        result = drain(source)
    } catch {
        result.error = error
    }
    return result
}

/// Reads a source to its end or its fault.
func drain(_ source: any PacketSource) -> ReadResult {
    var result = ReadResult()
    do {
        while let packet = try source.next() {
            let interfaces = source.interfaces
            let name = packet.interfaceID < interfaces.count ? interfaces[packet.interfaceID].name : nil
            result.packets.append(
                PacketFacts(
                    timestamp: packet.timestamp,
                    length: packet.originalLength,
                    capturedLength: packet.bytes.count,
                    interfaceName: name,
                    direction: packet.direction
                )
            )
        }
    } catch {
        result.error = error
    }
    result.interfaces = source.interfaces
    return result
}

/// Runs a program and returns its exit status, standard output and standard error.
func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe()
    let errPath = NSTemporaryDirectory() + "hoptrace-stderr-\(UUID().uuidString)"
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: errPath) }
    let errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    process.standardOutput = out
    process.standardError = errHandle
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    try? errHandle.close()
    let errData = FileManager.default.contents(atPath: errPath) ?? Data()
    return (
        process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self)
    )
}

/// Where tshark lives, if installed.
let tsharkPath: String? = ["/usr/bin/tshark", "/usr/local/bin/tshark"].first {
    FileManager.default.isExecutableFile(atPath: $0)
}

/// tshark's per-packet facts for a file: the oracle.
///
/// Runs `tshark -r F -T fields -e frame.time_epoch -e frame.len -e frame.cap_len -e frame.interface_name
/// -e frame.encap_type`; records without an encapsulation type (pcapng custom blocks, which tshark lists as frames)
/// are not packets and are left out. An empty time (a Simple Packet Block) is `nil`.
func tsharkFacts(_ path: String) throws -> (facts: [PacketFacts], status: Int32, stderr: String) {
    let tshark = try #require(tsharkPath, "tshark is needed as the test oracle (apt-get install tshark)")
    let fields = ["frame.time_epoch", "frame.len", "frame.cap_len", "frame.interface_name", "frame.encap_type"]
    var arguments = ["-r", path, "-T", "fields"]
    for field in fields {
        arguments += ["-e", field]
    }
    let (status, stdout, stderr) = try run(tshark, arguments)
    var facts: [PacketFacts] = []
    for line in stdout.split(separator: "\n", omittingEmptySubsequences: true) {
        let columns = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        guard columns.count >= 5, !columns[4].isEmpty else { continue }
        facts.append(
            PacketFacts(
                timestamp: parseEpoch(columns[0]),
                length: Int(columns[1]) ?? -1,
                capturedLength: Int(columns[2]) ?? -1,
                interfaceName: columns[3].isEmpty ? nil : columns[3]
            )
        )
    }
    return (facts, status, stderr)
}

/// "1418145369.924505488" -> nanoseconds since the epoch.
func parseEpoch(_ text: String) -> Int64? {
    guard !text.isEmpty else { return nil }
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    guard let seconds = Int64(parts[0]) else { return nil }
    var fraction = parts.count > 1 ? String(parts[1]) : ""
    fraction = String((fraction + "000000000").prefix(9))
    return seconds * 1_000_000_000 + (Int64(fraction) ?? 0)
}

/// A temporary file holding `bytes`, removed by the caller.
func temporaryFile(_ bytes: [UInt8], suffix: String = ".cap") throws -> String {
    let path = NSTemporaryDirectory() + "hoptrace-capture-\(UUID().uuidString)\(suffix)"
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

/// Reads hand-built bytes through a temporary file.
func readBytes(_ bytes: [UInt8]) throws -> ReadResult {
    let path = try temporaryFile(bytes)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return readAll(path)
}
