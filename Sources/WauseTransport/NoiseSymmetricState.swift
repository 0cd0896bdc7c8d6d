/// The Noise SymmetricState (chaining key `ck`, handshake hash `h`, and the current cipher) as
/// WhatsApp runs it (whatsmeow socket/noisehandshake.go, handshake.go doHandshake):
/// - `h` starts as the 32-byte protocol name itself (no hashing because it is exactly 32 bytes),
///   `ck = h`, and the prologue `57 41 06 03` is mixed into `h`;
/// - MixKey derives `(ck, k)` with HKDF-SHA256(salt = ck, ikm = DH output, info = "") and resets the
///   nonce to 0;
/// - EncryptAndHash / DecryptAndHash use `AD = h` and mix the *ciphertext* into `h` afterwards
///   (only after a successful decrypt);
/// - WhatsApp's deviation from the Noise spec: nothing is ever encrypted or hashed as a payload
///   before the first MixKey, so message 1 (`-> e`) hashes only `e` — the spec would also
///   MixHash the empty payload. This type enforces it: EncryptAndHash without a key throws.
public struct NoiseSymmetricState: Sendable {
    /// `h`: after the last message, the handshake hash (channel binding value).
    public private(set) var handshakeHash: [UInt8]
    /// `ck` ("salt" in whatsmeow).
    public private(set) var chainingKey: [UInt8]
    /// nil until the first MixKey. (whatsmeow starts with a cipher keyed with `h`, but never uses it.)
    private var cipher: NoiseCipherState?

    /// - Parameters:
    ///   - protocolName: used as `h` if it is 32 bytes, else hashed (Noise spec §5.2; both
    ///     reference clients do the same).
    ///   - prologue: mixed into `h` right away (whatsmeow socket/noisehandshake.go Authenticate).
    public init(protocolName: [UInt8], prologue: [UInt8]) {
        let initial = protocolName.count == NoisePrimitives.hashLength ? protocolName : NoisePrimitives.sha256(protocolName)
        handshakeHash = initial
        chainingKey = initial
        cipher = nil
        mixHash(prologue)
    }

    /// True once a key has been mixed in.
    public var hasKey: Bool { cipher != nil }

    /// The nonce the next EncryptAndHash/DecryptAndHash uses (0 right after MixKey), or nil
    /// before the first MixKey.
    public var nextNonce: UInt64? { cipher?.nextNonce }

    /// `h = SHA256(h ‖ data)`.
    public mutating func mixHash(_ data: [UInt8]) {
        handshakeHash = NoisePrimitives.sha256(handshakeHash + data)
    }

    /// `(ck, k) = HKDF(ck, inputKeyMaterial)`; the nonce restarts at 0 (whatsmeow socket/noisehandshake.go MixIntoKey).
    public mutating func mixKey(_ inputKeyMaterial: [UInt8]) {
        let (newChainingKey, key) = NoisePrimitives.hkdfPair(chainingKey: chainingKey, inputKeyMaterial: inputKeyMaterial)
        chainingKey = newChainingKey
        // Cannot fail: HKDF gives exactly 32 bytes.
        cipher = try! NoiseCipherState(key: key)
    }

    /// Encrypts with `AD = h`, then mixes the ciphertext into `h`.
    public mutating func encryptAndHash(_ plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard var current = cipher else { throw .noCipherKey }
        let ciphertext = try current.seal(plaintext, associatedData: handshakeHash)
        cipher = current
        mixHash(ciphertext)
        return ciphertext
    }

    /// Decrypts with `AD = h`; mixes the ciphertext into `h` only if it authenticated (whatsmeow socket/noisehandshake.go Decrypt).
    /// - Parameter what: names the field in the error (e.g. "server static key").
    public mutating func decryptAndHash(_ ciphertext: [UInt8], what: String) throws(NoiseError) -> [UInt8] {
        guard var current = cipher else { throw .noCipherKey }
        defer { cipher = current }
        let plaintext = try current.open(ciphertext, associatedData: handshakeHash, what: what)
        mixHash(ciphertext)
        return plaintext
    }

    /// Split (whatsmeow socket/noisehandshake.go Finish): `HKDF(ck, empty)`; the first 32 bytes carry initiator→responder traffic
    /// (the client's write key), the last 32 responder→initiator.
    public func split() -> (initiatorToResponder: [UInt8], responderToInitiator: [UInt8]) {
        let (first, second) = NoisePrimitives.hkdfPair(chainingKey: chainingKey, inputKeyMaterial: [])
        return (first, second)
    }
}
