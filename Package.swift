// swift-tools-version:6.1
import PackageDescription

// Only the thin C-ABI target carries these: a static Swift runtime with FoundationEssentials inside
// libwause.so, `-z defs` so a missing static dependency fails the link instead of the load, and a
// version script that exports only wause_*. Tests never depend on that target (static runtime flags
// break test linking).
let sharedLibraryLinkage: [LinkerSetting] = [.unsafeFlags([
    "-static-stdlib", "-use-ld=lld",
    "-Xlinker", "-z", "-Xlinker", "defs",
    "-l_FoundationCollections", "-l_FoundationCShims", "-lswiftSynchronization",
    "-Xlinker", "--version-script=\(Context.packageDirectory)/wause.map",
    // The static Swift runtime registers thread-exit destructors that point into the library, so
    // it must never be unmapped (dlclose, or node unloading an addon when a worker thread ends).
    "-Xlinker", "-z", "-Xlinker", "nodelete",
])]

let package = Package(
    name: "wause",
    products: [
        .library(name: "wause", type: .dynamic, targets: ["WauseFFI"]),
        .executable(name: "wause-mcp", targets: ["wause-mcp"]),
        .executable(name: "wause-sim", targets: ["wause-sim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto", exact: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", exact: "2.37.6"),
        // No traits: the default one imports full Foundation; we only need the runtime.
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0", traits: []),
        // X.509: wause-sim's media endpoint makes its own CA and leaf certificate at start (MediaCertificates.swift).
        .package(url: "https://github.com/apple/swift-certificates", exact: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", exact: "1.7.4"),
        // The engine's outbound HTTPS for media upload and download (issue 13; MediaHTTP.swift).
        .package(url: "https://github.com/swift-server/async-http-client", exact: "1.37.0"),
    ],
    targets: [
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CQRencode", pkgConfig: "libqrencode", providers: [.apt(["libqrencode-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CMicroHTTPD", pkgConfig: "libmicrohttpd", providers: [.apt(["libmicrohttpd-dev"])]),
        // Media (issue 13): JPEG thumbnails and image sizes, PNG input, WebP stickers' size, voice-note waveforms.
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CWebP", pkgConfig: "libwebp", providers: [.apt(["libwebp-dev"])]),
        .systemLibrary(name: "COpusFile", pkgConfig: "opusfile", providers: [.apt(["libopusfile-dev"])]),
        .target(name: "CWause"),
        // The engine's layers, bottom up (DESIGN.md): each its own module so it is built and
        // tested alone, and a change in one cannot break the build of another.
        .target(name: "WauseSupport"),
        .target(name: "WauseCrypto", dependencies: [
            "CSodium",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
        ]),
        .target(name: "WauseBinary", dependencies: ["CZlib"]),
        .target(name: "WauseProto", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        // Signal protocol logic (X3DH, double ratchet, wire formats) over store protocols, as libsignal separates them.
        .target(name: "WauseSignal", dependencies: [
            "CSodium", "WauseCrypto", "WauseProto",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ]),
        .target(name: "WauseTransport", dependencies: [
            "WauseSupport", "WauseCrypto", "WauseBinary", "WauseProto",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        // The SQLite wrapper and the migration runner, below both the engine's store and wause-sim's state.
        .target(name: "WauseSQLite", dependencies: ["WauseSupport", "CSQLite"]),
        // Pure protocol values and formulas both sides of the wire need (pairing-code and ADV
        // crypto, participant hash, stanza builders and parsers): no I/O, below the engine and the sim.
        .target(name: "WauseProtocol", dependencies: [
            "WauseSupport", "WauseCrypto", "WauseBinary", "WauseProto", "WauseSignal",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ]),
        .target(name: "WauseCore", dependencies: [
            "WauseSupport", "CSodium", "CQRencode", "CZlib", "CTurboJPEG", "CPNG", "CWebP", "COpusFile", "WauseCrypto", "WauseBinary", "WauseProto", "WauseTransport",
            "WauseSignal", "WauseSQLite", "WauseProtocol",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        .target(name: "WauseFFI", dependencies: ["CWause", "WauseCore"], linkerSettings: sharedLibraryLinkage),
        // libmicrohttpd behind a small request/response API, shared by wause-mcp and wause-sim's admin API.
        .target(name: "WauseHTTP", dependencies: ["CMicroHTTPD", "WauseSupport"]),
        .target(name: "WauseMCPHost", dependencies: ["WauseCore", "WauseHTTP"]),
        .executableTarget(name: "wause-mcp", dependencies: ["WauseMCPHost", "WauseCore"]),
        // wause-sim: a local WhatsApp-compatible server (DESIGN.md "The simulator").
        .target(name: "WauseSim", dependencies: [
            "WauseSupport", "WauseSQLite", "WauseProtocol", "WauseHTTP", "WauseTransport", "WauseBinary", "WauseCrypto", "WauseProto", "WauseSignal",
            // The HTTPS media endpoint (MediaServer.swift) and the phones' streamed media checks (PhoneMedia.swift).
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        .executableTarget(name: "wause-sim", dependencies: ["WauseSim"]),
        // Developer CLIs that let independent implementations test ours from outside (README).
        .executableTarget(name: "wause-signal", dependencies: ["WauseCrypto", "WauseSignal", "WauseSupport"]),
        // `make bench`: throughput figures side by side with a peer measured in the same run.
        .executableTarget(name: "wause-bench", dependencies: ["WauseBinary", "WauseSupport", "WauseCore", "WauseSQLite", "WauseProtocol", "WauseSignal", "WauseCrypto"]),
        .executableTarget(name: "wause-wire", dependencies: [
            "WauseSupport", "WauseBinary", "WauseCrypto", "WauseProto", "WauseTransport",
            // Pairing-code and ADV formulas (LinkCodeCrypto, ADVIdentity) for tests/interop.
            "WauseProtocol",
        ]),
        // Helpers shared by the test targets (temporary directories, plain threads); only they depend on it.
        .target(name: "WauseTestSupport"),
        .testTarget(name: "WauseSupportTests", dependencies: ["WauseSupport"]),
        .testTarget(name: "WauseCryptoTests", dependencies: ["WauseCrypto", "WauseSupport"]),
        .testTarget(name: "WauseSignalTests", dependencies: ["WauseSignal", "WauseCrypto", "WauseProto", "WauseSupport"]),
        .testTarget(name: "WauseProtocolTests", dependencies: ["WauseProtocol", "WauseCrypto", "WauseSupport", "WauseBinary", "WauseSignal", "WauseProto"]),
        .testTarget(name: "WauseBinaryTests", dependencies: ["WauseBinary", "WauseSupport"]),
        .testTarget(name: "WauseTransportTests", dependencies: [
            "WauseTransport", "WauseCrypto", "WauseBinary", "WauseProto", "WauseSupport", "WauseTestSupport",
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        .testTarget(name: "WauseCoreTests", dependencies: [
            "WauseCore", "WauseSupport", "WauseCrypto", "WauseBinary", "WauseTransport", "WauseProto", "WauseSignal", "WauseTestSupport",
            "WauseSQLite", "WauseProtocol",
            // Independent encoders for the media tests' inputs (a PNG with alpha, a WebP sticker).
            "CPNG", "CWebP",
        ], exclude: ["Fixtures"]),
        .testTarget(name: "WauseSimTests", dependencies: [
            "WauseSim", "WauseCore", "WauseSQLite", "WauseProtocol", "WauseTransport", "WauseBinary", "WauseCrypto", "WauseSignal", "WauseTestSupport",
            // An HTTPS client for the media host (MediaServerTests).
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        .testTarget(name: "WauseMCPHostTests", dependencies: ["WauseMCPHost", "WauseHTTP", "WauseCore", "WauseSupport", "WauseTestSupport"]),
    ]
)
