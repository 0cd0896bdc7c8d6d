import Crypto

/// AES-GCM with a 96-bit nonce and a 128-bit tag, the layout WhatsApp uses for Noise transport
/// frames, pairing-code key bundles and app-state/history blobs: output is `ciphertext ‖ tag`.
public enum AESGCM {
    public static let nonceLength = 12
    public static let tagLength = 16

    /// Encrypts and authenticates; returns `ciphertext ‖ tag` (plaintext length + 16 bytes).
    public static func seal(plaintext: [UInt8], key: [UInt8], nonce: [UInt8], additionalData: [UInt8] = []) throws -> [UInt8] {
        try AESKeyLength.validate(key, "AES-GCM key")
        try WauseCryptoError.requireLength(nonce, nonceLength, "AES-GCM nonce")
        do {
            let box = try Crypto.AES.GCM.seal(
                plaintext, using: SymmetricKey(data: key), nonce: Crypto.AES.GCM.Nonce(data: nonce),
                authenticating: additionalData)
            return Array(box.ciphertext) + Array(box.tag)
        } catch {
            throw WauseCryptoError.primitiveFailure("AES-GCM seal: \(error)")
        }
    }

    /// Verifies the trailing 16-byte tag and decrypts. Throws `.authenticationFailed` if the key,
    /// nonce, additional data or any byte of `ciphertextAndTag` is wrong; no plaintext is released then.
    public static func open(ciphertextAndTag: [UInt8], key: [UInt8], nonce: [UInt8], additionalData: [UInt8] = []) throws -> [UInt8] {
        try AESKeyLength.validate(key, "AES-GCM key")
        try WauseCryptoError.requireLength(nonce, nonceLength, "AES-GCM nonce")
        guard ciphertextAndTag.count >= tagLength else {
            throw WauseCryptoError.invalidLength(
                what: "AES-GCM ciphertext with tag", expected: "at least \(tagLength)", actual: ciphertextAndTag.count)
        }
        let box: Crypto.AES.GCM.SealedBox
        do {
            box = try Crypto.AES.GCM.SealedBox(
                nonce: Crypto.AES.GCM.Nonce(data: nonce),
                ciphertext: ciphertextAndTag.dropLast(tagLength),
                tag: ciphertextAndTag.suffix(tagLength))
        } catch {
            throw WauseCryptoError.primitiveFailure("AES-GCM sealed box: \(error)")
        }
        do {
            return Array(try Crypto.AES.GCM.open(box, using: SymmetricKey(data: key), authenticating: additionalData))
        } catch {
            throw WauseCryptoError.authenticationFailed
        }
    }
}
