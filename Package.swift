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
    ],
    targets: [
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CQRencode", pkgConfig: "libqrencode", providers: [.apt(["libqrencode-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CMicroHTTPD", pkgConfig: "libmicrohttpd", providers: [.apt(["libmicrohttpd-dev"])]),
        .target(name: "CWause"),
        .target(name: "WauseCore", dependencies: ["CSodium", "CSQLite", "CQRencode", "CZlib"]),
        .target(name: "WauseFFI", dependencies: ["CWause", "WauseCore"], linkerSettings: sharedLibraryLinkage),
        .target(name: "WauseMCPHost", dependencies: ["WauseCore", "CMicroHTTPD"]),
        .executableTarget(name: "wause-mcp", dependencies: ["WauseMCPHost", "WauseCore"]),
        .testTarget(name: "WauseCoreTests", dependencies: ["WauseCore"]),
        .testTarget(name: "WauseMCPHostTests", dependencies: ["WauseMCPHost", "WauseCore"]),
    ]
)
