import WauseSupport
import Testing
import WauseCrypto

@Suite("Curve25519 key pairs and X25519")
struct Curve25519KeyPairTests {
    /// libsignal-protocol-c `tests/test_curve25519.c` test_curve25519_agreement (signalapp/libsignal-protocol-c).
    private let alicePrivate = hex("c806439dc9d2c476ffed8f2580c0888d58ab406bf7ae3698879021b96bb4bf59")
    private let aliceSerialized = hex("051bb75966f2e93a3691dfff942bb2a466a1c08b8d78ca3f4d6df8b8bfa2e4ee28")
    private let bobPrivate = hex("b03b34c33a1c44f225b662d2bf4859b8135411fa7b0386d45fb75dc5b91b4466")
    private let bobSerialized = hex("05653614993d2b15ee9e5fd3d86ce719ef4ec1daae1886a87b3f5fa9565a27a22f")
    private let shared = hex("325f239328941ced6e673b86ba41017448e99b649a9c3806c1dd7ca4c477e629")

    @Test("libsignal agreement vector: public keys, serialization and shared secret both ways")
    func agreementVector() throws {
        let alice = try Curve25519KeyPair(privateKey: alicePrivate)
        let bob = try Curve25519KeyPair(privateKey: bobPrivate)
        #expect(alice.serializedPublicKey == aliceSerialized)
        #expect(bob.serializedPublicKey == bobSerialized)
        #expect(try alice.sharedSecret(with: bob.publicKey) == shared)
        #expect(try bob.sharedSecret(with: DjbPublicKey.parse(aliceSerialized)) == shared)
    }

    @Test("RFC 7748 §6.1 X25519 example")
    func rfc7748() throws {
        let alice = try Curve25519KeyPair(privateKey: hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
        let bob = try Curve25519KeyPair(privateKey: hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"))
        #expect(alice.publicKey == hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"))
        #expect(bob.publicKey == hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"))
        let expected = hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
        #expect(try alice.sharedSecret(with: bob.publicKey) == expected)
        #expect(try bob.sharedSecret(with: alice.publicKey) == expected)
    }

    @Test("private keys are clamped as libsignal does, and clamping is idempotent")
    func clamping() throws {
        let pair = try Curve25519KeyPair(privateKey: [UInt8](repeating: 0xFF, count: 32))
        #expect(pair.privateKey[0] == 0xF8)
        #expect(pair.privateKey[31] == 0x7F)
        #expect(pair.privateKey[1...30].allSatisfy { $0 == 0xFF })
        #expect(try Curve25519KeyPair(privateKey: pair.privateKey) == pair)
        let zero = try Curve25519KeyPair(privateKey: [UInt8](repeating: 0, count: 32))
        #expect(zero.privateKey[31] == 0x40)
    }

    @Test("generate draws 32 bytes from the injected generator and is deterministic")
    func generateIsDeterministic() {
        var first = SplitMix64(seed: 42)
        var second = SplitMix64(seed: 42)
        var requested: [Int] = []
        let a = Curve25519KeyPair.generate { count in requested.append(count); return first.bytes(count) }
        let b = Curve25519KeyPair.generate { second.bytes($0) }
        #expect(a == b)
        #expect(requested == [32])
        #expect(a.publicKey.count == 32 && a.serializedPublicKey.count == 33)
    }

    @Test("shared secrets agree for many deterministic pairs")
    func agreementRoundTrips() throws {
        var random = SplitMix64(seed: 7)
        for _ in 0..<100 {
            let a = Curve25519KeyPair.generate { random.bytes($0) }
            let b = Curve25519KeyPair.generate { random.bytes($0) }
            #expect(try a.sharedSecret(with: b.publicKey) == b.sharedSecret(with: a.publicKey))
        }
    }

    @Test("low-order public keys (all-zero X25519 output) are rejected", arguments: [
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ])
    func lowOrderPoints(_ publicKey: String) throws {
        let pair = try Curve25519KeyPair(privateKey: alicePrivate)
        #expect(throws: WauseCryptoError.lowOrderPublicKey) { try pair.sharedSecret(with: hex(publicKey)) }
    }

    @Test("wrong lengths are typed errors")
    func wrongLengths() throws {
        #expect(throws: WauseCryptoError.invalidLength(what: "Curve25519 private key", expected: "32", actual: 33)) {
            try Curve25519KeyPair(privateKey: [UInt8](repeating: 1, count: 33))
        }
        let pair = try Curve25519KeyPair(privateKey: alicePrivate)
        #expect(throws: WauseCryptoError.invalidLength(what: "Curve25519 public key", expected: "32", actual: 33)) {
            try pair.sharedSecret(with: bobSerialized)
        }
    }

    @Test("djb serialization: 0x05 prefix, strict parse, raw-or-serialized parse")
    func djbSerialization() throws {
        let raw = Array(bobSerialized.dropFirst())
        #expect(DjbPublicKey.serialize(raw) == bobSerialized)
        #expect(try DjbPublicKey.parse(bobSerialized) == raw)
        #expect(try DjbPublicKey.parseRawOrSerialized(raw) == raw)
        #expect(try DjbPublicKey.parseRawOrSerialized(bobSerialized) == raw)
        var wrongType = bobSerialized
        wrongType[0] = 0x04
        #expect(throws: WauseCryptoError.invalidKeyType(found: 0x04)) { try DjbPublicKey.parse(wrongType) }
        #expect(throws: WauseCryptoError.self) { try DjbPublicKey.parse(raw) }
        #expect(throws: WauseCryptoError.self) { try DjbPublicKey.parseRawOrSerialized(raw + [0, 0]) }
        #expect(WauseCryptoError.invalidKeyType(found: 0x04).description.contains("0x04"))
    }

    @Test("system randomness yields distinct keys")
    func systemRandom() {
        let a = Curve25519KeyPair.generate(random: SystemRandom.bytes)
        let b = Curve25519KeyPair.generate(random: SystemRandom.bytes)
        #expect(a != b)
        #expect(SystemRandom.bytes(0).isEmpty)
        #expect(SystemRandom.bytes(100).count == 100)
    }
}
