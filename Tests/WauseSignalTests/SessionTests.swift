import Testing
import WauseCrypto
import WauseProto
import WauseSupport
@testable import WauseSignal

@Suite("sessions: X3DH and the double ratchet")
struct SessionTests {
    @Test("round trip with and without a one-time prekey", arguments: [UInt32?.some(2), nil])
    func roundTrip(preKeyId: UInt32?) throws {
        let alice = try Party("alice", seed: 1), bob = try Party("bob", seed: 2)
        try alice.builder(to: bob).process(bob.bundle(preKeyId: preKeyId))

        // Until Bob answers, everything Alice sends is a pkmsg naming the prekeys she used.
        let first = try alice.encrypt("hello", to: bob), second = try alice.encrypt("again", to: bob)
        guard case let .preKeySignalMessage(pkmsg) = first, case .preKeySignalMessage = second else {
            Issue.record("expected pkmsg, got \(first.type) and \(second.type)")
            return
        }
        #expect(first.type == "pkmsg")
        #expect(pkmsg.preKeyId == preKeyId)
        #expect(pkmsg.signedPreKeyId == 1)
        #expect(pkmsg.registrationId == alice.store.localRegistrationId())
        #expect(pkmsg.identityKey == alice.store.identityKeyPair().identityKey)
        #expect(pkmsg.message.counter == 0)
        #expect(try bob.decrypt(first, from: alice) == "hello")
        #expect(try bob.decrypt(second, from: alice) == "again")
        if let preKeyId { #expect(bob.store.loadPreKey(id: preKeyId) == nil) }
        #expect(bob.store.loadPreKey(id: 1) != nil)  // untouched
        #expect(bob.store.loadSession(for: alice.address)?.currentState?.remoteRegistrationId == alice.store.localRegistrationId())

        // Bob's reply is a msg; once Alice decrypts it she stops sending pkmsg.
        let reply = try bob.encrypt("hi alice", to: alice)
        #expect(reply.type == "msg")
        #expect(try alice.decrypt(reply, from: bob) == "hi alice")
        let third = try alice.encrypt("third", to: bob)
        #expect(third.type == "msg")
        #expect(try bob.decrypt(third, from: alice) == "third")
        #expect(alice.store.identity(for: bob.address) == bob.store.identityKeyPair().identityKey)
        #expect(bob.store.identity(for: alice.address) == alice.store.identityKeyPair().identityKey)
    }

    @Test func wireFormatIsV3WithAnEightByteMac() throws {
        let alice = try Party("alice", seed: 3), bob = try Party("bob", seed: 4)
        try alice.builder(to: bob).process(bob.bundle())
        // The sending chain key before the message, to recompute its keys independently.
        let before = try #require(alice.store.loadSession(for: bob.address)?.currentState)
        guard case let .preKeySignalMessage(pkmsg) = try alice.encrypt("x", to: bob) else { Issue.record("expected pkmsg"); return }
        #expect(pkmsg.serialized[0] == 0x33)
        let inner = pkmsg.message.serialized
        #expect(inner[0] == 0x33)

        // The protobuf between the version byte and the MAC holds the four fields (go.mau.fi/libsignal protocol/SignalMessage.go).
        let decoded = try Textsecure_SignalMessage(serializedBytes: Array(inner[1..<(inner.count - 8)]))
        #expect(Array(decoded.ratchetKey) == DjbPublicKey.serialize(before.senderChain.ratchetKeyPair.publicKey))
        #expect(decoded.counter == 0 && decoded.previousCounter == 0)

        // Message keys = HKDF(HMAC(chainKey, 01), "WhisperMessageKeys", 80); MAC =
        // HMAC-SHA256(macKey, senderId33 ‖ receiverId33 ‖ 0x33 ‖ protobuf) cut to 8 bytes.
        let seed = HMAC.sha256(key: before.senderChain.chainKey.key, message: [0x01])
        let derived = try HKDF.sha256(inputKeyMaterial: seed, info: Array("WhisperMessageKeys".utf8), outputByteCount: 80)
        let macInput = alice.store.identityKeyPair().serializedPublicKey + bob.store.identityKeyPair().serializedPublicKey + inner.dropLast(8)
        #expect(Array(inner.suffix(8)) == Array(HMAC.sha256(key: Array(derived[32..<64]), message: macInput).prefix(8)))
        let plaintext = try AESCBC.decrypt(ciphertext: Array(decoded.ciphertext), key: Array(derived[0..<32]), iv: Array(derived[64..<80]))
        #expect(plaintext == Array("x".utf8))

        let outer = try Textsecure_PreKeySignalMessage(serializedBytes: Array(pkmsg.serialized.dropFirst()))
        #expect(outer.preKeyID == 1 && outer.signedPreKeyID == 1)
        #expect(Array(outer.baseKey) == DjbPublicKey.serialize(before.aliceBaseKey))
        #expect(Array(outer.message) == inner)
        // Our hand-written protobuf is byte for byte what SwiftProtobuf writes for the same fields.
        #expect([0x33] + (try outer.serializedBytes() as [UInt8]) == pkmsg.serialized)
        #expect([0x33] + (try decoded.serializedBytes() as [UInt8]) + inner.suffix(8) == inner)
    }

    @Test func longPingPongAcrossRatchetSteps() throws {
        let alice = try Party("alice", seed: 5), bob = try Party("bob", seed: 6)
        try alice.builder(to: bob).process(bob.bundle())
        var random = SplitMix64(seed: 7)
        var aliceTurn = true
        for round in 0..<60 {
            // Runs of 1–4 messages each way so both single steps and same-chain runs occur.
            let run = 1 + random.next(below: 4)
            let (sender, receiver) = aliceTurn ? (alice, bob) : (bob, alice)
            for index in 0..<run {
                let text = "\(sender.name) round \(round) message \(index)"
                #expect(try receiver.decrypt(sender.encrypt(text, to: receiver), from: sender) == text)
            }
            aliceTurn.toggle()
        }
        let state = try #require(alice.store.loadSession(for: bob.address)?.currentState)
        #expect(state.receiverChains.count == SignalLimits.libsignal.maxReceiverChains)
        #expect(state.pendingPreKey == nil)
    }

    @Test func outOfOrderAndDuplicateDelivery() throws {
        let alice = try Party("alice", seed: 8), bob = try Party("bob", seed: 9)
        try alice.builder(to: bob).process(bob.bundle())
        #expect(try bob.decrypt(alice.encrypt("start", to: bob), from: alice) == "start")
        #expect(try alice.decrypt(bob.encrypt("ack", to: alice), from: bob) == "ack")

        var random = SplitMix64(seed: 10)
        for round in 0..<5 {
            let messages = try (0..<12).map { index in ("r\(round) m\(index)", try alice.encrypt("r\(round) m\(index)", to: bob)) }
            for (text, message) in messages.shuffled(using: &random) {
                #expect(try bob.decrypt(message, from: alice) == text)
            }
            for (_, message) in messages.shuffled(using: &random).prefix(4) {
                guard case .duplicateMessage = signalError({ _ = try bob.decrypt(message, from: alice) }) else {
                    Issue.record("a replayed message must be a duplicate")
                    continue
                }
            }
            // A reply moves the ratchet; the next round starts a new chain.
            #expect(try alice.decrypt(bob.encrypt("round \(round) done", to: alice), from: bob) == "round \(round) done")
        }
    }

    @Test func messagesFromAnOlderChainStillDecryptAfterTheRatchetMoved() throws {
        let alice = try Party("alice", seed: 11), bob = try Party("bob", seed: 12)
        try alice.builder(to: bob).process(bob.bundle())
        #expect(try bob.decrypt(alice.encrypt("start", to: bob), from: alice) == "start")
        let delayed = try alice.encrypt("delayed", to: bob)
        #expect(try alice.decrypt(bob.encrypt("step", to: alice), from: bob) == "step")
        let newer = try alice.encrypt("newer", to: bob)
        #expect(try bob.decrypt(newer, from: alice) == "newer")
        #expect(try bob.decrypt(delayed, from: alice) == "delayed")
    }

    @Test func receiverChainsBeyondTheLimitAreForgotten() throws {
        let limits = SignalLimits(maxForwardJumps: 100, maxMessageKeys: 100, maxReceiverChains: 2, maxArchivedStates: 40)
        let alice = try Party("alice", seed: 13, limits: limits), bob = try Party("bob", seed: 14, limits: limits)
        try alice.builder(to: bob).process(bob.bundle())
        #expect(try bob.decrypt(alice.encrypt("start", to: bob), from: alice) == "start")
        let onFirstChain = try alice.encrypt("on Alice's first chain", to: bob)
        #expect(try alice.decrypt(bob.encrypt("a", to: alice), from: bob) == "a")
        let onSecondChain = try alice.encrypt("on Alice's second chain", to: bob)
        #expect(try bob.decrypt(alice.encrypt("b", to: bob), from: alice) == "b")
        #expect(try alice.decrypt(bob.encrypt("c", to: alice), from: bob) == "c")
        #expect(try bob.decrypt(alice.encrypt("d", to: bob), from: alice) == "d")
        // Bob keeps 2 receiving chains: Alice's second ("b") and third ("d"); the first is gone,
        // so its message is taken for a new ratchet key and fails the MAC.
        #expect(bob.store.loadSession(for: alice.address)?.currentState?.receiverChains.count == 2)
        #expect(signalError { _ = try bob.decrypt(onFirstChain, from: alice) } == .badMac)
        #expect(try bob.decrypt(onSecondChain, from: alice) == "on Alice's second chain")
        // The failure changed nothing.
        #expect(try bob.decrypt(alice.encrypt("e", to: bob), from: alice) == "e")
    }

    @Test func noSessionErrors() throws {
        let alice = try Party("alice", seed: 15), bob = try Party("bob", seed: 16)
        #expect(signalError { _ = try alice.encrypt("x", to: bob) } == .noSession(bob.address))
        try alice.builder(to: bob).process(bob.bundle())
        #expect(try bob.decrypt(alice.encrypt("x", to: bob), from: alice) == "x")
        let msg = try bob.encrypt("y", to: alice)
        alice.store.deleteSession(for: bob.address)
        #expect(signalError { _ = try alice.decrypt(msg, from: bob) } == .noSession(bob.address))
    }

    @Test func bundleWithABadSignatureIsRejected() throws {
        let alice = try Party("alice", seed: 17), bob = try Party("bob", seed: 18)
        let good = try bob.bundle()
        var signature = good.signedPreKeySignature
        signature[5] ^= 0x01
        let forged = try PreKeyBundle(
            registrationId: good.registrationId, deviceId: 1, preKeyId: good.preKeyId, preKeyPublic: good.preKeyPublic,
            signedPreKeyId: good.signedPreKeyId, signedPreKeyPublic: good.signedPreKeyPublic, signedPreKeySignature: signature,
            identityKey: good.identityKey)
        #expect(signalError { try alice.builder(to: bob).process(forged) } == .invalidSignature)
        #expect(alice.store.loadSession(for: bob.address) == nil)
        #expect(alice.store.identity(for: bob.address) == nil)
    }

    @Test func simultaneousInitiationDecryptsWithTheArchivedState() throws {
        let alice = try Party("alice", seed: 19), bob = try Party("bob", seed: 20)
        try alice.builder(to: bob).process(bob.bundle(preKeyId: 1))
        try bob.builder(to: alice).process(alice.bundle(preKeyId: 1))
        let fromAlice = try alice.encrypt("alice first", to: bob)
        let fromBob = try bob.encrypt("bob first", to: alice)
        // Each side's pkmsg starts a new session at the other, archiving the one it initiated.
        #expect(try bob.decrypt(fromAlice, from: alice) == "alice first")
        #expect(try alice.decrypt(fromBob, from: bob) == "bob first")
        #expect(bob.store.loadSession(for: alice.address)?.previousStates.count == 1)

        // Alice now sends with the session Bob started; Bob has it archived and must promote it.
        let crossed = try alice.encrypt("on bob's session", to: bob)
        #expect(crossed.type == "msg")
        #expect(try bob.decrypt(crossed, from: alice) == "on bob's session")
        let bobRecord = try #require(bob.store.loadSession(for: alice.address))
        #expect(bobRecord.currentState?.aliceBaseKey == alice.store.loadSession(for: bob.address)?.currentState?.aliceBaseKey)
        #expect(try alice.decrypt(bob.encrypt("converged", to: alice), from: bob) == "converged")
        #expect(try bob.decrypt(alice.encrypt("and back", to: bob), from: alice) == "and back")
    }

    @Test func aPkmsgForAnArchivedSessionPromotesIt() throws {
        let alice = try Party("alice", seed: 23), bob = try Party("bob", seed: 24)
        try alice.builder(to: bob).process(bob.bundle(preKeyId: 1))
        #expect(try bob.decrypt(alice.encrypt("first", to: bob), from: alice) == "first")
        // Bob starts a session of his own (say he lost track), archiving Alice's.
        try bob.builder(to: alice).process(alice.bundle(preKeyId: 1))
        #expect(bob.store.loadSession(for: alice.address)?.previousStates.count == 1)
        // Alice has not heard from Bob: still a pkmsg with the same base key.
        let second = try alice.encrypt("second", to: bob)
        #expect(second.type == "pkmsg")
        #expect(try bob.decrypt(second, from: alice) == "second")
        let record = try #require(bob.store.loadSession(for: alice.address))
        #expect(record.currentState?.aliceBaseKey == alice.store.loadSession(for: bob.address)?.currentState?.aliceBaseKey)
        #expect(record.previousStates.count == 1)  // Bob's own session, now archived
        #expect(try alice.decrypt(bob.encrypt("reply", to: alice), from: bob) == "reply")
    }

    @Test func archivedStatesAreCappedAtTheLimit() throws {
        let alice = try Party("alice", seed: 21), bob = try Party("bob", seed: 22, preKeys: 0)
        for _ in 0..<(SignalLimits.libsignal.maxArchivedStates + 5) {
            try alice.builder(to: bob).process(bob.bundle(preKeyId: nil))
        }
        let record = try #require(alice.store.loadSession(for: bob.address))
        #expect(record.previousStates.count == SignalLimits.libsignal.maxArchivedStates)
        #expect(record.previousStates.allSatisfy { !$0.hasPendingPreKey })
        #expect(record.currentState?.hasPendingPreKey == true)
        // The newest session works.
        #expect(try bob.decrypt(alice.encrypt("latest", to: bob), from: alice) == "latest")
    }
}
