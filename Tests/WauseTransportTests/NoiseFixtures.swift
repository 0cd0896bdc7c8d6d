import WauseCrypto
import WauseTransport

/// Fixed keys and helpers shared by the Noise, certificate and frame tests. Names are prefixed
/// (`NoiseFixtures`) so other test files in this target can keep their own helpers.
enum NoiseFixtures {
    /// Decodes hex that the test itself wrote; a typo is a test bug, so it traps.
    static func bytes(_ hex: String) -> [UInt8] {
        guard let decoded = Hex.decode(hex) else { fatalError("bad hex in test: \(hex)") }
        return decoded
    }

    /// 32 bytes `start, start+step, …` — distinct, readable private keys.
    static func key(_ start: UInt8, step: UInt8 = 1) -> [UInt8] {
        (0..<32).map { start &+ UInt8($0) &* step }
    }

    static let clientStatic = try! Curve25519KeyPair(privateKey: key(0x10))
    static let clientEphemeral = try! Curve25519KeyPair(privateKey: key(0x30))
    static let serverStatic = try! Curve25519KeyPair(privateKey: key(0x50))
    static let serverEphemeral = try! Curve25519KeyPair(privateKey: key(0x70))
    static let rootPrivate = key(0x90)
    static let intermediatePrivate = key(0xb0)

    static let now: UInt64 = 1_700_000_000
    static let notBefore: UInt64 = 1_600_000_000
    static let notAfter: UInt64 = 2_000_000_000

    /// XEdDSA randomness that is the same every run.
    static let fixedRandom: @Sendable (Int) -> [UInt8] = { count in [UInt8](repeating: 0, count: count) }

    static func issuer(intermediateSerial: UInt32 = 1) throws -> ServerCertificateIssuer {
        try ServerCertificateIssuer(rootPrivateKey: rootPrivate, intermediatePrivateKey: intermediatePrivate,
                                    intermediateSerial: intermediateSerial, notBefore: notBefore, notAfter: notAfter,
                                    random: fixedRandom)
    }

    static func chain(for serverStaticKey: [UInt8] = serverStatic.publicKey) throws -> [UInt8] {
        try issuer().issueChain(serverStaticKey: serverStaticKey, notBefore: notBefore, notAfter: notAfter, random: fixedRandom)
    }

    static func verifier() throws -> ServerCertificateVerifier {
        ServerCertificateVerifier(rootPublicKey: try issuer().rootPublicKey)
    }

}
