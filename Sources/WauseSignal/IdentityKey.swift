import WauseCrypto

/// A peer's (or our own) long-term identity public key: a Curve25519 key, 32 bytes raw, written
/// `0x05 ‖ key` inside Signal messages and records (go.mau.fi/libsignal ecc/Curve.go DjbType).
public struct IdentityKey: Hashable, Sendable, CustomStringConvertible {
    /// The raw 32-byte Montgomery public key.
    public var publicKey: [UInt8] { Array(serialized.dropFirst()) }
    /// `0x05 ‖ key`, what libsignal signs, MACs and stores (kept in this form: every message MACs it).
    public let serialized: [UInt8]

    /// From a raw 32-byte key or the 33-byte `0x05`-prefixed form.
    public init(_ bytes: [UInt8]) throws(SignalError) {
        do {
            serialized = DjbPublicKey.serialize(try DjbPublicKey.parseRawOrSerialized(bytes))
        } catch {
            throw .invalidMessage("identity key: \(error)")
        }
    }

    init(validated publicKey: [UInt8]) {
        serialized = DjbPublicKey.serialize(publicKey)
    }

    public var description: String { "IdentityKey(\(Hex.encode(serialized)))" }
}

extension Curve25519KeyPair {
    /// The public half as an identity key.
    public var identityKey: IdentityKey { IdentityKey(validated: publicKey) }
}

/// Randomness for key generation and message ratchets. Production passes `SystemRandom.bytes`;
/// tests a seeded generator. Must return exactly the number of bytes asked for.
public typealias SignalRandom = @Sendable (Int) -> [UInt8]
