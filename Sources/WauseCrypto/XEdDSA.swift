import CSodium
import Crypto

/// Curve25519 signatures exactly as libsignal computes them (`curve25519_sign` / `curve25519_verify`
/// in libsignal-protocol-c `curve_sigs.c`; go.mau.fi/libsignal `ecc/SignCurve25519.go`), which is
/// what WhatsApp uses for signed prekeys, sender-key messages, ADV device identities and the Noise
/// server certificate chain (whatsmeow handshake.go verifyServerCert, pair.go handlePair).
///
/// This is the *original* libsignal scheme, not the later "XEdDSA" paper's variant: the X25519 private
/// scalar `a` is used directly as the Ed25519 scalar — it is never negated — and the sign bit of the
/// Edwards public key `A = a·B` travels in the otherwise unused top bit of `S` (`sig[63]`). A verifier
/// that forces the sign bit to 0 (strict XEdDSA) rejects about half of these signatures.
public enum XEdDSA {
    public static let signatureLength = 64
    public static let randomLength = 64

    /// Signs `message` with a Curve25519 private key.
    ///
    /// - Parameters:
    ///   - privateKey: 32 bytes; clamped here first, so the scalar is the one X25519 uses and the
    ///     signature verifies against `Curve25519KeyPair(privateKey:).publicKey`.
    ///   - random: 64 fresh random bytes (`SystemRandom.bytes(64)`); mixed into the nonce hash.
    /// - Returns: `R ‖ S` (64 bytes) with the Edwards sign bit in the top bit of byte 63.
    public static func sign(message: [UInt8], privateKey: [UInt8], random: [UInt8]) throws -> [UInt8] {
        try SigningKey(privateKey: privateKey).signature(for: message, random: random)
    }

    /// Verifies a libsignal curve25519 signature.
    ///
    /// - Parameters:
    ///   - signature: 64 bytes `R ‖ S` with A's sign bit in the top bit of byte 63.
    ///   - publicKey: the Montgomery u-coordinate, 32 bytes (a 33-byte `0x05 ‖ u` key is also accepted).
    /// - Returns: `false` for any malformed input or failed check; never throws.
    public static func verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard let key = try? VerifyingKey(publicKey: publicKey) else { return false }
        return key.isValidSignature(signature, for: message)
    }

    /// A private key prepared for signing many messages (a sender key signs every group message):
    /// the clamped scalar, its reduction mod L and the sign bit of A = a·B are computed once, so
    /// each signature costs one base-point multiplication (R) instead of two.
    public struct SigningKey: Sendable {
        private let scalar: [UInt8]
        private let reducedScalar: [UInt8]
        private let edwardsPublic: [UInt8]

        /// - Parameter privateKey: 32 bytes, clamped here first.
        public init(privateKey: [UInt8]) throws {
            try WauseCryptoError.requireLength(privateKey, Curve25519KeyPair.keyLength, "XEdDSA private key")
            try Sodium.ensureInitialized()
            let scalar = Curve25519KeyPair.clamp(privateKey)
            // A = a·B on Edwards25519. A clamped scalar has bit 255 clear, so libsodium's noclamp
            // base multiplication uses it unchanged.
            var edwardsPublic = [UInt8](repeating: 0, count: 32)
            guard crypto_scalarmult_ed25519_base_noclamp(&edwardsPublic, scalar) == 0 else {
                throw WauseCryptoError.primitiveFailure("Edwards public key from private scalar")
            }
            self.scalar = scalar
            // Reducing a first does not change S = r + h·a mod L.
            reducedScalar = XEdDSA.reduceModL(scalar + [UInt8](repeating: 0, count: 32))
            self.edwardsPublic = edwardsPublic
        }

        /// `R ‖ S` (64 bytes) with the Edwards sign bit in the top bit of byte 63.
        /// - Parameter random: 64 fresh random bytes, mixed into the nonce hash.
        public func signature(for message: [UInt8], random: [UInt8]) throws -> [UInt8] {
            try WauseCryptoError.requireLength(random, randomLength, "XEdDSA random")
            // r = SHA-512(0xFE ‖ 0xFF×31 ‖ a ‖ M ‖ Z) mod L. The 0xFE/0xFF prefix separates this hash
            // from every other SHA-512 use of the key (libsignal `crypto_sign_modified`).
            var nonceHasher = Crypto.SHA512()
            XEdDSA.noncePrefix.withUnsafeBytes { nonceHasher.update(bufferPointer: $0) }
            scalar.withUnsafeBytes { nonceHasher.update(bufferPointer: $0) }
            message.withUnsafeBytes { nonceHasher.update(bufferPointer: $0) }
            random.withUnsafeBytes { nonceHasher.update(bufferPointer: $0) }
            var nonce = nonceHasher.finalize().withUnsafeBytes { XEdDSA.reduceModL($0) }
            defer { sodium_memzero(&nonce, nonce.count) }

            // R = r·B, written straight into the signature's first half.
            var signature = [UInt8](repeating: 0, count: signatureLength)
            let status = signature.withUnsafeMutableBufferPointer { crypto_scalarmult_ed25519_base_noclamp($0.baseAddress!, nonce) }
            guard status == 0 else {
                // Only when r ≡ 0 mod L, probability 2^-252; a different `random` fixes it.
                throw WauseCryptoError.primitiveFailure("signature nonce reduced to zero")
            }

            // h = SHA-512(R ‖ A ‖ M) mod L, as in standard Ed25519 with A including its sign bit.
            var challengeHasher = Crypto.SHA512()
            signature.withUnsafeBytes { challengeHasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<32])) }
            edwardsPublic.withUnsafeBytes { challengeHasher.update(bufferPointer: $0) }
            message.withUnsafeBytes { challengeHasher.update(bufferPointer: $0) }
            let challenge = challengeHasher.finalize().withUnsafeBytes { XEdDSA.reduceModL($0) }

            // S = r + h·a mod L.
            var product = [UInt8](repeating: 0, count: 32)
            crypto_core_ed25519_scalar_mul(&product, challenge, reducedScalar)
            signature.withUnsafeMutableBufferPointer { crypto_core_ed25519_scalar_add($0.baseAddress! + 32, product, nonce) }
            sodium_memzero(&product, product.count)

            // S < L < 2^253, so its top bit is free to carry A's sign bit.
            signature[63] = (signature[63] & 0x7F) | (edwardsPublic[31] & 0x80)
            return signature
        }
    }

    /// A public key prepared for verifying many signatures (every group message from one
    /// sender): the Montgomery → Edwards conversion, a field inversion, is done once.
    public struct VerifyingKey: Sendable, Equatable {
        /// The Edwards y-coordinate with bit 255 clear; each signature supplies the sign bit.
        private let edwardsY: [UInt8]

        /// - Parameter publicKey: the Montgomery u-coordinate, 32 bytes, or the 33-byte `0x05 ‖ u` form.
        public init(publicKey: [UInt8]) throws {
            let montgomery = try DjbPublicKey.parseRawOrSerialized(publicKey)
            try Sodium.ensureInitialized()
            edwardsY = XEdDSA.edwardsY(fromMontgomeryU: montgomery)
        }

        /// Whether `signature` (64 bytes, A's sign bit in the top bit of byte 63) signs `message`.
        /// False for any malformed input.
        public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
            guard signature.count == signatureLength else { return false }
            var edwardsPublic = edwardsY
            edwardsPublic[31] |= signature[63] & 0x80
            var strippedSignature = signature
            strippedSignature[63] &= 0x7F
            return crypto_sign_verify_detached(strippedSignature, message, UInt64(message.count), edwardsPublic) == 0
        }
    }

    private static let noncePrefix: [UInt8] = [0xFE] + [UInt8](repeating: 0xFF, count: 31)

    /// y = (u − 1)/(u + 1) mod p, encoded canonically with bit 255 clear. As in libsignal, the top bit
    /// of u is ignored, u ≥ p is taken mod p, and u = −1 (no inverse) maps to y = 0.
    static func edwardsY(fromMontgomeryU u: [UInt8]) -> [UInt8] {
        var unsignedU = u
        unsignedU[31] &= 0x7F
        let x = FieldElement25519(littleEndianBytes: unsignedU)
        let y = (x - .one) * (x + .one).inverted()
        return y.canonicalBytes
    }

    /// Reduces a 64-byte little-endian number modulo the group order L.
    private static func reduceModL(_ wide: [UInt8]) -> [UInt8] {
        wide.withUnsafeBytes { reduceModL($0) }
    }

    private static func reduceModL(_ wide: UnsafeRawBufferPointer) -> [UInt8] {
        precondition(wide.count == 64)
        var reduced = [UInt8](repeating: 0, count: 32)
        crypto_core_ed25519_scalar_reduce(&reduced, wide.bindMemory(to: UInt8.self).baseAddress!)
        return reduced
    }
}
