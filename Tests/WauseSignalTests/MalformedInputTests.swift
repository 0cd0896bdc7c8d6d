import Testing
import WauseCrypto
import WauseSupport
@testable import WauseSignal

@Suite("malformed input")
struct MalformedInputTests {
    @Test func versionBytes() throws {
        let alice = try Party("alice", seed: 61), bob = try Party("bob", seed: 62)
        try alice.builder(to: bob).process(bob.bundle())
        guard case let .preKeySignalMessage(pkmsg) = try alice.encrypt("x", to: bob) else { Issue.record("expected pkmsg"); return }
        for (byte, expected) in [(UInt8(0x22), SignalError.legacyVersion(2)), (0x23, .legacyVersion(2)), (0x11, .legacyVersion(1)),
                                 (0x43, .unknownVersion(4)), (0x44, .unknownVersion(4)), (0xF3, .unknownVersion(15))] {
            var msg = pkmsg.message.serialized
            msg[0] = byte
            #expect(signalError { _ = try SignalMessage(serialized: msg) } == expected)
            var outer = pkmsg.serialized
            outer[0] = byte
            #expect(signalError { _ = try PreKeySignalMessage(serialized: outer) } == expected)
        }
        // The low nibble (the sender's own version) is not checked, as in libsignal.
        var msg = pkmsg.message.serialized
        msg[0] = 0x32
        #expect(try SignalMessage(serialized: msg).counter == 0)
    }

    @Test func truncationsAndBitFlipsAreTypedErrorsAndLeaveTheSessionIntact() throws {
        let alice = try Party("alice", seed: 63), bob = try Party("bob", seed: 64)
        try alice.builder(to: bob).process(bob.bundle())
        let pkmsg = try alice.encrypt("first", to: bob)
        var random = SplitMix64(seed: 65)
        // pkmsg: every truncation, and random bit flips, before Bob has a session.
        let pkBytes = pkmsg.serialized
        for length in 0..<pkBytes.count { expectTypedFailure(bob, alice, .preKeySignalMessage, Array(pkBytes.prefix(length))) }
        for _ in 0..<300 { expectTypedFailureOrSuccess(bob, alice, flip(pkBytes, &random)) }
        #expect(bob.store.loadPreKey(id: 1) != nil)
        #expect(try bob.decrypt(pkmsg, from: alice) == "first")
        #expect(try alice.decrypt(bob.encrypt("reply", to: alice), from: bob) == "reply")

        // msg: the same once the session is established.
        let msg = try alice.encrypt("second", to: bob)
        let before = bob.store.loadSession(for: alice.address)
        for length in 0..<msg.serialized.count { expectTypedFailure(bob, alice, .signalMessage, Array(msg.serialized.prefix(length))) }
        for _ in 0..<300 { expectTypedFailure(bob, alice, .signalMessage, flip(msg.serialized, &random)) }
        for length in [0, 1, 9, 40, 200] { expectTypedFailure(bob, alice, .signalMessage, random.bytes(length)) }
        expectTypedFailure(bob, alice, .signalMessage, [0x33] + random.bytes(60))
        #expect(bob.store.loadSession(for: alice.address) == before)
        #expect(try bob.decrypt(msg, from: alice) == "second")
    }

    enum Kind { case preKeySignalMessage, signalMessage }

    /// Decrypting must throw a SignalError.
    private func expectTypedFailure(_ receiver: Party, _ sender: Party, _ kind: Kind, _ bytes: [UInt8],
                                    sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try decrypt(receiver, sender, kind, bytes)
            Issue.record("malformed \(kind) of \(bytes.count) bytes decrypted", sourceLocation: sourceLocation)
        } catch is SignalError {
        } catch {
            Issue.record("expected a SignalError, got \(error)", sourceLocation: sourceLocation)
        }
    }

    /// A flipped bit in the registration id (or in a field's unused bits) can leave a pkmsg
    /// valid; anything else must be a SignalError. Either way no trap and no other error. Runs on
    /// a copy of the receiver's store, so a pkmsg that does decrypt consumes nothing real.
    private func expectTypedFailureOrSuccess(_ receiver: Party, _ sender: Party, _ bytes: [UInt8],
                                             sourceLocation: SourceLocation = #_sourceLocation) {
        let copy = SessionCipher(address: sender.address, store: InMemorySignalStore(receiver.store.snapshot), random: receiver.random)
        do {
            _ = try copy.decrypt(PreKeySignalMessage(serialized: bytes))
        } catch is SignalError {
        } catch {
            Issue.record("expected a SignalError, got \(error)", sourceLocation: sourceLocation)
        }
    }

    private func decrypt(_ receiver: Party, _ sender: Party, _ kind: Kind, _ bytes: [UInt8]) throws -> [UInt8] {
        switch kind {
        case .preKeySignalMessage: return try receiver.cipher(to: sender).decrypt(PreKeySignalMessage(serialized: bytes))
        case .signalMessage: return try receiver.cipher(to: sender).decrypt(SignalMessage(serialized: bytes))
        }
    }

    /// Flips 1–3 distinct bits (distinct, so two flips never cancel into the original message).
    private func flip(_ bytes: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var bits = Set<Int>()
        let count = 1 + random.next(below: 3)
        while bits.count < count { bits.insert(random.next(below: bytes.count * 8)) }
        var flipped = bytes
        for bit in bits { flipped[bit / 8] ^= UInt8(1 << (bit % 8)) }
        return flipped
    }
}
