// swift-tools-version:6.2
// ocishim: a per-container OCI runtime shim speaking ttrpc on stdio.
// Layers (docs/ARCHITECTURE.md): ShimProtocol knows frames and messages, ShimCore
// knows processes and containers, ShimServer is the seam between them.
// ShimTranscript (transcript tooling) is engine-side: the shim never links it.
import PackageDescription

let package = Package(
    name: "ocishim",
    products: [
        .executable(name: "ocishim", targets: ["ocishim"]),
        .executable(name: "ocictl", targets: ["ocictl"]),
        .executable(name: "ocibench", targets: ["ocibench"]),
        .executable(name: "ocishim-conmon", targets: ["ocishim-conmon"]),
        .executable(name: "containerd-shim-ocishim-v1", targets: ["containerd-shim-ocishim-v1"]),
        .library(name: "ShimClient", targets: ["ShimClient"]),
        .library(name: "CShimClient", targets: ["CShimClient"]),
    ],
    dependencies: [
        // No traits: the default BinaryDelimitedStreams trait pulls in full
        // Foundation, which the shim binary must not link.
        .package(url: "https://github.com/apple/swift-protobuf.git", exact: "1.39.0", traits: []),
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system.git", exact: "1.8.1"),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
    ],
    targets: [
        // --- C glue -----------------------------------------------------------
        // Syscalls Swift cannot express well: fork/exec with an fd map,
        // SCM_RIGHTS, ioctl and prctl varargs, packed epoll_event.
        .target(name: "CShimSys", path: "Sources/CShimSys"),
        .systemLibrary(
            name: "CProtobufC", path: "Sources/CProtobufC", pkgConfig: "libprotobuf-c",
            providers: [.apt(["libprotobuf-c-dev"])]),

        // --- layers -----------------------------------------------------------
        .target(
            name: "ShimProtocol",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["README.md"]),
        .target(
            name: "ShimSystem",
            dependencies: ["CShimSys", .product(name: "SystemPackage", package: "swift-system")]),
        .target(
            name: "ShimCore",
            dependencies: ["ShimSystem", .product(name: "Logging", package: "swift-log")]),
        .target(
            name: "ShimServer",
            dependencies: ["ShimProtocol", "ShimCore", "ShimSystem"]),
        // conmon's interface (command line, pipes, files) in front of the
        // core, for engines that drive conmon (podman --conmon).
        .target(
            name: "ConmonFrontend",
            dependencies: ["ShimCore", "ShimSystem", "CShimSys", .product(name: "Logging", package: "swift-log")]),
        // containerd's shim v2 task API, its events and cgroup metrics
        // (generated from proto/containerd): only the containerd front end
        // links them.
        .target(
            name: "ContainerdProtocol",
            dependencies: ["ShimProtocol", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        // containerd's shim binary protocol and task service in front of
        // the core (containerd-shim-ocishim-v1, docs/CONTAINERD.md).
        .target(
            name: "ContainerdFrontend",
            dependencies: ["ContainerdProtocol", "ShimServer", "ShimProtocol", "ShimCore", "ShimSystem", "CShimSys",
                           .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                           .product(name: "Logging", package: "swift-log")]),
        .target(
            name: "ShimClient",
            dependencies: ["ShimProtocol", "ShimSystem"]),
        // Transcripts (docs/TRANSCRIPTS.md): the text form of a protocol
        // session, and recording and replaying it against live shims.
        .target(
            name: "ShimTranscript",
            dependencies: ["ShimProtocol", "ShimClient", "ShimSystem",
                           .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["README.md"]),
        .target(
            name: "CShimClient",
            dependencies: ["CProtobufC"],
            path: "Sources/CShimClient",
            cSettings: [.headerSearchPath("generated")]),

        // --- executables ------------------------------------------------------
        .executableTarget(
            name: "ocishim",
            // No ArgumentParser: see Sources/ocishim/CommandLineOptions.swift.
            dependencies: ["ShimServer", "ShimCore", .product(name: "Logging", package: "swift-log")]),
        .executableTarget(
            name: "ocishim-conmon",
            dependencies: ["ConmonFrontend"]),
        .executableTarget(
            name: "containerd-shim-ocishim-v1",
            dependencies: ["ContainerdFrontend"]),
        .executableTarget(
            name: "ocictl",
            dependencies: [
                "ShimClient", "ShimProtocol", "ShimTranscript", "ShimSystem", "ShimCore", "CShimSys",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // The benchmark driver behind Scripts/bench: ocishim and conmon side
        // by side (engine-side, so Foundation is fine here).
        .executableTarget(
            name: "ocibench",
            dependencies: [
                "ShimClient", "ShimProtocol", "ShimSystem", "CShimSys",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // The reliability suite behind Scripts/torture (docs/TORTURE.md):
        // engine-side, so Foundation is fine here.
        .executableTarget(
            name: "ocitorture",
            dependencies: [
                "ShimClient", "ShimProtocol", "ShimSystem", "CShimSys",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // A C engine in miniature: drives `ocishim serve` through CShimClient.
        .executableTarget(
            name: "cshim-interop",
            dependencies: ["CShimClient"],
            path: "Tests/CInterop"),

        // --- tests ------------------------------------------------------------
        .testTarget(
            name: "ShimProtocolTests",
            dependencies: ["ShimProtocol", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .testTarget(
            name: "ShimTranscriptTests",
            dependencies: ["ShimTranscript", "ShimProtocol", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .testTarget(name: "ShimSystemTests", dependencies: ["ShimSystem"]),
        .testTarget(name: "ShimCoreTests", dependencies: ["ShimCore", "ShimSystem"]),
        .testTarget(name: "ConmonFrontendTests", dependencies: ["ConmonFrontend", "ShimCore", "ShimSystem"]),
        // ocictl's own logic (option parsing, output shapes, time and size
        // parsing, the docs' examples), without spawning anything.
        .testTarget(name: "OcictlTests", dependencies: ["ocictl", "ShimProtocol", "ShimClient", "ShimSystem"]),
        .testTarget(
            name: "ContainerdFrontendTests",
            dependencies: ["ContainerdFrontend", "ContainerdProtocol", "ShimCore", "ShimProtocol", "ShimSystem", "CShimSys",
                           .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .testTarget(
            name: "ShimIntegrationTests",
            dependencies: ["ShimClient", "ShimProtocol", "ShimTranscript", "ShimSystem", "ContainerdProtocol"]),
    ]
)
