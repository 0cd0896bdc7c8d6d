import CSodium

/// An X25519 key pair as libsignal and WhatsApp use it: a clamped 32-byte private scalar and the
/// 32-byte Montgomery u-coordinate of its public point. The same pair signs with `XEdDSA`.
public struct Curve25519KeyPair: Sendable, Equatable {
    /// The clamped private scalar (32 bytes).
    public let privateKey: [UInt8]
    /// The raw Montgomery public key (32 bytes), as sent in XMPP-ish nodes.
    public let publicKey: [UInt8]

    public static let keyLength = 32

    /// Builds the pair from a private key, clamping it first (libsignal `Curve.go`, whatsmeow
    /// `NewKeyPair`: `priv[0] &= 248; priv[31] &= 127; priv[31] |= 64`), so the stored private key
    /// is exactly the scalar X25519 and XEdDSA use.
    public init(privateKey: [UInt8]) throws {
        try WauseCryptoError.requireLength(privateKey, Self.keyLength, "Curve25519 private key")
        try Sodium.ensureInitialized()
        let clamped = Self.clamp(privateKey)
        var publicKey = [UInt8](repeating: 0, count: Self.keyLength)
        let status = crypto_scalarmult_base(&publicKey, clamped)
        guard status == 0 else { throw WauseCryptoError.primitiveFailure("crypto_scalarmult_base") }
        self.privateKey = clamped
        self.publicKey = publicKey
    }

    /// A fresh pair from 32 bytes of `random` (pass `SystemRandom.bytes` in production).
    /// The generator must return exactly the number of bytes asked for.
    public static func generate(random: (Int) -> [UInt8]) -> Curve25519KeyPair {
        let seed = random(keyLength)
        precondition(seed.count == keyLength, "random generator returned \(seed.count) bytes, expected \(keyLength)")
        // Cannot fail: the length is right and clamped scalars never give the identity point.
        return try! Curve25519KeyPair(privateKey: seed)
    }

    /// X25519(ourPrivate, theirPublic). Rejects a public key of the wrong length and the all-zero
    /// result that a low-order public key produces (RFC 7748 §6.1), as libsodium reports it.
    public func sharedSecret(with publicKey: [UInt8]) throws -> [UInt8] {
        try WauseCryptoError.requireLength(publicKey, Self.keyLength, "Curve25519 public key")
        try Sodium.ensureInitialized()
        var shared = [UInt8](repeating: 0, count: Self.keyLength)
        guard crypto_scalarmult(&shared, privateKey, publicKey) == 0 else {
            throw WauseCryptoError.lowOrderPublicKey
        }
        return shared
    }

    /// The 33-byte `0x05‖pub` form used inside Signal protobufs and signed for signed prekeys.
    public var serializedPublicKey: [UInt8] { DjbPublicKey.serialize(publicKey) }

    /// Curve25519 clamping: clear the 3 low bits (cofactor 8), clear bit 255, set bit 254.
    public static func clamp(_ privateKey: [UInt8]) -> [UInt8] {
        precondition(privateKey.count == keyLength, "clamp expects a 32-byte private key")
        var clamped = privateKey
        clamped[0] &= 248
        clamped[31] &= 127
        clamped[31] |= 64
        return clamped
    }
}

/// The "djb type" serialization of a Curve25519 public key: `0x05 ‖ pub32` (libsignal
/// `ecc.DjbType = 0x05`; `DecodePoint` rejects any other first byte).
public enum DjbPublicKey {
    public static let typeByte: UInt8 = 0x05
    public static let serializedLength = 33

    /// Prefixes a 32-byte public key with the type byte.
    public static func serialize(_ publicKey: [UInt8]) -> [UInt8] {
        precondition(publicKey.count == Curve25519KeyPair.keyLength, "a Curve25519 public key is 32 bytes")
        return [typeByte] + publicKey
    }

    /// Parses exactly 33 bytes `0x05 ‖ pub32` and returns the 32-byte key.
    public static func parse(_ serialized: [UInt8]) throws -> [UInt8] {
        try WauseCryptoError.requireLength(serialized, serializedLength, "serialized public key")
        guard serialized[0] == typeByte else { throw WauseCryptoError.invalidKeyType(found: serialized[0]) }
        return Array(serialized[1...])
    }

    /// Accepts either a raw 32-byte key or the 33-byte `0x05`-prefixed form (what WhatsApp sends
    /// depends on the context: raw in XMPP nodes, prefixed in protobufs) and returns the raw key.
    public static func parseRawOrSerialized(_ bytes: [UInt8]) throws -> [UInt8] {
        switch bytes.count {
        case Curve25519KeyPair.keyLength: return bytes
        case serializedLength: return try parse(bytes)
        default:
            throw WauseCryptoError.invalidLength(what: "public key", expected: "32 or 33 (0x05-prefixed)", actual: bytes.count)
        }
    }
}

extension Curve25519KeyPair: CustomStringConvertible, CustomDebugStringConvertible {
    /// Shows only the public key, so a key pair that ends up in a log or a test failure message
    /// does not leak its private half.
    public var description: String { "Curve25519KeyPair(public: \(Hex.encode(publicKey)))" }
    public var debugDescription: String { description }
}

extension Curve25519KeyPair {
    /// Whether `publicKey` is the u-coordinate of a point in Curve25519's prime-order subgroup —
    /// true of every honestly generated public key (`clamp(priv)·B`), false for ~15/16 of random
    /// 32-byte strings (half are on the twist, and of the rest 7/8 carry a small-order component).
    /// A linking phone uses it to tell that a pairing code could not have opened the companion's
    /// wrapped key. Checked on the birationally equivalent Edwards point (libsodium's
    /// `crypto_core_ed25519_is_valid_point` rejects points off the main subgroup).
    public static func isPrimeOrderPublicKey(_ publicKey: [UInt8]) -> Bool {
        guard publicKey.count == keyLength, publicKey[31] & 0x80 == 0, isCanonical(publicKey),
            (try? Sodium.ensureInitialized()) != nil
        else { return false }
        let edwards = XEdDSA.edwardsY(fromMontgomeryU: publicKey)
        return crypto_core_ed25519_is_valid_point(edwards) == 1
    }

    /// u < p = 2^255 − 19 (little-endian): an honest key is always reduced.
    private static func isCanonical(_ u: [UInt8]) -> Bool {
        // p = ED FF … FF 7F (little-endian): u ≥ p only if bytes 1…30 are all FF, byte 31 is 7F and byte 0 ≥ ED.
        guard u[31] == 0x7F, u[1...30].allSatisfy({ $0 == 0xFF }) else { return true }
        return u[0] < 0xED
    }
}
