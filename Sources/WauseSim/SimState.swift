import WauseCore
import WauseCrypto

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
    public let linkedAt: Int64

    public var json: JSONValue {
        [
            "device": .int(Int64(device)), "jid": .string("\(phone):\(device)@s.whatsapp.net"),
            "platform": JSONValue(platform), "linked_at": .string(ISO8601.string(fromUnixMilliseconds: linkedAt)),
        ]
    }
}

/// wause-sim's persistent state: accounts and their linked devices, in `DATA_DIR/sim.db`.
public final class SimState: @unchecked Sendable {
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
    ])

    let database: SQLiteDatabase
    private let random: @Sendable (Int) -> [UInt8]
    private let clock: @Sendable () -> Int64

    public init(directory: String, random: @escaping @Sendable (Int) -> [UInt8], clock: @escaping @Sendable () -> Int64) throws(WauseError) {
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
                           .blob(identity.publicKey), .integer(clock())])
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

    private static func account(_ row: SQLRow) -> SimAccount? {
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
                          SQLValue(platform), .integer(now)])
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
                try c.execute("INSERT OR REPLACE INTO removed_devices (noise_public, removed_at) VALUES (?, ?)",
                              [.blob(removed.noisePublicKey), .integer(clock())])
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
                         linkedAt: row["linked_at"].integer ?? 0)
    }
}
