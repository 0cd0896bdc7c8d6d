import Testing
import WauseCrypto
@testable import WauseSignal

@Suite("one-time prekeys and identity trust")
struct PreKeyAndIdentityTests {
    @Test func oneTimePreKeyIsConsumedExactlyOnce() throws {
        let alice = try Party("alice", seed: 31), bob = try Party("bob", seed: 32)
        try alice.builder(to: bob).process(bob.bundle(preKeyId: 2))
        let pkmsg = try alice.encrypt("first", to: bob)
        #expect(bob.store.loadPreKey(id: 2) != nil)
        #expect(try bob.decrypt(pkmsg, from: alice) == "first")
        #expect(bob.store.loadPreKey(id: 2) == nil)
        #expect(bob.store.snapshot.preKeys.count == 2)

        // The same pkmsg again: the session it built is found by its base key, and its message
        // key is spent.
        #expect(signalError { _ = try bob.decrypt(pkmsg, from: alice) } == .duplicateMessage(chainIndex: 1, counter: 0))
        // Once that session is gone too, the prekey it names no longer exists: a clean error.
        bob.store.deleteSession(for: alice.address)
        #expect(signalError { _ = try bob.decrypt(pkmsg, from: alice) } == .invalidKeyId(kind: .preKey, id: 2))
        #expect(bob.store.loadSession(for: alice.address) == nil)
        #expect(bob.store.snapshot.preKeys.count == 2)
    }

    @Test func aPkmsgThatFailsDoesNotConsumeThePreKey() throws {
        let alice = try Party("alice", seed: 33), bob = try Party("bob", seed: 34)
        try alice.builder(to: bob).process(bob.bundle(preKeyId: 1))
        guard case let .preKeySignalMessage(pkmsg) = try alice.encrypt("first", to: bob) else { Issue.record("expected pkmsg"); return }
        var inner = pkmsg.message.serialized
        inner[inner.count - 1] ^= 0x01  // break the MAC
        let forged = PreKeySignalMessage(
            registrationId: pkmsg.registrationId, preKeyId: pkmsg.preKeyId, signedPreKeyId: pkmsg.signedPreKeyId,
            baseKey: pkmsg.baseKey, identityKey: pkmsg.identityKey, message: try SignalMessage(serialized: inner))
        #expect(signalError { _ = try bob.cipher(to: alice).decrypt(forged) } == .badMac)
        #expect(bob.store.loadPreKey(id: 1) != nil)
        #expect(bob.store.loadSession(for: alice.address) == nil)
        #expect(bob.store.identity(for: alice.address) == nil)
        #expect(try bob.cipher(to: alice).decrypt(pkmsg) == Array("first".utf8))
        #expect(bob.store.loadPreKey(id: 1) == nil)
    }

    @Test func unknownSignedPreKeyIsAnInvalidKeyId() throws {
        let alice = try Party("alice", seed: 35), bob = try Party("bob", seed: 36)
        let bundle = try bob.bundle()
        let other = try Party("bob", seed: 37)
        other.store.storeSignedPreKey(try SignalKeyHelper.generateSignedPreKey(
            identity: other.store.identityKeyPair(), id: 9, timestamp: 0, random: other.random))
        let signed = try #require(other.store.loadSignedPreKey(id: 9))
        // A bundle naming signed prekey 9, which Bob does not have.
        let foreign = try PreKeyBundle(
            registrationId: bundle.registrationId, deviceId: 1, preKeyId: nil, preKeyPublic: nil, signedPreKeyId: 9,
            signedPreKeyPublic: signed.keyPair.publicKey, signedPreKeySignature: signed.signature,
            identityKey: other.store.identityKeyPair().identityKey)
        try alice.builder(to: bob).process(foreign)
        let pkmsg = try alice.encrypt("x", to: bob)
        #expect(signalError { _ = try bob.decrypt(pkmsg, from: alice) } == .invalidKeyId(kind: .signedPreKey, id: 9))
    }

    @Test func changedIdentityWhenSendingIsUntrustedUntilAccepted() throws {
        let alice = try Party("alice", seed: 38), bob = try Party("bob", seed: 39)
        try alice.builder(to: bob).process(bob.bundle())
        #expect(try bob.decrypt(alice.encrypt("hi", to: bob), from: alice) == "hi")
        let oldKey = bob.store.identityKeyPair().identityKey

        // Bob reinstalls: new identity, same address.
        let newBob = try Party("bob", seed: 40)
        let newKey = newBob.store.identityKeyPair().identityKey
        let error = signalError { try alice.builder(to: newBob).process(newBob.bundle()) }
        #expect(error == .untrustedIdentity(address: bob.address, trusted: oldKey, received: newKey))
        #expect(error?.code == "untrusted_identity")
        // Nothing changed: the old session still encrypts to the old key.
        #expect(try alice.encrypt("still old", to: bob).type == "pkmsg")

        // The engine accepts the change (after surfacing contact.identity_changed) and retries.
        #expect(alice.store.saveIdentity(newKey, for: bob.address) == true)
        #expect(alice.store.saveIdentity(newKey, for: bob.address) == false)
        try alice.builder(to: newBob).process(newBob.bundle())
        #expect(try newBob.decrypt(alice.encrypt("hello new bob", to: newBob), from: alice) == "hello new bob")
    }

    @Test func changedIdentityWhenReceivingIsUntrustedUntilAccepted() throws {
        let alice = try Party("alice", seed: 41), bob = try Party("bob", seed: 42)
        try alice.builder(to: bob).process(bob.bundle())
        #expect(try bob.decrypt(alice.encrypt("hi", to: bob), from: alice) == "hi")

        // Alice reinstalls and starts a new session with Bob.
        let newAlice = try Party("alice", seed: 43)
        try newAlice.builder(to: bob).process(bob.bundle(preKeyId: 2))
        let pkmsg = try newAlice.encrypt("new alice here", to: bob)
        let oldKey = alice.store.identityKeyPair().identityKey, newKey = newAlice.store.identityKeyPair().identityKey
        #expect(signalError { _ = try bob.decrypt(pkmsg, from: newAlice) }
                == .untrustedIdentity(address: alice.address, trusted: oldKey, received: newKey))
        #expect(bob.store.loadPreKey(id: 2) != nil)  // not consumed by the refused message

        #expect(bob.store.saveIdentity(newKey, for: alice.address))
        #expect(try bob.decrypt(pkmsg, from: newAlice) == "new alice here")
        #expect(bob.store.loadSession(for: alice.address)?.previousStates.count == 1)
        #expect(try newAlice.decrypt(bob.encrypt("welcome back", to: newAlice), from: bob) == "welcome back")
    }

    @Test func encryptingToADistrustedIdentityThrows() throws {
        let alice = try Party("alice", seed: 44), bob = try Party("bob", seed: 45)
        try alice.builder(to: bob).process(bob.bundle())
        let other = try Party("mallory", seed: 46).store.identityKeyPair().identityKey
        alice.store.saveIdentity(other, for: bob.address)  // e.g. the engine learned a new key from the server
        #expect(signalError { _ = try alice.encrypt("x", to: bob) }
                == .untrustedIdentity(address: bob.address, trusted: other, received: bob.store.identityKeyPair().identityKey))
    }
}

@Suite("Signal addresses for WhatsApp JIDs (whatsmeow types/jid.go SignalAddressUser)")
struct SignalAddressTests {
    @Test(arguments: [
        ("4915123456789@s.whatsapp.net", "4915123456789", UInt32(0)),
        ("4915123456789:2@s.whatsapp.net", "4915123456789", 2),
        ("12345@lid", "12345_1", 0),
        ("12345:3@lid", "12345_1", 3),
        ("777:4@hosted", "777_128", 4),
        ("777:4@hosted.lid", "777_129", 4),
        ("4915123456789.0:5@s.whatsapp.net", "4915123456789", 5),
        ("abc.7:1@example.net", "abc_7", 1),
    ])
    func mapsJIDs(jid: String, name: String, device: UInt32) throws {
        let address = try #require(SignalAddress(jid: jid))
        #expect(address == SignalAddress(name: name, deviceId: device))
        #expect(address.description == "\(name):\(device)")
    }

    @Test(arguments: ["no-at-sign", "@s.whatsapp.net", "user@", "user:x@s.whatsapp.net", "user.300@s.whatsapp.net"])
    func rejectsNonUserJIDs(text: String) {
        #expect(SignalAddress(jid: text) == nil)
    }
}
