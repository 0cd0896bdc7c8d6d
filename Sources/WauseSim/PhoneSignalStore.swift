import WauseBinary
import WauseCrypto
import WauseSignal
import WauseSQLite
import WauseSupport

/// A virtual phone's Signal state in sim.db, for one operation: reads go to the database (or to
/// what this operation already wrote); writes are held back and applied by `apply(_:)` inside the
/// caller's transaction, together with what the operation produced (an inbox row, queue rows).
/// So a decrypted message and its ratchet step are stored together or not at all, and a sim
/// restart keeps every session (libsignal's store split: signalapp/libsignal rust/protocol/src/storage/traits.rs).
///
/// Trust: a phone accepts a changed identity, as Baileys does (TOFU that always re-trusts) and
/// whatsmeow does with `AutoTrustIdentity`: a companion that was relinked comes back with new
/// keys, and the phone must still read it.
final class PhoneSignalStore: SessionStore, PreKeyStore, SignedPreKeyStore, IdentityKeyStore, SenderKeyStore {
    let phone: String
    let identity: Curve25519KeyPair
    let registrationID: UInt32
    let signedPreKey: SignedPreKeyRecord
    private let database: SQLiteDatabase

    /// Writes held back: a nil session is a deletion.
    private var sessions: [SignalAddress: SessionRecord?] = [:]
    private var identities: [SignalAddress: IdentityKey] = [:]
    private var removedPreKeys: Set<UInt32> = []
    private var addedPreKeys: [UInt32: PreKeyRecord] = [:]
    private var senderKeys: [SenderKeyName: SenderKeyRecord] = [:]

    init(phone: String, identity: Curve25519KeyPair, registrationID: UInt32, signedPreKey: SignedPreKeyRecord, database: SQLiteDatabase) {
        self.phone = phone
        self.identity = identity
        self.registrationID = registrationID
        self.signedPreKey = signedPreKey
        self.database = database
    }

    /// Writes everything this operation changed, in the caller's transaction.
    func apply(_ c: SQLiteConnection) throws(WauseError) {
        for (address, record) in sessions {
            if let record {
                try c.execute("INSERT OR REPLACE INTO phone_sessions (phone, address, record) VALUES (?, ?, ?)",
                              [.text(phone), .text(address.description), .blob(record.serialized())])
            } else {
                try c.execute("DELETE FROM phone_sessions WHERE phone = ? AND address = ?", [.text(phone), .text(address.description)])
            }
        }
        for (address, key) in identities {
            try c.execute("INSERT OR REPLACE INTO phone_identities (phone, address, identity) VALUES (?, ?, ?)",
                          [.text(phone), .text(address.description), .blob(key.publicKey)])
        }
        for id in removedPreKeys {
            try c.execute("DELETE FROM phone_prekeys WHERE phone = ? AND key_id = ?", [.text(phone), .integer(Int64(id))])
        }
        for (name, record) in senderKeys {
            try c.execute("INSERT OR REPLACE INTO phone_sender_keys (phone, name, record) VALUES (?, ?, ?)",
                          [.text(phone), .text(name.description), .blob(record.serialized())])
        }
        for record in addedPreKeys.values where !removedPreKeys.contains(record.id) {
            // Made for a retry receipt's <keys> (whatsmeow retry.go sendRetryReceipt): given to that device directly, never by the server.
            try c.execute("INSERT OR REPLACE INTO phone_prekeys (phone, key_id, record, on_server) VALUES (?, ?, ?, 0)",
                          [.text(phone), .integer(Int64(record.id)), .blob(record.serialized())])
        }
    }

    // MARK: SessionStore

    func loadSession(for address: SignalAddress) throws -> SessionRecord? {
        if let pending = sessions[address] { return pending }
        let phone = self.phone
        let bytes = try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT record FROM phone_sessions WHERE phone = ? AND address = ?", [.text(phone), .text(address.description)])
                .first?["record"].blob
        }
        return try bytes.map { (bytes) throws(SignalError) in try SessionRecord(serialized: bytes) }
    }

    func storeSession(_ record: SessionRecord, for address: SignalAddress) throws { sessions[address] = .some(record) }

    func deleteSession(for address: SignalAddress) throws { sessions[address] = .some(nil) }

    func hasSession(for address: SignalAddress) throws -> Bool { try loadSession(for: address)?.currentState != nil }

    // MARK: PreKeyStore

    func loadPreKey(id: UInt32) throws -> PreKeyRecord? {
        if removedPreKeys.contains(id) { return nil }
        if let added = addedPreKeys[id] { return added }
        let phone = self.phone
        let bytes = try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT record FROM phone_prekeys WHERE phone = ? AND key_id = ?", [.text(phone), .integer(Int64(id))])
                .first?["record"].blob
        }
        return try bytes.map { (bytes) throws(SignalError) in try PreKeyRecord(serialized: bytes) }
    }

    func storePreKey(_ record: PreKeyRecord) throws {
        removedPreKeys.remove(record.id)
        addedPreKeys[record.id] = record
    }

    func removePreKey(id: UInt32) throws { removedPreKeys.insert(id) }

    // MARK: SignedPreKeyStore

    func loadSignedPreKey(id: UInt32) throws -> SignedPreKeyRecord? { id == signedPreKey.id ? signedPreKey : nil }

    func storeSignedPreKey(_ record: SignedPreKeyRecord) throws {
        throw WauseError(.internal, "a virtual phone keeps one signed prekey")
    }

    // MARK: Sessions by LID

    /// Where the phone keeps its session with `device` (whatsmeow message.go decryptMessages and
    /// send.go encryptMessageForDevices use the LID as the encryption identity): under the LID
    /// address of the device when the user's LID is given, else under the address as named. A
    /// session kept under the phone-number address moves over the first time (whatsmeow store
    /// MigratePNToLID), so one session serves the peer whichever form a message uses.
    func sessionAddress(for device: JID, lid: String?) -> SignalAddress {
        let named = SignalAddress(user: device.user, device: device.device, server: device.server.rawValue)
        guard device.server == .whatsApp, let lid else { return named }
        let address = SignalAddress(user: lid, device: device.device, server: JID.Server.lid.rawValue)
        if (try? hasSession(for: address)) != true, let old = try? loadSession(for: named), old.currentState != nil {
            try? storeSession(old, for: address)
            if let known = try? identity(for: named), (try? identity(for: address)) ?? nil == nil { identities[address] = known }
            try? deleteSession(for: named)
        }
        return address
    }

    // MARK: IdentityKeyStore

    func identityKeyPair() throws -> Curve25519KeyPair { identity }

    func localRegistrationId() throws -> UInt32 { registrationID }

    @discardableResult
    func saveIdentity(_ identity: IdentityKey, for address: SignalAddress) throws -> Bool {
        let previous = try self.identity(for: address)
        identities[address] = identity
        return previous != nil && previous != identity
    }

    func isTrustedIdentity(_ identity: IdentityKey, for address: SignalAddress, direction: SignalDirection) throws -> Bool { true }

    func identity(for address: SignalAddress) throws -> IdentityKey? {
        if let pending = identities[address] { return pending }
        let phone = self.phone
        let bytes = try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT identity FROM phone_identities WHERE phone = ? AND address = ?", [.text(phone), .text(address.description)])
                .first?["identity"].blob
        }
        return try bytes.map { (bytes) throws(SignalError) in try IdentityKey(bytes) }
    }

    // MARK: SenderKeyStore

    func loadSenderKey(for name: SenderKeyName) throws -> SenderKeyRecord? {
        if let pending = senderKeys[name] { return pending }
        let phone = self.phone
        let bytes = try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT record FROM phone_sender_keys WHERE phone = ? AND name = ?", [.text(phone), .text(name.description)])
                .first?["record"].blob
        }
        return try bytes.map { (bytes) throws(SignalError) in try SenderKeyRecord(serialized: bytes) }
    }

    func storeSenderKey(_ record: SenderKeyRecord, for name: SenderKeyName) throws { senderKeys[name] = record }
}
