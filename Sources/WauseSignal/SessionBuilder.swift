import WauseCrypto

/// X3DH, Signal v3 as WhatsApp uses it (go.mau.fi/libsignal ratchet/Ratchet.go; libsignal `ratchet.rs`
/// `initialize_alice_session`/`initialize_bob_session`, go.mau.fi/libsignal `ratchet/Ratchet.go`).
///
/// Master secret = 0xFF×32 ‖ DH1 ‖ DH2 ‖ DH3 [‖ DH4], HKDF(no salt, "WhisperText") → root key ‖
/// chain key. The 32 0xFF bytes are the "discontinuity bytes" that keep X3DH secrets apart from
/// any other use of curve25519 keys as hash input.
enum X3DH {
    static let discontinuity = [UInt8](repeating: 0xFF, count: 32)

    /// The initiator's side. DH1 = DH(IK_A, SPK_B), DH2 = DH(EK_A, IK_B), DH3 = DH(EK_A, SPK_B),
    /// DH4 = DH(EK_A, OPK_B). Bob's signed prekey is also his first ratchet key: we keep the X3DH
    /// chain as the receiving chain for it and step the ratchet once to get our sending chain.
    static func initiatorState(ourIdentity: Curve25519KeyPair, ourBaseKey: Curve25519KeyPair, ourRatchetKey: Curve25519KeyPair,
                               theirIdentity: IdentityKey, theirSignedPreKey: [UInt8], theirOneTimePreKey: [UInt8]?,
                               limits: SignalLimits) throws -> SessionState {
        var secret = discontinuity
        secret += try agree(ourIdentity, theirSignedPreKey)
        secret += try agree(ourBaseKey, theirIdentity.publicKey)
        secret += try agree(ourBaseKey, theirSignedPreKey)
        if let theirOneTimePreKey { secret += try agree(ourBaseKey, theirOneTimePreKey) }
        let (rootKey, chainKey) = derive(secret)
        let sending = try RootKey.createChain(rootKey: rootKey, theirRatchetKey: theirSignedPreKey, ourRatchetKey: RatchetKeyPair(ourRatchetKey))
        var state = SessionState(
            version: 3, localIdentity: ourIdentity.identityKey, remoteIdentity: theirIdentity, rootKey: sending.rootKey,
            previousCounter: 0, senderChain: .init(ratchetKeyPair: RatchetKeyPair(ourRatchetKey), chainKey: sending.chainKey),
            receiverChains: [], pendingPreKey: nil, remoteRegistrationId: 0, localRegistrationId: 0,
            aliceBaseKey: ourBaseKey.publicKey)
        state.addReceiverChain(ratchetKey: theirSignedPreKey, chainKey: chainKey, limits: limits)
        return state
    }

    /// The responder's side, mirrored: DH(SPK_B, IK_A), DH(IK_B, EK_A), DH(SPK_B, EK_A),
    /// [DH(OPK_B, EK_A)]. Our signed prekey pair is our first ratchet key and the X3DH chain our
    /// sending chain; the initiator's first message brings the ratchet key that opens our
    /// receiving chain.
    static func responderState(ourIdentity: Curve25519KeyPair, ourSignedPreKey: Curve25519KeyPair, ourOneTimePreKey: Curve25519KeyPair?,
                               theirIdentity: IdentityKey, theirBaseKey: [UInt8]) throws -> SessionState {
        var secret = discontinuity
        secret += try agree(ourSignedPreKey, theirIdentity.publicKey)
        secret += try agree(ourIdentity, theirBaseKey)
        secret += try agree(ourSignedPreKey, theirBaseKey)
        if let ourOneTimePreKey { secret += try agree(ourOneTimePreKey, theirBaseKey) }
        let (rootKey, chainKey) = derive(secret)
        return SessionState(
            version: 3, localIdentity: ourIdentity.identityKey, remoteIdentity: theirIdentity, rootKey: rootKey,
            previousCounter: 0, senderChain: .init(ratchetKeyPair: RatchetKeyPair(ourSignedPreKey), chainKey: chainKey),
            receiverChains: [], pendingPreKey: nil, remoteRegistrationId: 0, localRegistrationId: 0,
            aliceBaseKey: theirBaseKey)
    }

    private static func agree(_ ours: Curve25519KeyPair, _ theirs: [UInt8]) throws -> [UInt8] {
        do { return try ours.sharedSecret(with: theirs) } catch { throw SignalError.invalidMessage("X3DH key agreement: \(error)") }
    }

    private static func derive(_ secret: [UInt8]) -> (rootKey: [UInt8], chainKey: ChainKey) {
        let derived = SignalKDF.hkdf(inputKeyMaterial: secret, info: KDFInfo.text, outputByteCount: 64)
        return (Array(derived[0..<32]), ChainKey(key: Array(derived[32..<64]), index: 0))
    }
}

/// Starts sessions: from a peer's prekey bundle (we send first) or from a `pkmsg` (they did).
/// libsignal's `SessionBuilder` / `process_prekey_bundle` / `process_prekey`.
public struct SessionBuilder {
    public let address: SignalAddress
    let store: any SignalProtocolStore
    let limits: SignalLimits
    let random: SignalRandom

    public init(address: SignalAddress, store: any SignalProtocolStore, limits: SignalLimits = .libsignal,
                random: @escaping SignalRandom = SystemRandom.bytes) {
        self.address = address
        self.store = store
        self.limits = limits
        self.random = random
    }

    /// Builds a session from `bundle` and makes it current (the previous one is archived). The
    /// following `encrypt`s produce `pkmsg`s until the peer answers.
    ///
    /// - Throws: `.invalidSignature` if the signed prekey is not signed by the bundle's identity
    ///   (go.mau.fi/libsignal and libsignal verify; libsignal-node does not; we
    ///   verify); `.untrustedIdentity` if the identity differs from the trusted one.
    public func process(_ bundle: PreKeyBundle) throws {
        guard XEdDSA.verify(signature: bundle.signedPreKeySignature, message: DjbPublicKey.serialize(bundle.signedPreKeyPublic),
                            publicKey: bundle.identityKey.publicKey) else {
            throw SignalError.invalidSignature
        }
        try SessionCipher.requireTrusted(bundle.identityKey, for: address, direction: .sending, in: store)
        var record = try store.loadSession(for: address) ?? SessionRecord()
        let baseKey = Curve25519KeyPair.generate(random: random)
        let ratchetKey = Curve25519KeyPair.generate(random: random)
        var state = try X3DH.initiatorState(
            ourIdentity: try store.identityKeyPair(), ourBaseKey: baseKey, ourRatchetKey: ratchetKey,
            theirIdentity: bundle.identityKey, theirSignedPreKey: bundle.signedPreKeyPublic, theirOneTimePreKey: bundle.preKeyPublic,
            limits: limits)
        state.pendingPreKey = .init(preKeyId: bundle.preKeyId, signedPreKeyId: bundle.signedPreKeyId, baseKey: baseKey.publicKey)
        state.localRegistrationId = try store.localRegistrationId()
        state.remoteRegistrationId = bundle.registrationId
        record.promote(state, limits: limits)
        try store.saveIdentity(bundle.identityKey, for: address)
        try store.storeSession(record, for: address)
    }

    /// Makes the session a `pkmsg` belongs to current in `record`: an existing state with the
    /// same base key (a repeated `pkmsg`: libsignal lets it "fall through" to that state), or a
    /// new responder state from our prekeys. Returns the one-time prekey id to remove once the
    /// message has decrypted (nil when none was used or the state already existed).
    func processPreKeyMessage(_ message: PreKeySignalMessage, record: inout SessionRecord) throws -> UInt32? {
        if record.promoteState(withBaseKey: message.baseKey, limits: limits) { return nil }
        guard let signedPreKey = try store.loadSignedPreKey(id: message.signedPreKeyId) else {
            throw SignalError.invalidKeyId(kind: .signedPreKey, id: message.signedPreKeyId)
        }
        var oneTimePreKey: PreKeyRecord?
        if let id = message.preKeyId {
            guard let preKey = try store.loadPreKey(id: id) else { throw SignalError.invalidKeyId(kind: .preKey, id: id) }
            oneTimePreKey = preKey
        }
        var state = try X3DH.responderState(
            ourIdentity: try store.identityKeyPair(), ourSignedPreKey: signedPreKey.keyPair, ourOneTimePreKey: oneTimePreKey?.keyPair,
            theirIdentity: message.identityKey, theirBaseKey: message.baseKey)
        state.localRegistrationId = try store.localRegistrationId()
        state.remoteRegistrationId = message.registrationId
        record.promote(state, limits: limits)
        return message.preKeyId
    }
}
