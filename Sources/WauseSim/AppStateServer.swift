import FoundationEssentials
import SwiftProtobuf
import WauseBinary
import WauseCrypto
import WauseProto
import WauseProtocol
import WauseSQLite
import WauseSupport
import WauseTransport

/// The server's app-state (syncd) store, per account and collection (whatsmeow appstate.go
/// `fetchAppStatePatches`, `sendAppState`; Baileys chats.ts `resyncAppState`, `appPatch`): the
/// version, every patch by version, and the live records a snapshot is made of.
///
/// - A fetch (`<collection name version return_snapshot/>`) answers the patches after `version`,
///   at most `pageSize` at a time with `has_more_patches="true"` while more remain; with
///   `return_snapshot="true"` (or no version) and a collection that has any state, a snapshot of the
///   live records instead, as an external blob uploaded to the simulator's media host (the server
///   always sends snapshots that way, `md-app-state`).
/// - A set (`<collection name version><patch/></collection>`) is refused with 409 and the newer
///   patches when `version` is not the collection's current one (whatsmeow retries once on 409).
///   Unlike the real server, which cannot read patches, the simulator holds the account's keys (its
///   virtual phone does) and checks every MAC of what it stores: a patch that does not verify is
///   refused with 400, so a client's bad patch fails its test here instead of wedging the phone.
///   Stored patches carry their version; the account's other devices get `server_sync`.
/// - A patch whose serialized mutations exceed `blobBytes` is stored and served the way large
///   patches reach devices: its mutations as a `SyncdMutations` blob on the media host
///   (`md-app-state`, encrypted like a snapshot) and the patch carrying only `externalMutations`,
///   an `ExternalBlobReference` to it (whatsmeow appstate/decode.go `decodePatches`, Baileys
///   chat-utils.ts `decodePatches`). MACs are over the same mutations either way.
struct AppStateServer: Sendable {
    let state: SimState
    let router: MessageRouter
    let media: MediaServer
    let environment: Environment
    let logger: Logger
    /// Serialized mutations above this many bytes go out as an external blob. The real server's
    /// limit is not public; 64 KiB keeps the everyday one-setting patches (a few hundred bytes)
    /// inline and sends only bulk changes as blobs.
    var blobBytes: Int = AppStateServer.defaultBlobBytes
    static let defaultBlobBytes = 65_536

    /// Patches per answer before `has_more_patches` (the real page size is unknown; small enough
    /// that tests exercise paging).
    static let pageSize = 50

    static let schema = """
        CREATE TABLE app_state_keys (
            phone     TEXT NOT NULL REFERENCES accounts(phone) ON DELETE CASCADE,
            key_id    BLOB NOT NULL,
            key_data  BLOB NOT NULL,
            timestamp INTEGER NOT NULL,              -- unix ms; the newest key is the one the phone sends with
            PRIMARY KEY (phone, key_id)
        );
        CREATE TABLE app_state_key_shares (          -- which companion the phone sent which key
            phone  TEXT NOT NULL REFERENCES accounts(phone) ON DELETE CASCADE,
            device INTEGER NOT NULL,
            key_id BLOB NOT NULL,
            PRIMARY KEY (phone, device, key_id)
        );
        CREATE TABLE app_state_collections (
            phone      TEXT NOT NULL REFERENCES accounts(phone) ON DELETE CASCADE,
            collection TEXT NOT NULL,
            version    INTEGER NOT NULL,
            hash       BLOB NOT NULL,                -- the LTHash at that version (128 bytes)
            PRIMARY KEY (phone, collection)
        );
        CREATE TABLE app_state_patches (
            phone      TEXT NOT NULL REFERENCES accounts(phone) ON DELETE CASCADE,
            collection TEXT NOT NULL,
            version    INTEGER NOT NULL,
            device     INTEGER NOT NULL,             -- who sent it (0: the phone)
            patch      BLOB NOT NULL,                -- SyncdPatch with its version set
            PRIMARY KEY (phone, collection, version)
        );
        CREATE TABLE app_state_records (
            phone      TEXT NOT NULL REFERENCES accounts(phone) ON DELETE CASCADE,
            collection TEXT NOT NULL,
            index_mac  BLOB NOT NULL,
            value_mac  BLOB NOT NULL,
            record     BLOB NOT NULL,                -- SyncdRecord, as the last SET stored it
            seq        INTEGER NOT NULL,             -- the order records entered, for snapshots
            PRIMARY KEY (phone, collection, index_mac)
        );
        """

    // MARK: The iq

    /// Answers a `w:sync:app:state` iq from `sender` and queues `server_sync` for the account's
    /// other devices when something was stored.
    func handle(_ node: Node, id: String, sender: SimEndpoint) throws(WauseError) -> Node {
        let request: AppStateStanzas.Request
        do { request = try AppStateStanzas.Request(parsing: node) } catch {
            logger.info("\(sender.jid(.whatsApp)): app-state iq refused: \(error)")
            return ChatEndpoint.error(id, code: 400, text: "bad-request")
        }
        var answers: [AppStateStanzas.Answer] = []
        var moved: [(AppStateCollection, UInt64)] = []
        for fetch in request.collections {
            if fetch.patches.isEmpty {
                answers.append(try self.fetch(fetch, account: sender.account))
            } else {
                let answer = try submit(fetch.patches, to: fetch.collection, on: fetch.version ?? 0, from: sender)
                if answer.error == nil { moved.append((fetch.collection, answer.version)) }
                answers.append(answer)
            }
        }
        if !moved.isEmpty { try notify(sender.account, except: sender.device, moved) }
        return AppStateStanzas.Response(collections: answers).result(id: id)
    }

    func fetch(_ fetch: AppStateStanzas.Fetch, account: SimAccount) throws(WauseError) -> AppStateStanzas.Answer {
        let current = try version(account.phone, fetch.collection)
        let from = fetch.version ?? 0
        if (fetch.returnSnapshot || fetch.version == nil) && current > 0 {
            return AppStateStanzas.Answer(collection: fetch.collection, version: current,
                                          snapshot: try snapshotBlob(account, fetch.collection, version: current))
        }
        let patches = try self.patches(account.phone, fetch.collection, after: from, limit: Self.pageSize + 1)
        let page = Array(patches.prefix(Self.pageSize))
        let last = page.isEmpty ? max(from, 0) : try patchVersion(page[page.count - 1])
        return AppStateStanzas.Answer(collection: fetch.collection, version: patches.count > Self.pageSize ? last : current,
                                      hasMorePatches: patches.count > Self.pageSize, patches: page)
    }

    /// Stores patches built on `base`, each verified against the account's keys; the answer
    /// carries the new version, or the error and (for 409) the patches the sender lacks.
    func submit(_ patches: [[UInt8]], to collection: AppStateCollection, on base: UInt64, from sender: SimEndpoint) throws(WauseError) -> AppStateStanzas.Answer {
        let phone = sender.account.phone
        let keys = try appStateKeys(phone)
        var outcome: AppStateStanzas.Answer?
        try state.commit { (c) throws(WauseError) in
            var current = try Self.load(c, phone, collection)
            guard current.version == base else {
                let newer = try Self.patches(c, phone, collection, after: base, limit: Self.pageSize)
                outcome = AppStateStanzas.Answer(collection: collection, version: current.version, patches: newer, error: .conflict)
                return
            }
            for bytes in patches {
                var patch: WAWebProtobufsServerSync_SyncdPatch
                do { patch = try WAWebProtobufsServerSync_SyncdPatch(serializedBytes: bytes) } catch {
                    outcome = AppStateStanzas.Answer(collection: collection, version: current.version, error: .init(code: 400, text: "bad-request"))
                    return
                }
                patch.version.version = current.version + 1
                let applied: AppStateCollectionState.Applied
                do { applied = try current.applying(patch: patch, collection: collection, keys: { keys[$0] }) } catch {
                    logger.info("\(sender.jid(.whatsApp)): \(collection.rawValue) patch refused: \(error)")
                    outcome = AppStateStanzas.Answer(collection: collection, version: current.version, error: .init(code: 400, text: "bad-request"))
                    return
                }
                let stored = try served(patch, collection: collection)
                try c.execute("INSERT INTO app_state_patches (phone, collection, version, device, patch) VALUES (?, ?, ?, ?, ?)",
                              [.text(phone), .text(collection.rawValue), .integer(Int64(patch.version.version)),
                               .integer(Int64(sender.device)), .blob(stored)])
                for (record, mutation) in zip(patch.mutations, applied.mutations) {
                    switch mutation.operation {
                    case .set:
                        let recordBytes: [UInt8]
                        do { recordBytes = try record.record.serializedBytes() } catch { throw WauseError(.internal, "\(error)") }
                        try c.execute("""
                            INSERT INTO app_state_records (phone, collection, index_mac, value_mac, record, seq)
                            VALUES (?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM app_state_records WHERE phone = ?))
                            ON CONFLICT (phone, collection, index_mac) DO UPDATE SET value_mac = excluded.value_mac,
                                record = excluded.record, seq = excluded.seq
                            """, [.text(phone), .text(collection.rawValue), .blob(mutation.indexMAC), .blob(mutation.valueMAC),
                                  .blob(recordBytes), .text(phone)])
                    case .remove:
                        try c.execute("DELETE FROM app_state_records WHERE phone = ? AND collection = ? AND index_mac = ?",
                                      [.text(phone), .text(collection.rawValue), .blob(mutation.indexMAC)])
                    }
                }
                current = applied.state
                try c.execute("""
                    INSERT INTO app_state_collections (phone, collection, version, hash) VALUES (?, ?, ?, ?)
                    ON CONFLICT (phone, collection) DO UPDATE SET version = excluded.version, hash = excluded.hash
                    """, [.text(phone), .text(collection.rawValue), .integer(Int64(current.version)), .blob(current.hash.bytes)])
            }
            outcome = AppStateStanzas.Answer(collection: collection, version: current.version)
        }
        guard let outcome else { throw WauseError(.internal, "the app-state set produced no answer") }
        return outcome
    }

    /// `server_sync` to every companion of the account but the one that sent the change (the
    /// phone reads the server's state directly).
    func notify(_ account: SimAccount, except device: Int, _ moved: [(AppStateCollection, UInt64)]) throws(WauseError) {
        let t = environment.now().seconds
        var stanzas: [QueuedStanza] = []
        for companion in try state.devices(phone: account.phone) where companion.device != device {
            let id = Hex.encode(environment.randomBytes(8)).uppercased()
            stanzas.append(QueuedStanza(phone: account.phone, device: companion.device, kind: .notification,
                                        node: AppStateStanzas.ServerSync(moved).node(id: id, t: t)))
        }
        if !stanzas.isEmpty { try router.deliver(stanzas) }
    }

    /// The patch as it is stored and served: inline, or with its mutations moved to an external
    /// blob when they exceed `blobBytes`.
    func served(_ patch: WAWebProtobufsServerSync_SyncdPatch, collection: AppStateCollection) throws(WauseError) -> [UInt8] {
        do {
            var mutations = WAWebProtobufsServerSync_SyncdMutations()
            mutations.mutations = patch.mutations
            let plaintext: [UInt8] = try mutations.serializedBytes()
            guard plaintext.count > blobBytes, !patch.mutations.isEmpty else { return try patch.serializedBytes() }
            var external = patch
            external.mutations = []
            external.externalMutations = try WAWebProtobufsServerSync_ExternalBlobReference(serializedBytes: try uploadBlob(plaintext))
            logger.debug("app state: \(collection.rawValue) v\(patch.version.version) stored as an external blob (\(plaintext.count) bytes of mutations)")
            return try external.serializedBytes()
        } catch let error as WauseError {
            throw error
        } catch {
            throw WauseError(.internal, "cannot store the \(collection.rawValue) patch: \(error)")
        }
    }

    /// `plaintext` encrypted as an `md-app-state` blob and put on the media host; answers the
    /// serialized `ExternalBlobReference` to it.
    func uploadBlob(_ plaintext: [UInt8]) throws -> [UInt8] {
        let mediaKey = environment.randomBytes(32)
        let encrypted = try MediaCrypto.encrypt(plaintext, mediaKey: mediaKey, type: .appState)
        let directPath = try media.store.store(encrypted.body)
        var reference = WAWebProtobufsServerSync_ExternalBlobReference()
        reference.mediaKey = Data(mediaKey)
        reference.directPath = directPath
        reference.fileSizeBytes = UInt64(plaintext.count)
        reference.fileSha256 = Data(encrypted.result.fileSha256)
        reference.fileEncSha256 = Data(encrypted.result.fileEncSha256)
        return try reference.serializedBytes()
    }

    // MARK: Snapshots

    /// The live records at `version`, MACed with the account's newest key, encrypted and uploaded;
    /// answers the serialized `ExternalBlobReference`.
    func snapshotBlob(_ account: SimAccount, _ collection: AppStateCollection, version: UInt64) throws(WauseError) -> [UInt8] {
        let records = try self.records(account.phone, collection)
        guard let key = try phoneKey(account) else { throw WauseError(.internal, "\(account.phone) has app state but no key") }
        let snapshot = AppStateCollectionState.snapshot(of: records, version: version, collection: collection, keyID: key.id, keys: key.keys)
        do {
            return try uploadBlob(try snapshot.serializedBytes())
        } catch let error as WauseError {
            throw error
        } catch {
            throw WauseError(.internal, "cannot make the \(collection.rawValue) snapshot: \(error)")
        }
    }

    // MARK: Keys

    /// The account's app-state keys by key ID: the sim verifies with them as its phone would.
    func appStateKeys(_ phone: String) throws(WauseError) -> [[UInt8]: AppStateKeys] {
        let rows = try state.database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT key_id, key_data FROM app_state_keys WHERE phone = ?", [.text(phone)])
        }
        var keys: [[UInt8]: AppStateKeys] = [:]
        for row in rows {
            guard let id = row["key_id"].blob, let data = row["key_data"].blob else { continue }
            keys[id] = try AppStateKeys(keyData: data)
        }
        return keys
    }

    typealias PhoneKey = (id: [UInt8], data: [UInt8], timestamp: Int64, keys: AppStateKeys)

    /// The phone's newest key: 32 random bytes named by a 6-byte key ID, as the phone shares them.
    /// Made when the phone first uses app state (`create`), so a run that never does sees no key
    /// shares on its companions' streams (a real phone has one before it links anything).
    func phoneKey(_ account: SimAccount, create: Bool = true) throws(WauseError) -> PhoneKey? {
        let row = try state.database.withConnection { (c) throws(WauseError) -> SQLRow? in
            try c.transaction { () throws(WauseError) -> SQLRow? in
                if let row = try c.query("SELECT key_id, key_data, timestamp FROM app_state_keys WHERE phone = ? ORDER BY timestamp DESC LIMIT 1",
                                         [.text(account.phone)]).first { return row }
                guard create else { return nil }
                try c.execute("INSERT INTO app_state_keys (phone, key_id, key_data, timestamp) VALUES (?, ?, ?, ?)",
                              [.text(account.phone), .blob([0, 0] + environment.randomBytes(4)), .blob(environment.randomBytes(32)),
                               .integer(environment.now().milliseconds)])
                return try c.query("SELECT key_id, key_data, timestamp FROM app_state_keys WHERE phone = ? ORDER BY timestamp DESC LIMIT 1",
                                   [.text(account.phone)]).first
            }
        }
        guard let row else { return nil }
        guard let id = row["key_id"].blob, let data = row["key_data"].blob, let timestamp = row["timestamp"].integer else {
            throw WauseError(.internal, "a malformed app-state key for \(account.phone)")
        }
        return (id, data, timestamp, try AppStateKeys(keyData: data))
    }

    // MARK: Reading the store

    func version(_ phone: String, _ collection: AppStateCollection) throws(WauseError) -> UInt64 {
        try state.database.withConnection { (c) throws(WauseError) in try Self.load(c, phone, collection, withMACs: false).version }
    }

    func collectionState(_ phone: String, _ collection: AppStateCollection) throws(WauseError) -> AppStateCollectionState {
        try state.database.withConnection { (c) throws(WauseError) in try Self.load(c, phone, collection) }
    }

    func patches(_ phone: String, _ collection: AppStateCollection, after version: UInt64, limit: Int) throws(WauseError) -> [[UInt8]] {
        try state.database.withConnection { (c) throws(WauseError) in try Self.patches(c, phone, collection, after: version, limit: limit) }
    }

    func patchCount(_ phone: String, _ collection: AppStateCollection) throws(WauseError) -> Int64 {
        try state.database.withConnection { (c) throws(WauseError) in
            try c.scalar("SELECT COUNT(*) FROM app_state_patches WHERE phone = ? AND collection = ?", [.text(phone), .text(collection.rawValue)])
        }
    }

    func records(_ phone: String, _ collection: AppStateCollection) throws(WauseError) -> [WAWebProtobufsServerSync_SyncdRecord] {
        let rows = try state.database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT record FROM app_state_records WHERE phone = ? AND collection = ? ORDER BY seq",
                        [.text(phone), .text(collection.rawValue)])
        }
        return rows.compactMap { row in row["record"].blob.flatMap { try? WAWebProtobufsServerSync_SyncdRecord(serializedBytes: $0) } }
    }

    static func load(_ c: SQLiteConnection, _ phone: String, _ collection: AppStateCollection,
                     withMACs: Bool = true) throws(WauseError) -> AppStateCollectionState {
        guard let row = try c.query("SELECT version, hash FROM app_state_collections WHERE phone = ? AND collection = ?",
                                    [.text(phone), .text(collection.rawValue)]).first,
            let version = row["version"].integer, let hash = row["hash"].blob.flatMap(LTHash.init(bytes:))
        else { return AppStateCollectionState() }
        var state = AppStateCollectionState(version: UInt64(version), hash: hash)
        guard withMACs else { return state }
        for mac in try c.query("SELECT index_mac, value_mac FROM app_state_records WHERE phone = ? AND collection = ?",
                               [.text(phone), .text(collection.rawValue)]) {
            if let index = mac["index_mac"].blob, let value = mac["value_mac"].blob { state.valueMACs[index] = value }
        }
        return state
    }

    static func patches(_ c: SQLiteConnection, _ phone: String, _ collection: AppStateCollection, after version: UInt64,
                        limit: Int) throws(WauseError) -> [[UInt8]] {
        try c.query("SELECT patch FROM app_state_patches WHERE phone = ? AND collection = ? AND version > ? ORDER BY version LIMIT ?",
                    [.text(phone), .text(collection.rawValue), .integer(Int64(version)), .integer(Int64(limit))]).compactMap { $0["patch"].blob }
    }

    func patchVersion(_ bytes: [UInt8]) throws(WauseError) -> UInt64 {
        do { return try WAWebProtobufsServerSync_SyncdPatch(serializedBytes: bytes).version.version } catch {
            throw WauseError(.internal, "a stored patch does not decode: \(error)")
        }
    }
}
