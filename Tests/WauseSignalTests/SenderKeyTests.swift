import Testing
import WauseCrypto
import WauseProto
import WauseSupport
@testable import WauseSignal

/// Sender keys (groups): distribution, encrypt/decrypt, the limits and the failure cases, each
/// against libsignal's behaviour (signalapp/libsignal rust/protocol/src/group_cipher.rs,
/// libsignal-protocol-c tests/test_group_cipher.c).
@Suite("sender keys")
struct SenderKeyTests {
    static let group = "120363000000000001@g.us"

    /// One group member device: its store and its sender key name.
    struct Member {
        let store: InMemorySignalStore
        let address: SignalAddress
        let random: SignalRandom
        var limits: SenderKeyLimits = .libsignal

        init(_ name: String, seed: UInt64, limits: SenderKeyLimits = .libsignal) {
            random = SeededRandom(seed: seed).source
            store = InMemorySignalStore(identityKeyPair: Curve25519KeyPair.generate(random: random), registrationId: 1)
            address = SignalAddress(name: name, deviceId: 1)
            self.limits = limits
        }

        var name: SenderKeyName { SenderKeyName(groupId: SenderKeyTests.group, sender: address) }
        var builder: GroupSessionBuilder { GroupSessionBuilder(store: store, limits: limits, random: random) }

        func distribution() throws -> SenderKeyDistributionMessage { try builder.create(for: name) }

        /// Processes `sender`'s SKDM from its bytes, as received.
        func process(_ message: SenderKeyDistributionMessage, from sender: Member) throws {
            try builder.process(SenderKeyDistributionMessage(serialized: message.serialized), from: sender.name)
        }

        func encrypt(_ text: String) throws -> SenderKeyMessage {
            try GroupCipher(name: name, store: store, limits: limits, random: random).encrypt(Array(text.utf8))
        }

        func decrypt(_ message: SenderKeyMessage, from sender: Member) throws -> String {
            let plaintext = try GroupCipher(name: sender.name, store: store, limits: limits, random: random)
                .decrypt(SenderKeyMessage(serialized: message.serialized))
            return String(decoding: plaintext, as: UTF8.self)
        }

        func record(of sender: Member) -> SenderKeyRecord? { store.loadSenderKey(for: sender.name) }
    }

    static func pair(limits: SenderKeyLimits = .libsignal) throws -> (alice: Member, bob: Member) {
        let alice = Member("alice", seed: 101, limits: limits), bob = Member("bob", seed: 102, limits: limits)
        try bob.process(alice.distribution(), from: alice)
        return (alice, bob)
    }

    @Test func roundTripInOrderAndWireFormat() throws {
        let (alice, bob) = try Self.pair()
        for index in 0..<5 {
            let message = try alice.encrypt("hello \(index)")
            #expect(message.iteration == UInt32(index))
            #expect(try bob.decrypt(message, from: alice) == "hello \(index)")
        }
        // The SKDM and skmsg bytes are WhisperTextProtocol's, version byte 0x33.
        let distribution = try alice.distribution()
        #expect(distribution.serialized.first == 0x33)
        let skdm = try Textsecure_SenderKeyDistributionMessage(serializedBytes: Array(distribution.serialized.dropFirst()))
        #expect(skdm.id == distribution.keyId && skdm.iteration == 5)
        #expect(skdm.chainKey.count == 32 && skdm.signingKey.count == 33 && skdm.signingKey.first == 0x05)
        #expect(distribution.keyId < 1 << 31)
        let message = try alice.encrypt("wire")
        let body = Array(message.serialized.dropFirst().dropLast(SenderKeyMessage.signatureLength))
        let skm = try Textsecure_SenderKeyMessage(serializedBytes: body)
        #expect(message.serialized.first == 0x33)
        #expect(skm.id == distribution.keyId && skm.iteration == 5 && Array(skm.ciphertext) == message.ciphertext)
        #expect(try skm.serializedBytes() == body)
        // The signature is libsignal's curve25519 signature over 0x33 ‖ protobuf, by the SKDM's key.
        #expect(XEdDSA.verify(signature: Array(message.serialized.suffix(64)), message: Array(message.serialized.dropLast(64)),
                              publicKey: distribution.signingKey))
        #expect(try bob.decrypt(message, from: alice) == "wire")
    }

    @Test func createKeepsOurKeyAndDistributesWhereTheChainStands() throws {
        let alice = Member("alice", seed: 103)
        let first = try alice.distribution()
        #expect(first.iteration == 0)
        _ = try alice.encrypt("before carol")
        _ = try alice.encrypt("before carol 2")
        let second = try alice.distribution()
        #expect(second.keyId == first.keyId && second.signingKey == first.signingKey && second.iteration == 2)
        // A member who joins now cannot read what was sent before.
        let carol = Member("carol", seed: 104)
        try carol.process(second, from: alice)
        let late = try alice.encrypt("after carol")
        #expect(try carol.decrypt(late, from: alice) == "after carol")
    }

    @Test func outOfOrderAndDuplicates() throws {
        let (alice, bob) = try Self.pair()
        let messages = try (0..<6).map { try alice.encrypt("m\($0)") }
        for index in [4, 1, 5, 0, 3, 2] {
            #expect(try bob.decrypt(messages[index], from: alice) == "m\(index)")
        }
        let record = try #require(bob.record(of: alice))
        #expect(record.states[0].messageKeys.isEmpty)
        for index in [0, 2, 5] {
            #expect(signalError { _ = try bob.decrypt(messages[index], from: alice) } == .duplicateMessage(chainIndex: 6, counter: UInt32(index)))
        }
        #expect(bob.record(of: alice) == record)  // a duplicate changes nothing
        #expect(try bob.decrypt(alice.encrypt("next"), from: alice) == "next")
    }

    /// Advances our own sender key by `count` iterations without encrypting (only HMACs), to reach
    /// the forward-jump limit cheaply.
    static func skip(_ count: Int, of member: Member) throws {
        var record = try #require(member.record(of: member))
        for _ in 0..<count { record.states[0].chainKey = record.states[0].chainKey.next }
        member.store.storeSenderKey(record, for: member.name)
    }

    @Test func forwardJumpsUpToTheLimit() throws {
        let (alice, bob) = try Self.pair()
        let first = try alice.encrypt("first")
        try Self.skip(1_999, of: alice)
        let far = try alice.encrypt("2000 ahead")  // iteration 2000: a jump of exactly 2000
        #expect(far.iteration == 2_000)
        #expect(try bob.decrypt(far, from: alice) == "2000 ahead")
        // Every skipped key is kept (2000: iterations 0…1999), so the first still decrypts.
        #expect(bob.record(of: alice)?.states[0].messageKeys.count == 2_000)
        #expect(try bob.decrypt(first, from: alice) == "first")

        try Self.skip(2_001, of: alice)
        let tooFar = try alice.encrypt("2002 ahead")
        let before = bob.record(of: alice)
        guard case .invalidMessage = signalError({ _ = try bob.decrypt(tooFar, from: alice) }) else {
            Issue.record("a jump beyond 2000 must be refused")
            return
        }
        #expect(bob.record(of: alice) == before)
    }

    @Test func skippedKeysAreCappedOldestDropped() throws {
        let limits = SenderKeyLimits(maxForwardJumps: 50, maxMessageKeys: 4, maxStates: 5)
        let (alice, bob) = try Self.pair(limits: limits)
        let messages = try (0..<8).map { try alice.encrypt("m\($0)") }
        #expect(try bob.decrypt(messages[7], from: alice) == "m7")
        let kept = try #require(bob.record(of: alice)).states[0].messageKeys.map(\.iteration)
        #expect(kept == [3, 4, 5, 6])
        #expect(signalError { _ = try bob.decrypt(messages[2], from: alice) } == .duplicateMessage(chainIndex: 8, counter: 2))
        #expect(try bob.decrypt(messages[3], from: alice) == "m3")
        // Gaps across two jumps: the oldest go first.
        let more = try (8..<12).map { try alice.encrypt("m\($0)") }
        #expect(try bob.decrypt(more[3], from: alice) == "m11")
        #expect(try #require(bob.record(of: alice)).states[0].messageKeys.map(\.iteration) == [6, 8, 9, 10])
        #expect(try bob.decrypt(messages[6], from: alice) == "m6")
        #expect(signalError { _ = try bob.decrypt(messages[4], from: alice) } == .duplicateMessage(chainIndex: 12, counter: 4))
    }

    @Test func recordKeepsFiveStatesNewestFirst() throws {
        let alice = Member("alice", seed: 105), bob = Member("bob", seed: 106)
        var sent: [(UInt32, SenderKeyMessage)] = []
        for round in 0..<6 {
            // Alice rotates her key: a new record, a new id and signing key.
            alice.store.storeSenderKey(SenderKeyRecord(), for: alice.name)
            let distribution = try alice.distribution()
            try bob.process(distribution, from: alice)
            sent.append((distribution.keyId, try alice.encrypt("key \(round)")))
        }
        let record = try #require(bob.record(of: alice))
        #expect(record.states.count == 5)
        #expect(record.states.map(\.keyId) == sent.suffix(5).reversed().map(\.0))
        // The oldest key is gone: its message asks for the key again.
        #expect(signalError { _ = try bob.decrypt(sent[0].1, from: alice) } == .noSenderKey(name: alice.name, keyId: sent[0].0))
        // Every kept key still decrypts, in any order.
        for round in [3, 1, 5, 2, 4] { #expect(try bob.decrypt(sent[round].1, from: alice) == "key \(round)") }
    }

    @Test func repeatedDistributionDoesNotRewind() throws {
        let (alice, bob) = try Self.pair()
        let original = try #require(alice.record(of: alice)).states[0]
        let replay = SenderKeyDistributionMessage(keyId: original.keyId, iteration: 0, chainKey: original.chainKey.seed,
                                                  signingKey: original.signingPublicKey)
        let first = try alice.encrypt("once")
        #expect(try bob.decrypt(first, from: alice) == "once")
        try bob.process(replay, from: alice)  // the same SKDM again (or replayed)
        #expect(bob.record(of: alice)?.states.count == 1)
        #expect(signalError { _ = try bob.decrypt(first, from: alice) } == .duplicateMessage(chainIndex: 1, counter: 0))
        #expect(try bob.decrypt(alice.encrypt("twice"), from: alice) == "twice")
    }

    @Test func changedSigningKeyForTheSameIdReplacesTheState() throws {
        let (alice, bob) = try Self.pair()
        let old = try alice.encrypt("old key")
        let keyId = try #require(alice.record(of: alice)).states[0].keyId
        // Alice's key is replaced by one with the same id but a new signing key and chain.
        let random = SeededRandom(seed: 107).source
        let signing = Curve25519KeyPair.generate(random: random)
        let state = SenderKeyState(keyId: keyId, chainKey: SenderChainKey(iteration: 0, seed: random(32)),
                                       signingPublicKey: signing.publicKey, signingPrivateKey: signing.privateKey)
        alice.store.storeSenderKey(SenderKeyRecord(states: [state]), for: alice.name)
        try bob.process(alice.distribution(), from: alice)
        let record = try #require(bob.record(of: alice))
        #expect(record.states.count == 1 && record.states[0].signingPublicKey == signing.publicKey)
        // The old key's message no longer verifies; the new key's does.
        #expect(signalError { _ = try bob.decrypt(old, from: alice) } == .invalidSenderKeySignature(name: alice.name))
        #expect(try bob.decrypt(alice.encrypt("new key"), from: alice) == "new key")
    }

    @Test func tamperedMessagesAreRefusedAndChangeNothing() throws {
        let (alice, bob) = try Self.pair()
        let message = try alice.encrypt("genuine")
        let before = bob.record(of: alice)
        var badSignature = message.serialized
        badSignature[badSignature.count - 10] ^= 0x01
        var badBody = message.serialized
        badBody[badBody.count - 70] ^= 0x01  // inside the ciphertext
        var badSignBit = message.serialized
        badSignBit[badSignBit.count - 1] ^= 0x80  // the Edwards sign bit: the wrong public key
        for bytes in [badSignature, badBody, badSignBit] {
            let parsed = try SenderKeyMessage(serialized: bytes)
            #expect(signalError { _ = try GroupCipher(name: alice.name, store: bob.store).decrypt(parsed) }
                == .invalidSenderKeySignature(name: alice.name))
        }
        // Another sender's key, even with the right id, does not verify it either.
        let mallory = Member("mallory", seed: 108)
        let forged = try mallory.distribution()
        try bob.process(SenderKeyDistributionMessage(keyId: forged.keyId, iteration: 0, chainKey: forged.chainKey, signingKey: forged.signingKey), from: mallory)
        #expect(bob.record(of: alice) == before)
        #expect(try bob.decrypt(message, from: alice) == "genuine")
    }

    @Test func missingSenderKeysAreClearErrors() throws {
        let alice = Member("alice", seed: 109), bob = Member("bob", seed: 110)
        let message = try { _ = try alice.distribution(); return try alice.encrypt("no key yet") }()
        #expect(signalError { _ = try bob.decrypt(message, from: alice) } == .noSenderKey(name: alice.name, keyId: message.keyId))
        #expect(signalError { _ = try bob.encrypt("without create") } == .noSenderKey(name: bob.name, keyId: nil))
        // Someone else's sender key cannot encrypt: it has no private signing key.
        try bob.process(alice.distribution(), from: alice)
        #expect(signalError { _ = try GroupCipher(name: alice.name, store: bob.store).encrypt([1]) } == .noSenderKey(name: alice.name, keyId: nil))
        // An id we do not hold.
        try bob.process(SenderKeyDistributionMessage(serialized: alice.distribution().serialized), from: alice)
        alice.store.storeSenderKey(SenderKeyRecord(), for: alice.name)
        let rotated = try { _ = try alice.distribution(); return try alice.encrypt("rotated") }()
        #expect(signalError { _ = try bob.decrypt(rotated, from: alice) } == .noSenderKey(name: alice.name, keyId: rotated.keyId))
        #expect(SignalError.noSenderKey(name: alice.name, keyId: 7).code == "no_sender_key")
        #expect("\(SignalError.noSenderKey(name: alice.name, keyId: 7))".contains("120363000000000001@g.us::alice::1"))
    }

    @Test func recordSerializationRoundTripsAndKeepsWorking() throws {
        let (alice, bob) = try Self.pair()
        let messages = try (0..<5).map { try alice.encrypt("m\($0)") }
        #expect(try bob.decrypt(messages[4], from: alice) == "m4")
        let carol = Member("carol", seed: 111)
        try bob.process(carol.distribution(), from: carol)
        for store in [alice, bob] {
            for owner in [alice, carol] {
                guard let record = store.record(of: owner) else { continue }
                let bytes = record.serialized()
                let decoded = try SenderKeyRecord(serialized: bytes)
                #expect(decoded == record)
                #expect(decoded.serialized() == bytes)
                // Unknown fields (a later libsignal's) are skipped.
                #expect(try SenderKeyRecord(serialized: bytes + [0x10, 0x01]) == record)
                store.store.storeSenderKey(decoded, for: owner.name)
            }
        }
        #expect(try #require(bob.record(of: alice)).states[0].messageKeys.map(\.iteration) == [0, 1, 2, 3])
        #expect(try #require(alice.record(of: alice)).states[0].isOwn)
        #expect(try #require(bob.record(of: alice)).states[0].isOwn == false)
        // After the reload: skipped keys, our signing key and the chain all still work.
        #expect(try bob.decrypt(messages[1], from: alice) == "m1")
        #expect(try bob.decrypt(alice.encrypt("after reload"), from: alice) == "after reload")
        #expect(try SenderKeyRecord(serialized: []).isEmpty)
    }

    @Test func malformedInputIsRefused() throws {
        let (alice, _) = try Self.pair()
        let skdm = try alice.distribution().serialized
        let skmsg = try alice.encrypt("x").serialized
        let cases: [(String, () throws -> Void)] = [
            ("empty skdm", { _ = try SenderKeyDistributionMessage(serialized: []) }),
            ("truncated skdm", { _ = try SenderKeyDistributionMessage(serialized: Array(skdm.dropLast(3))) }),
            ("skdm without signing key", { _ = try SenderKeyDistributionMessage(serialized: Array(skdm.prefix(skdm.count - 35))) }),
            ("skmsg too short", { _ = try SenderKeyMessage(serialized: Array(skmsg.suffix(64))) }),
            ("skmsg truncated", { _ = try SenderKeyMessage(serialized: [0x33, 0x08] + Array(skmsg.suffix(64))) }),
        ]
        for (label, body) in cases {
            guard case .invalidMessage = signalError(body) else {
                Issue.record("\(label) must be an invalid message")
                continue
            }
        }
        #expect(signalError { _ = try SenderKeyMessage(serialized: [0x23] + skmsg.dropFirst()) } == .legacyVersion(2))
        #expect(signalError { _ = try SenderKeyDistributionMessage(serialized: [0x44] + skdm.dropFirst()) } == .unknownVersion(4))
        guard case .invalidRecord = signalError({ _ = try SenderKeyRecord(serialized: [0x0A, 0x02, 0x08, 0x01]) }) else {
            Issue.record("a state without chain or signing key must be an invalid record")
            return
        }
    }

    @Test func messageKeysFollowTheWhisperGroupKDF() throws {
        // HMAC(chain, 0x01) seeds HKDF(info "WhisperGroup", 48) → IV ‖ cipher key; HMAC(chain, 0x02)
        // is the next chain key (go.mau.fi/libsignal groups/ratchet/SenderChainKey.go,
        // SenderMessageKey.go), recomputed here with WauseCrypto's generic HMAC and HKDF.
        let seed = hex("8ab72d6f4cc5ac0d387eaf463378ddb28edd07385b1cb01250c715982e7ad48f")
        let chain = SenderChainKey(iteration: 7, seed: seed)
        let (messageKey, next) = chain.messageKeyAndNext
        #expect(messageKey.iteration == 7 && next.iteration == 8)
        #expect(messageKey.seed == HMAC.sha256(key: seed, message: [0x01]))
        #expect(next.seed == HMAC.sha256(key: seed, message: [0x02]))
        let derived = try HKDF.sha256(inputKeyMaterial: messageKey.seed, info: Array("WhisperGroup".utf8), outputByteCount: 48)
        #expect(messageKey.ivAndCipherKey.iv == Array(derived[0..<16]))
        #expect(messageKey.ivAndCipherKey.cipherKey == Array(derived[16..<48]))
    }
}
