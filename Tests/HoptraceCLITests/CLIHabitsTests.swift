import Foundation
import HoptraceTestSupport
import Testing

/// The habits of tcpdump, tshark and kubectl, run as the built binary: help at 80 columns, one-line usage errors
/// (exit 2) that name the fix, NO_COLOR (no-color.org), `-r` and `-c`, BPF filters on files against tcpdump's own
/// application of the same expression, `make install` into a temporary prefix.
@Suite("CLI habits")
struct CLIHabitsTests {
    static let commands = ["", "trace", "capture", "packets", "flows", "requests", "agent", "store"]
    static let get = Repository.corpusFile("zeek/http/get.pcap")
    static let lab = Lab.legacyFile("clusterip-ok.pcapng").path
    static var hasLab: Bool { FileManager.default.fileExists(atPath: lab) }

    /// The one line a usage error prints, and its status.
    static func usageError(_ arguments: [String]) throws -> (status: Int32, line: String) {
        let run = try Command.hoptrace(arguments)
        #expect(run.stdout.isEmpty, "\(arguments): \(run.stdout)")
        #expect(run.stderr.split(separator: "\n").count == 1, "\(arguments): \(run.stderr)")
        #expect(run.stderr.hasPrefix("hoptrace: "), "\(arguments): \(run.stderr)")
        return (run.status, String(run.stderr.dropLast()))
    }

    @Test(
        "help reads well at 80 columns: no line longer, prose filled to the width (no sentence broken early)",
        arguments: Self.commands
    )
    func helpAt80Columns(command: String) throws {
        let run = try Command.hoptrace(command.isEmpty ? ["help"] : ["help", command], environment: ["COLUMNS": "80"])
        #expect(run.status == 0)
        let lines = run.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for line in lines { #expect(line.count <= 80, "\(command): \(line.count) columns: \(line)") }
        func indentation(_ line: String) -> Int { line.prefix { $0 == " " }.count }
        // The column where a line's text starts: after the option name column for option lines.
        func textColumn(_ line: String) -> Int {
            let indent = indentation(line)
            let rest = line.dropFirst(indent)
            guard rest.hasPrefix("-") || rest.hasPrefix("<"), let gap = rest.range(of: "  ") else { return indent }
            return indent + rest.distance(from: rest.startIndex, to: gap.lowerBound)
                + rest[gap.lowerBound...].prefix { $0 == " " }.count
        }
        for (above, line) in zip(lines, lines.dropFirst()) where !above.isEmpty && !line.isEmpty {
            let trimmed = line.drop { $0 == " " }
            let isContinuation =
                indentation(line) == textColumn(above) && !trimmed.hasPrefix("-") && !trimmed.hasPrefix("<")
                && !line.hasSuffix(":") && !above.hasSuffix(":") && !trimmed.hasPrefix("hoptrace ")
            guard isContinuation, let word = trimmed.split(separator: " ").first else { continue }
            // A filled paragraph breaks a line only when the next word does not fit after it (argument-parser fills
            // to 79 columns: a line never ends in the 80th).
            #expect(above.count + 1 + word.count >= 80, "\(command): \"\(above)\" could hold \"\(word)\"")
        }
    }

    @Test("An unknown command is one line naming the nearest, exit 2")
    func unknownCommand() throws {
        #expect(try Self.usageError(["tracee"]) == (2, "hoptrace: unknown command 'tracee'; did you mean 'trace'?"))
        #expect(
            try Self.usageError(["flws", Self.get]) == (2, "hoptrace: unknown command 'flws'; did you mean 'flows'?")
        )
        #expect(
            try Self.usageError(["help", "pakets"]) == (
                2, "hoptrace: unknown command 'pakets'; did you mean 'packets'?"
            )
        )
        let far = try Self.usageError(["zzzzzzzz"])
        #expect(far.status == 2 && far.line.contains("trace, capture, packets, flows, requests"))
    }

    @Test("--status is checked against the forms each command accepts, listed in the error")
    func statusForms() throws {
        let flows = try Self.usageError(["flows", "--status", "foo", Self.get])
        #expect(flows.status == 2)
        for form in ["REJ", "SF", "S0", "RSTO"] { #expect(flows.line.contains(form)) }
        let requests = try Self.usageError(["requests", "--status", "foo", Self.get])
        #expect(requests.status == 2)
        for form in ["404", "5xx", "NXDOMAIN", "SERVFAIL"] { #expect(requests.line.contains(form)) }
        #expect(try Self.usageError(["requests", "--status", "REJ", Self.get]).status == 2)
        #expect(try Command.hoptrace(["requests", "--status", "nxdomain", Self.get]).status == 0)
        #expect(try Command.hoptrace(["flows", "--status", "sf", Self.get]).status == 0)
    }

    @Test("A trace selector by Kubernetes name without cluster state says so")
    func kubernetesSelectorsNeedClusterState() throws {
        for option in ["--client", "--service"] {
            let error = try Self.usageError(["trace", option, "default/web", Self.get])
            #expect(error.status == 2)
            #expect(error.line.contains("--k8s") && error.line.contains("--kubectl"))
        }
    }

    @Test("-r reads files as the arguments do; -c stops after n records")
    func readAndCount() throws {
        let other = Repository.corpusFile("tcpdump/tcp-handshake-nano.pcap")
        let plain = try Command.hoptrace(["packets", Self.get]).stdout
        #expect(try Command.hoptrace(["packets", "-r", Self.get]).stdout == plain)
        let merged = try Command.hoptrace(["packets", "-r", Self.get, "-r", other])
        let both = try Command.hoptrace(["packets", Self.get, other]).stdout
        #expect(merged.status == 0 && merged.stdout == both)
        let three = try Command.hoptrace(["packets", "-c", "3", Self.get])
        #expect(three.stdout.split(separator: "\n") == Array(plain.split(separator: "\n").prefix(3)))
        let one = try Command.hoptrace([
            "requests", "-c", "1", Repository.corpusFile("zeek/http/pipelined-requests.pcap"),
        ])
        #expect(one.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }.count == 1)
        #expect(try Self.usageError(["flows", "-c", "0", Self.get]).status == 2)
        #expect(try Self.usageError(["flows"]).status == 2)
    }

    /// Corpus files tcpdump reads whole, and the expressions tried on each.
    static let filterFiles = [
        "zeek/http/get.pcap", "zeek/http/pipelined-requests.pcap", "skydive/eth-ip4-arp-dns-req-http-google.pcap",
        "tcpdump/dns_udp.pcap", "deepflow/dns/dns-tcp-multi.pcap", "zeek/linux_dlt_sll2.pcap",
        "gopacket/test_dns.pcap", "zeek/tunnels/vxlan.pcap", "skydive/simple-tcpv6.pcap", "zeek/ipv4/fragmented-1.pcap",
        "deepflow/syn-retrans.pcap", "tcpdump/tcp-handshake-nano.pcap",
    ]
    static let expressions = [
        "tcp port 80 or udp port 53", "tcp[tcpflags] & (tcp-syn|tcp-rst) != 0", "udp", "ip6", "not arp and len > 100",
    ]

    @Test("-f keeps the packets tcpdump keeps with the same expression", arguments: Self.filterFiles)
    func filtersMatchTcpdump(file: String) throws {
        let path = Repository.corpusFile(file)
        for expression in Self.expressions {
            let theirs = try Command.run(
                "/usr/bin/tcpdump",
                ["-r", path, "-n", "-tt", "--time-stamp-precision=nano", expression]
            )
            #expect(theirs.status == 0, "tcpdump: \(theirs.stderr)")
            // One line per packet, starting with its time; tcpdump prints a tunnel's inner packet on a line of its own.
            let expected = theirs.stdout.split(separator: "\n").map { String($0.prefix { $0 != " " }) }.filter {
                $0.range(of: #"^[0-9]+\.[0-9]{9}$"#, options: .regularExpression) != nil
            }
            let ours = try Command.hoptrace(["packets", "--format", "tsv", "-f", expression, path])
            #expect(ours.status == 0, "\(ours.stderr)")
            #expect(try ZeekLog(ours.stdout).cut(["time"]) == expected, "\(file): \(expression)")
            // tcpdump's own form: the expression after -r FILE.
            let trailing = try Command.hoptrace(
                ["packets", "-r", path] + expression.split(separator: " ").map(String.init)
            )
            #expect(trailing.stdout == (try Command.hoptrace(["packets", "-f", expression, path])).stdout)
        }
    }

    @Test("Filters apply to flows, requests and trace; a bad one is one line with libpcap's reason, exit 2")
    func filtersEverywhere() throws {
        let file = Repository.corpusFile("skydive/eth-ip4-arp-dns-req-http-google.pcap")
        let dnsOnly = try Command.hoptrace(["requests", "-f", "udp port 53", file])
        #expect(dnsOnly.status == 0)
        let records = dnsOnly.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(!records.isEmpty && records.allSatisfy { $0.contains(" DNS ") })
        let none = try Command.hoptrace(["flows", "-r", file, "udp"])
        #expect(none.status == 0 && none.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }.isEmpty)
        #expect(try Command.hoptrace(["trace", "-f", "udp port 53", file]).status != 2)
        for command in ["packets", "flows", "requests", "trace"] {
            let error = try Self.usageError([command, "-f", "tcp prot 80", file])
            #expect(error.status == 2)
            #expect(error.line.contains("tcp prot 80") && error.line.contains("syntax error"), "\(error.line)")
        }
        // Valid for Ethernet, not for the file's link type: said once the file is open, still a usage error.
        let sll2 = try Self.usageError([
            "packets", "-f", "ether host 02:00:00:00:00:01", Repository.corpusFile("zeek/linux_dlt_sll2.pcap"),
        ])
        #expect(sll2.status == 2 && sll2.line.contains("LINUX_SLL2"))
    }

    /// Runs `arguments` under a pseudo-terminal (util-linux `script`), so that `--color auto` sees a terminal, with
    /// NO_COLOR unset (the test runner may set it) or set to `noColor`.
    static func onTerminal(_ arguments: [String], noColor: String? = nil) throws -> String {
        let setting = noColor.map { ["NO_COLOR=\($0)"] } ?? []
        let command = (["/usr/bin/env", "-u", "NO_COLOR"] + setting + [Command.hoptrace] + arguments).map { "'\($0)'" }
        return try Command.run("/usr/bin/script", ["-qec", command.joined(separator: " "), "/dev/null"]).stdout
    }

    @Test(
        "Colour on a terminal unless NO_COLOR is set (and not empty); --color always and never win",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script") && CLIHabitsTests.hasLab)
    )
    func noColor() throws {
        let escape = "\u{1B}["
        for command in [["requests", Self.lab], ["flows", Self.lab], ["trace", Self.lab]] {
            let coloured = try Self.onTerminal(command)
            #expect(coloured.contains(escape), "\(command): \(coloured.prefix(300))")
            #expect(!(try Self.onTerminal(command, noColor: "1")).contains(escape), "\(command)")
            #expect(try Self.onTerminal(command, noColor: "").contains(escape), "\(command)")
            #expect(try Self.onTerminal(command + ["--color", "always"], noColor: "1").contains(escape))
            #expect(!(try Self.onTerminal(command + ["--color", "never"])).contains(escape))
            // Never into a pipe.
            #expect(!(try Command.hoptrace(command)).stdout.contains(escape))
        }
    }

    @Test("make install puts a working hoptrace and its man page under PREFIX (and DESTDIR); uninstall removes them")
    func install() throws {
        let prefix = FileManager.default.temporaryDirectory.appendingPathComponent("hoptrace-prefix-\(UUID())")
        defer { try? FileManager.default.removeItem(at: prefix) }
        let make = try Command.run(
            "/usr/bin/make",
            ["-C", Repository.root.path, "install", "PREFIX=\(prefix.path)", "BIN=\(Command.hoptrace)"]
        )
        #expect(make.status == 0, "\(make.stderr)")
        let installed = prefix.appendingPathComponent("bin/hoptrace").path
        #expect(FileManager.default.isExecutableFile(atPath: installed))
        let run = try Command.run(installed, ["flows", Self.get])
        #expect(run.status == 0 && run.stdout.contains("141.142.228.5:59856 192.150.187.43:80"))
        let page = prefix.appendingPathComponent("share/man/man1/hoptrace.1").path
        let man = try Command.run("/usr/bin/man", ["-l", page], environment: ["MANWIDTH": "80", "MANPAGER": "cat"])
        #expect(man.status == 0 && man.stderr.isEmpty, "\(man.stderr)")
        #expect(man.stdout.contains("requests"))
        let uninstall = try Command.run(
            "/usr/bin/make",
            ["-C", Repository.root.path, "uninstall", "PREFIX=\(prefix.path)"]
        )
        #expect(uninstall.status == 0 && !FileManager.default.fileExists(atPath: installed))

        let destdir = FileManager.default.temporaryDirectory.appendingPathComponent("hoptrace-destdir-\(UUID())")
        defer { try? FileManager.default.removeItem(at: destdir) }
        let staged = try Command.run(
            "/usr/bin/make",
            [
                "-C", Repository.root.path, "install", "DESTDIR=\(destdir.path)", "PREFIX=/usr",
                "BIN=\(Command.hoptrace)",
            ]
        )
        #expect(staged.status == 0, "\(staged.stderr)")
        #expect(FileManager.default.isExecutableFile(atPath: destdir.appendingPathComponent("usr/bin/hoptrace").path))
    }

    @Test("The committed man page has every command and option the binary has (else: make man)")
    func manPageIsCurrent() throws {
        let page = try String(contentsOf: Repository.root.appendingPathComponent("docs/hoptrace.1"), encoding: .utf8)
        for command in Self.commands.dropFirst() {
            #expect(page.contains(".It Em \(command)"), "\(command)")
            let dump = try Command.hoptrace([command, "--experimental-dump-help"])
            let info = try #require(try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any])
            let arguments = (info["command"] as? [String: Any])?["arguments"] as? [[String: Any]] ?? []
            for argument in arguments {
                for name in argument["names"] as? [[String: Any]] ?? [] {
                    guard let text = name["name"] as? String, let kind = name["kind"] as? String else { continue }
                    // mdoc: `.It Fl -name`, `.It Fl x`, `.It Fl x , -name`.
                    let pattern = kind == "long" ? #"Fl ([A-Za-z] , )?-"# + text + #"\b"# : "Fl " + text + #"\b"#
                    #expect(
                        page.range(of: pattern, options: .regularExpression) != nil,
                        "\(command): -\(kind == "long" ? "-" : "")\(text) missing from docs/hoptrace.1; run make man"
                    )
                }
            }
        }
    }
}

extension CLIHabitsTests {
    @Test(
        "More captures than the soft open-file limit are read (it is raised); past the hard one, one line naming the fix"
    )
    func manyInputs() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hoptrace-many-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.get))
        var paths: [String] = []
        for n in 0..<100 {
            let path = directory.appendingPathComponent(String(format: "point%03d.pcap", n)).path
            try bytes.write(to: URL(fileURLWithPath: path))
            paths.append("'\(path)'")
        }
        let command = "exec '\(Command.hoptrace)' requests " + paths.joined(separator: " ")
        // A soft limit of 64 under a higher hard one: raised, every file read (one request each).
        let raised = try Command.run("/bin/sh", ["-c", "ulimit -S -n 64 && " + command])
        #expect(raised.status == 0, "\(raised.stderr)")
        #expect(raised.stdout.split(separator: "\n").filter { $0.contains("GET ") }.count == 100)
        // A hard limit of 64: exit 1 and one line that says what to do.
        let capped = try Command.run("/bin/sh", ["-c", "ulimit -n 64 && " + command])
        #expect(capped.status == 1)
        #expect(capped.stdout.isEmpty)
        #expect(capped.stderr.split(separator: "\n").count == 1)
        #expect(
            capped.stderr.contains("too many files open at once; raise the limit (`ulimit -n`)"),
            "\(capped.stderr)"
        )
    }
}
