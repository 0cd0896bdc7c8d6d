import Crypto

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The three primitives of `Noise_XX_25519_AESGCM_SHA256` other than X25519 (which comes from
/// WauseCrypto's `Curve25519KeyPair`): SHA-256, the HKDF used by MixKey/Split, and AES-256-GCM with
/// WhatsApp's nonce layout. Kept in one place so the handshake and the transport cannot disagree.
enum NoisePrimitives {
    static let keyLength = 32
    static let tagLength = 16
    static let hashLength = 32

    static func sha256(_ data: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: data))
    }

    /// HKDF-SHA256 with `salt = chainingKey`, `info = ""` and 64 bytes of output, split in two
    /// (whatsmeow noisehandshake.go extractAndExpand: `[0:32]` is the new chaining key / the client→server key, `[32:64]` the cipher key /
    /// the server→client key). This is the Noise spec's HKDF(ck, ikm, 2), which equals RFC 5869
    /// for two outputs of HASHLEN bytes.
    static func hkdfPair(chainingKey: [UInt8], inputKeyMaterial: [UInt8]) -> ([UInt8], [UInt8]) {
        let derived = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: inputKeyMaterial),
            salt: chainingKey,
            info: [UInt8](),
            outputByteCount: 2 * hashLength)
        let bytes = derived.withUnsafeBytes { Array($0) }
        return (Array(bytes[0..<hashLength]), Array(bytes[hashLength...]))
    }

    /// The 12-byte AES-GCM nonce of whatsmeow socket/noisesocket.go generateIV: eight zero bytes, then the counter as a big-endian
    /// uint32. (For counters below 2^32 this equals the Noise spec's AESGCM nonce, 4 zero bytes
    /// and a 64-bit big-endian counter, which is why spec implementations interoperate.)
    static func nonce(_ counter: UInt32) -> AES.GCM.Nonce {
        let bytes: [UInt8] = [
            0, 0, 0, 0, 0, 0, 0, 0,
            UInt8(truncatingIfNeeded: counter >> 24), UInt8(truncatingIfNeeded: counter >> 16),
            UInt8(truncatingIfNeeded: counter >> 8), UInt8(truncatingIfNeeded: counter),
        ]
        // Cannot fail: the nonce is exactly 12 bytes.
        return try! AES.GCM.Nonce(data: bytes)
    }

    /// AES-256-GCM; returns `ciphertext ‖ tag` (16-byte tag appended, as whatsmeow's `Seal`).
    static func seal(_ plaintext: [UInt8], key: SymmetricKey, counter: UInt32, associatedData: [UInt8]) -> [UInt8] {
        // Cannot fail for a 32-byte key and a 12-byte nonce.
        let box = try! AES.GCM.seal(plaintext, using: key, nonce: nonce(counter), authenticating: associatedData)
        var output = [UInt8]()
        output.reserveCapacity(plaintext.count + tagLength)
        output.append(contentsOf: box.ciphertext)
        output.append(contentsOf: box.tag)
        return output
    }

    /// Opens `ciphertext ‖ tag`; nil if it is shorter than a tag or does not authenticate.
    static func open(_ ciphertextAndTag: [UInt8], key: SymmetricKey, counter: UInt32, associatedData: [UInt8]) -> [UInt8]? {
        guard ciphertextAndTag.count >= tagLength else { return nil }
        let split = ciphertextAndTag.count - tagLength
        guard let box = try? AES.GCM.SealedBox(
            nonce: nonce(counter), ciphertext: ciphertextAndTag[..<split], tag: ciphertextAndTag[split...]),
              let plaintext = try? AES.GCM.open(box, using: key, authenticating: associatedData)
        else { return nil }
        return Array(plaintext)
    }

    /// Byte-wise comparison whose running time does not depend on where the inputs differ
    /// (whatsmeow handshake.go verifyServerCert compares the certificate key with `hmac.Equal`).
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
