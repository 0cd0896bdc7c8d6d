// wause-bench: codec benchmarks for `make bench` (STYLE: benchmarks are a separate executable
// printing comparable figures; no timing assertions in tests).
//
//   wause-bench [--seconds S] [--python PATH] [--baileys-script PATH] [--no-baileys]
//               [--only decode|encode]
//
// Measures WauseBinary encode/decode throughput (MB of frame bytes per second of thread CPU time,
// so that other work on a shared machine does not skew the figures) on two corpora and, in the
// same run on the same frames, baileys-python's codec via tests/interop/binary_bench.py.
// Defaults: 2 s per measurement, python from $WAUSE_BENCH_PYTHON or `python3`, script
// tests/interop/binary_bench.py relative to the working directory.

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

var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--seconds": seconds = arguments.next().flatMap(Double.init) ?? seconds
    case "--python": python = arguments.next() ?? python
    case "--baileys-script": script = arguments.next() ?? script
    case "--no-baileys": compareWithBaileys = false
    case "--only": directions = [arguments.next() ?? ""]  // for profiling one direction
    default:
        print("usage: wause-bench [--seconds S] [--python PATH] [--baileys-script PATH] [--no-baileys] [--only decode|encode]")
        exit(argument == "--help" || argument == "-h" ? 0 : 2)
    }
}

#if DEBUG
print("warning: debug build; figures are meaningful only with `swift build -c release`")
#endif

let corpora = [
    CodecBenchmark.messageCorpus(count: 1_000, seed: 0x5EED_0001),
    CodecBenchmark.smallCorpus(count: 1_000, seed: 0x5EED_0002),
]

print("binary XML codec: WauseBinary vs baileys-python 0.1.0a1 (MB of frame bytes per CPU-second, median of 5 rounds)")
let ours = corpora.map { CodecBenchmark.measure($0, seconds: seconds, directions: directions) }
let theirs = compareWithBaileys
    ? BaileysComparison.run(python: python, script: script, corpora: corpora, seconds: seconds)
    : BaileysComparison.Result(failure: "skipped (--no-baileys)")

func column(_ text: String, _ width: Int) -> String {
    String(repeating: " ", count: max(0, width - text.count)) + text
}
func figure(_ value: Double?) -> String {
    guard let value, value.isFinite else { return "-" }
    return value >= 100 ? String(Int(value.rounded())) : String(Double(Int(value * 100)) / 100)
}

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
