/// Everything that can go wrong in the crypto layer. Each case names the input that was wrong, so a
/// caller (or the `wause-signal` CLI) can print `description` and the user knows what to fix.
public enum WauseCryptoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A key, nonce, IV, signature or random buffer had the wrong number of bytes.
    case invalidLength(what: String, expected: String, actual: Int)
    /// A 33-byte serialized public key did not start with the djb type byte 0x05.
    case invalidKeyType(found: UInt8)
    /// X25519 produced the all-zero output: the peer's public key is of low order (RFC 7748 §6.1).
    case lowOrderPublicKey
    /// AES-GCM tag (or other authenticator) did not match: ciphertext, key, nonce or AAD is wrong.
    case authenticationFailed
    /// AES-CBC plaintext did not end in valid PKCS#7 padding (wrong key/IV or corrupted data).
    case invalidPadding
    /// A numeric parameter (output length, iteration count) was out of its allowed range.
    case invalidParameter(String)
    /// libsodium could not be initialised or an underlying primitive reported failure.
    case primitiveFailure(String)

    public var description: String {
        switch self {
        case let .invalidLength(what, expected, actual):
            return "\(what) must be \(expected) bytes, got \(actual)"
        case let .invalidKeyType(found):
            let hex = String(found, radix: 16)
            return "serialized public key must start with type byte 0x05, found 0x\(hex.count == 1 ? "0" + hex : hex)"
        case .lowOrderPublicKey:
            return "public key is of low order (X25519 result is all zero)"
        case .authenticationFailed:
            return "authentication failed: tag does not match (wrong key, nonce, data or associated data)"
        case .invalidPadding:
            return "invalid PKCS#7 padding (wrong key or IV, or corrupted ciphertext)"
        case let .invalidParameter(message):
            return message
        case let .primitiveFailure(message):
            return "crypto primitive failed: \(message)"
        }
    }
}

extension WauseCryptoError {
    static func requireLength(_ bytes: [UInt8], _ expected: Int, _ what: String) throws {
        guard bytes.count == expected else {
            throw WauseCryptoError.invalidLength(what: what, expected: String(expected), actual: bytes.count)
        }
    }
}
