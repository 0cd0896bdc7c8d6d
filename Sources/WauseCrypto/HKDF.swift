import Crypto

/// HKDF with SHA-256 (RFC 5869): every WhatsApp key schedule (Noise MixKey, X3DH "WhisperText",
/// ratchet "WhisperRatchet", message keys "WhisperMessageKeys", media keys, ADV secret).
public enum HKDF {
    /// RFC 5869 §2.3 limits the output to 255 hash blocks.
    public static let maximumOutputByteCount = 255 * 32

    /// Extract-then-expand. An empty `salt` means "no salt" and is, per RFC 5869 §2.2, the same as
    /// 32 zero bytes (libsignal passes 32 zero bytes explicitly; both give the same output).
    public static func sha256(inputKeyMaterial: [UInt8], salt: [UInt8] = [], info: [UInt8] = [], outputByteCount: Int) throws -> [UInt8] {
        guard (1...maximumOutputByteCount).contains(outputByteCount) else {
            throw WauseCryptoError.invalidParameter("HKDF output length must be 1...\(maximumOutputByteCount), got \(outputByteCount)")
        }
        let key = Crypto.HKDF<Crypto.SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: inputKeyMaterial), salt: salt, info: info,
            outputByteCount: outputByteCount)
        return key.withUnsafeBytes { Array($0) }
    }
}
