import WauseCrypto

/// One double-ratchet session with one peer device: what X3DH produced and where both chains
/// stand. A `SessionRecord` holds the current state and archived ones.
public struct SessionState: Sendable, Equatable {
    /// Always 3: the only version WhatsApp speaks (go.mau.fi/libsignal protocol/SignalMessage.go).
    public internal(set) var version: UInt32
    public internal(set) var localIdentity: IdentityKey
    public internal(set) var remoteIdentity: IdentityKey
    var rootKey: [UInt8]
    /// Counter of the last message sent on our previous sending chain (sent in every `msg`).
    var previousCounter: UInt32
    var senderChain: SenderChain
    /// Oldest first, at most `SignalLimits.maxReceiverChains`.
    var receiverChains: [ReceiverChain]
    /// Set on the initiator until the first reply decrypts: until then every message is wrapped
    /// in a `pkmsg` so the peer can build the session (go.mau.fi/libsignal ratchet/Ratchet.go).
    var pendingPreKey: PendingPreKey?
    public internal(set) var remoteRegistrationId: UInt32
    public internal(set) var localRegistrationId: UInt32
    /// The initiator's X3DH base key (raw 32 bytes): identifies the session a `pkmsg` belongs to.
    public internal(set) var aliceBaseKey: [UInt8]

    struct SenderChain: Sendable, Equatable {
        var ratchetKeyPair: RatchetKeyPair
        var chainKey: ChainKey
    }

    struct ReceiverChain: Sendable, Equatable {
        /// The peer's ratchet public key (raw 32 bytes) this chain belongs to.
        var ratchetKey: [UInt8]
        var chainKey: ChainKey
        /// Keys of skipped messages, oldest first, at most `SignalLimits.maxMessageKeys`.
        var skippedKeys: [MessageKeys]
    }

    struct PendingPreKey: Sendable, Equatable {
        var preKeyId: UInt32?
        var signedPreKeyId: UInt32
        /// Raw 32 bytes.
        var baseKey: [UInt8]
    }

    /// Whether our side still wraps messages in `pkmsg` (no reply decrypted yet).
    public var hasPendingPreKey: Bool { pendingPreKey != nil }

    func receiverChainIndex(for ratchetKey: [UInt8]) -> Int? {
        // Newest chains are the likeliest; search from the back.
        receiverChains.lastIndex { $0.ratchetKey == ratchetKey }
    }

    mutating func addReceiverChain(ratchetKey: [UInt8], chainKey: ChainKey, limits: SignalLimits) {
        receiverChains.append(ReceiverChain(ratchetKey: ratchetKey, chainKey: chainKey, skippedKeys: []))
        if receiverChains.count > limits.maxReceiverChains {
            receiverChains.removeFirst(receiverChains.count - limits.maxReceiverChains)
        }
    }
}

/// Everything we know of the sessions with one address: the current state and up to
/// `SignalLimits.maxArchivedStates` previous ones, newest first, so a message that was encrypted
/// for an older session (the peer had not yet seen our new `pkmsg`, or we had not seen theirs)
/// still decrypts (go.mau.fi/libsignal session/SessionCipher.go).
public struct SessionRecord: Sendable, Equatable {
    public internal(set) var currentState: SessionState?
    public internal(set) var previousStates: [SessionState]

    /// An empty record (no session yet).
    public init() {
        currentState = nil
        previousStates = []
    }

    init(currentState: SessionState?, previousStates: [SessionState]) {
        self.currentState = currentState
        self.previousStates = previousStates
    }

    /// Makes `state` current, archiving the current one (libsignal `promote_state`). The archived
    /// state forgets its pending prekey: it is never used to send again.
    mutating func promote(_ state: SessionState, limits: SignalLimits) {
        archiveCurrentState(limits: limits)
        currentState = state
    }

    /// Moves the current state to the front of the archive, dropping the oldest beyond the limit.
    public mutating func archiveCurrentState(limits: SignalLimits = .libsignal) {
        guard var current = currentState else { return }
        current.pendingPreKey = nil
        previousStates.insert(current, at: 0)
        if previousStates.count > limits.maxArchivedStates {
            previousStates.removeLast(previousStates.count - limits.maxArchivedStates)
        }
        currentState = nil
    }

    /// Finds the state built from the `pkmsg` with this base key and makes it current (libsignal
    /// `promote_matching_session`). Returns whether one was found.
    mutating func promoteState(withBaseKey baseKey: [UInt8], limits: SignalLimits) -> Bool {
        if let current = currentState, ConstantTime.equal(current.aliceBaseKey, baseKey) { return true }
        guard let index = previousStates.firstIndex(where: { ConstantTime.equal($0.aliceBaseKey, baseKey) }) else { return false }
        let state = previousStates.remove(at: index)
        promote(state, limits: limits)
        return true
    }
}
