import WauseCrypto

// The key schedule of Signal v3 (protocol-messaging.md §1.3; libsignal-protocol-c ratchet.c,
// go.mau.fi/libsignal keys/root, keys/chain, keys/message). All HKDFs are RFC 5869 with SHA-256.

enum KDFInfo {
    /// X3DH master secret → root key ‖ first chain key.
    static let text = Array("WhisperText".utf8)
    /// DH ratchet step: HKDF(DH, salt = root key) → new root key ‖ new chain key.
    static let ratchet = Array("WhisperRatchet".utf8)
    /// Message key seed → cipher key ‖ MAC key ‖ IV.
    static let messageKeys = Array("WhisperMessageKeys".utf8)
}

/// A symmetric chain: `HMAC(key, 0x01)` seeds the message keys of message `index`,
/// `HMAC(key, 0x02)` is the next chain key (libsignal `ChainKey`).
struct ChainKey: Sendable, Equatable {
    static let messageKeySeed: [UInt8] = [0x01]
    static let chainKeySeed: [UInt8] = [0x02]

    var key: [UInt8]
    var index: UInt32

    var next: ChainKey {
        ChainKey(key: HMAC.sha256(key: key, message: Self.chainKeySeed), index: index &+ 1)
    }

    /// Cipher key (32), MAC key (32) and IV (16): HKDF of the seed, no salt, 80 bytes.
    var messageKeys: MessageKeys {
        let seed = HMAC.sha256(key: key, message: Self.messageKeySeed)
        let derived = try! HKDF.sha256(inputKeyMaterial: seed, info: KDFInfo.messageKeys, outputByteCount: 80)  // fixed valid length
        return MessageKeys(cipherKey: Array(derived[0..<32]), macKey: Array(derived[32..<64]),
                           iv: Array(derived[64..<80]), index: index)
    }
}

/// The keys of one message.
struct MessageKeys: Sendable, Equatable {
    var cipherKey: [UInt8]
    var macKey: [UInt8]
    var iv: [UInt8]
    var index: UInt32
}

/// The root of the DH ratchet.
enum RootKey {
    /// One DH ratchet step (libsignal `RootKey.createChain`): HKDF(DH(ours, theirs), salt = root,
    /// "WhisperRatchet", 64) → (new root key, chain key with index 0).
    static func createChain(rootKey: [UInt8], theirRatchetKey: [UInt8], ourRatchetKey: Curve25519KeyPair) throws -> (rootKey: [UInt8], chainKey: ChainKey) {
        let shared: [UInt8]
        do { shared = try ourRatchetKey.sharedSecret(with: theirRatchetKey) } catch { throw SignalError.invalidMessage("ratchet key: \(error)") }
        let derived = try! HKDF.sha256(inputKeyMaterial: shared, salt: rootKey, info: KDFInfo.ratchet, outputByteCount: 64)
        return (Array(derived[0..<32]), ChainKey(key: Array(derived[32..<64]), index: 0))
    }
}
