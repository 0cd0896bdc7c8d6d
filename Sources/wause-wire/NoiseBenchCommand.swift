import WauseSupport
import WauseTransport

/// `wause-wire noise-bench`: the Noise transport's encrypt/decrypt throughput
/// (WauseTransport `NoiseBenchmark`), for `make bench` to print beside
/// `openssl speed -evp aes-256-gcm`. Meaningful only from a release build.
enum NoiseBenchCommand {
    static let name = "noise-bench"
    static let summary = "Noise transport AES-256-GCM throughput in MB/s (JSON), for make bench"
    static let help = """
    usage: wause-wire noise-bench [--frame-size N] [--frames N]

    Encrypts N frames of the given size with one transport cipher, decrypts them with its peer, and
    prints {"frame_size", "frames", "encrypt_mb_per_s", "decrypt_mb_per_s"} (MB = 10^6 bytes of
    plaintext). Defaults: 16384-byte frames (openssl speed's largest block), 4096 frames (64 MiB).
    Build with -c release for figures worth comparing.

    """

    static let command = Subcommand(name: name, summary: summary, help: help, throwing: run)

    static func run(_ arguments: [String]) throws(CommandFailure) {
        let options = try WireCLI.parseOptions(arguments, flags: [], valued: ["--frame-size", "--frames"])
        func count(_ option: String, _ fallback: Int, _ range: ClosedRange<Int>) throws(CommandFailure) -> Int {
            guard let text = options.values[option] else { return fallback }
            guard let value = Int(text), range.contains(value) else {
                throw .badInput("\(option) must be a whole number in \(range.lowerBound)...\(range.upperBound)")
            }
            return value
        }
        let frameSize = try count("--frame-size", 16_384, 0...FrameCodec.largestFrameSize)
        let frames = try count("--frames", 4_096, 1...10_000_000)
        let result: NoiseBenchmark.Result
        do {
            result = try NoiseBenchmark.transportThroughput(frameSize: frameSize, frames: frames, clock: ContinuousClock())
        } catch {
            throw CommandFailure(message: "\(error)", exitCode: 1)
        }
        let json: JSONValue = [
            "frame_size": .int(Int64(frameSize)),
            "frames": .int(Int64(frames)),
            "encrypt_mb_per_s": .double(rounded(result.encryptMegabytesPerSecond)),
            "decrypt_mb_per_s": .double(rounded(result.decryptMegabytesPerSecond)),
        ]
        WireCLI.writeStdout(json.serialized + "\n")
    }

    private static func rounded(_ value: Double) -> Double { (value * 10).rounded() / 10 }
}
