import WauseCrypto
import WauseProtocol
import WauseSQLite
import WauseSupport

/// A virtual account: a phone with its number, LID, push name and account identity key (the key
/// that signs the ADV identities of the devices it links).
public struct SimAccount: Sendable, Equatable {
    public let phone: String
    public let lid: String
    public var pushName: String
    public let identity: Curve25519KeyPair

    public var jid: String { "\(phone)@s.whatsapp.net" }
    public var lidJID: String { "\(lid)@lid" }

    public var json: JSONValue {
        ["phone": .string(phone), "jid": .string(jid), "lid": .string(lidJID), "push_name": .string(pushName)]
    }
}

/// A companion device linked to an account.
public struct SimDevice: Sendable, Equatable {
    public let phone: String
    public let device: Int
    public let noisePublicKey: [UInt8]
    public let identityPublicKey: [UInt8]
    public let registrationID: Int64
    public let platform: String?
    public let linkedAt: UnixTime
    /// DeviceProps.os from the registration payload (what "Linked devices" shows).
    public var os: String? = nil
    /// ADVDeviceIdentity.keyIndex the phone signed for this device.
    public var keyIndex: Int? = nil

    public var jid: String { "\(phone):\(device)@s.whatsapp.net" }

    public var json: JSONValue {
        [
            "device": .int(Int64(device)), "jid": .string(jid),
            "platform": JSONValue(platform), "os": JSONValue(os), "key_index": keyIndex.map { .int(Int64($0)) } ?? .null,
            "linked_at": .string(linkedAt.iso8601),
        ]
    }
}

/// wause-sim's persistent state: accounts and their linked devices, in `DATA_DIR/sim.db`.
public final class SimState: Sendable {
    static let migrations = SchemaMigrations(name: "wause-sim state", steps: [
        """
        CREATE TABLE accounts (
            phone            TEXT PRIMARY KEY,
            lid              TEXT NOT NULL UNIQUE,
            push_name        TEXT NOT NULL,
            identity_private BLOB NOT NULL,
            identity_public  BLOB NOT NULL,
            created_at       INTEGER NOT NULL
        );
        CREATE TABLE devices (
            phone             TEXT NOT NULL REFERENCES accounts(phone) ON DELETE CASCADE,
            device            INTEGER NOT NULL,
            noise_public      BLOB NOT NULL UNIQUE,
            identity_public   BLOB NOT NULL,
            registration_id   INTEGER NOT NULL,
            platform          TEXT,
            linked_at         INTEGER NOT NULL,
            PRIMARY KEY (phone, device)
        );
        -- Devices unlinked while offline learn it (failure 401) when they next connect.
        CREATE TABLE removed_devices (
            noise_public BLOB PRIMARY KEY,
            removed_at   INTEGER NOT NULL
        );
        """,
        // Linking as the phone (whatsmeow pair.go handlePair) and the device's keys (whatsmeow prekeys.go).
        """
        -- ADVDeviceIdentity.rawID: random, stable per account; key_index counts up per linked
        -- device (what the phone signs into each device's identity).
        ALTER TABLE accounts ADD COLUMN adv_raw_id INTEGER;
        ALTER TABLE accounts ADD COLUMN adv_key_index INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE devices ADD COLUMN os TEXT;
        ALTER TABLE devices ADD COLUMN key_index INTEGER;
        -- The whole ADVSignedDeviceIdentity with both signatures, as the device keeps it (whatsmeow store/store.go Device).
        ALTER TABLE devices ADD COLUMN adv_identity BLOB;
        -- The signed prekey from the registration payload (whatsmeow getRegistrationPayload), replaced by uploads (prekeys.go uploadPreKeys).
        CREATE TABLE signed_prekeys (
            phone      TEXT NOT NULL,
            device     INTEGER NOT NULL,
            key_id     INTEGER NOT NULL,
            public_key BLOB NOT NULL,
            signature  BLOB NOT NULL,
            PRIMARY KEY (phone, device),
            FOREIGN KEY (phone, device) REFERENCES devices(phone, device) ON DELETE CASCADE
        );
        -- One-time prekeys uploaded and not yet handed out (whatsmeow prekeys.go getServerPreKeyCount counts these).
        CREATE TABLE prekeys (
            phone       TEXT NOT NULL,
            device      INTEGER NOT NULL,
            key_id      INTEGER NOT NULL,
            public_key  BLOB NOT NULL,
            uploaded_at INTEGER NOT NULL,
            PRIMARY KEY (phone, device, key_id),
            FOREIGN KEY (phone, device) REFERENCES devices(phone, device) ON DELETE CASCADE
        );
        """,
        // Messaging (whatsmeow prekeys.go, send.go, message.go, receipt.go): the virtual phones as Signal
        // participants, the offline queue, what the phones received and sent.
        """
        -- The phone (device 0) of each account: its Signal identity is the account identity key
        -- (whatsmeow trusts that key at the account's LID device 0), plus a registration id and a
        -- signed prekey made on first use.
        CREATE TABLE phone_signal (
            phone           TEXT PRIMARY KEY REFERENCES accounts(phone) ON DELETE CASCADE,
            registration_id INTEGER NOT NULL,
            signed_prekey   BLOB NOT NULL,        -- SignedPreKeyRecord (libsignal RecordStructure)
            next_prekey_id  INTEGER NOT NULL
        );
        -- The phone's one-time prekeys. on_server = 1 while the server may still hand the public
        -- half out; a bundle hands it out once (on_server = 0), the phone keeps the private half
        -- until the pkmsg that uses it decrypts.
        CREATE TABLE phone_prekeys (
            phone     TEXT NOT NULL REFERENCES accounts(phone) ON DELETE CASCADE,
            key_id    INTEGER NOT NULL,
            record    BLOB NOT NULL,              -- PreKeyRecord
            on_server INTEGER NOT NULL DEFAULT 1,
            PRIMARY KEY (phone, key_id)
        );
        CREATE TABLE phone_sessions (
            phone   TEXT NOT NULL REFERENCES accounts(phone) ON DELETE CASCADE,
            address TEXT NOT NULL,                -- SignalAddress "name:device"
            record  BLOB NOT NULL,                -- SessionRecord
            PRIMARY KEY (phone, address)
        );
        CREATE TABLE phone_identities (
            phone    TEXT NOT NULL REFERENCES accounts(phone) ON DELETE CASCADE,
            address  TEXT NOT NULL,
            identity BLOB NOT NULL,               -- raw 32-byte key
            PRIMARY KEY (phone, address)
        );
        -- Stanzas waiting for a device, in order. A message stays until the device answers it with
        -- a receipt (or a nack), a receipt until the device acks it; delivered_at only records
        -- that it went out once, so a reconnect delivers it again.
        CREATE TABLE queue (
            seq          INTEGER PRIMARY KEY AUTOINCREMENT,
            phone        TEXT NOT NULL,
            device       INTEGER NOT NULL,
            kind         TEXT NOT NULL,           -- message | receipt
            stanza_id    TEXT NOT NULL,
            stanza       BLOB NOT NULL,           -- the binary-XML node as it goes out
            created_at   INTEGER NOT NULL,
            delivered_at INTEGER
        );
        CREATE INDEX queue_by_device ON queue (phone, device, seq);
        -- Who sent which message id (receipts addressed to a user find the sending device).
        CREATE TABLE message_log (
            message_id    TEXT NOT NULL,
            sender_phone  TEXT NOT NULL,
            sender_device INTEGER NOT NULL,
            chat          TEXT NOT NULL,
            t             INTEGER NOT NULL,
            PRIMARY KEY (message_id, sender_phone)
        );
        -- What a virtual phone received (decrypted), and the copies of what its companions sent.
        CREATE TABLE inbox (
            cursor      INTEGER PRIMARY KEY AUTOINCREMENT,
            phone       TEXT NOT NULL REFERENCES accounts(phone) ON DELETE CASCADE,
            message_id  TEXT NOT NULL,
            from_jid    TEXT NOT NULL,            -- the sending device, as it was delivered
            from_phone  TEXT,
            from_me     INTEGER NOT NULL,         -- 1: a copy of what one of its companions sent
            chat        TEXT NOT NULL,
            to_jid      TEXT NOT NULL,
            text        TEXT,
            push_name   TEXT,
            timestamp   INTEGER NOT NULL,         -- the server's t, unix seconds
            received_at INTEGER NOT NULL,
            UNIQUE (phone, message_id, from_jid)
        );
        -- What a virtual phone sent, so it can answer retry receipts (whatsmeow retry.go handleRetryReceipt) as a real client does.
        CREATE TABLE phone_sent (
            phone      TEXT NOT NULL REFERENCES accounts(phone) ON DELETE CASCADE,
            message_id TEXT NOT NULL,
            chat       TEXT NOT NULL,
            payload    BLOB NOT NULL,             -- the Message protobuf, unpadded
            auto_reply INTEGER NOT NULL DEFAULT 0,
            t          INTEGER NOT NULL,
            PRIMARY KEY (phone, message_id)
        );
        -- Retry receipts the phone sent per message and sender device (at most 4, as whatsmeow).
        CREATE TABLE phone_retries (
            phone      TEXT NOT NULL,
            message_id TEXT NOT NULL,
            sender     TEXT NOT NULL,
            count      INTEGER NOT NULL,
            PRIMARY KEY (phone, message_id, sender)
        );
        ALTER TABLE accounts ADD COLUMN auto_reply TEXT;
        """,
        // Privacy tokens (whatsmeow tctoken.go): a trusted_contact token `issuer` issued for
        // `holder`, the latest per pair of users.
        """
        CREATE TABLE privacy_tokens (
            issuer    TEXT NOT NULL REFERENCES accounts(phone) ON DELETE CASCADE,
            holder    TEXT NOT NULL REFERENCES accounts(phone) ON DELETE CASCADE,
            token     BLOB NOT NULL,
            t         INTEGER NOT NULL,           -- the issuer's timestamp, unix seconds
            issued_at INTEGER NOT NULL,
            PRIMARY KEY (issuer, holder)
        );
        """,
        // Groups (whatsmeow group.go; GroupOperations.swift).
        SimGroup.schema,
        SimGroup.addRequestSchema,
        // Media a phone received (PhoneMedia.swift): the inbox row's `media` object as JSON, null for text.
        """
        ALTER TABLE inbox ADD COLUMN media TEXT;
        """,
        // What a phone received as a change (PhoneMessageChanges.swift): JSON {kind, message_id, …}; and the decrypted
        // message itself, so a phone can vote in a poll it received (the poll's secret is in it).
        """
        ALTER TABLE inbox ADD COLUMN change TEXT;
        ALTER TABLE inbox ADD COLUMN raw BLOB;
        """,
        // A phone's about text, business flag, picture and presence; presence subscriptions (PhoneProfiles.swift).
        SimState.profileSchema,
        // A phone's seeded history and the companions owed a history sync (PhoneHistory.swift).
        PhoneHistory.schema,
        // App state (syncd): keys, versions, patches and live records per account and collection (AppStateServer.swift).
        AppStateServer.schema,
        // Reactions seeded on a phone's history messages (PhoneHistory.swift).
        PhoneHistory.reactionsSchema,
    ])

    let database: SQLiteDatabase
    let random: @Sendable (Int) -> [UInt8]
    let clock: @Sendable () -> UnixTime

    public init(directory: String, random: @escaping @Sendable (Int) -> [UInt8], clock: @escaping @Sendable () -> UnixTime) throws(WauseError) {
        database = try SQLiteDatabase(path: directory + "/sim.db")
        self.random = random
        self.clock = clock
        try database.withConnection { (c) throws(WauseError) in try SimState.migrations.migrate(c, path: directory + "/sim.db") }
    }

    public func close() { database.close() }

    /// Creates a virtual account; its LID is random (15 digits, as real LIDs are), its identity
    /// key fresh. An existing phone number is a conflict.
    public func createAccount(phone: String, pushName: String?) throws(WauseError) -> SimAccount {
        let normalized = try PhoneNumber.normalize(phone)
        let identity = Curve25519KeyPair.generate(random: random)
        return try database.withConnection { (c) throws(WauseError) -> SimAccount in
            if try c.scalar("SELECT count(*) FROM accounts WHERE phone = ?", [.text(normalized)]) > 0 {
                throw WauseError.invalidRequest("account \(normalized) already exists", details: ["phone": .string(normalized)])
            }
            var lid: String
            repeat {
                let digits = random(15).map { String($0 % 10) }.joined()
                lid = "1" + digits.dropFirst()
            } while try c.scalar("SELECT count(*) FROM accounts WHERE lid = ?", [.text(lid)]) > 0
            let account = SimAccount(phone: normalized, lid: lid, pushName: pushName ?? "User \(normalized.suffix(4))", identity: identity)
            try c.execute("INSERT INTO accounts (phone, lid, push_name, identity_private, identity_public, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                          [.text(account.phone), .text(account.lid), .text(account.pushName), .blob(identity.privateKey),
                           .blob(identity.publicKey), .time(clock())])
            return account
        }
    }

    public func accounts() throws(WauseError) -> [SimAccount] {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM accounts ORDER BY created_at, phone").compactMap(SimState.account)
        }
    }

    public func account(phone: String) throws(WauseError) -> SimAccount? {
        let normalized = try PhoneNumber.normalize(phone)
        return try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM accounts WHERE phone = ?", [.text(normalized)]).first.flatMap(SimState.account)
        }
    }

    static func account(_ row: SQLRow) -> SimAccount? {
        guard let phone = row["phone"].text, let lid = row["lid"].text, let privateKey = row["identity_private"].blob,
            let identity = try? Curve25519KeyPair(privateKey: privateKey)
        else { return nil }
        return SimAccount(phone: phone, lid: lid, pushName: row["push_name"].text ?? "", identity: identity)
    }

    public func devices(phone: String) throws(WauseError) -> [SimDevice] {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM devices WHERE phone = ? ORDER BY device", [.text(phone)]).compactMap(SimState.device)
        }
    }

    /// The device a noise key belongs to (a returning companion logging in).
    public func device(noisePublicKey: [UInt8]) throws(WauseError) -> SimDevice? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM devices WHERE noise_public = ?", [.blob(noisePublicKey)]).first.flatMap(SimState.device)
        }
    }

    /// Whether a device with this noise key was unlinked (it gets `failure 401` on login).
    public func wasRemoved(noisePublicKey: [UInt8]) throws(WauseError) -> Bool {
        try database.withConnection { (c) throws(WauseError) in
            try c.scalar("SELECT count(*) FROM removed_devices WHERE noise_public = ?", [.blob(noisePublicKey)]) > 0
        }
    }

    /// Registers a companion under the lowest free device number (1 and up; 0 is the phone).
    public func addDevice(phone: String, noisePublicKey: [UInt8], identityPublicKey: [UInt8], registrationID: Int64,
                          platform: String?) throws(WauseError) -> SimDevice {
        try database.withConnection { (c) throws(WauseError) -> SimDevice in
            try c.transaction { () throws(WauseError) -> SimDevice in
                let used = Set(try c.query("SELECT device FROM devices WHERE phone = ?", [.text(phone)]).compactMap { $0["device"].integer })
                var number: Int64 = 1
                while used.contains(number) { number += 1 }
                let now = clock()
                try c.execute("DELETE FROM removed_devices WHERE noise_public = ?", [.blob(noisePublicKey)])
                try c.execute("""
                    INSERT INTO devices (phone, device, noise_public, identity_public, registration_id, platform, linked_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, [.text(phone), .integer(number), .blob(noisePublicKey), .blob(identityPublicKey), .integer(registrationID),
                          SQLValue(platform), .time(now)])
                return SimDevice(phone: phone, device: Int(number), noisePublicKey: noisePublicKey, identityPublicKey: identityPublicKey,
                                 registrationID: registrationID, platform: platform, linkedAt: now)
            }
        }
    }

    /// Unlinks a device; returns it, or nil if there was none.
    public func removeDevice(phone: String, device: Int) throws(WauseError) -> SimDevice? {
        try database.withConnection { (c) throws(WauseError) -> SimDevice? in
            try c.transaction { () throws(WauseError) -> SimDevice? in
                guard let row = try c.query("SELECT * FROM devices WHERE phone = ? AND device = ?", [.text(phone), .integer(Int64(device))]).first,
                    let removed = SimState.device(row)
                else { return nil }
                try c.execute("DELETE FROM devices WHERE phone = ? AND device = ?", [.text(phone), .integer(Int64(device))])
                // What was waiting for it will never be asked for again (a relinked device starts fresh).
                try c.execute("DELETE FROM queue WHERE phone = ? AND device = ?", [.text(phone), .integer(Int64(device))])
                try c.execute("INSERT OR REPLACE INTO removed_devices (noise_public, removed_at) VALUES (?, ?)",
                              [.blob(removed.noisePublicKey), .time(clock())])
                return removed
            }
        }
    }

    private static func device(_ row: SQLRow) -> SimDevice? {
        guard let phone = row["phone"].text, let device = row["device"].integer, let noise = row["noise_public"].blob,
            let identity = row["identity_public"].blob
        else { return nil }
        return SimDevice(phone: phone, device: Int(device), noisePublicKey: noise, identityPublicKey: identity,
                         registrationID: row["registration_id"].integer ?? 0, platform: row["platform"].text,
                         linkedAt: row["linked_at"].time ?? .epoch, os: row["os"].text,
                         keyIndex: row["key_index"].integer.map { Int($0) })
    }
}

// MARK: - Linking as the phone (whatsmeow pair.go handlePair)

/// What the phone signs into a new device's ADVDeviceIdentity.
public struct ADVIssue: Sendable, Equatable {
    public let rawID: UInt32
    public let keyIndex: UInt32
}

/// A device the phone is about to register, once it has countersigned its identity.
public struct NewDevice: Sendable {
    public var phone: String
    public var device: Int
    public var noisePublicKey: [UInt8]
    public var identityPublicKey: [UInt8]
    public var registrationID: Int64
    public var platform: String?
    public var os: String?
    public var keyIndex: Int
    /// The full ADVSignedDeviceIdentity (details, account signature key and both signatures).
    public var advIdentity: [UInt8]
    public var signedPreKey: (id: Int, publicKey: [UInt8], signature: [UInt8])?
}

/// A one-time or signed prekey as whatsmeow prekeys.go uploadPreKeys uploads it.
public struct UploadedPreKeys: Sendable {
    public var registrationID: Int64
    public var preKeys: [(id: Int, publicKey: [UInt8])]
    public var signedPreKey: (id: Int, publicKey: [UInt8], signature: [UInt8])
}

extension SimState {
    /// The account's stable rawID (made on first use) and the next key index, counted up and
    /// kept, so no two devices of an account are ever signed with the same index.
    public func issueADV(phone: String) throws(WauseError) -> ADVIssue {
        try database.withConnection { (c) throws(WauseError) -> ADVIssue in
            try c.transaction { () throws(WauseError) -> ADVIssue in
                guard let row = try c.query("SELECT adv_raw_id, adv_key_index FROM accounts WHERE phone = ?", [.text(phone)]).first else {
                    throw WauseError(.notFound, "no account \(phone)")
                }
                var rawID = row["adv_raw_id"].integer
                if rawID == nil {
                    let bytes = random(4)
                    rawID = Int64(bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
                    try c.execute("UPDATE accounts SET adv_raw_id = ? WHERE phone = ?", [.integer(rawID!), .text(phone)])
                }
                let keyIndex = (row["adv_key_index"].integer ?? 0) + 1
                try c.execute("UPDATE accounts SET adv_key_index = ? WHERE phone = ?", [.integer(keyIndex), .text(phone)])
                return ADVIssue(rawID: UInt32(truncatingIfNeeded: rawID!), keyIndex: UInt32(truncatingIfNeeded: keyIndex))
            }
        }
    }

    /// The device numbers an account uses now.
    public func deviceNumbers(phone: String) throws(WauseError) -> Set<Int> {
        try database.withConnection { (c) throws(WauseError) in
            Set(try c.query("SELECT device FROM devices WHERE phone = ?", [.text(phone)]).compactMap { $0["device"].integer.map(Int.init) })
        }
    }

    /// Registers a linked companion under the number the phone promised it in pair-success, with
    /// its ADV identity and signed prekey, all or nothing.
    public func linkDevice(_ new: NewDevice) throws(WauseError) -> SimDevice {
        try database.withConnection { (c) throws(WauseError) -> SimDevice in
            try c.transaction { () throws(WauseError) -> SimDevice in
                if try c.scalar("SELECT count(*) FROM devices WHERE phone = ? AND device = ?",
                                [.text(new.phone), .integer(Int64(new.device))]) > 0 {
                    throw WauseError(.pairingFailed, "device \(new.device) of \(new.phone) is already linked")
                }
                if try c.scalar("SELECT count(*) FROM devices WHERE noise_public = ?", [.blob(new.noisePublicKey)]) > 0 {
                    throw WauseError(.pairingFailed, "a device with this noise key is already linked")
                }
                let now = clock()
                try c.execute("DELETE FROM removed_devices WHERE noise_public = ?", [.blob(new.noisePublicKey)])
                try c.execute("""
                    INSERT INTO devices (phone, device, noise_public, identity_public, registration_id, platform, linked_at,
                                         os, key_index, adv_identity)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [.text(new.phone), .integer(Int64(new.device)), .blob(new.noisePublicKey), .blob(new.identityPublicKey),
                          .integer(new.registrationID), SQLValue(new.platform), .time(now), SQLValue(new.os),
                          .integer(Int64(new.keyIndex)), .blob(new.advIdentity)])
                if let signed = new.signedPreKey {
                    try c.execute("INSERT INTO signed_prekeys (phone, device, key_id, public_key, signature) VALUES (?, ?, ?, ?, ?)",
                                  [.text(new.phone), .integer(Int64(new.device)), .integer(Int64(signed.id)), .blob(signed.publicKey),
                                   .blob(signed.signature)])
                }
                return SimDevice(phone: new.phone, device: new.device, noisePublicKey: new.noisePublicKey,
                                 identityPublicKey: new.identityPublicKey, registrationID: new.registrationID, platform: new.platform,
                                 linkedAt: now, os: new.os, keyIndex: new.keyIndex)
            }
        }
    }

    /// The stored ADVSignedDeviceIdentity of a device (nil for devices linked before it was kept).
    public func advIdentity(phone: String, device: Int) throws(WauseError) -> [UInt8]? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT adv_identity FROM devices WHERE phone = ? AND device = ?", [.text(phone), .integer(Int64(device))])
                .first?["adv_identity"].blob
        }
    }

    // MARK: Prekeys (whatsmeow prekeys.go)

    /// Stores an upload (whatsmeow prekeys.go uploadPreKeys): the one-time prekeys are added (an id uploaded again replaces its
    /// key), the signed prekey replaced; in one transaction.
    public func storePreKeys(phone: String, device: Int, _ upload: UploadedPreKeys) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                let now = clock()
                for key in upload.preKeys {
                    try c.execute("INSERT OR REPLACE INTO prekeys (phone, device, key_id, public_key, uploaded_at) VALUES (?, ?, ?, ?, ?)",
                                  [.text(phone), .integer(Int64(device)), .integer(Int64(key.id)), .blob(key.publicKey), .time(now)])
                }
                let signed = upload.signedPreKey
                try c.execute("INSERT OR REPLACE INTO signed_prekeys (phone, device, key_id, public_key, signature) VALUES (?, ?, ?, ?, ?)",
                              [.text(phone), .integer(Int64(device)), .integer(Int64(signed.id)), .blob(signed.publicKey),
                               .blob(signed.signature)])
                try c.execute("UPDATE devices SET registration_id = ? WHERE phone = ? AND device = ?",
                              [.integer(upload.registrationID), .text(phone), .integer(Int64(device))])
            }
        }
    }

    /// One-time prekeys the device has on the server (uploaded, not yet handed out): the count whatsmeow prekeys.go getServerPreKeyCount reads.
    public func preKeyCount(phone: String, device: Int) throws(WauseError) -> Int {
        try database.withConnection { (c) throws(WauseError) in
            Int(try c.scalar("SELECT count(*) FROM prekeys WHERE phone = ? AND device = ?", [.text(phone), .integer(Int64(device))]))
        }
    }

    /// The device's current signed prekey.
    public func signedPreKey(phone: String, device: Int) throws(WauseError) -> (id: Int, publicKey: [UInt8], signature: [UInt8])? {
        try database.withConnection { (c) throws(WauseError) in
            guard let row = try c.query("SELECT * FROM signed_prekeys WHERE phone = ? AND device = ?",
                                        [.text(phone), .integer(Int64(device))]).first,
                let id = row["key_id"].integer, let key = row["public_key"].blob, let signature = row["signature"].blob
            else { return nil }
            return (Int(id), key, signature)
        }
    }
}
