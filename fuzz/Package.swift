// swift-tools-version:6.0
// Coverage-guided fuzz targets (libFuzzer) for Tern's parsers. A separate package so the main
// build and tests never link them (a libFuzzer target has no `main`: the fuzzer provides it).
// Build and run with scripts/fuzz.sh (docs/reliability.md, Hostile input).

import PackageDescription

let package = Package(
    name: "tern-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "tern", path: "..")],
    targets: [
        .executableTarget(
            name: "TernConfigFuzzer",
            dependencies: [.product(name: "TernFuzzTargets", package: "tern")],
            swiftSettings: [
                .enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility"),
                // No top-level code: libFuzzer's driver is the entry point (see ConfigFuzzer.swift).
                .unsafeFlags(["-parse-as-library"]),
            ]
        )
    ]
)
