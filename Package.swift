// swift-tools-version:6.1
// AEFlow — streaming anomaly detection with autoencoders. Layout and target graph: ../shared/ARCHITECTURE.md §1.
import PackageDescription

let optimized: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

let package = Package(
    name: "AEFlow",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "TensorCore", targets: ["TensorCore"]),
        .library(name: "Autograd", targets: ["Autograd"]),
        .library(name: "NN", targets: ["NN"]),
        .library(name: "Optim", targets: ["Optim"]),
        .library(name: "Autoencoders", targets: ["Autoencoders"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "Scoring", targets: ["Scoring"]),
    ],
    // `aeflow udf` and `aeflow transform` need gRPC over HTTP/2 (and the TLS stack it brings): the largest part of a
    // clean build. On by default; `make demo` builds without it (`--disable-default-traits`), so a newcomer's first
    // command does not wait for what it does not use.
    traits: [
        .trait(name: "Numaflow", description: "The Numaflow map UDF and source transformer (aeflow udf, aeflow transform)"),
        .trait(name: "Prometheus", description: "History from Prometheus/VictoriaMetrics and scores written back by remote write"),
        .default(enabledTraits: ["Numaflow", "Prometheus"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.70.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        // Numaflow map UDF: gRPC over a Unix socket (code generated once from map.proto and committed).
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.0.0"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.0.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.28.0"),
        // HTTP client for the Prometheus query API and remote write (TLS, timeouts, connection pooling).
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.20.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.30.0"),
        // zlib (deflate) for compressed PNG charts.
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
    ],
    targets: [
        // C quarantine: each system library is imported by exactly one Swift target.
        .systemLibrary(
            name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CZeroMQ", path: "Sources/CZeroMQ",
            providers: [.apt(["libzmq3-dev"])]),

        // Snappy (block format) for Prometheus remote write: Debian's libsnappy, through its C API.
        .systemLibrary(
            name: "CSnappy", path: "Sources/CSnappy", pkgConfig: "snappy",
            providers: [.apt(["libsnappy-dev"])]),

        // Vector kernels compiled per instruction-set level and picked at run time (imported by TensorCore only).
        .target(name: "CKernels", path: "Sources/CKernels", cSettings: [.unsafeFlags(["-O2"])]),
        // The only Swift target calling POSIX beyond the ZMQ and SQLite wrappers: one checked syscall funnel, the
        // clocks, files, directory watching, locks, fsync, process facts.
        .target(name: "SystemCalls"),
        .target(name: "TensorCore", dependencies: ["COpenBLAS", "CKernels", "SystemCalls"], swiftSettings: optimized),
        .target(name: "Autograd", dependencies: ["TensorCore"], swiftSettings: optimized),
        .target(name: "NN", dependencies: ["Autograd", "TensorCore"], swiftSettings: optimized),
        .target(name: "Optim", dependencies: ["Autograd", "TensorCore"], swiftSettings: optimized),
        .target(name: "Autoencoders", dependencies: ["NN", "Optim", "Autograd", "TensorCore"], swiftSettings: optimized),
        .target(name: "Training", dependencies: ["Autoencoders", "NN", "Optim", "Autograd", "TensorCore", "SystemCalls",
                                                .product(name: "Logging", package: "swift-log")], swiftSettings: optimized),
        .target(name: "Scoring", dependencies: ["Training", "Autoencoders", "NN", "Autograd", "TensorCore", "SystemCalls"], swiftSettings: optimized),
        // Offline work on files: backtests, CSV, evaluation on labelled corpora, PNG charts (no stage code).
        .target(name: "Offline", dependencies: ["Autoencoders", "Scoring", "Training", "TensorCore", "SystemCalls",
                                               .product(name: "CompressNIO", package: "compress-nio"),
                                               .product(name: "NIOCore", package: "swift-nio")], swiftSettings: optimized),
        .target(name: "ZMQ", dependencies: ["CZeroMQ", "SystemCalls"]),
        // The shared vocabulary and machinery of every stage (daemon, retrain stage, Numaflow UDF): configuration,
        // messages, routing, per-key scoring, model registry, sockets, queues, lifecycle.
        .target(name: "Stage", dependencies: ["ZMQ", "Scoring", "Autoencoders", "TensorCore", "SystemCalls",
                                             .product(name: "Yams", package: "Yams"),
                                             .product(name: "Logging", package: "swift-log"),
                                             .product(name: "Prometheus", package: "swift-prometheus"),
                                             .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
                resources: [.embedInCode("Resources/default.yaml")], swiftSettings: optimized),
        .target(name: "Daemon", dependencies: ["Stage", "ZMQ", "Scoring", "TensorCore", "SystemCalls",
                                              .product(name: "Logging", package: "swift-log"),
                                              .product(name: "Hummingbird", package: "hummingbird"),
                                              .product(name: "HTTPTypes", package: "swift-http-types"),
                                              .product(name: "NIOCore", package: "swift-nio"),
                                              .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
                swiftSettings: optimized),
        .target(name: "Retrain", dependencies: ["Stage", "ZMQ", "Scoring", "Training", "Autoencoders", "TensorCore", "SystemCalls",
                                               .product(name: "GRDB", package: "GRDB.swift"),
                                               .product(name: "Logging", package: "swift-log"),
                                               .product(name: "Prometheus", package: "swift-prometheus"),
                                               .product(name: "Hummingbird", package: "hummingbird"),
                                               .product(name: "HTTPTypes", package: "swift-http-types"),
                                               .product(name: "NIOCore", package: "swift-nio"),
                                               .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
                swiftSettings: optimized),
        .target(name: "NumaflowUDF", dependencies: ["Stage", "Scoring", "TensorCore", "ZMQ", "SystemCalls",
                                                   .product(name: "GRPCCore", package: "grpc-swift-2"),
                                                   .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                                                   .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                                                   .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                                                   .product(name: "Logging", package: "swift-log")],
                exclude: ["Proto"], swiftSettings: optimized),
        // The metrics store (Prometheus, VictoriaMetrics): range queries for history, remote write for scores.
        .target(name: "PromStore", dependencies: ["Stage", "Scoring", "TensorCore", "SystemCalls", "CSnappy",
                                                 .product(name: "AsyncHTTPClient", package: "async-http-client"),
                                                 .product(name: "NIOCore", package: "swift-nio"),
                                                 .product(name: "NIOHTTP1", package: "swift-nio"),
                                                 .product(name: "NIOSSL", package: "swift-nio-ssl"),
                                                 .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                                                 .product(name: "Logging", package: "swift-log"),
                                                 .product(name: "Prometheus", package: "swift-prometheus")],
                exclude: ["Proto"], swiftSettings: optimized),
        .executableTarget(name: "aeflow", dependencies: ["SystemCalls", "Stage", "Daemon", "Retrain",
                                                         .target(name: "NumaflowUDF", condition: .when(traits: ["Numaflow"])),
                                                         .target(name: "PromStore", condition: .when(traits: ["Prometheus"])), "Offline", "ZMQ", "Scoring", "Training", "TensorCore",
                                                         .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                                         .product(name: "Hummingbird", package: "hummingbird"),
                                                         .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                                                         .product(name: "Logging", package: "swift-log")],
                          swiftSettings: optimized,
                          // jemalloc (Debian's libjemalloc) in place of glibc's malloc: points are allocated on the
                          // ingest thread and freed on the scoring thread, which glibc serves with arena locks and
                          // consolidation (16 % of the scoring thread); BENCHMARKS.md P8 measures the difference.
                          linkerSettings: [.linkedLibrary("jemalloc")]),
        .target(name: "TestSupport", dependencies: ["TensorCore", "Autograd", "NN"]),

        .executableTarget(
            name: "EngineBench", dependencies: ["TensorCore", "Autograd", "NN", "Optim"],
            path: "bench/EngineBench", swiftSettings: optimized),

        .executableTarget(
            name: "ModelBench", dependencies: ["Autoencoders", "Scoring", "Training", "TensorCore"],
            path: "bench/ModelBench", swiftSettings: optimized),

        .executableTarget(name: "Forwarder", dependencies: ["ZMQ", "SystemCalls"], path: "bench/Forwarder", swiftSettings: optimized),

        .executableTarget(
            name: "LoadGen", dependencies: ["ZMQ", "Scoring", "Stage", "Training", "Autoencoders", "TensorCore", "SystemCalls",
                                            .product(name: "Logging", package: "swift-log")],
            path: "bench/LoadGen", swiftSettings: optimized,
            linkerSettings: [.linkedLibrary("jemalloc")]),   // as the daemon's (its --engine rows score in this process)

        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "TestSupport"]),
        .testTarget(name: "AutogradTests", dependencies: ["Autograd", "TensorCore", "TestSupport"]),
        .testTarget(name: "NNTests", dependencies: ["NN", "Autograd", "TensorCore", "TestSupport"]),
        .testTarget(name: "OptimTests", dependencies: ["Optim", "Autograd", "TensorCore", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Autoencoders", "NN", "TensorCore", "TestSupport",
                                                        .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "ScoringTests", dependencies: ["Scoring", "Training", "Autoencoders", "NN", "TensorCore", "TestSupport"]),
        .testTarget(name: "OfflineTests", dependencies: ["Offline", "Scoring", "Training", "Autoencoders", "TensorCore", "TestSupport"]),
        .testTarget(name: "ZMQTests", dependencies: ["ZMQ"]),
        .testTarget(name: "DaemonTests", dependencies: ["Daemon", "Stage", "PromStore", "Scoring", "Training", "Autoencoders", "TensorCore", "TestSupport",
                                                      .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "RetrainTests", dependencies: ["Retrain", "Stage", "Daemon", "PromStore", "Scoring", "TensorCore", "TestSupport",
                                                       .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "AeflowTests", dependencies: ["Scoring", "Offline", "Stage", "Retrain", "PromStore", "TensorCore", "TestSupport"]),
        .testTarget(name: "AutoencodersTests", dependencies: ["Autoencoders", "NN", "Autograd", "TensorCore", "TestSupport"]),
    ]
)
