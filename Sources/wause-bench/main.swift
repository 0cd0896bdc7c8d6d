// wause-bench: codec benchmarks for `make bench` (STYLE: benchmarks are a separate executable
// printing comparable figures; no timing assertions in tests).
//
//   wause-bench [--seconds S] [--python PATH] [--baileys-script PATH] [--no-baileys]
//               [--signal-c PATH] [--only decode|encode|signal]
//
// Measures WauseBinary encode/decode throughput (MB of frame bytes per second of thread CPU time,
// so that other work on a shared machine does not skew the figures) on two corpora and, in the
// same run on the same frames, baileys-python's codec via tests/interop/binary_bench.py.
// Defaults: 2 s per measurement, python from $WAUSE_BENCH_PYTHON or `python3`, script
// tests/interop/binary_bench.py relative to the working directory.
//
// Then Signal sessions (WauseSignal) beside Debian's libsignal-protocol-c, measured by the C
// harness bench/signal_c/signal_bench.c (default build/bench/signal_bench, built by `make bench`).
//
// Then media encryption (WauseProtocol MediaEncryptor/MediaDecryptor) beside the same passes on
// OpenSSL in bench/media_c/media_bench.c (default build/bench/media_bench).
//
// Then the store (StoreBenchmark.swift): ingest in batches of 1, 100 and 10,000 and FTS5 search
// at --store-messages messages (default 1,000,000), beside Python's sqlite3 (bench/store_peer.py).
// `--only store` (make bench-store) runs only that part.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

var seconds = 2.0
var python = getenv("WAUSE_BENCH_PYTHON").map { String(cString: $0) } ?? "python3"
var script = "tests/interop/binary_bench.py"
var compareWithBaileys = true
var directions: Set<String> = ["decode", "encode"]
var storeMessages = 1_000_000  // the search store's size (the ingest runs are fixed: StoreBenchmark.ingestRuns)
var storePeerScript = "bench/store_peer.py"
var signalHarness = "build/bench/signal_bench"
var mediaHarness = "build/bench/media_bench"
var mediaBytes = 16 << 20
var runCodec = true
var runSignal = true
var runMedia = true

var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--seconds": seconds = arguments.next().flatMap(Double.init) ?? seconds
    case "--python": python = arguments.next() ?? python
    case "--baileys-script": script = arguments.next() ?? script
    case "--no-baileys": compareWithBaileys = false
    case "--signal-c": signalHarness = arguments.next() ?? signalHarness
    case "--media-c": mediaHarness = arguments.next() ?? mediaHarness
    case "--media-bytes": mediaBytes = arguments.next().flatMap(Int.init) ?? mediaBytes  // 0 skips the media part
    case "--store-messages": storeMessages = arguments.next().flatMap(Int.init) ?? storeMessages  // 0 skips the store part
    case "--store-peer-script": storePeerScript = arguments.next() ?? storePeerScript
    case "--store-runs":  // batch:messages,… (default 1:5000,100:100000,10000:100000)
        StoreBenchmark.ingestRuns = (arguments.next() ?? "").split(separator: ",").compactMap { run in
            let parts = run.split(separator: ":").compactMap { Int($0) }
            return parts.count == 2 && parts[0] > 0 ? (parts[0], parts[1]) : nil
        }
    case "--only":  // for profiling one part
        let part = arguments.next() ?? ""
        if part == "signal" { runCodec = false; runMedia = false; storeMessages = 0 }
        else if part == "store" { runCodec = false; runSignal = false; runMedia = false }
        else if part == "media" { runCodec = false; runSignal = false; storeMessages = 0 }
        else { directions = [part]; runSignal = false; runMedia = false; storeMessages = 0 }
    default:
        print("usage: wause-bench [--seconds S] [--python PATH] [--baileys-script PATH] [--no-baileys] [--signal-c PATH] [--only decode|encode|signal|media|store]"
            + " [--store-messages N] [--store-runs B:N,…] [--store-peer-script PATH] [--media-c PATH] [--media-bytes N]")
        exit(argument == "--help" || argument == "-h" ? 0 : 2)
    }
}

#if DEBUG
print("warning: debug build; figures are meaningful only with `swift build -c release`")
#endif

func column(_ text: String, _ width: Int) -> String {
    String(repeating: " ", count: max(0, width - text.count)) + text
}
func figure(_ value: Double?) -> String {
    guard let value, value.isFinite else { return "-" }
    return value >= 100 ? String(Int(value.rounded())) : String(Double(Int(value * 100)) / 100)
}

if runCodec {
    let corpora = [
        CodecBenchmark.messageCorpus(count: 1_000, seed: 0x5EED_0001),
        CodecBenchmark.smallCorpus(count: 1_000, seed: 0x5EED_0002),
    ]

    print("binary XML codec: WauseBinary vs baileys-python 0.1.0a1 (MB of frame bytes per CPU-second, median of 5 rounds)")
    let ours = corpora.map { CodecBenchmark.measure($0, seconds: seconds, directions: directions) }
    let theirs = compareWithBaileys
        ? BaileysComparison.run(python: python, script: script, corpora: corpora, seconds: seconds)
        : BaileysComparison.Result(failure: "skipped (--no-baileys)")

    print(["corpus", "frames", "avg B", "wause dec", "wause enc", "baileys dec", "baileys enc", "dec ×", "enc ×"]
        .enumerated().map { column($1, $0 == 0 ? 8 : 12) }.joined())
    for (corpus, figures) in zip(corpora, ours) {
        let reference = theirs.figures[corpus.name]
        let row = [
            corpus.name, String(corpus.frames.count), String(corpus.averageBytes),
            figure(figures.decodeMBps), figure(figures.encodeMBps),
            figure(reference?.decodeMBps), figure(reference?.encodeMBps),
            figure(reference.map { figures.decodeMBps / $0.decodeMBps }),
            figure(reference.map { figures.encodeMBps / $0.encodeMBps }),
        ]
        print(row.enumerated().map { column($1, $0 == 0 ? 8 : 12) }.joined())
    }
    if let failure = theirs.failure {
        print("baileys-python: \(failure)")
    }
}

if runSignal {
    let size = 100  // bytes of plaintext: a short text message with WhatsApp's padding
    print("")
    print("Signal 1:1 sessions and group sender keys: WauseSignal vs libsignal-protocol-c 2.3.3 on OpenSSL (operations per CPU-second, median of 5 rounds, \(size)-byte messages)")
    let ours = SignalBenchmark.measure(seconds: seconds, size: size, recordsAsBytes: false)
    let oursAsBytes = SignalBenchmark.measure(seconds: seconds, size: size, recordsAsBytes: true)
    let (theirs, failure) = SignalBenchmark.runC(harness: signalHarness, seconds: seconds, size: size)
    print(["workload", "wause", "wause, bytes", "libsignal-c", "×", "× (bytes)"].enumerated().map { column($1, $0 == 0 ? 26 : 14) }.joined())
    let rows: [(String, KeyPath<SignalBenchmark.Figures, Double>)] = [
        ("same-chain encrypt msg/s", \.encrypt), ("same-chain decrypt msg/s", \.decrypt),
        ("ping-pong msg/s", \.pingPong), ("session setups/s", \.setup),
        ("group skmsg encrypt msg/s", \.senderKeyEncrypt), ("group skmsg decrypt msg/s", \.senderKeyDecrypt),
    ]
    for (name, path) in rows {
        let reference = theirs?[keyPath: path]
        print([name, figure(ours[keyPath: path]), figure(oursAsBytes[keyPath: path]), figure(reference),
               figure(reference.map { ours[keyPath: path] / $0 }), figure(reference.map { oursAsBytes[keyPath: path] / $0 })]
            .enumerated().map { column($1, $0 == 0 ? 26 : 14) }.joined())
    }
    print("(\"wause, bytes\": session and sender-key records serialised and parsed on every call, as libsignal-protocol-c's store API requires)")
    if let failure { print("libsignal-protocol-c: \(failure)") }
}

if runMedia && mediaBytes > 0 {
    print("")
    print("media encryption: WauseProtocol vs OpenSSL 3 (bench/media_c) (MB of plaintext per CPU-second, median of 5 rounds, "
        + "\(mediaBytes >> 20) MB file in 64 KB pieces; encrypt = AES-256-CBC + HMAC + both SHA-256s, decrypt = the same checks + AES-256-CBC)")
    let ours = MediaBenchmark.measure(seconds: seconds, size: mediaBytes)
    let (theirs, failure) = MediaBenchmark.runC(harness: mediaHarness, seconds: seconds, size: mediaBytes)
    print(["workload", "wause MB/s", "OpenSSL MB/s", "×"].enumerated().map { column($1, $0 == 0 ? 26 : 14) }.joined())
    for (name, path) in [("encrypt+MAC+hash", \MediaBenchmark.Figures.encrypt), ("verify+decrypt", \MediaBenchmark.Figures.decrypt)] {
        let reference = theirs?[keyPath: path]
        print([name, figure(ours[keyPath: path]), figure(reference), figure(reference.map { ours[keyPath: path] / $0 })]
            .enumerated().map { column($1, $0 == 0 ? 26 : 14) }.joined())
    }
    if let failure { print("media_bench: \(failure)") }
}

if storeMessages > 0 {
    StoreBenchmark.run(python: python, script: storePeerScript, searchMessages: storeMessages)
}
