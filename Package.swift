// swift-tools-version:6.1
//
// hoptrace: trace one request through a Kubernetes node's network path from packet captures.
//
// The pipeline, one target per stage, each importing only the stages to its left:
//
//     CPcap -> HoptraceCapture -> HoptraceDecode -> HoptraceFlows -> HoptraceCorrelate -> HoptraceReport -> hoptrace
//                                              `-> HoptraceKube (cluster state) ---^
//
import Foundation
import PackageDescription

/// Two code-generation choices for release builds, each measured on the benchmark's first 100,000 packets
/// (callgrind; output byte-identical on every capture and flood):
/// - copies of optionals and tuples of structs field by field (`-disable-type-layout`), as older compilers did:
///   Swift 6.3 copied them through the type's metadata and the runtime's generic value witnesses (an
///   `Optional<AddressName>`, a `(Sighting, HTTPExchange?)`): `trace --all --json` 5.4% and `requests --json` 3.3%
///   fewer instructions;
/// - no run-time exclusivity checks (`-enforce-exclusivity=unchecked`), 3.7% fewer for `trace --all --json`: debug
///   builds, which run the tests, and the fuzzers' builds (tools/fuzz, their own flags) keep them.
/// SwiftPM refuses unsafe flags in a package depended upon by version: such a package sets `HOPTRACE_PORTABLE=1`
/// when it resolves and builds, and gets the compiler's defaults.
let releaseCodegen: [SwiftSetting] =
    ProcessInfo.processInfo.environment["HOPTRACE_PORTABLE"] == nil
    ? [
        .unsafeFlags(
            ["-Xfrontend", "-disable-type-layout", "-enforce-exclusivity=unchecked"],
            .when(configuration: .release)
        )
    ] : []

let strict: [SwiftSetting] =
    [
        .swiftLanguageMode(.v6)
    ] + releaseCodegen

let package = Package(
    name: "hoptrace",
    products: [
        .executable(name: "hoptrace", targets: ["hoptrace"]),
        .library(name: "HoptraceCapture", targets: ["HoptraceCapture"]),
        .library(name: "HoptraceDecode", targets: ["HoptraceDecode"]),
        .library(name: "HoptraceFlows", targets: ["HoptraceFlows"]),
        .library(name: "HoptraceCorrelate", targets: ["HoptraceCorrelate"]),
        .library(name: "HoptraceKube", targets: ["HoptraceKube"]),
        .library(name: "HoptraceReport", targets: ["HoptraceReport"]),
        .library(name: "HoptraceStore", targets: ["HoptraceStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // What every test target shares: where the repository's corpus, captures and built binary are.
        .target(name: "HoptraceTestSupport", path: "Tests/HoptraceTestSupport", swiftSettings: strict),
        // libpcap, for live capture only (files are read by our own readers).
        .systemLibrary(
            name: "CPcap",
            pkgConfig: "libpcap",
            providers: [.apt(["libpcap-dev"])]
        ),
        // Stage 1: packet sources (live libpcap, pcap and pcapng files) and the pcapng writer.
        .target(name: "HoptraceCapture", dependencies: ["CPcap"], swiftSettings: strict),
        // Stage 2: zero-copy decoders, link layer to transport, tunnels, ICMP quotes, IP reassembly.
        .target(name: "HoptraceDecode", dependencies: ["HoptraceCapture"], swiftSettings: strict),
        // Stage 3: TCP reassembly and analysis, DNS transactions, HTTP/1.x exchanges.
        .target(name: "HoptraceFlows", dependencies: ["HoptraceCapture", "HoptraceDecode"], swiftSettings: strict),
        // Cluster state (kubectl JSON/YAML): the declared names of addresses. Depends on Decode only.
        .target(
            name: "HoptraceKube",
            dependencies: ["HoptraceDecode", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        // Stage 4: stitching observations across capture points and NAT, verdicts, latency breakdown.
        .target(
            name: "HoptraceCorrelate",
            dependencies: ["HoptraceCapture", "HoptraceDecode", "HoptraceFlows", "HoptraceKube"],
            swiftSettings: strict
        ),
        // The flow stage's records as rows of a column store (ClickHouse over HTTP), and back into the correlator.
        .target(
            name: "HoptraceStore",
            dependencies: ["HoptraceCapture", "HoptraceDecode", "HoptraceFlows", "HoptraceCorrelate"],
            swiftSettings: strict
        ),
        // Stage 6: terminal, JSON and HTML renderings.
        .target(
            name: "HoptraceReport",
            dependencies: ["HoptraceCapture", "HoptraceDecode", "HoptraceFlows", "HoptraceCorrelate", "HoptraceKube"],
            swiftSettings: strict
        ),
        // The thin command-line front end.
        .executableTarget(
            name: "hoptrace",
            dependencies: [
                "HoptraceCapture", "HoptraceDecode", "HoptraceFlows", "HoptraceCorrelate", "HoptraceKube",
                "HoptraceReport", "HoptraceStore", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "HoptraceCaptureTests",
            dependencies: ["HoptraceTestSupport", "HoptraceCapture"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "HoptraceDecodeTests",
            dependencies: ["HoptraceTestSupport", "HoptraceCapture", "HoptraceDecode"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "HoptraceFlowsTests",
            dependencies: ["HoptraceTestSupport", "HoptraceCapture", "HoptraceDecode", "HoptraceFlows"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "HoptraceCorrelateTests",
            dependencies: ["HoptraceTestSupport", "HoptraceCapture", "HoptraceFlows", "HoptraceCorrelate"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "HoptraceKubeTests",
            dependencies: ["HoptraceTestSupport", "HoptraceFlows", "HoptraceCorrelate", "HoptraceKube"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "HoptraceReportTests",
            dependencies: [
                "HoptraceTestSupport", "HoptraceCapture", "HoptraceDecode", "HoptraceFlows", "HoptraceCorrelate",
                "HoptraceKube", "HoptraceReport",
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "HoptraceStoreTests",
            dependencies: [
                "HoptraceTestSupport", "HoptraceCapture", "HoptraceDecode", "HoptraceFlows", "HoptraceCorrelate",
                "HoptraceReport", "HoptraceStore",
            ],
            swiftSettings: strict
        ),
        // The lab's bundled captures checked against their truth files, with tshark as the oracle.
        .testTarget(
            name: "HoptraceLabTests",
            dependencies: ["HoptraceTestSupport"],
            swiftSettings: strict
        ),
        // The fuzz targets' entry points (tools/fuzz/targets) fed every committed crash input
        // (tools/fuzz/crashes/<target>/), each of which must now end cleanly; no libFuzzer needed.
        .testTarget(
            name: "HoptraceFuzzTests",
            dependencies: ["HoptraceTestSupport", "HoptraceReport"],
            path: "tools/fuzz",
            // The drivers, seeds and crash inputs are run.sh's (the tests read the crash inputs by path).
            exclude: ["CaptureMutator.swift", "Driver.swift", "crashes", "run.sh", "seeds"],
            sources: ["targets", "CrashCorpusTests.swift"],
            swiftSettings: strict
        ),
        // Runs the built `hoptrace` binary: help text, exit codes, one-line errors.
        .testTarget(
            name: "HoptraceCLITests",
            dependencies: ["HoptraceTestSupport", "hoptrace"],
            swiftSettings: strict
        ),
    ]
)
