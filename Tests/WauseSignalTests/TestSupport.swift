import Synchronization
import WauseCrypto
import WauseSupport
@testable import WauseSignal

/// Decodes a hex literal from a test vector; a malformed literal is a bug in the test itself.
func hex(_ text: String) -> [UInt8] {
    guard let bytes = Hex.decode(text) else { preconditionFailure("bad hex literal in test: \(text)") }
    return bytes
}

/// A reproducible `SignalRandom`: SplitMix64 behind a lock, so the same seed gives the same keys.
final class SeededRandom: Sendable {
    private let generator: Mutex<SplitMix64>

    init(seed: UInt64) { generator = Mutex(SplitMix64(seed: seed)) }

    var source: SignalRandom { { count in self.generator.withLock { $0.bytes(count) } } }
}

/// One side of a conversation: its store, its address as the other side sees it, and helpers
/// to build its bundle and ciphers towards a peer.
struct Party {
    let name: String
    let store: InMemorySignalStore
    let random: SignalRandom
    var limits: SignalLimits = .libsignal

    var address: SignalAddress { SignalAddress(name: name, deviceId: 1) }

    /// A party with an identity, a signed prekey (id 1) and `preKeys` one-time prekeys from id 1.
    init(_ name: String, seed: UInt64, preKeys: Int = 3, limits: SignalLimits = .libsignal) throws {
        let random = SeededRandom(seed: seed).source
        let identity = SignalKeyHelper.generateIdentityKeyPair(random: random)
        store = InMemorySignalStore(identityKeyPair: identity, registrationId: SignalKeyHelper.generateRegistrationId(random: random))
        store.storeSignedPreKey(try SignalKeyHelper.generateSignedPreKey(identity: identity, id: 1, timestamp: 1_700_000_000_000, random: random))
        for preKey in SignalKeyHelper.generatePreKeys(start: 1, count: preKeys, random: random) { store.storePreKey(preKey) }
        self.name = name
        self.random = random
        self.limits = limits
    }

    /// Our bundle, with the one-time prekey `preKeyId` (nil: none).
    func bundle(preKeyId: UInt32? = 1) throws -> PreKeyBundle {
        let signed = try #require(store.loadSignedPreKey(id: 1))
        let preKey = try preKeyId.map { try #require(store.loadPreKey(id: $0)) }
        return try PreKeyBundle(
            registrationId: store.localRegistrationId(), deviceId: 1, preKeyId: preKey?.id, preKeyPublic: preKey?.keyPair.publicKey,
            signedPreKeyId: signed.id, signedPreKeyPublic: signed.keyPair.publicKey, signedPreKeySignature: signed.signature,
            identityKey: store.identityKeyPair().identityKey)
    }

    func cipher(to peer: Party) -> SessionCipher {
        SessionCipher(address: peer.address, store: store, limits: limits, random: random)
    }

    func builder(to peer: Party) -> SessionBuilder {
        SessionBuilder(address: peer.address, store: store, limits: limits, random: random)
    }

    func encrypt(_ text: String, to peer: Party) throws -> CiphertextMessage {
        try cipher(to: peer).encrypt(Array(text.utf8))
    }

    /// Decrypts what `peer` sent, by its type.
    func decrypt(_ message: CiphertextMessage, from peer: Party) throws -> String {
        let plaintext: [UInt8]
        switch message {
        case let .preKeySignalMessage(message):
            plaintext = try cipher(to: peer).decrypt(PreKeySignalMessage(serialized: message.serialized))
        case let .signalMessage(message):
            plaintext = try cipher(to: peer).decrypt(SignalMessage(serialized: message.serialized))
        }
        return String(decoding: plaintext, as: UTF8.self)
    }
}

/// `try` that returns the thrown SignalError (or nil if none was thrown), for checking which.
func signalError(_ body: () throws -> Void) -> SignalError? {
    do {
        try body()
        return nil
    } catch let error as SignalError {
        return error
    } catch {
        Issue.record("expected a SignalError, got \(error)")
        return nil
    }
}

import Testing
