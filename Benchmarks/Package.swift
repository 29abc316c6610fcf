// swift-tools-version:6.1
//
// hoptrace benchmarks: a nested package so the main package does not depend on the harness (as swift-nio does).
// Run from this directory: `swift package benchmark` (or `make bench` / tools/bench/run.sh at the root).
// Thresholds are checked in under Thresholds/; `swift package benchmark thresholds check` compares a run to them.
import PackageDescription

// A path dependency's identity is its directory's name (the clone's), so it is computed, not spelled out.
let mainPackage =
    Context.packageDirectory.split(separator: "/").dropLast().last.map { String($0).lowercased() }
    ?? "hoptrace"

let package = Package(
    name: "hoptrace-benchmarks",
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "DecodeBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "HoptraceCapture", package: mainPackage),
                .product(name: "HoptraceDecode", package: mainPackage),
            ],
            path: "Benchmarks/DecodeBenchmarks",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark")
            ]
        ),
        // Not a package-benchmark target (those live under Benchmarks/, which the plugin runs): a plain timing loop
        // over a big capture file, for tools/bench/readdec.sh.
        .executableTarget(
            name: "ReadDecode",
            dependencies: [
                .product(name: "HoptraceCapture", package: mainPackage),
                .product(name: "HoptraceDecode", package: mainPackage),
            ],
            path: "Tools/ReadDecode",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
