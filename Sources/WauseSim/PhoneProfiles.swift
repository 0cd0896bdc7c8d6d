import WauseBinary
import WauseProtocol
import WauseSQLite
import WauseSupport

/// What a virtual phone shows about itself and who watches it (issue 14): its about text, business flag and
/// profile picture (`PUT /accounts/{phone}/profile`), its presence (`PUT /accounts/{phone}/presence`), the
/// companions subscribed to it (whatsmeow presence.go SubscribePresence), and what companions told it —
/// their presence and typing — for `GET /accounts/{phone}/presence` (PhonePresence.swift).
struct SimProfile: Sendable, Equatable {
    var about: String
    var aboutSetAt: Int64
    var business: Bool
    /// The picture's id and where the media host serves it (MediaStore direct path), if one is set.
    var pictureID: String?
    var picturePath: String?
    var presence: PresenceStanzas.State
    var lastSeen: Int64?

    var json: JSONValue {
        ["about": .string(about), "business": .bool(business), "picture_id": JSONValue(pictureID),
         "presence": .string(presence.rawValue), "last_seen": lastSeen.map { .int($0) } ?? .null]
    }
}

extension SimState {
    /// Appended to `SimState.migrations`.
    static let profileSchema = """
        ALTER TABLE accounts ADD COLUMN about TEXT NOT NULL DEFAULT 'Hey there! I am using WhatsApp.';
        ALTER TABLE accounts ADD COLUMN about_set_at INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE accounts ADD COLUMN business INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE accounts ADD COLUMN picture_id TEXT;
        ALTER TABLE accounts ADD COLUMN picture_path TEXT;
        ALTER TABLE accounts ADD COLUMN presence TEXT NOT NULL DEFAULT 'unavailable';
        ALTER TABLE accounts ADD COLUMN last_seen INTEGER;
        -- A companion device subscribed to an account's presence, and in which form it named it (phone or LID JID).
        CREATE TABLE presence_subscriptions (
            target            TEXT NOT NULL REFERENCES accounts(phone) ON DELETE CASCADE,
            subscriber_phone  TEXT NOT NULL,
            subscriber_device INTEGER NOT NULL,
            named_as          TEXT NOT NULL,
            PRIMARY KEY (target, subscriber_phone, subscriber_device)
        );
        -- What companions told a phone: `presence` (their account's state) or `typing` (a chat state to it).
        CREATE TABLE phone_activity (
            seq        INTEGER PRIMARY KEY AUTOINCREMENT,
            phone      TEXT NOT NULL REFERENCES accounts(phone) ON DELETE CASCADE,
            kind       TEXT NOT NULL,
            from_jid   TEXT NOT NULL,
            state      TEXT NOT NULL,
            at         INTEGER NOT NULL
        );
        """

    func profile(phone: String) throws(WauseError) -> SimProfile? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT about, about_set_at, business, picture_id, picture_path, presence, last_seen FROM accounts WHERE phone = ?",
                        [.text(phone)]).first.map { row in
                SimProfile(about: row["about"].text ?? "", aboutSetAt: row["about_set_at"].integer ?? 0,
                           business: (row["business"].integer ?? 0) != 0, pictureID: row["picture_id"].text,
                           picturePath: row["picture_path"].text,
                           presence: PresenceStanzas.State(rawValue: row["presence"].text ?? "") ?? .unavailable,
                           lastSeen: row["last_seen"].integer)
            }
        }
    }

    func setProfile(phone: String, _ profile: SimProfile) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("""
                UPDATE accounts SET about = ?, about_set_at = ?, business = ?, picture_id = ?, picture_path = ?, presence = ?, last_seen = ?
                WHERE phone = ?
                """, [.text(profile.about), .integer(profile.aboutSetAt), .integer(profile.business ? 1 : 0), SQLValue(profile.pictureID),
                      SQLValue(profile.picturePath), .text(profile.presence.rawValue), profile.lastSeen.map { .integer($0) } ?? .null,
                      .text(phone)])
        }
    }

    func subscribe(device: SimEndpoint, to target: SimAccount, namedAs: JID) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("""
                INSERT INTO presence_subscriptions (target, subscriber_phone, subscriber_device, named_as) VALUES (?, ?, ?, ?)
                ON CONFLICT (target, subscriber_phone, subscriber_device) DO UPDATE SET named_as = excluded.named_as
                """, [.text(target.phone), .text(device.account.phone), .integer(Int64(device.device)), .text(namedAs.description)])
        }
    }

    /// The companions subscribed to `phone`'s presence, with the JID each named it by.
    func subscribers(of phone: String) throws(WauseError) -> [(phone: String, device: Int, namedAs: JID)] {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM presence_subscriptions WHERE target = ? ORDER BY subscriber_phone, subscriber_device",
                        [.text(phone)]).compactMap { row in
                guard let subscriber = row["subscriber_phone"].text, let device = row["subscriber_device"].integer,
                    let named = row["named_as"].text.flatMap(JID.init)
                else { return nil }
                return (subscriber, Int(device), named)
            }
        }
    }

    func recordActivity(phone: String, kind: String, from: JID, state: String, at: Int64) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("INSERT INTO phone_activity (phone, kind, from_jid, state, at) VALUES (?, ?, ?, ?, ?)",
                              [.text(phone), .text(kind), .text(from.description), .text(state), .integer(at)])
        }
    }

    func activity(phone: String) throws(WauseError) -> [JSONValue] {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM phone_activity WHERE phone = ? ORDER BY seq", [.text(phone)]).map { row in
                ["kind": JSONValue(row["kind"].text), "from": JSONValue(row["from_jid"].text), "state": JSONValue(row["state"].text),
                 "at": .string(ISO8601.string(fromUnixMilliseconds: (row["at"].integer ?? 0) * 1000))]
            }
        }
    }
}
