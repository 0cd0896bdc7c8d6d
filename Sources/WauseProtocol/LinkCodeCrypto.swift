import WauseCrypto

/// The cryptography of pairing-code linking (whatsmeow pair-code.go), both sides of it: the
/// companion (the engine) and the primary phone (wause-sim's virtual phones). Kept apart from the
/// stanza flow so it can be checked with fixed inputs against independently derived values.
public enum LinkCodeCrypto {
    /// whatsmeow pair-code.go PairPhone: 32 symbols, no 0, I, O or U; RFC 4648 bit order, no padding.
    public static let alphabet = Array("123456789ABCDEFGHJKLMNPQRSTVWXYZ")
    public static let codeLength = 8
    /// whatsmeow pair-code.go generateCompanionEphemeralKey: PBKDF2-HMAC-SHA256 rounds, `2 << 16`.
    public static let keyDerivationRounds = 131_072
    public static let wrappedKeyLength = 32 + 16 + 32
    public static let keyBundleLength = 32 + 12 + 96 + 16
    static let keyBundleInfo = Array("link_code_pairing_key_bundle_encryption_key".utf8)
    static let advSecretInfo = Array("adv_secret".utf8)

    public enum Failure: Error, Equatable, Sendable {
        case malformed(String)
        case cannotOpen(String)
    }

    /// 5 random bytes → 8 symbols (40 bits, 5 per symbol).
    public static func encode(_ bytes: [UInt8]) -> String {
        precondition(bytes.count == 5, "a linking code is made from 5 bytes")
        let value = bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return String((0..<codeLength).map { index in alphabet[Int(value >> UInt64(35 - 5 * index) & 31)] })
    }

    /// `ABCD-EFGH` as people read it out.
    public static func display(_ code: String) -> String {
        String(code.prefix(4)) + "-" + String(code.dropFirst(4))
    }

    /// What a person typed (`abcd-efgh`, `ABCD EFGH`, `ABCDEFGH`) → the 8 symbols the KDF takes, or
    /// nil if it cannot be a code.
    public static func normalize(_ typed: String) -> String? {
        // ASCII-only upper-casing: full Unicode would turn "ß" into "SS", a code nobody typed.
        let symbols = String(typed.filter { $0 != "-" && $0 != " " }.map { character -> Character in
            guard let ascii = character.asciiValue, (97...122).contains(ascii) else { return character }
            return Character(UnicodeScalar(ascii - 32))
        })
        guard symbols.count == codeLength, symbols.allSatisfy(alphabet.contains) else { return nil }
        return symbols
    }

    static func codeKey(code: String, salt: [UInt8]) throws(Failure) -> [UInt8] {
        do {
            return try PBKDF2.sha256(password: Array(code.utf8), salt: salt, rounds: keyDerivationRounds, outputByteCount: 32)
        } catch {
            throw .malformed("PBKDF2 failed: \(error)")
        }
    }

    /// generateCompanionEphemeralKey: `salt(32) ‖ iv(16) ‖ AES-256-CTR(PBKDF2(code, salt), iv)(publicKey)`, 80 bytes. Both
    /// the companion's and the phone's ephemeral keys travel this way.
    public static func wrap(publicKey: [UInt8], code: String, salt: [UInt8], iv: [UInt8]) throws(Failure) -> [UInt8] {
        guard publicKey.count == 32, salt.count == 32, iv.count == 16 else { throw .malformed("wrong key, salt or iv length") }
        let key = try codeKey(code: code, salt: salt)
        do {
            return salt + iv + (try AESCTR.encrypt(publicKey, key: key, counterBlock: iv))
        } catch {
            throw .malformed("AES-CTR failed: \(error)")
        }
    }

    /// The inverse of `wrap`. AES-CTR has no tag, so a wrong code yields some other 32 bytes; the
    /// caller decides what it can check (the phone checks the result is a real public key).
    public static func unwrap(_ wrapped: [UInt8], code: String) throws(Failure) -> [UInt8] {
        guard wrapped.count >= wrappedKeyLength else {
            throw .malformed("a wrapped key is \(wrappedKeyLength) bytes, got \(wrapped.count)")
        }
        let salt = Array(wrapped[0..<32]), iv = Array(wrapped[32..<48]), body = Array(wrapped[48..<80])
        let key = try codeKey(code: code, salt: salt)
        do {
            return try AESCTR.decrypt(body, key: key, counterBlock: iv)
        } catch {
            throw .malformed("AES-CTR failed: \(error)")
        }
    }

    /// whatsmeow pair-code.go handleCodePairNotification: the companion's key bundle for the phone, 156 bytes:
    /// `salt(32) ‖ nonce(12) ‖ AES-256-GCM(HKDF(ephemeralShared, salt, info))(companionIdentity ‖
    /// primaryIdentity ‖ advSecretRandom)`.
    public static func sealKeyBundle(ephemeralShared: [UInt8], companionIdentity: [UInt8], primaryIdentity: [UInt8],
                                     advSecretRandom: [UInt8], salt: [UInt8], nonce: [UInt8]) throws(Failure) -> [UInt8] {
        guard companionIdentity.count == 32, primaryIdentity.count == 32, advSecretRandom.count == 32, salt.count == 32,
            nonce.count == 12
        else { throw .malformed("wrong key bundle part length") }
        do {
            let key = try HKDF.sha256(inputKeyMaterial: ephemeralShared, salt: salt, info: keyBundleInfo, outputByteCount: 32)
            let sealed = try AESGCM.seal(plaintext: companionIdentity + primaryIdentity + advSecretRandom, key: key, nonce: nonce)
            return salt + nonce + sealed
        } catch {
            throw .malformed("cannot seal the key bundle: \(error)")
        }
    }

    /// The phone's side of `sealKeyBundle`: fails when the companion derived another shared secret
    /// (a wrong code on either side) or the bundle was altered.
    public static func openKeyBundle(_ bundle: [UInt8], ephemeralShared: [UInt8]) throws(Failure)
        -> (companionIdentity: [UInt8], primaryIdentity: [UInt8], advSecretRandom: [UInt8])
    {
        guard bundle.count == keyBundleLength else { throw .malformed("a key bundle is \(keyBundleLength) bytes, got \(bundle.count)") }
        let salt = Array(bundle[0..<32]), nonce = Array(bundle[32..<44]), sealed = Array(bundle[44...])
        let plain: [UInt8]
        do {
            let key = try HKDF.sha256(inputKeyMaterial: ephemeralShared, salt: salt, info: keyBundleInfo, outputByteCount: 32)
            plain = try AESGCM.open(ciphertextAndTag: sealed, key: key, nonce: nonce)
        } catch {
            throw .cannotOpen("the key bundle does not open with this code")
        }
        return (Array(plain[0..<32]), Array(plain[32..<64]), Array(plain[64..<96]))
    }

    /// whatsmeow pair-code.go handleCodePairNotification: the ADV secret both sides use from here on (it authenticates `pair-success`).
    /// HKDF with no salt (RFC 5869: 32 zero bytes).
    public static func advSecret(ephemeralShared: [UInt8], identityShared: [UInt8], advSecretRandom: [UInt8]) throws(Failure) -> [UInt8] {
        do {
            return try HKDF.sha256(inputKeyMaterial: ephemeralShared + identityShared + advSecretRandom,
                                   salt: [UInt8](repeating: 0, count: 32), info: advSecretInfo, outputByteCount: 32)
        } catch {
            throw .malformed("HKDF failed: \(error)")
        }
    }
}
