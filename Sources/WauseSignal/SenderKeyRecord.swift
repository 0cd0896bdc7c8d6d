import WauseCrypto

/// A sender chain: `HMAC(seed, 0x01)` seeds the key of message `iteration`, `HMAC(seed, 0x02)`
/// is the next chain key (go.mau.fi/libsignal groups/ratchet/SenderChainKey.go; the same seeds as
/// the pairwise `ChainKey`).
struct SenderChainKey: Sendable, Equatable {
    var iteration: UInt32
    /// The 32-byte chain key.
    var seed: [UInt8]

    /// This iteration's message key and the next chain key, sharing one HMAC key schedule.
    var messageKeyAndNext: (messageKey: SenderMessageKey, next: SenderChainKey) {
        let hmac = SignalHMAC(key: seed)
        return (SenderMessageKey(iteration: iteration, seed: hmac.authenticate(ChainKey.messageKeySeed)),
                SenderChainKey(iteration: iteration &+ 1, seed: hmac.authenticate(ChainKey.chainKeySeed)))
    }

    var messageKey: SenderMessageKey {
        SenderMessageKey(iteration: iteration, seed: SignalHMAC(key: seed).authenticate(ChainKey.messageKeySeed))
    }

    var next: SenderChainKey {
        SenderChainKey(iteration: iteration &+ 1, seed: SignalHMAC(key: seed).authenticate(ChainKey.chainKeySeed))
    }
}

/// The key of one group message, kept as its 32-byte seed (what libsignal stores for skipped
/// keys): HKDF(seed, no salt, "WhisperGroup", 48) → IV[0..<16] ‖ cipher key[16..<48]
/// (go.mau.fi/libsignal groups/ratchet/SenderMessageKey.go). Deriving only when a key is used
/// keeps 2 000 skipped keys cheap to load and store.
struct SenderMessageKey: Sendable, Equatable {
    var iteration: UInt32
    var seed: [UInt8]

    var ivAndCipherKey: (iv: [UInt8], cipherKey: [UInt8]) {
        let derived = SignalKDF.hkdf(inputKeyMaterial: seed, info: KDFInfo.group, outputByteCount: 48)
        return (Array(derived[0..<16]), Array(derived[16..<48]))
    }
}

/// One sender key of one sender: its id, where its chain stands, its signing key (with the
/// private half only for our own) and the keys of messages skipped so far
/// (go.mau.fi/libsignal groups/state/record/SenderKeyState.go).
public struct SenderKeyState: Sendable {
    /// The sender key id every `skmsg` names (31 random bits when created).
    public internal(set) var keyId: UInt32
    var chainKey: SenderChainKey
    /// The signing public key (raw 32 bytes).
    public let signingPublicKey: [UInt8]
    /// The signing private key (32 bytes): present only in our own sender key.
    let signingPrivateKey: [UInt8]?
    /// Skipped message keys, oldest first, at most `SenderKeyLimits.maxMessageKeys`.
    var messageKeys: [SenderMessageKey]
    /// The signing keys prepared for the many signatures made or checked with them, computed on
    /// first use and kept with the state while it stays in memory (never stored: a record loaded
    /// from bytes prepares them again, as libsignal does on every message).
    private var preparedSigner: XEdDSA.SigningKey?
    private var preparedVerifier: XEdDSA.VerifyingKey?

    init(keyId: UInt32, chainKey: SenderChainKey, signingPublicKey: [UInt8], signingPrivateKey: [UInt8]?,
         messageKeys: [SenderMessageKey] = []) {
        precondition(signingPublicKey.count == 32 && (signingPrivateKey?.count ?? 32) == 32, "sender key signing keys are 32 bytes")
        self.keyId = keyId
        self.chainKey = chainKey
        self.signingPublicKey = signingPublicKey
        self.signingPrivateKey = signingPrivateKey
        self.messageKeys = messageKeys
    }

    /// Our signing key, prepared (nil for someone else's sender key).
    mutating func signer() throws -> XEdDSA.SigningKey? {
        if let preparedSigner { return preparedSigner }
        guard let signingPrivateKey else { return nil }
        let signer = try XEdDSA.SigningKey(privateKey: signingPrivateKey)
        preparedSigner = signer
        return signer
    }

    /// The sender's verifying key, prepared.
    mutating func verifier() throws -> XEdDSA.VerifyingKey {
        if let preparedVerifier { return preparedVerifier }
        let verifier = try XEdDSA.VerifyingKey(publicKey: signingPublicKey)
        preparedVerifier = verifier
        return verifier
    }

    /// The iteration of the next message this state encrypts or expects.
    public var iteration: UInt32 { chainKey.iteration }

    /// Whether this is our own sender key (it can encrypt).
    public var isOwn: Bool { signingPrivateKey != nil }

    /// Removes and returns the skipped key for `iteration`, if kept.
    mutating func takeMessageKey(iteration: UInt32) -> SenderMessageKey? {
        guard let position = messageKeys.firstIndex(where: { $0.iteration == iteration }) else { return nil }
        return messageKeys.remove(at: position)
    }
}

extension SenderKeyState: CustomStringConvertible, CustomDebugStringConvertible {
    /// Shows no key material, so a state that ends up in a log or a test failure message does not
    /// leak its chain or signing key.
    public var description: String {
        "SenderKeyState(keyId: \(keyId), iteration: \(chainKey.iteration), own: \(isOwn), skipped keys: \(messageKeys.count))"
    }
    public var debugDescription: String { description }
}

extension SenderKeyState: Equatable {
    /// The prepared signing keys follow from the stored ones, so they take no part.
    public static func == (lhs: SenderKeyState, rhs: SenderKeyState) -> Bool {
        lhs.keyId == rhs.keyId && lhs.chainKey == rhs.chainKey && lhs.signingPublicKey == rhs.signingPublicKey
            && lhs.signingPrivateKey == rhs.signingPrivateKey && lhs.messageKeys == rhs.messageKeys
    }
}

/// Every sender key we hold for one `SenderKeyName`, newest first, at most
/// `SenderKeyLimits.maxStates` (go.mau.fi/libsignal groups/state/record/SenderKeyRecord.go).
/// A sender that rotates its key (after a member left) sends a new distribution message; older
/// states stay so messages still in flight under the old key decrypt.
public struct SenderKeyRecord: Sendable, Equatable {
    public internal(set) var states: [SenderKeyState]

    /// An empty record: no sender key yet.
    public init() { states = [] }

    init(states: [SenderKeyState]) { self.states = states }

    public var isEmpty: Bool { states.isEmpty }

    /// The newest state: the one our own sender key encrypts with.
    var currentState: SenderKeyState? { states.first }

    /// The newest state with this key id.
    func stateIndex(keyId: UInt32) -> Int? { states.firstIndex { $0.keyId == keyId } }

    /// Adds a received sender key as libsignal does (`SenderKeyRecord::add_sender_key_state` in
    /// signalapp/libsignal rust/protocol/src/state/sender_keys.rs): the same key id with the same
    /// signing key keeps the state we have (moved to the front), so a repeated or replayed
    /// distribution message cannot rewind the chain and reopen used iterations; the same key id
    /// with a different signing key replaces every state of that id; the oldest states go beyond
    /// the limit.
    mutating func add(_ state: SenderKeyState, limits: SenderKeyLimits) {
        var kept = state
        if let same = states.firstIndex(where: { $0.keyId == state.keyId && ConstantTime.equal($0.signingPublicKey, state.signingPublicKey) }) {
            kept = states.remove(at: same)
        }
        states.removeAll { $0.keyId == state.keyId }
        states.insert(kept, at: 0)
        if states.count > max(limits.maxStates, 1) { states.removeLast(states.count - max(limits.maxStates, 1)) }
    }
}
