import WauseCrypto

// The storage the protocol logic runs against, as libsignal separates them (`SessionStore`,
// `PreKeyStore`, `SignedPreKeyStore`, `IdentityKeyStore`). Each method is small, synchronous and
// throwing so the engine's SQLite store can implement it as one statement; whatever a store
// throws passes through the session builder and cipher unchanged. `InMemorySignalStore`
// implements all of them (and `SenderKeyStore`) for tests and the CLI.
//
// The builder and cipher call a store only with a complete, successful result: a session record
// is written once, after the message it belongs to decrypted (or encrypted), so a failed
// decryption never leaves a half-updated record behind.

/// Session records by address (one record holds the current and archived session states).
public protocol SessionStore {
    /// The record for `address`, or nil if there has never been a session.
    func loadSession(for address: SignalAddress) throws -> SessionRecord?
    func storeSession(_ record: SessionRecord, for address: SignalAddress) throws
    func deleteSession(for address: SignalAddress) throws
}

/// Our one-time prekeys by id.
public protocol PreKeyStore {
    func loadPreKey(id: UInt32) throws -> PreKeyRecord?
    func storePreKey(_ record: PreKeyRecord) throws
    /// Called once the `pkmsg` that used the prekey decrypted (libsignal `remove_pre_key`).
    func removePreKey(id: UInt32) throws
}

/// Our signed prekeys by id (WhatsApp keeps one, id 1; whatsmeow store/sqlstore/container.go NewDevice).
public protocol SignedPreKeyStore {
    func loadSignedPreKey(id: UInt32) throws -> SignedPreKeyRecord?
    func storeSignedPreKey(_ record: SignedPreKeyRecord) throws
}

/// Which way a message goes when trust is asked, as libsignal's `Direction`: a store may trust a
/// changed key for receiving but not for sending, for instance.
public enum SignalDirection: Sendable {
    case sending
    case receiving
}

/// Our identity and the identities we have seen (whatsmeow message.go clearUntrustedIdentity).
public protocol IdentityKeyStore {
    func identityKeyPair() throws -> Curve25519KeyPair
    func localRegistrationId() throws -> UInt32
    /// Records `identity` as the trusted key for `address`. Returns true when it replaced a
    /// different key (an identity change), false when it was new or the same.
    @discardableResult
    func saveIdentity(_ identity: IdentityKey, for address: SignalAddress) throws -> Bool
    /// Whether `identity` may be used for `address`. libsignal's default is trust on first use:
    /// true when nothing is stored or the stored key is the same.
    func isTrustedIdentity(_ identity: IdentityKey, for address: SignalAddress, direction: SignalDirection) throws -> Bool
    /// The stored key for `address`, if any (reported in `SignalError.untrustedIdentity`).
    func identity(for address: SignalAddress) throws -> IdentityKey?
}

/// All four, as the session builder and cipher need them.
public typealias SignalProtocolStore = SessionStore & PreKeyStore & SignedPreKeyStore & IdentityKeyStore

/// Sender-key records by (group, sender device), our own included (libsignal `SenderKeyStore`).
/// The group builder and cipher store a record only after the whole operation succeeded, so a
/// forged or repeated `skmsg` leaves the stored record as it was.
public protocol SenderKeyStore {
    /// The record for `name`, or nil if we hold no sender key for it.
    func loadSenderKey(for name: SenderKeyName) throws -> SenderKeyRecord?
    func storeSenderKey(_ record: SenderKeyRecord, for name: SenderKeyName) throws
}
