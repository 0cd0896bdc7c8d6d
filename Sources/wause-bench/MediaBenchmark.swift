#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import WauseProtocol
import WauseSupport

/// Media encryption throughput (WauseProtocol `MediaEncryptor`, `MediaDecryptor`) beside the C
/// program bench/media_c/media_bench.c doing the same four passes on OpenSSL (AES-256-CBC, the
/// truncated HMAC-SHA256, SHA-256 of plaintext and of ciphertext ‖ MAC) over the same file size in
/// the same 64 KB pieces. MB of plaintext per CPU-second, median of 5 rounds; the pieces go
/// through a reused buffer as they would to a file.
enum MediaBenchmark {
    struct Figures {
        var encrypt: Double
        var decrypt: Double
    }

    static let rounds = 5
    static let piece = 64 << 10

    static func measure(seconds: Double, size: Int) -> Figures {
        var rng = SplitMix64(seed: 0x3ED1A)
        let keys = try! MediaKeys(mediaKey: rng.bytes(32), type: .video)
        let plaintext = rng.bytes(size)
        let encrypted = MediaCrypto.encrypt(plaintext, keys: keys)
        let roundSeconds = seconds / 2 / Double(rounds)
        var output: [UInt8] = []
        output.reserveCapacity(piece + 64)

        let encrypt = median((0..<rounds).map { _ in
            throughput(roundSeconds, bytes: size) {
                var encryptor = MediaEncryptor(keys: keys)
                plaintext.withUnsafeBytes { all in
                    for offset in stride(from: 0, to: all.count, by: piece) {
                        output.removeAll(keepingCapacity: true)
                        encryptor.update(UnsafeRawBufferPointer(rebasing: all[offset..<min(all.count, offset + piece)]), appendingTo: &output)
                    }
                }
                output.removeAll(keepingCapacity: true)
                let result = encryptor.finish(appendingTo: &output)
                precondition(result == encrypted.result, "streamed encryption differs from one shot")
            }
        })
        let decrypt = median((0..<rounds).map { _ in
            throughput(roundSeconds, bytes: size) {
                var decryptor = MediaDecryptor(keys: keys)
                encrypted.body.withUnsafeBytes { all in
                    for offset in stride(from: 0, to: all.count, by: piece) {
                        output.removeAll(keepingCapacity: true)
                        decryptor.update(UnsafeRawBufferPointer(rebasing: all[offset..<min(all.count, offset + piece)]), appendingTo: &output)
                    }
                }
                output.removeAll(keepingCapacity: true)
                let result = try! decryptor.finish(
                    expectedFileEncSha256: encrypted.result.fileEncSha256, expectedFileSha256: encrypted.result.fileSha256,
                    appendingTo: &output)
                precondition(result.fileLength == UInt64(size))
            }
        })
        return Figures(encrypt: encrypt, decrypt: decrypt)
    }

    /// Runs bench/media_c/media_bench.c's binary; its lines are "encrypt MB/s" and "decrypt MB/s".
    static func runC(harness: String, seconds: Double, size: Int) -> (figures: Figures?, failure: String?) {
        guard access(harness, X_OK) == 0 else { return (nil, "\(harness) not built (make bench builds it)") }
        guard let pipe = popen("'\(harness)' --seconds \(seconds) --size \(size) 2>&1", "r") else { return (nil, "cannot start \(harness)") }
        var values: [String: Double] = [:]
        var lastLine = ""
        var buffer = [CChar](repeating: 0, count: 512)
        while fgets(&buffer, Int32(buffer.count), pipe) != nil {
            lastLine = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            let fields = lastLine.split(whereSeparator: { $0 == " " || $0 == "\n" })
            if fields.count == 2, let value = Double(fields[1]) { values[String(fields[0])] = value }
        }
        let status = pclose(pipe)
        guard status == 0, let encrypt = values["encrypt"], let decrypt = values["decrypt"] else {
            return (nil, "\(harness) failed: \(lastLine.isEmpty ? "exit status \(status)" : lastLine)")
        }
        return (Figures(encrypt: encrypt, decrypt: decrypt), nil)
    }

    /// MB per CPU-second of `pass` (one whole file) repeated until a round's CPU time is spent.
    private static func throughput(_ roundSeconds: Double, bytes: Int, _ pass: () -> Void) -> Double {
        var spent = 0.0, total = 0.0
        while spent < roundSeconds {
            let start = CodecBenchmark.now()
            pass()
            spent += CodecBenchmark.now() - start
            total += Double(bytes)
        }
        return total / spent / 1_000_000
    }

    private static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
}
