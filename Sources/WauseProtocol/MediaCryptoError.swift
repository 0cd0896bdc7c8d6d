/// Why a media key could not be expanded or a downloaded media file was refused. Each check of
/// whatsmeow download.go (downloadAndDecrypt, validateMedia) has its own case, so a caller can
/// log which one failed; on any of them it deletes what it wrote (the plaintext a `MediaDecryptor`
/// produced before `finish` is unverified).
public enum MediaCryptoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The media key is not 32 bytes (a message from a remote party carried something else).
    case invalidMediaKey(length: Int)
    /// An expected hash given to `finish` is not 32 bytes.
    case invalidExpectedHash(what: String, length: Int)
    /// SHA-256 of the downloaded bytes (ciphertext ‖ MAC) is not the message's `fileEncSha256`.
    case encSha256Mismatch
    /// The body cannot be AES-CBC ciphertext plus a 10-byte MAC: shorter than 26 bytes, or its
    /// ciphertext part is not whole 16-byte blocks.
    case invalidLength(Int)
    /// HMAC-SHA256(macKey, iv ‖ ciphertext)[0:10] is not the trailing MAC.
    case macMismatch
    /// The last block does not end in PKCS#7 padding.
    case invalidPadding
    /// SHA-256 of the decrypted plaintext is not the message's `fileSha256`.
    case sha256Mismatch

    /// A short stable name for logs and error details.
    public var code: String {
        switch self {
        case .invalidMediaKey: "invalid_media_key"
        case .invalidExpectedHash: "invalid_expected_hash"
        case .encSha256Mismatch: "enc_sha256_mismatch"
        case .invalidLength: "invalid_length"
        case .macMismatch: "mac_mismatch"
        case .invalidPadding: "invalid_padding"
        case .sha256Mismatch: "sha256_mismatch"
        }
    }

    public var description: String {
        switch self {
        case let .invalidMediaKey(length): "media key must be 32 bytes, got \(length)"
        case let .invalidExpectedHash(what, length): "\(what) must be 32 bytes, got \(length)"
        case .encSha256Mismatch: "the downloaded file's SHA-256 does not match fileEncSha256"
        case let .invalidLength(length):
            "a media body is AES-CBC blocks plus a 10-byte MAC (at least 26 bytes, length ≡ 10 mod 16), got \(length) bytes"
        case .macMismatch: "the media MAC does not match (wrong media key or tampered file)"
        case .invalidPadding: "the decrypted media does not end in valid PKCS#7 padding"
        case .sha256Mismatch: "the decrypted file's SHA-256 does not match fileSha256"
        }
    }
}
