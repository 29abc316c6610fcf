import Foundation
import HoptraceTestSupport
import Testing

@testable import HoptraceCapture

/// Every capture of the public corpus (Tests/Corpus), read by hoptrace and by tshark (the oracle), must agree packet by packet.
@Suite("Corpus agrees with tshark")
struct CorpusTests {
    /// Files where hoptrace deliberately differs from tshark, with the reason; they are covered by `BadInputTests`.
    static let differsFromTshark: Set<String> = [
        // Version 2.5: tshark reads it, libpcap refuses it ("unsupported pcap savefile version 2.5", from
        // `tcpdump -r`); it is in libpcap's test suite as an invalid file, and hoptrace follows libpcap.
        "libpcap/pcap-invalid-version-2.pcap"
    ]

    @Test("the corpus is there")
    func corpusIsThere() {
        #expect(corpusFiles.count >= 80, "corpus not found at \(corpusRoot.path)")
    }

    /// Files with several sections. tshark 4.0 does not restart interface numbering at a Section Header Block (it
    /// names test202's second-section packets "eth0", the first section's interface 0, though they carry the
    /// snaplen 128 of the second section's "silly ethernet interface 2"); names there are checked by
    /// `multipleSectionsInterfaceNames` from the bytes instead.
    static let multiSection: Set<String> = ["gopacket/be/test200.pcapng", "gopacket/be/test202.pcapng"]

    @Test(
        "packets, timestamps, lengths and interface names agree with tshark",
        arguments: corpusFiles.filter { !differsFromTshark.contains($0) }
    )
    func agreesWithTshark(_ file: String) throws {
        let path = corpusPath(file)
        let oracle = try tsharkFacts(path)
        // Read from the file, and from memory in 333-byte pieces (as a slow pipe on stdin would deliver them): each
        // must agree with tshark.
        compare(readAll(path), with: oracle, file: file)
        var fromPieces = ReadResult()
        do {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            fromPieces = drain(try openCapture(bytes: bytes, chunk: 333, name: path))
        } catch let error as CaptureError {
            fromPieces.error = error
        }
        compare(fromPieces, with: oracle, file: file + " (333-byte reads)")
    }

    private func compare(
        _ ours: ReadResult,
        with oracle: (facts: [PacketFacts], status: Int32, stderr: String),
        file: String
    ) {
        if oracle.status == 0 {
            #expect(
                ours.error == nil,
                "tshark reads \(file) without error, hoptrace says: \(String(describing: ours.error))"
            )
        } else {
            // tshark stopped at a fault; hoptrace must fault too, after the same packets.
            #expect(ours.error != nil, "tshark fails on \(file) (\(oracle.stderr)) but hoptrace reads it")
        }
        #expect(ours.packets.count == oracle.facts.count, "\(file): packet count")
        // A Simple Packet Block has no timestamp (tshark prints none); hoptrace gives it the previous packet's.
        var previous: Int64 = 0
        for (index, (mine, theirs)) in zip(ours.packets, oracle.facts).enumerated() {
            let expectedTime = theirs.timestamp ?? previous
            previous = expectedTime
            #expect(mine.timestamp == expectedTime, "\(file) packet \(index + 1): timestamp")
            #expect(mine.length == theirs.length, "\(file) packet \(index + 1): original length")
            #expect(mine.capturedLength == theirs.capturedLength, "\(file) packet \(index + 1): captured length")
            // tshark shows "unknown" for an interface without if_name; hoptrace names it after the file.
            let multiSection = Self.multiSection.contains { file.hasPrefix($0) }
            if let name = theirs.interfaceName, name != "unknown", !multiSection {
                #expect(mine.interfaceName == name, "\(file) packet \(index + 1): interface name")
            }
            if mine.timestamp != expectedTime || mine.length != theirs.length
                || mine.capturedLength != theirs.capturedLength
            {
                break  // one mismatch reported is enough per file
            }
        }
    }
}

extension CorpusTests {
    /// test202.pcapng (gopacket's pcapng test generator): three sections. From its bytes: section 1 (big-endian)
    /// has IDBs eth0 (snaplen 96) and null1, then EPBs on 0, 0, 1; section 2 (little-endian) has one IDB "silly
    /// ethernet interface 2" (snaplen 128), then SPB, EPB 0, SPB, EPB 0; section 3 (big-endian) has IDBs eth0 and
    /// null1, then EPB 1. tshark agrees on lengths (section 2's packets are cut at 128). Section 3 declares eth0 and
    /// null1 as section 1 did, byte for byte: they are section 1's interfaces again, not two more.
    @Test("several sections: each Section Header Block starts a new interface table")
    func multipleSectionsInterfaceNames() throws {
        let result = readAll(corpusPath("gopacket/be/test202.pcapng"))
        #expect(result.error == nil)
        let silly = "silly ethernet interface 2"
        #expect(
            result.packets.map { $0.interfaceName ?? "" } == [
                "eth0", "eth0", "null1", silly, silly, silly, silly, "null1",
            ]
        )
        #expect(result.packets.map(\.capturedLength) == [96, 96, 168, 128, 128, 128, 128, 168])
        #expect(result.interfaces.map(\.name) == ["eth0", "null1", silly])
    }
}

/// The bad-input files of the corpus (and the truncated ones): each gives a clear error or a known partial result.
@Suite("Bad input from the corpus")
struct BadInputTests {
    struct Expectation: CustomStringConvertible, Sendable {
        var file: String
        /// The error code, or nil when the file must read to its end.
        var code: CaptureError.Code?
        /// The packets read before the end or the fault.
        var packets: Int
        /// Where the expected facts come from.
        var source: String
        var description: String { file }
    }

    static let expectations: [Expectation] = [
        Expectation(
            file: "libpcap/linktype-reserved-field-not-zero.pcap",
            code: .corrupt,
            packets: 0,
            source: "tshark/capinfos: 'pcap: network type reserved field not zero (0x00300000)'; header only (24 B)"
        ),
        Expectation(
            file: "libpcap/pcap-invalid-version-1.pcap",
            code: .unsupportedVersion,
            packets: 0,
            source: "tshark: 'pcap: major version 1 unsupported'; tcpdump: 'archaic pcap savefile format'"
        ),
        Expectation(
            file: "libpcap/pcap-invalid-version-2.pcap",
            code: .unsupportedVersion,
            packets: 0,
            source: "tcpdump (libpcap 1.10.3): 'unsupported pcap savefile version 2.5'"
        ),
        Expectation(
            file: "libpcap/pcapng-invalid-vers-1.pcapng",
            code: .unsupportedVersion,
            packets: 0,
            source: "tshark: 'pcapng: unknown SHB version 0.1'; tcpdump: 'unsupported pcapng savefile version 0.1'"
        ),
        Expectation(
            file: "libpcap/pcapng-invalid-vers-2.pcapng",
            code: .unsupportedVersion,
            packets: 0,
            source: "tshark: 'pcapng: unknown SHB version 1.1'; tcpdump: 'unsupported pcapng savefile version 1.1'"
        ),
        Expectation(
            file: "libpcap/shb-option-too-long.pcapng",
            code: .corrupt,
            packets: 0,
            source: "tshark: 'pcapng: Not enough data to handle option of length 12336'"
        ),
        Expectation(
            file: "pcap-parser/err-buffertoosmall.pcapng",
            code: nil,
            packets: 27,
            source: "capinfos -c: 27 packets (the error is specific to pcap-parser's small buffer)"
        ),
        Expectation(
            file: "pcap-parser/err-eof.bin",
            code: .notACapture,
            packets: 0,
            source: "tcpdump: 'unknown file format'; first bytes 06 00 00 00 are no pcap or pcapng magic"
        ),
        Expectation(
            file: "pcap-parser/modified-format.pcap",
            code: nil,
            packets: 1,
            source: "magic 0xa1b2cd34; capinfos -c: 1 packet; tcpdump prints one ICMP echo request"
        ),
        Expectation(
            file: "pcap-parser/wireshark_samples-test.pcapng",
            code: nil,
            packets: 5898,
            source: "capinfos -c: 5898 packets"
        ),
        Expectation(
            file: "zeek/trunc/ipv4-internally-truncated-header.pcap",
            code: nil,
            packets: 1,
            source: "capinfos -c: 1 packet (the truncation is inside the IP header, a decode matter)"
        ),
        Expectation(
            file: "zeek/trunc/trunc-hdr.pcap",
            code: nil,
            packets: 1,
            source: "capinfos -c: 1 packet, caplen 8 though the header's snaplen is 1; tshark reads it"
        ),
        Expectation(file: "tcpdump/empty.pcapng", code: nil, packets: 0, source: "capinfos -c: 0 packets"),
        Expectation(
            file: "tcpdump/tcp_rst_data-trunc.pcap",
            code: nil,
            packets: 1,
            source: "151 bytes = 24 header + 16 record header + 111 captured (caplen 111 < len 112); capinfos: 1"
        ),
        Expectation(
            file: "zeek/tunnels/geneve-truncated.pcapng",
            code: nil,
            packets: 1,
            source: "capinfos -c: 1 packet (the truncation is inside the Geneve payload)"
        ),
    ]

    @Test("error code or partial result", arguments: expectations)
    func badInput(_ expectation: Expectation) {
        let result = readAll(corpusPath(expectation.file))
        #expect(result.error?.code == expectation.code, "\(expectation.file): \(expectation.source)")
        #expect(result.packets.count == expectation.packets, "\(expectation.file): \(expectation.source)")
        if let error = result.error {
            let line = error.description
            #expect(!line.contains("\n"), "one line: \(line)")
            #expect(line.hasPrefix(corpusPath(expectation.file) + ": "), "names the file: \(line)")
        }
    }

    /// Every file under libpcap/, pcap-parser/ and zeek/trunc/ is in the table above.
    @Test("every bad-input file has an expectation")
    func everyBadInputCovered() {
        let covered = Set(Self.expectations.map(\.file))
        for file in corpusFiles
        where file.hasPrefix("libpcap/") || file.hasPrefix("pcap-parser/") || file.hasPrefix("zeek/trunc/") {
            #expect(covered.contains(file), "\(file) has no expectation")
        }
    }

    @Test("modified-format packet: lengths and direction from the Kuznetzov record header")
    func modifiedFormat() throws {
        let result = readAll(corpusPath("pcap-parser/modified-format.pcap"))
        let packet = try #require(result.packets.first)
        // tshark: frame.len 98, cap_len 98.
        #expect(packet.length == 98)
        #expect(packet.capturedLength == 98)
    }

    @Test("empty file, missing file, directory")
    func openErrors() throws {
        let empty = try temporaryFile([])
        defer { try? FileManager.default.removeItem(atPath: empty) }
        #expect(readAll(empty).error?.code == .empty)
        #expect(readAll("/nonexistent/x.pcap").error?.code == .cannotOpen)
        #expect(readAll(NSTemporaryDirectory()).error?.code == .cannotOpen)
        let short = try temporaryFile([0xd4, 0xc3])
        defer { try? FileManager.default.removeItem(atPath: short) }
        #expect(readAll(short).error?.code == .notACapture)
        let text = try temporaryFile(Array("hello world, no capture here".utf8))
        defer { try? FileManager.default.removeItem(atPath: text) }
        let error = try #require(readAll(text).error)
        #expect(error.code == .notACapture)
        #expect(error.description.contains("magic 0x68656c6c"), "\(error)")
    }
}
