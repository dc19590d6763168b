// swift-tools-version:6.1
// Tern: deploy machine-learning models as autoscaling web APIs.
// Module layout and dependency direction: see docs/architecture.md (DESIGN.md in the steering repo).

import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "tern",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tern", targets: ["tern"]),
        // For bench/micro only (a separate package that depends on this one by path): the
        // modules whose hot-path types it measures. Not a supported library.
        .library(name: "TernBenchmarkTargets", targets: ["TernCore", "TernScaling", "TernGateway"]),
        // For fuzz/ only (a separate package of libFuzzer targets, scripts/fuzz.sh): the config
        // loader. Not a supported library.
        .library(name: "TernFuzzTargets", targets: ["TernCore"]),
        // The Python serving runtime as it ships inside `tern`, for tools that package it.
        .library(name: "TernRuntimeBundle", targets: ["TernRuntimeBundle"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.34.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        // Already a dependency of AsyncHTTPClient and HummingbirdTLS; named for TLS on both listeners.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", from: "0.9.20"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // Tracing (docs/tracing.md): the API in the gateway, the OTLP/HTTP exporter in `tern serve`
        // (only its OTLPHTTP trait: the gRPC exporter would add grpc-swift to every build).
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        .target(
            name: "TernCore",
            dependencies: ["TernDigest", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TernScaling",
            dependencies: [
                "TernCore",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TernGateway",
            dependencies: [
                "TernCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Python runtime embedded at build time (Plugins/EmbedRuntimePlugin runs
        // TernRuntimeEmbedder over python/tern_runtime); reusable by an image builder.
        .executableTarget(name: "TernRuntimeEmbedder", dependencies: ["TernDigest"], swiftSettings: swiftSettings),
        // SHA-256 with no dependencies: shared by the embedder (a build tool) and TernCore.
        .target(name: "TernDigest", swiftSettings: swiftSettings),
        .plugin(name: "EmbedRuntimePlugin", capability: .buildTool(), dependencies: ["TernRuntimeEmbedder"]),
        .target(name: "TernRuntimeBundle", swiftSettings: swiftSettings, plugins: ["EmbedRuntimePlugin"]),
        // docs/openapi.yaml embedded at build time into TernControlPlane (served as /v1/openapi.json).
        .executableTarget(name: "TernDocumentEmbedder", swiftSettings: swiftSettings),
        .plugin(name: "EmbedOpenAPIPlugin", capability: .buildTool(), dependencies: ["TernDocumentEmbedder"]),
        .target(
            name: "TernSupervisor",
            dependencies: [
                "TernCore", "TernRuntimeBundle",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TernControlPlane",
            dependencies: [
                "TernCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // The dashboard's page, script and style, compiled into the binary (no files to
            // install, no CDN): `PackageResources.index_html` etc., served by DashboardRoutes.
            resources: [
                .embedInCode("Dashboard/index.html"), .embedInCode("Dashboard/app.js"), .embedInCode("Dashboard/style.css"),
            ],
            swiftSettings: swiftSettings,
            plugins: ["EmbedOpenAPIPlugin"]
        ),
        // Prometheus metrics (docs/metrics.md): the gateway's ExchangeObserver and TernCore's
        // PlatformObserver, behind the control plane's GET /metrics. Only TernCLI imports it.
        .target(
            name: "TernMetrics",
            dependencies: [
                "TernCore", "TernGateway",
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        // OpenTelemetry export (docs/tracing.md): the OTLP/HTTP tracer `tern serve --otlp-endpoint`
        // gives the gateway. Only TernCLI imports it.
        .target(
            name: "TernTracing",
            dependencies: [
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TernClient",
            dependencies: [
                "TernCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TernCLI",
            dependencies: [
                "TernCore", "TernScaling", "TernGateway", "TernSupervisor", "TernControlPlane", "TernClient", "TernMetrics",
                "TernTracing",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tern",
            dependencies: ["TernCLI"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TernTesting",
            dependencies: [
                "TernCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "TernCoreTests", dependencies: ["TernCore", "TernDigest", "TernTesting"], swiftSettings: swiftSettings),
        .testTarget(name: "TernCLITests", dependencies: ["TernCLI", "TernCore", "TernTracing", .product(name: "ArgumentParser", package: "swift-argument-parser")], swiftSettings: swiftSettings),
        .testTarget(
            name: "TernScalingTests",
            dependencies: ["TernScaling", "TernTesting", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TernGatewayTests",
            dependencies: [
                "TernGateway", "TernTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "TernSupervisorTests", dependencies: ["TernSupervisor", "TernCore", "TernTesting", "TernRuntimeBundle"], swiftSettings: swiftSettings),
        .testTarget(
            name: "TernControlPlaneTests",
            dependencies: [
                "TernControlPlane", "TernCore", "TernTesting", .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "Logging", package: "swift-log"), .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TernMetricsTests",
            dependencies: ["TernMetrics", "TernGateway", "TernCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TernClientTests",
            dependencies: ["TernClient", "TernControlPlane", .product(name: "ZIPFoundation", package: "ZIPFoundation")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TernEndToEndTests",
            dependencies: ["TernCore", "TernTesting", "TernClient"],
            swiftSettings: swiftSettings
        ),
    ]
)
