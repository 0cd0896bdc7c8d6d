import Crypto
import _CryptoExtras

/// AES-CBC with PKCS#7 padding: the Signal payload cipher (libsignal `cipher/Cbc.go`, AES-256) and
/// WhatsApp media encryption.
public enum AESCBC {
    public static let blockLength = 16

    /// Pads with PKCS#7 (always at least one byte, so a block-aligned plaintext gains a full block)
    /// and encrypts.
    public static func encrypt(plaintext: [UInt8], key: [UInt8], iv: [UInt8]) throws -> [UInt8] {
        try AESKeyLength.validate(key, "AES-CBC key")
        try WauseCryptoError.requireLength(iv, blockLength, "AES-CBC IV")
        do {
            return Array(try AES._CBC.encrypt(plaintext, using: SymmetricKey(data: key), iv: AES._CBC.IV(ivBytes: iv)))
        } catch {
            throw WauseCryptoError.primitiveFailure("AES-CBC encrypt: \(error)")
        }
    }

    /// Decrypts and strips PKCS#7 padding. CBC has no authenticator: callers check a MAC first
    /// (Signal and media both do), and a wrong key usually surfaces here as `.invalidPadding`.
    public static func decrypt(ciphertext: [UInt8], key: [UInt8], iv: [UInt8]) throws -> [UInt8] {
        try AESKeyLength.validate(key, "AES-CBC key")
        try WauseCryptoError.requireLength(iv, blockLength, "AES-CBC IV")
        guard !ciphertext.isEmpty, ciphertext.count % blockLength == 0 else {
            throw WauseCryptoError.invalidLength(
                what: "AES-CBC ciphertext", expected: "a non-zero multiple of \(blockLength)", actual: ciphertext.count)
        }
        do {
            return Array(try AES._CBC.decrypt(ciphertext, using: SymmetricKey(data: key), iv: AES._CBC.IV(ivBytes: iv)))
        } catch {
            throw WauseCryptoError.invalidPadding
        }
    }
}
