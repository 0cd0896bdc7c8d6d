import Testing
import WauseCrypto
import WauseProto
import WauseSupport
@testable import WauseSignal

@Suite("records and limits")
struct RecordAndLimitTests {
    /// Ends with Bob holding skipped keys, several receiver chains and an archived state.
    static func busyConversation() throws -> (alice: Party, bob: Party, undelivered: [(String, CiphertextMessage)]) {
        let alice = try Party("alice", seed: 51), bob = try Party("bob", seed: 52)
        try bob.builder(to: alice).process(alice.bundle())  // archived later by Alice's pkmsg
        try alice.builder(to: bob).process(bob.bundle())
        var undelivered: [(String, CiphertextMessage)] = []
        for round in 0..<4 {
            for index in 0..<5 {
                let text = "round \(round) #\(index)"
                let message = try alice.encrypt(text, to: bob)
                if index % 2 == 1 { undelivered.append((text, message)) } else { #expect(try bob.decrypt(message, from: alice) == text) }
            }
            #expect(try alice.decrypt(bob.encrypt("reply \(round)", to: alice), from: bob) == "reply \(round)")
        }
        return (alice, bob, undelivered)
    }

    @Test func sessionRecordRoundTripsAndKeepsWorking() throws {
        let (alice, bob, undelivered) = try Self.busyConversation()
        let record = try #require(bob.store.loadSession(for: alice.address))
        #expect(record.previousStates.count == 1)
        #expect(record.currentState!.receiverChains.contains { !$0.skippedKeys.isEmpty })
        let bytes = record.serialized()
        let decoded = try SessionRecord(serialized: bytes)
        #expect(decoded == record)
        #expect(decoded.serialized() == bytes)

        // The bytes are libsignal's RecordStructure: keys 05-prefixed, version 3.
        let structure = try Textsecure_RecordStructure(serializedBytes: bytes)
        #expect(structure.currentSession.sessionVersion == 3)
        #expect(structure.currentSession.localIdentityPublic.count == 33)
        #expect(structure.currentSession.receiverChains.allSatisfy { $0.senderRatchetKey.first == 0x05 && $0.senderRatchetKeyPrivate.isEmpty })
        #expect(structure.previousSessions.count == 1)
        // SwiftProtobuf re-encodes what it read to exactly our bytes: same fields, same order.
        #expect(try structure.serializedBytes() == bytes)
        // Fields we do not know (libsignal's later timestamp, PQ state) are skipped when reading.
        let unknownFields: [UInt8] = [0x78, 0x01, 0x82, 0x01, 0x02, 0xAA, 0xBB, 0x8D, 0x01, 1, 2, 3, 4, 0x91, 0x01, 1, 2, 3, 4, 5, 6, 7, 8]
        #expect(try SessionRecord(serialized: bytes + unknownFields) == decoded)  // fields 15 (varint), 16 (bytes), 17 (fixed32), 18 (fixed64)
        #expect(signalError { _ = try SessionRecord(serialized: bytes + [0x9B, 0x01]) } != nil)  // field 19 as a group: refused
        // Skipped keys newest first, as libsignal writes them.
        let indexes = structure.currentSession.receiverChains.flatMap { $0.messageKeys.map(\.index) }
        #expect(!indexes.isEmpty)
        for chain in structure.currentSession.receiverChains where chain.messageKeys.count > 1 {
            #expect(chain.messageKeys.map(\.index) == chain.messageKeys.map(\.index).sorted(by: >))
        }

        // A store that only ever holds the bytes: the late messages still decrypt.
        bob.store.storeSession(decoded, for: alice.address)
        for (text, message) in undelivered.suffix(2) {
            #expect(try bob.decrypt(message, from: alice) == text)
        }
        #expect(try alice.decrypt(bob.encrypt("after reload", to: alice), from: bob) == "after reload")
    }

    @Test func preKeyRecordsRoundTrip() throws {
        let bob = try Party("bob", seed: 53)
        let preKey = try #require(bob.store.loadPreKey(id: 1))
        #expect(try PreKeyRecord(serialized: preKey.serialized()) == preKey)
        let signed = try #require(bob.store.loadSignedPreKey(id: 1))
        #expect(try SignedPreKeyRecord(serialized: signed.serialized()) == signed)
        #expect(XEdDSA.verify(signature: signed.signature, message: signed.keyPair.serializedPublicKey, publicKey: bob.store.identityKeyPair().publicKey))
    }

    @Test func corruptRecordsAreErrorsNotCrashes() throws {
        let (alice, bob, _) = try Self.busyConversation()
        let bytes = try #require(bob.store.loadSession(for: alice.address)).serialized()
        var random = SplitMix64(seed: 54)
        var failures = 0
        for length in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 200)) {
            if signalError({ _ = try SessionRecord(serialized: Array(bytes.prefix(length))) }) != nil { failures += 1 }
        }
        for _ in 0..<300 {
            var mutated = bytes
            for _ in 0..<(1 + random.next(below: 4)) { mutated[random.next(below: mutated.count)] ^= UInt8(1 << random.next(below: 8)) }
            _ = try? SessionRecord(serialized: mutated)  // any outcome but a trap
        }
        #expect(failures > 0)
        var wrongVersion = try Textsecure_RecordStructure(serializedBytes: bytes)
        wrongVersion.currentSession.sessionVersion = 2
        let encoded: [UInt8] = try wrongVersion.serializedBytes()
        guard case .invalidRecord = signalError({ _ = try SessionRecord(serialized: encoded) }) else {
            Issue.record("a v2 record must be refused")
            return
        }
    }

    @Test func forwardJumpLimit() throws {
        let limits = SignalLimits(maxForwardJumps: 30, maxMessageKeys: 10, maxReceiverChains: 5, maxArchivedStates: 40)
        let alice = try Party("alice", seed: 55, limits: limits), bob = try Party("bob", seed: 56, limits: limits)
        try alice.builder(to: bob).process(bob.bundle())
        #expect(try bob.decrypt(alice.encrypt("start", to: bob), from: alice) == "start")  // counter 0, chain at 1
        let messages = try (1...32).map { try alice.encrypt("m\($0)", to: bob) }
        // Counter 32 is 31 ahead of the chain (index 1): over the limit of 30.
        guard case .invalidMessage = signalError({ _ = try bob.decrypt(messages[31], from: alice) }) else {
            Issue.record("a jump over the limit must be refused")
            return
        }
        // Counter 31 is exactly 30 ahead: allowed. Only the newest 10 skipped keys (21...30) are kept.
        #expect(try bob.decrypt(messages[30], from: alice) == "m31")
        let chain = try #require(bob.store.loadSession(for: alice.address)?.currentState?.receiverChains.last)
        #expect(chain.skippedKeys.map(\.index) == Array(21...30))
        for counter in 21...30 { #expect(try bob.decrypt(messages[counter - 1], from: alice) == "m\(counter)") }
        for counter in [1, 10, 20] {
            #expect(signalError { _ = try bob.decrypt(messages[counter - 1], from: alice) } == .duplicateMessage(chainIndex: 32, counter: UInt32(counter)))
        }
        #expect(try bob.decrypt(messages[31], from: alice) == "m32")
    }

    @Test func libsignalAndWhatsAppLimits() throws {
        #expect(SignalLimits.libsignal == SignalLimits(maxForwardJumps: 25_000, maxMessageKeys: 2_000, maxReceiverChains: 5, maxArchivedStates: 40))
        #expect(SignalLimits.whatsApp.maxForwardJumps == 2_000)
        // With WhatsApp's limit, 2001 messages ahead is refused; libsignal's accepts it and keeps 2000 keys.
        let alice = try Party("alice", seed: 57), bob = try Party("bob", seed: 58)
        try alice.builder(to: bob).process(bob.bundle())
        #expect(try bob.decrypt(alice.encrypt("start", to: bob), from: alice) == "start")
        var last: CiphertextMessage?
        for index in 1...2002 { last = try alice.encrypt("m\(index)", to: bob) }
        let far = try #require(last)  // counter 2002, 2001 ahead of the chain
        let strict = SessionCipher(address: alice.address, store: bob.store, limits: .whatsApp, random: bob.random)
        guard case .invalidMessage = signalError({ _ = try strict.decrypt(SignalMessage(serialized: far.serializedInnerMessage)) }) else {
            Issue.record("WhatsApp's limit refuses a jump of 2001")
            return
        }
        #expect(try bob.decrypt(far, from: alice) == "m2002")
        #expect(bob.store.loadSession(for: alice.address)?.currentState?.receiverChains.last?.skippedKeys.count == 2000)
    }
}

extension CiphertextMessage {
    /// The `msg` inside (a pkmsg's embedded message).
    var serializedInnerMessage: [UInt8] {
        switch self {
        case let .preKeySignalMessage(message): return message.message.serialized
        case let .signalMessage(message): return message.serialized
        }
    }
}
