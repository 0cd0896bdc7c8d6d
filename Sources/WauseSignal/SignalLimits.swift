/// The bounds that keep a session record finite whatever a peer sends. Defaults are libsignal's
/// (`rust/protocol/src/consts.rs` in signalapp/libsignal): MAX_FORWARD_JUMPS 25 000,
/// MAX_MESSAGE_KEYS 2 000, MAX_RECEIVER_CHAINS 5, ARCHIVED_STATES_MAX_LENGTH 40.
///
/// WhatsApp's own libraries allow a forward jump of only 2 000 (go.mau.fi/libsignal
/// `maxFutureMessages`, libsignal-node "Over 2000 messages into the future!") and keep the same
/// 2 000 keys, 5 receiver chains and 40 archived states (go.mau.fi/libsignal state/record/SessionState.go, SessionRecord.go). Accepting a
/// larger jump than the sender's peers would is harmless; pass `.whatsApp` to match them exactly.
public struct SignalLimits: Sendable, Equatable {
    /// How far ahead of a receiving chain a message counter may be.
    public var maxForwardJumps: Int
    /// Skipped message keys kept per receiving chain; the oldest are dropped beyond this.
    public var maxMessageKeys: Int
    /// Receiving chains kept per session state; the oldest is dropped beyond this.
    public var maxReceiverChains: Int
    /// Previous session states kept in a record; the oldest is dropped beyond this.
    public var maxArchivedStates: Int

    public init(maxForwardJumps: Int, maxMessageKeys: Int, maxReceiverChains: Int, maxArchivedStates: Int) {
        self.maxForwardJumps = maxForwardJumps
        self.maxMessageKeys = maxMessageKeys
        self.maxReceiverChains = maxReceiverChains
        self.maxArchivedStates = maxArchivedStates
    }

    public static let libsignal = SignalLimits(maxForwardJumps: 25_000, maxMessageKeys: 2_000, maxReceiverChains: 5, maxArchivedStates: 40)
    public static let whatsApp = SignalLimits(maxForwardJumps: 2_000, maxMessageKeys: 2_000, maxReceiverChains: 5, maxArchivedStates: 40)
}

/// The bounds of a sender-key record (groups). libsignal-protocol-c and go.mau.fi/libsignal both
/// keep 5 states per record (`groups/state/record/SenderKeyRecord.go` maxStates), 2 000 skipped
/// message keys per state (`SenderKeyState.go` maxMessageKeys) and refuse a message more than
/// 2 000 iterations ahead (libsignal-protocol-c `group_cipher.c` "Over 2000 messages into the
/// future!"); Baileys `sender-key-state.ts` and `group_cipher.ts` use the same numbers.
public struct SenderKeyLimits: Sendable, Equatable {
    /// How far ahead of a state's chain a message iteration may be.
    public var maxForwardJumps: Int
    /// Skipped message keys kept per state; the oldest are dropped beyond this.
    public var maxMessageKeys: Int
    /// States kept per record; the oldest is dropped beyond this.
    public var maxStates: Int

    public init(maxForwardJumps: Int, maxMessageKeys: Int, maxStates: Int) {
        self.maxForwardJumps = maxForwardJumps
        self.maxMessageKeys = maxMessageKeys
        self.maxStates = maxStates
    }

    public static let libsignal = SenderKeyLimits(maxForwardJumps: 2_000, maxMessageKeys: 2_000, maxStates: 5)
}
