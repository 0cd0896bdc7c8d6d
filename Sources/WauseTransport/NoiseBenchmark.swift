/// Throughput of the Noise transport (AES-256-GCM per frame, whatsmeow socket/noisesocket.go generateIV), for `make bench` to set beside
/// `openssl speed -evp aes-256-gcm`. It measures what a connection does per frame — nonce from the
/// counter, seal into a fresh array, open into a fresh array — not the raw cipher. Never used for
/// assertions in tests.
public enum NoiseBenchmark {
    public struct Result: Sendable, Equatable, CustomStringConvertible {
        public let frameSize: Int
        public let frames: Int
        /// Plaintext megabytes (10^6 bytes) per second.
        public let encryptMegabytesPerSecond: Double
        public let decryptMegabytesPerSecond: Double

        public var description: String {
            func format(_ value: Double) -> String { String(Int((value * 10).rounded())).inserting(decimalPointBeforeLast: 1) }
            return "noise transport \(frameSize)-byte frames x\(frames): encrypt \(format(encryptMegabytesPerSecond)) MB/s, decrypt \(format(decryptMegabytesPerSecond)) MB/s"
        }
    }

    /// Encrypts `frames` frames of `frameSize` bytes with one cipher, then decrypts them with the
    /// peer's, and times each half with `clock`.
    /// - Parameters:
    ///   - key: 32 bytes; any value (the figure does not depend on it).
    ///   - clock: injected so callers choose what time means; `ContinuousClock()` for a bench.
    public static func transportThroughput<C: Clock>(frameSize: Int, frames: Int, key: [UInt8] = [UInt8](repeating: 7, count: 32),
                                                     clock: C) throws(NoiseError) -> Result where C.Duration == Duration {
        precondition(frameSize >= 0 && frames > 0, "frameSize >= 0 and frames > 0")
        var sender = try NoiseCipherState(key: key)
        var receiver = try NoiseCipherState(key: key)
        let plaintext = [UInt8](repeating: 0x5a, count: frameSize)
        var ciphertexts: [[UInt8]] = []
        ciphertexts.reserveCapacity(frames)

        var failure: NoiseError?
        let encryptTime = clock.measure {
            do throws(NoiseError) {
                for _ in 0..<frames { ciphertexts.append(try sender.seal(plaintext)) }
            } catch { failure = error }
        }
        if let failure { throw failure }
        var checksum = 0
        let decryptTime = clock.measure {
            do throws(NoiseError) {
                for ciphertext in ciphertexts { checksum &+= try receiver.open(ciphertext).count }
            } catch { failure = error }
        }
        if let failure { throw failure }
        precondition(checksum == frameSize &* frames, "decrypted length mismatch")

        let megabytes = Double(frameSize) * Double(frames) / 1_000_000
        return Result(frameSize: frameSize, frames: frames,
                      encryptMegabytesPerSecond: megabytes / seconds(encryptTime),
                      decryptMegabytesPerSecond: megabytes / seconds(decryptTime))
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (whole, attoseconds) = duration.components
        return max(Double(whole) + Double(attoseconds) / 1e18, 1e-9)
    }
}

private extension String {
    /// "1234" → "123.4" for one decimal place, without Foundation's formatters.
    func inserting(decimalPointBeforeLast digits: Int) -> String {
        var text = self
        let negative = text.hasPrefix("-")
        if negative { text.removeFirst() }
        while text.count <= digits { text = "0" + text }
        text.insert(".", at: text.index(text.endIndex, offsetBy: -digits))
        return (negative ? "-" : "") + text
    }
}
