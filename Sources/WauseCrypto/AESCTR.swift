import Crypto
import _CryptoExtras

/// AES-CTR with a full 16-byte initial counter block incremented as one 128-bit big-endian number
/// (NIST SP 800-38A §B.1). WhatsApp's pairing-code flow wraps the companion's ephemeral key with
/// AES-256-CTR (whatsmeow pair-code.go generateCompanionEphemeralKey). Encryption and decryption are the same operation.
public enum AESCTR {
    public static let counterBlockLength = 16

    /// XORs `data` with the AES keystream starting at `counterBlock`.
    public static func encrypt(_ data: [UInt8], key: [UInt8], counterBlock: [UInt8]) throws -> [UInt8] {
        try AESKeyLength.validate(key, "AES-CTR key")
        try WauseCryptoError.requireLength(counterBlock, counterBlockLength, "AES-CTR counter block")
        do {
            return Array(try AES._CTR.encrypt(data, using: SymmetricKey(data: key), nonce: AES._CTR.Nonce(nonceBytes: counterBlock)))
        } catch {
            throw WauseCryptoError.primitiveFailure("AES-CTR: \(error)")
        }
    }

    /// Identical to `encrypt`; provided so call sites read as what they do.
    public static func decrypt(_ data: [UInt8], key: [UInt8], counterBlock: [UInt8]) throws -> [UInt8] {
        try encrypt(data, key: key, counterBlock: counterBlock)
    }
}
