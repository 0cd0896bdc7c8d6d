import Crypto
import _CryptoExtras

/// PBKDF2 with HMAC-SHA256 (RFC 8018 §5.2). WhatsApp's pairing-code flow derives its wrapping key
/// with 131072 iterations (whatsmeow pair-code.go generateCompanionEphemeralKey), below swift-crypto's 210000-round
/// floor for new password hashes, so this uses the unchecked entry point and validates itself.
public enum PBKDF2 {
    /// Derives `outputByteCount` bytes from `password` and `salt` with `rounds` iterations.
    public static func sha256(password: [UInt8], salt: [UInt8], rounds: Int, outputByteCount: Int) throws -> [UInt8] {
        guard rounds >= 1 else { throw WauseCryptoError.invalidParameter("PBKDF2 rounds must be at least 1, got \(rounds)") }
        guard outputByteCount >= 1 else {
            throw WauseCryptoError.invalidParameter("PBKDF2 output length must be at least 1, got \(outputByteCount)")
        }
        do {
            let key = try KDF.Insecure.PBKDF2.deriveKey(
                from: password, salt: salt, using: .sha256, outputByteCount: outputByteCount,
                unsafeUncheckedRounds: rounds)
            return key.withUnsafeBytes { Array($0) }
        } catch {
            throw WauseCryptoError.primitiveFailure("PBKDF2-SHA256: \(error)")
        }
    }
}
