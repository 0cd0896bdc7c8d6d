import WauseCrypto

/// Encrypts our messages to a group with our sender key, and decrypts a member's with theirs
/// (libsignal `GroupCipher`: go.mau.fi/libsignal groups/GroupCipher.go, signalapp/libsignal
/// rust/protocol/src/group_cipher.rs `group_encrypt`/`group_decrypt`).
///
/// Every call loads the record, works on a copy and stores it only when the whole operation
/// succeeded, so a forged, corrupt or repeated message leaves the record exactly as it was.
/// WhatsApp's random padding of the plaintext is the caller's (`MessageFormat`), not this layer's.
public struct GroupCipher {
    public let name: SenderKeyName
    let store: any SenderKeyStore
    let limits: SenderKeyLimits
    let random: SignalRandom

    /// - Parameter name: the group and the sending device: our own device to encrypt, the
    ///   member's to decrypt.
    public init(name: SenderKeyName, store: any SenderKeyStore, limits: SenderKeyLimits = .libsignal,
                random: @escaping SignalRandom = SystemRandom.bytes) {
        self.name = name
        self.store = store
        self.limits = limits
        self.random = random
    }

    /// Encrypts and signs with our newest sender key at its current iteration, then advances the
    /// chain once (go.mau.fi/libsignal GroupCipher.go Encrypt; not Baileys' skip-every-other
    /// iteration quirk).
    ///
    /// - Throws: `.noSenderKey` when we have no sender key of our own for `name`
    ///   (`GroupSessionBuilder.create` makes one).
    public func encrypt(_ plaintext: [UInt8]) throws -> SenderKeyMessage {
        guard var record = try store.loadSenderKey(for: name), var state = record.currentState, let signer = try state.signer() else {
            throw SignalError.noSenderKey(name: name, keyId: nil)
        }
        guard state.chainKey.iteration < UInt32.max else { throw SignalError.invalidRecord("sender key \(state.keyId) chain is exhausted") }
        let (messageKey, next) = state.chainKey.messageKeyAndNext
        let (iv, cipherKey) = messageKey.ivAndCipherKey
        let ciphertext = try AESCBC.encrypt(plaintext: plaintext, key: cipherKey, iv: iv)
        let message = try SenderKeyMessage(keyId: state.keyId, iteration: messageKey.iteration, ciphertext: ciphertext,
                                           signer: signer, random: random(XEdDSA.randomLength))
        state.chainKey = next
        record.states[0] = state
        try store.storeSenderKey(record, for: name)
        return message
    }

    /// Decrypts a member's `skmsg` with the state its key id names, after checking its signature.
    ///
    /// - Throws: `.noSenderKey` when we hold no sender key with this id for `name` (the engine
    ///   asks for it again with a retry receipt); `.invalidSenderKeySignature`;
    ///   `.duplicateMessage` for an iteration already decrypted (or dropped as too old);
    ///   `.invalidMessage` for an iteration more than `maxForwardJumps` ahead or a ciphertext
    ///   that does not decrypt.
    public func decrypt(_ message: SenderKeyMessage) throws -> [UInt8] {
        guard var record = try store.loadSenderKey(for: name), let index = record.stateIndex(keyId: message.keyId) else {
            throw SignalError.noSenderKey(name: name, keyId: message.keyId)
        }
        var state = record.states[index]
        guard message.verifySignature(with: try state.verifier()) else { throw SignalError.invalidSenderKeySignature(name: name) }
        let messageKey = try self.messageKey(for: message.iteration, in: &state)
        let (iv, cipherKey) = messageKey.ivAndCipherKey
        let plaintext: [UInt8]
        do { plaintext = try AESCBC.decrypt(ciphertext: message.ciphertext, key: cipherKey, iv: iv) } catch {
            // The signature verified, so the sender encrypted garbage: invalid, not forged.
            throw SignalError.invalidMessage("skmsg ciphertext: \(error)")
        }
        record.states[index] = state
        try store.storeSenderKey(record, for: name)
        return plaintext
    }

    /// The key for `iteration`: a kept skipped key (removed: each key decrypts once), or the chain
    /// advanced to `iteration`, keeping the keys it skips (libsignal rust `get_sender_key`).
    private func messageKey(for iteration: UInt32, in state: inout SenderKeyState) throws -> SenderMessageKey {
        let current = state.chainKey.iteration
        if iteration < current {
            guard let key = state.takeMessageKey(iteration: iteration) else {
                throw SignalError.duplicateMessage(chainIndex: current, counter: iteration)
            }
            return key
        }
        let jump = Int(iteration - current)
        guard jump <= limits.maxForwardJumps else {
            throw SignalError.invalidMessage("skmsg iteration \(iteration) is \(jump) messages ahead of the sender key (limit \(limits.maxForwardJumps))")
        }
        guard iteration < UInt32.max else { throw SignalError.invalidMessage("skmsg iteration \(iteration) leaves no next chain key") }
        // Only the newest maxMessageKeys skipped keys can be kept, so older ones are not derived.
        let firstKept = iteration - UInt32(min(jump, limits.maxMessageKeys))
        var chainKey = state.chainKey
        while chainKey.iteration < iteration {
            if chainKey.iteration >= firstKept {
                let (key, next) = chainKey.messageKeyAndNext
                state.messageKeys.append(key)
                chainKey = next
            } else {
                chainKey = chainKey.next
            }
        }
        if state.messageKeys.count > limits.maxMessageKeys {
            state.messageKeys.removeFirst(state.messageKeys.count - limits.maxMessageKeys)
        }
        let (key, next) = chainKey.messageKeyAndNext
        state.chainKey = next
        return key
    }
}
