import CSodium
import WauseCrypto

// The key schedule of Signal v3 (libsignal-protocol-c ratchet.c,
// go.mau.fi/libsignal keys/root, keys/chain, keys/message). All HKDFs are RFC 5869 with SHA-256.

enum KDFInfo {
    /// X3DH master secret → root key ‖ first chain key.
    static let text = Array("WhisperText".utf8)
    /// DH ratchet step: HKDF(DH, salt = root key) → new root key ‖ new chain key.
    static let ratchet = Array("WhisperRatchet".utf8)
    /// Message key seed → cipher key ‖ MAC key ‖ IV.
    static let messageKeys = Array("WhisperMessageKeys".utf8)
    /// Sender-key message seed → IV ‖ cipher key (go.mau.fi/libsignal groups/ratchet/SenderMessageKey.go).
    static let group = Array("WhisperGroup".utf8)
}

/// A symmetric chain: `HMAC(key, 0x01)` seeds the message keys of message `index`,
/// `HMAC(key, 0x02)` is the next chain key (libsignal `ChainKey`).
struct ChainKey: Sendable, Equatable {
    static let messageKeySeed: [UInt8] = [0x01]
    static let chainKeySeed: [UInt8] = [0x02]

    var key: [UInt8]
    var index: UInt32

    var next: ChainKey { advanced(with: SignalHMAC(key: key)) }

    /// Cipher key (32), MAC key (32) and IV (16): HKDF of the seed, no salt, 80 bytes.
    var messageKeys: MessageKeys { messageKeys(with: SignalHMAC(key: key)) }

    /// This message's keys and the next chain key, sharing one HMAC key schedule.
    var messageKeysAndNext: (keys: MessageKeys, next: ChainKey) {
        let hmac = SignalHMAC(key: key)
        return (messageKeys(with: hmac), advanced(with: hmac))
    }

    private func advanced(with hmac: SignalHMAC) -> ChainKey {
        ChainKey(key: hmac.authenticate(Self.chainKeySeed), index: index &+ 1)
    }

    private func messageKeys(with hmac: SignalHMAC) -> MessageKeys {
        let derived = SignalKDF.hkdf(inputKeyMaterial: hmac.authenticate(Self.messageKeySeed), info: KDFInfo.messageKeys, outputByteCount: 80)
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

/// Our current ratchet key pair. Unlike `Curve25519KeyPair` it is rebuilt from a stored record
/// without recomputing the public key (a scalar multiplication per record load would dominate a
/// store that keeps records as bytes); `SessionState(structure:)` checks the lengths.
struct RatchetKeyPair: Sendable, Equatable {
    let publicKey: [UInt8]
    let privateKey: [UInt8]

    init(_ pair: Curve25519KeyPair) {
        publicKey = pair.publicKey
        privateKey = pair.privateKey
    }

    init(storedPublicKey: [UInt8], privateKey: [UInt8]) {
        publicKey = storedPublicKey
        self.privateKey = privateKey
    }

    /// X25519, refusing the all-zero result of a low-order peer key (RFC 7748 §6.1) as
    /// `Curve25519KeyPair.sharedSecret` does.
    func sharedSecret(with theirPublicKey: [UInt8]) throws -> [UInt8] {
        guard theirPublicKey.count == 32, privateKey.count == 32 else { throw SignalError.invalidMessage("ratchet key must be 32 bytes") }
        var shared = [UInt8](repeating: 0, count: 32)
        guard crypto_scalarmult(&shared, privateKey, theirPublicKey) == 0 else {
            throw SignalError.invalidMessage("ratchet key is of low order")
        }
        return shared
    }
}

/// The root of the DH ratchet.
enum RootKey {
    /// One DH ratchet step (libsignal `RootKey.createChain`): HKDF(DH(ours, theirs), salt = root,
    /// "WhisperRatchet", 64) → (new root key, chain key with index 0).
    static func createChain(rootKey: [UInt8], theirRatchetKey: [UInt8], ourRatchetKey: RatchetKeyPair) throws -> (rootKey: [UInt8], chainKey: ChainKey) {
        let shared = try ourRatchetKey.sharedSecret(with: theirRatchetKey)
        let derived = SignalKDF.hkdf(inputKeyMaterial: shared, salt: rootKey, info: KDFInfo.ratchet, outputByteCount: 64)
        return (Array(derived[0..<32]), ChainKey(key: Array(derived[32..<64]), index: 0))
    }
}
