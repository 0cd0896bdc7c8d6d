import WauseCrypto

/// Encrypts to and decrypts from one peer device with the double ratchet (libsignal
/// `session_cipher.rs`, go.mau.fi/libsignal `session/SessionCipher.go`).
///
/// Every call loads the record, works on a copy and stores it only when the whole operation
/// succeeded, so a forged, corrupt or repeated message leaves the session exactly as it was.
public struct SessionCipher {
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

    // MARK: Encrypt

    /// Encrypts with the current session: a `pkmsg` while the session is still unacknowledged,
    /// else a `msg`. Advances the sending chain.
    ///
    /// - Throws: `.noSession`; `.untrustedIdentity` if the peer's identity is no longer trusted.
    public func encrypt(_ plaintext: [UInt8]) throws -> CiphertextMessage {
        guard var record = try store.loadSession(for: address), var state = record.currentState else {
            throw SignalError.noSession(address)
        }
        try Self.requireTrusted(state.remoteIdentity, for: address, direction: .sending, in: store)
        let chainKey = state.senderChain.chainKey
        let (keys, nextChainKey) = chainKey.messageKeysAndNext
        let ciphertext = try AESCBC.encrypt(plaintext: plaintext, key: keys.cipherKey, iv: keys.iv)
        let message = SignalMessage(
            macKey: keys.macKey, senderIdentity: state.localIdentity, receiverIdentity: state.remoteIdentity,
            ratchetKey: state.senderChain.ratchetKeyPair.publicKey, counter: chainKey.index,
            previousCounter: state.previousCounter, ciphertext: ciphertext)
        let result: CiphertextMessage
        if let pending = state.pendingPreKey {
            result = .preKeySignalMessage(PreKeySignalMessage(
                registrationId: state.localRegistrationId, preKeyId: pending.preKeyId, signedPreKeyId: pending.signedPreKeyId,
                baseKey: pending.baseKey, identityKey: state.localIdentity, message: message))
        } else {
            result = .signalMessage(message)
        }
        state.senderChain.chainKey = nextChainKey
        record.currentState = state
        try store.saveIdentity(state.remoteIdentity, for: address)
        try store.storeSession(record, for: address)
        return result
    }

    // MARK: Decrypt

    /// Decrypts a `pkmsg`, building the session it starts if we have not seen it before, and
    /// consumes the one-time prekey it used (removed only after the message decrypted, so a
    /// forged `pkmsg` cannot burn our prekeys).
    ///
    /// - Throws: `.untrustedIdentity`; `.invalidKeyId` for a prekey we no longer have (a
    ///   repeated `pkmsg` whose session is gone); `.duplicateMessage` for a repeated `pkmsg`
    ///   whose session we still have; `.badMac`; `.invalidMessage`; `.legacyVersion`.
    public func decrypt(_ message: PreKeySignalMessage) throws -> [UInt8] {
        try Self.requireTrusted(message.identityKey, for: address, direction: .receiving, in: store)
        var record = try store.loadSession(for: address) ?? SessionRecord()
        let builder = SessionBuilder(address: address, store: store, limits: limits, random: random)
        let usedPreKeyId = try builder.processPreKeyMessage(message, record: &record)
        // A pkmsg starts (or repeats) exactly the current state; older states are not tried
        // (libsignal `decrypt_message_with_record` for PreKey messages).
        var state = record.currentState!
        let plaintext = try decrypt(message.message, with: &state)
        record.currentState = state
        try store.saveIdentity(message.identityKey, for: address)
        if let usedPreKeyId { try store.removePreKey(id: usedPreKeyId) }
        try store.storeSession(record, for: address)
        return plaintext
    }

    /// Decrypts a `msg` with the current session state or, failing that, an archived one (which
    /// then becomes current again, libsignal `promote_old_session`).
    ///
    /// - Throws: `.noSession`; `.duplicateMessage`; `.badMac` when no state verifies it;
    ///   `.invalidMessage`; `.untrustedIdentity`.
    public func decrypt(_ message: SignalMessage) throws -> [UInt8] {
        guard var record = try store.loadSession(for: address), record.currentState != nil || !record.previousStates.isEmpty else {
            throw SignalError.noSession(address)
        }
        var firstError: Error?
        var plaintext: [UInt8]?
        var decryptedState: SessionState?
        if var state = record.currentState {
            do {
                plaintext = try decrypt(message, with: &state)
                record.currentState = state
                decryptedState = state
            } catch SignalError.duplicateMessage(let index, let counter) {
                throw SignalError.duplicateMessage(chainIndex: index, counter: counter)
            } catch {
                firstError = error
            }
        }
        if plaintext == nil {
            for index in record.previousStates.indices {
                var state = record.previousStates[index]
                do {
                    plaintext = try decrypt(message, with: &state)
                    record.previousStates.remove(at: index)
                    record.promote(state, limits: limits)
                    decryptedState = state
                    break
                } catch SignalError.duplicateMessage(let index, let counter) {
                    throw SignalError.duplicateMessage(chainIndex: index, counter: counter)
                } catch {
                    if firstError == nil { firstError = error }
                }
            }
        }
        guard let plaintext, let decryptedState else { throw firstError ?? SignalError.badMac }
        try Self.requireTrusted(decryptedState.remoteIdentity, for: address, direction: .receiving, in: store)
        try store.saveIdentity(decryptedState.remoteIdentity, for: address)
        try store.storeSession(record, for: address)
        return plaintext
    }

    /// Decrypts with one state, stepping the DH ratchet if the message brings a new ratchet key.
    private func decrypt(_ message: SignalMessage, with state: inout SessionState) throws -> [UInt8] {
        let chainIndex = try receiverChain(for: message.ratchetKey, in: &state)
        let keys = try messageKeys(for: message.counter, chain: chainIndex, in: &state)
        guard message.verifyMac(senderIdentity: state.remoteIdentity, receiverIdentity: state.localIdentity, macKey: keys.macKey) else {
            throw SignalError.badMac
        }
        let plaintext: [UInt8]
        do { plaintext = try AESCBC.decrypt(ciphertext: message.ciphertext, key: keys.cipherKey, iv: keys.iv) } catch {
            // The MAC verified, so the sender encrypted garbage: invalid, not forged.
            throw SignalError.invalidMessage("ciphertext: \(error)")
        }
        // The peer has answered, so it has the session: stop sending pkmsg.
        state.pendingPreKey = nil
        return plaintext
    }

    /// The receiving chain for `ratchetKey`, created by a DH ratchet step if it is new: receive
    /// chain = root.createChain(theirs, our current ratchet key), then a fresh ratchet key and
    /// send chain = root'.createChain(theirs, new key); previousCounter becomes the index of the
    /// last message sent on the old chain (libsignal `get_or_create_chain_key`, computed signed).
    private func receiverChain(for ratchetKey: [UInt8], in state: inout SessionState) throws -> Int {
        if let index = state.receiverChainIndex(for: ratchetKey) { return index }
        let receiving = try RootKey.createChain(rootKey: state.rootKey, theirRatchetKey: ratchetKey, ourRatchetKey: state.senderChain.ratchetKeyPair)
        let ourNewRatchetKey = RatchetKeyPair(Curve25519KeyPair.generate(random: random))
        let sending = try RootKey.createChain(rootKey: receiving.rootKey, theirRatchetKey: ratchetKey, ourRatchetKey: ourNewRatchetKey)
        state.rootKey = sending.rootKey
        state.addReceiverChain(ratchetKey: ratchetKey, chainKey: receiving.chainKey, limits: limits)
        let sentIndex = state.senderChain.chainKey.index
        state.previousCounter = sentIndex > 0 ? sentIndex - 1 : 0
        state.senderChain = .init(ratchetKeyPair: ourNewRatchetKey, chainKey: sending.chainKey)
        return state.receiverChains.count - 1
    }

    /// The keys for message `counter`: a stored skipped key (removed: each key decrypts once), or
    /// the chain advanced to `counter`, storing the keys it skips (libsignal
    /// `get_or_create_message_key`).
    private func messageKeys(for counter: UInt32, chain index: Int, in state: inout SessionState) throws -> MessageKeys {
        var chain = state.receiverChains[index]
        let chainIndex = chain.chainKey.index
        if counter < chainIndex {
            guard let position = chain.skippedKeys.lastIndex(where: { $0.index == counter }) else {
                throw SignalError.duplicateMessage(chainIndex: chainIndex, counter: counter)
            }
            let keys = chain.skippedKeys.remove(at: position)
            state.receiverChains[index] = chain
            return keys
        }
        let jump = Int(counter - chainIndex)
        guard jump <= limits.maxForwardJumps else {
            throw SignalError.invalidMessage("counter \(counter) is \(jump) messages ahead of the chain (limit \(limits.maxForwardJumps))")
        }
        // Only the newest maxMessageKeys skipped keys can be kept, so older ones are not derived.
        let firstKept = counter - UInt32(min(jump, limits.maxMessageKeys))
        var chainKey = chain.chainKey
        while chainKey.index < counter {
            if chainKey.index >= firstKept {
                let (keys, next) = chainKey.messageKeysAndNext
                chain.skippedKeys.append(keys)
                chainKey = next
            } else {
                chainKey = chainKey.next
            }
        }
        if chain.skippedKeys.count > limits.maxMessageKeys {
            chain.skippedKeys.removeFirst(chain.skippedKeys.count - limits.maxMessageKeys)
        }
        let (keys, next) = chainKey.messageKeysAndNext
        chain.chainKey = next
        state.receiverChains[index] = chain
        return keys
    }

    /// Throws `.untrustedIdentity` (with the stored key) unless the store trusts `identity`.
    static func requireTrusted(_ identity: IdentityKey, for address: SignalAddress, direction: SignalDirection,
                               in store: any IdentityKeyStore) throws {
        guard try store.isTrustedIdentity(identity, for: address, direction: direction) else {
            throw SignalError.untrustedIdentity(address: address, trusted: try store.identity(for: address), received: identity)
        }
    }
}
