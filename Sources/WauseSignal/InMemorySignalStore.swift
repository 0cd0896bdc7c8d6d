import Synchronization
import WauseCrypto

/// All five stores in memory, guarded by one mutex so it can be shared between threads: for
/// tests, the `wause-signal` CLI (which loads it from and saves it to its state file) and
/// benchmarks. Trust is libsignal's default: first use, then the same key only.
public final class InMemorySignalStore: SessionStore, PreKeyStore, SignedPreKeyStore, IdentityKeyStore, SenderKeyStore, Sendable {
    public struct Contents: Sendable, Equatable {
        public var identityKeyPair: Curve25519KeyPair
        public var registrationId: UInt32
        public var sessions: [SignalAddress: SessionRecord] = [:]
        public var preKeys: [UInt32: PreKeyRecord] = [:]
        public var signedPreKeys: [UInt32: SignedPreKeyRecord] = [:]
        public var identities: [SignalAddress: IdentityKey] = [:]
        public var senderKeys: [SenderKeyName: SenderKeyRecord] = [:]

        public init(identityKeyPair: Curve25519KeyPair, registrationId: UInt32) {
            self.identityKeyPair = identityKeyPair
            self.registrationId = registrationId
        }
    }

    private let contents: Mutex<Contents>

    public init(identityKeyPair: Curve25519KeyPair, registrationId: UInt32) {
        contents = Mutex(Contents(identityKeyPair: identityKeyPair, registrationId: registrationId))
    }

    public init(_ initial: Contents) {
        contents = Mutex(initial)
    }

    /// A copy of everything, for saving (the CLI writes it to its state file).
    public var snapshot: Contents { contents.withLock { $0 } }

    // MARK: SessionStore

    public func loadSession(for address: SignalAddress) -> SessionRecord? {
        contents.withLock { $0.sessions[address] }
    }

    public func storeSession(_ record: SessionRecord, for address: SignalAddress) {
        contents.withLock { $0.sessions[address] = record }
    }

    public func deleteSession(for address: SignalAddress) {
        contents.withLock { _ = $0.sessions.removeValue(forKey: address) }
    }

    // MARK: PreKeyStore

    public func loadPreKey(id: UInt32) -> PreKeyRecord? {
        contents.withLock { $0.preKeys[id] }
    }

    public func storePreKey(_ record: PreKeyRecord) {
        contents.withLock { $0.preKeys[record.id] = record }
    }

    public func removePreKey(id: UInt32) {
        contents.withLock { _ = $0.preKeys.removeValue(forKey: id) }
    }

    // MARK: SignedPreKeyStore

    public func loadSignedPreKey(id: UInt32) -> SignedPreKeyRecord? {
        contents.withLock { $0.signedPreKeys[id] }
    }

    public func storeSignedPreKey(_ record: SignedPreKeyRecord) {
        contents.withLock { $0.signedPreKeys[record.id] = record }
    }

    // MARK: IdentityKeyStore

    public func identityKeyPair() -> Curve25519KeyPair {
        contents.withLock { $0.identityKeyPair }
    }

    public func localRegistrationId() -> UInt32 {
        contents.withLock { $0.registrationId }
    }

    @discardableResult
    public func saveIdentity(_ identity: IdentityKey, for address: SignalAddress) -> Bool {
        contents.withLock { contents in
            let previous = contents.identities.updateValue(identity, forKey: address)
            return previous != nil && previous != identity
        }
    }

    public func isTrustedIdentity(_ identity: IdentityKey, for address: SignalAddress, direction: SignalDirection) -> Bool {
        contents.withLock { contents in
            guard let trusted = contents.identities[address] else { return true }
            return trusted == identity
        }
    }

    public func identity(for address: SignalAddress) -> IdentityKey? {
        contents.withLock { $0.identities[address] }
    }

    // MARK: SenderKeyStore

    public func loadSenderKey(for name: SenderKeyName) -> SenderKeyRecord? {
        contents.withLock { $0.senderKeys[name] }
    }

    public func storeSenderKey(_ record: SenderKeyRecord, for name: SenderKeyName) {
        contents.withLock { $0.senderKeys[name] = record }
    }
}
