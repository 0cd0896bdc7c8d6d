import Testing
import WauseCrypto
import WauseTransport

@Suite("Noise transport cipher (whatsmeow socket/noisesocket.go generateIV)")
struct NoiseTransportCipherTests {
    typealias F = NoiseFixtures
    static let key = (0..<32).map { UInt8($0) }

    /// Known answers from Python `cryptography` AESGCM with nonce `00×8 ‖ counter (BE uint32)`, AD empty.
    @Test("nonce layout: eight zero bytes and the big-endian counter", arguments: [
        (UInt32(0), "79ddc0add06274f1aeccea3e291ce844292f53e439"),
        (UInt32(0x01020304), "8830bf7d3b23ef5cbc5fb6e0ed5828074fc79df8d3"),
        (UInt32.max, "285bc018c2cb447b0ec7ec30b4fac4e97221b26b54"),
    ])
    func nonceLayout(counter: UInt32, expected: String) throws {
        var cipher = try NoiseCipherState(key: Self.key, nextNonce: counter)
        #expect(Hex.encode(try cipher.seal(Array("wause".utf8))) == expected)
        var opener = try NoiseCipherState(key: Self.key, nextNonce: counter)
        #expect(try opener.open(F.bytes(expected)) == Array("wause".utf8))
    }

    @Test("each direction counts its own frames")
    func independentCounters() throws {
        var a = try NoiseTransportCipher(sendKey: F.key(1), receiveKey: F.key(2))
        var b = try NoiseTransportCipher(sendKey: F.key(2), receiveKey: F.key(1))
        for index in 0..<3 { #expect(try b.decrypt(try a.encrypt([UInt8(index)])) == [UInt8(index)]) }
        #expect(try a.decrypt(try b.encrypt([9])) == [9])
        #expect(a.outbound.nextNonce == 3 && a.inbound.nextNonce == 1)
        #expect(b.outbound.nextNonce == 1 && b.inbound.nextNonce == 3)
    }

    @Test("the same plaintext encrypts differently per frame (the counter is the nonce)")
    func noNonceReuse() throws {
        var cipher = try NoiseTransportCipher(sendKey: F.key(1), receiveKey: F.key(2))
        #expect(try cipher.encrypt([1, 2, 3]) != cipher.encrypt([1, 2, 3]))
    }

    @Test("a frame that fails to authenticate is dropped, its nonce still consumed, later frames decrypt")
    func dropBadFrame() throws {
        var sender = try NoiseTransportCipher(sendKey: F.key(1), receiveKey: F.key(2))
        var receiver = try NoiseTransportCipher(sendKey: F.key(2), receiveKey: F.key(1))
        var bad = try sender.encrypt([1])
        bad[0] ^= 1
        let good = try sender.encrypt([2])
        #expect(throws: NoiseError.decryptionFailed("frame")) { try receiver.decrypt(bad) }
        #expect(receiver.inbound.nextNonce == 1)
        #expect(try receiver.decrypt(good) == [2])
        #expect(throws: NoiseError.decryptionFailed("frame")) { try receiver.decrypt([1, 2, 3]) }   // shorter than a tag
    }

    @Test("the counter never wraps: after nonce 2^32 − 1 the cipher refuses")
    func overflowGuard() throws {
        var cipher = try NoiseCipherState(key: Self.key, nextNonce: UInt32.max)
        _ = try cipher.seal([1])
        #expect(cipher.nextNonce == NoiseCipherState.nonceCount)
        #expect(throws: NoiseError.nonceExhausted) { try cipher.seal([1]) }
        #expect(throws: NoiseError.nonceExhausted) { try cipher.open([UInt8](repeating: 0, count: 17)) }
    }

    @Test("keys must be 32 bytes")
    func keyLength() {
        #expect(throws: NoiseError.invalidKeyLength(what: "AES-GCM key", expected: 32, actual: 16)) {
            try NoiseCipherState(key: [UInt8](repeating: 0, count: 16))
        }
    }

    @Test("the benchmark function runs and reports positive figures")
    func benchmarkRuns() throws {
        let result = try NoiseBenchmark.transportThroughput(frameSize: 1024, frames: 16, clock: ContinuousClock())
        #expect(result.encryptMegabytesPerSecond > 0 && result.decryptMegabytesPerSecond > 0)
        #expect(result.description.hasPrefix("noise transport 1024-byte frames x16: encrypt "))
    }
}
