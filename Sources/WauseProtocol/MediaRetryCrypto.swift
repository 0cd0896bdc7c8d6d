import WauseCrypto

/// The cipher of the expired-media retry (whatsmeow mediaretry.go getMediaRetryKey,
/// encryptMediaRetryReceipt, DecryptMediaRetryNotification; Baileys messages-media.ts
/// encryptMediaRetryRequest, decryptMediaRetryData): the receiver's `server-error` receipt carries
/// a `ServerErrorReceipt` and the phone's `mediaretry` notification a `MediaRetryNotification`,
/// both AES-256-GCM under a key derived from the message's media key, with a 12-byte random IV
/// and the message id as associated data. This holds the cipher only; the protobuf payloads and
/// the stanzas are built by the callers.
public enum MediaRetryCrypto {
    public static let ivLength = 12
    static let info = Array("WhatsApp Media Retry Notification".utf8)

    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case invalidMediaKey(length: Int)
        case invalidIV(length: Int)
        /// The tag did not verify: another media key, message id or IV, or tampered bytes.
        case cannotOpen

        public var description: String {
            switch self {
            case let .invalidMediaKey(length): "media key must be 32 bytes, got \(length)"
            case let .invalidIV(length): "media retry IV must be 12 bytes, got \(length)"
            case .cannotOpen: "the media retry payload does not decrypt (wrong media key, message id or IV, or tampered)"
            }
        }
    }

    /// HKDF-SHA256(mediaKey, no salt, "WhatsApp Media Retry Notification", 32).
    public static func key(mediaKey: [UInt8]) throws(Failure) -> [UInt8] {
        guard mediaKey.count == MediaKeys.mediaKeyLength else { throw .invalidMediaKey(length: mediaKey.count) }
        // A constant 32-byte output is within HKDF's bound.
        return try! HKDF.sha256(inputKeyMaterial: mediaKey, info: info, outputByteCount: 32)
    }

    /// `enc_p`: ciphertext ‖ 16-byte tag. `iv` (the `enc_iv`) comes from the caller's randomness.
    public static func seal(_ plaintext: [UInt8], mediaKey: [UInt8], messageID: String, iv: [UInt8]) throws(Failure) -> [UInt8] {
        let key = try key(mediaKey: mediaKey)
        guard iv.count == ivLength else { throw .invalidIV(length: iv.count) }
        // Key and nonce lengths were checked; GCM sealing has no other failure.
        return try! AESGCM.seal(plaintext: plaintext, key: key, nonce: iv, additionalData: Array(messageID.utf8))
    }

    public static func open(_ encP: [UInt8], mediaKey: [UInt8], messageID: String, iv: [UInt8]) throws(Failure) -> [UInt8] {
        let key = try key(mediaKey: mediaKey)
        guard iv.count == ivLength else { throw .invalidIV(length: iv.count) }
        do {
            return try AESGCM.open(ciphertextAndTag: encP, key: key, nonce: iv, additionalData: Array(messageID.utf8))
        } catch {
            throw .cannotOpen
        }
    }
}
