import WauseCrypto

/// Creates our sender key for a group and processes the sender keys other members distribute
/// (libsignal `GroupSessionBuilder`: go.mau.fi/libsignal groups/GroupSessionBuilder.go,
/// signalapp/libsignal rust/protocol/src/group_cipher.rs
/// `create_sender_key_distribution_message`/`process_sender_key_distribution_message`).
public struct GroupSessionBuilder {
    let store: any SenderKeyStore
    let limits: SenderKeyLimits
    let random: SignalRandom

    public init(store: any SenderKeyStore, limits: SenderKeyLimits = .libsignal, random: @escaping SignalRandom = SystemRandom.bytes) {
        self.store = store
        self.limits = limits
        self.random = random
    }

    /// Stores the sender key `message` distributes for `name` (the group and the device that sent
    /// it). The same key id with the same signing key keeps the state we already have; the same
    /// id with a different signing key replaces it (`SenderKeyRecord.add`).
    public func process(_ message: SenderKeyDistributionMessage, from name: SenderKeyName) throws {
        var record = try store.loadSenderKey(for: name) ?? SenderKeyRecord()
        let state = SenderKeyState(
            keyId: message.keyId, chainKey: SenderChainKey(iteration: message.iteration, seed: message.chainKey),
            signingPublicKey: message.signingKey, signingPrivateKey: nil)
        record.add(state, limits: limits)
        try store.storeSenderKey(record, for: name)
    }

    /// The distribution message for our own sender key `name` (the group and our own device),
    /// creating the key first if we have none: a random 31-bit id (libsignal rust
    /// `create_sender_key_distribution_message`: `random::<u32>() >> 1`; Baileys `randomInt(2^31 − 1)`),
    /// a random 32-byte chain key at iteration 0 and a fresh signing key pair. The message carries
    /// the chain where it stands now, so members added later cannot read earlier messages.
    public func create(for name: SenderKeyName) throws -> SenderKeyDistributionMessage {
        var record = try store.loadSenderKey(for: name) ?? SenderKeyRecord()
        if record.currentState?.isOwn != true {
            let idBytes = random(4)
            precondition(idBytes.count == 4, "random generator returned \(idBytes.count) bytes, expected 4")
            let keyId = idBytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) } >> 1
            let seed = random(32)
            precondition(seed.count == 32, "random generator returned \(seed.count) bytes, expected 32")
            let signing = Curve25519KeyPair.generate(random: random)
            let state = SenderKeyState(keyId: keyId, chainKey: SenderChainKey(iteration: 0, seed: seed),
                                           signingPublicKey: signing.publicKey, signingPrivateKey: signing.privateKey)
            // Our own name holds our key alone (libsignal-protocol-java `setSenderKeyState`).
            record = SenderKeyRecord(states: [state])
            try store.storeSenderKey(record, for: name)
        }
        let state = record.states[0]
        return SenderKeyDistributionMessage(keyId: state.keyId, iteration: state.chainKey.iteration,
                                            chainKey: state.chainKey.seed, signingKey: state.signingPublicKey)
    }
}
