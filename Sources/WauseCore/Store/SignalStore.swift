import Synchronization
import WauseCrypto
import WauseSignal
import WauseSQLite
import WauseSupport

/// The Signal layer's four stores (WauseSignal `SignalProtocolStore`) over the engine's SQLite
/// file: our identity and signed prekey from `device`/`signed_prekeys`, one-time prekeys from
/// `prekeys` (shared with the upload in PreKeys.swift), peers' identities and session records by
/// address (`SignalAddress.description`, e.g. `15551234567:0`, `98765_1:3`).
///
/// Identity policy, as WhatsApp clients have it: a peer's new identity key is accepted (messages
/// keep flowing) but never silently — the change is recorded (`changed_at`) and reported through
/// `identityChanged`, which the engine turns into `contact.identity_changed`.
final class SQLiteSignalStore: SignalProtocolStore, Sendable {
    private let store: Store
    private let clock: @Sendable () -> UnixTime
    private let identityChanged: @Sendable (SignalAddress, IdentityKey, IdentityKey) -> Void
    /// Addresses whose identity changed since the last `takeIdentityChanges` (read under the
    /// engine's ratchet lock, so a receive learns about changes its own decryption caused).
    private let changedSinceTaken = Mutex<Set<SignalAddress>>([])

    init(store: Store, clock: @escaping @Sendable () -> UnixTime,
         identityChanged: @escaping @Sendable (SignalAddress, IdentityKey, IdentityKey) -> Void) {
        self.store = store
        self.clock = clock
        self.identityChanged = identityChanged
    }

    private func query(_ sql: String, _ parameters: [SQLValue] = []) throws -> [SQLRow] {
        try store.database.withConnection { (c) throws(WauseError) in try c.query(sql, parameters) }
    }

    private func execute(_ sql: String, _ parameters: [SQLValue] = []) throws {
        try store.database.withConnection { (c) throws(WauseError) in _ = try c.execute(sql, parameters) }
    }

    // MARK: Sessions

    func loadSession(for address: SignalAddress) throws -> SessionRecord? {
        guard let bytes = try query("SELECT record FROM sessions WHERE address = ?", [.text(address.description)]).first?["record"].blob
        else { return nil }
        return try SessionRecord(serialized: bytes)
    }

    func storeSession(_ record: SessionRecord, for address: SignalAddress) throws {
        try execute("""
            INSERT INTO sessions (address, record, updated_at) VALUES (?, ?, ?)
            ON CONFLICT (address) DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at
            """, [.text(address.description), .blob(record.serialized()), .time(clock())])
    }

    func deleteSession(for address: SignalAddress) throws {
        try execute("DELETE FROM sessions WHERE address = ?", [.text(address.description)])
    }

    func hasSession(for address: SignalAddress) throws -> Bool {
        try !query("SELECT 1 FROM sessions WHERE address = ?", [.text(address.description)]).isEmpty
    }

    // MARK: Prekeys

    func loadPreKey(id: UInt32) throws -> PreKeyRecord? {
        guard let row = try query("SELECT private_key FROM prekeys WHERE id = ?", [.integer(Int64(id))]).first,
            let privateKey = row["private_key"].blob
        else { return nil }
        return PreKeyRecord(id: id, keyPair: try Curve25519KeyPair(privateKey: privateKey))
    }

    func storePreKey(_ record: PreKeyRecord) throws {
        try execute("INSERT OR REPLACE INTO prekeys (id, private_key, public_key, uploaded, created_at) VALUES (?, ?, ?, 0, ?)",
                    [.integer(Int64(record.id)), .blob(record.keyPair.privateKey), .blob(record.keyPair.publicKey), .time(clock())])
    }

    func removePreKey(id: UInt32) throws {
        try execute("DELETE FROM prekeys WHERE id = ?", [.integer(Int64(id))])
    }

    func loadSignedPreKey(id: UInt32) throws -> SignedPreKeyRecord? {
        guard let row = try query("SELECT * FROM signed_prekeys WHERE id = ?", [.integer(Int64(id))]).first,
            let privateKey = row["private_key"].blob, let signature = row["signature"].blob
        else { return nil }
        return SignedPreKeyRecord(id: id, keyPair: try Curve25519KeyPair(privateKey: privateKey), signature: signature,
                                  timestamp: UInt64(row["created_at"].integer ?? 0))
    }

    func storeSignedPreKey(_ record: SignedPreKeyRecord) throws {
        try execute("INSERT OR REPLACE INTO signed_prekeys (id, private_key, public_key, signature, created_at) VALUES (?, ?, ?, ?, ?)",
                    [.integer(Int64(record.id)), .blob(record.keyPair.privateKey), .blob(record.keyPair.publicKey),
                     .blob(record.signature), .integer(Int64(record.timestamp))])
    }

    // MARK: Identities

    func identityKeyPair() throws -> Curve25519KeyPair {
        guard let row = try query("SELECT identity_private FROM device WHERE id = 1").first, let key = row["identity_private"].blob else {
            throw WauseError.internal("the store has no identity key")
        }
        return try Curve25519KeyPair(privateKey: key)
    }

    func localRegistrationId() throws -> UInt32 {
        guard let id = try query("SELECT registration_id FROM device WHERE id = 1").first?["registration_id"].integer else {
            throw WauseError.internal("the store has no registration id")
        }
        return UInt32(id)
    }

    @discardableResult
    func saveIdentity(_ identity: IdentityKey, for address: SignalAddress) throws -> Bool {
        let previous = try self.identity(for: address)
        if previous == identity { return false }
        let now = clock()
        try execute("""
            INSERT INTO identities (address, identity_key, trusted_at, changed_at) VALUES (?, ?, ?, NULL)
            ON CONFLICT (address) DO UPDATE SET identity_key = excluded.identity_key, trusted_at = excluded.trusted_at,
                   changed_at = ?
            """, [.text(address.description), .blob(identity.publicKey), .time(now), .time(now)])
        guard let previous else { return false }
        _ = changedSinceTaken.withLock { $0.insert(address) }
        identityChanged(address, previous, identity)
        return true
    }

    func takeIdentityChanges() -> Set<SignalAddress> {
        changedSinceTaken.withLock { changed in
            defer { changed.removeAll() }
            return changed
        }
    }

    func isTrustedIdentity(_ identity: IdentityKey, for address: SignalAddress, direction: SignalDirection) throws -> Bool {
        // Accepted (see the type's comment); the change itself is reported by saveIdentity.
        true
    }

    func identity(for address: SignalAddress) throws -> IdentityKey? {
        guard let key = try query("SELECT identity_key FROM identities WHERE address = ?", [.text(address.description)]).first?["identity_key"].blob
        else { return nil }
        return try IdentityKey(key)
    }
}
