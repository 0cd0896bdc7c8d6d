/// One-shot media encryption for blobs small enough to hold in memory (thumbnails, history-sync
/// and app-state blobs, the simulator's phones): the same bytes and checks as `MediaEncryptor` and
/// `MediaDecryptor`, which it runs over the whole input.
public enum MediaCrypto {
    /// The truncated HMAC-SHA256 that ends every media body (whatsmeow download.go mediaHMACLength).
    public static let macLength = 10

    /// An encrypted blob: the upload body and what the message says about it.
    public struct Encrypted: Sendable, Equatable {
        /// ciphertext ‖ MAC, as uploaded.
        public let body: [UInt8]
        public let result: MediaEncryptionResult
    }

    /// Bytes of the upload body for a plaintext of `plaintextLength` bytes: PKCS#7 always adds
    /// 1 to 16 bytes, then the MAC.
    public static func encryptedLength(plaintextLength: UInt64) -> UInt64 {
        (plaintextLength / 16 + 1) * 16 + UInt64(macLength)
    }

    public static func encrypt(_ plaintext: [UInt8], keys: MediaKeys) -> Encrypted {
        var encryptor = MediaEncryptor(keys: keys)
        var body: [UInt8] = []
        body.reserveCapacity(Int(encryptedLength(plaintextLength: UInt64(plaintext.count))))
        encryptor.update(plaintext, appendingTo: &body)
        let result = encryptor.finish(appendingTo: &body)
        return Encrypted(body: body, result: result)
    }

    public static func encrypt(_ plaintext: [UInt8], mediaKey: [UInt8], type: MediaType) throws(MediaCryptoError) -> Encrypted {
        encrypt(plaintext, keys: try MediaKeys(mediaKey: mediaKey, type: type))
    }

    /// Verifies and decrypts a whole body (see `MediaDecryptor` for the checks and their order).
    public static func decrypt(
        _ body: [UInt8], keys: MediaKeys, fileEncSha256: [UInt8], fileSha256: [UInt8]?
    ) throws(MediaCryptoError) -> [UInt8] {
        var decryptor = MediaDecryptor(keys: keys)
        var plaintext: [UInt8] = []
        plaintext.reserveCapacity(body.count)
        decryptor.update(body, appendingTo: &plaintext)
        _ = try decryptor.finish(expectedFileEncSha256: fileEncSha256, expectedFileSha256: fileSha256, appendingTo: &plaintext)
        return plaintext
    }

    public static func decrypt(
        _ body: [UInt8], mediaKey: [UInt8], type: MediaType, fileEncSha256: [UInt8], fileSha256: [UInt8]?
    ) throws(MediaCryptoError) -> [UInt8] {
        try decrypt(body, keys: try MediaKeys(mediaKey: mediaKey, type: type), fileEncSha256: fileEncSha256, fileSha256: fileSha256)
    }
}
