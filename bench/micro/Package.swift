// swift-tools-version:6.1
// Tern's internal micro-benchmarks (package-benchmark): the gateway's hot-path pieces, one
// figure per operation. A separate package so that the main build and CI do not build the
// benchmark framework. Run with bench/micro.sh (docs/benchmarks.md).

import PackageDescription

let package = Package(
    name: "tern-micro-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "tern", path: "../.."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    ],
    targets: [
        .executableTarget(
            name: "TernMicro",
            dependencies: [
                .product(name: "TernBenchmarkTargets", package: "tern"),
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            path: "Benchmarks/TernMicro",
            swiftSettings: [
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("MemberImportVisibility"),
            ],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
