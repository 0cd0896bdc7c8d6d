import WauseBinary
import WauseProtocol
import WauseSQLite
import WauseSupport

// The store's SQL for privacy tokens (ARCHITECTURE.md: one Store+Area file per area; the area is
// Messaging/PrivacyTokenExchange.swift).

extension Store {
    /// A token a contact issued us, and when we last issued ours to them.
    struct PrivacyTokenRecord: Equatable, Sendable {
        var jid: String
        var token: [UInt8]?
        var tokenTime: UnixTime?
        var issuedAt: UnixTime?
    }

    /// The key tokens are kept under for `user` (whatsmeow tctoken.go resolveTCTokenStorageLID):
    /// its LID JID when the LID is known, else its phone JID.
    func privacyTokenKey(for user: JID) throws(WauseError) -> String {
        let bare = JID(user: user.user, server: user.server)
        guard bare.server == .whatsApp else { return bare.description }
        let lid = try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT lid FROM contacts WHERE phone = ?", [.text(bare.user)]).first?["lid"].text
        }
        return lid.map { "\($0)@lid" } ?? bare.description
    }

    /// What we hold for `user`, looked up under its LID and its phone JID (a token stored before
    /// the LID was known is still found); the newest token wins.
    func privacyToken(for user: JID) throws(WauseError) -> PrivacyTokenRecord? {
        let keys = try privacyTokenKeys(for: user)
        return try database.withConnection { (c) throws(WauseError) in
            var rows: [SQLRow] = []
            for key in keys {
                if let row = try c.query("SELECT * FROM privacy_tokens WHERE jid = ?", [.text(key)]).first { rows.append(row) }
            }
            guard !rows.isEmpty else { return nil }
            let withToken = rows.filter { $0["token"].blob != nil }.max { ($0["token_t"].integer ?? 0) < ($1["token_t"].integer ?? 0) }
            let issued = rows.compactMap { $0["issued_at"].time }.max()
            return PrivacyTokenRecord(jid: keys[0], token: withToken?["token"].blob, tokenTime: withToken?["token_t"].time, issuedAt: issued)
        }
    }

    /// Keeps a token `user` issued us (the newer one when one is held already).
    func savePrivacyToken(_ token: [UInt8], from user: JID, t: UnixTime, now: UnixTime) throws(WauseError) {
        let key = try privacyTokenKey(for: user)
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("""
                INSERT INTO privacy_tokens (jid, token, token_t, updated_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (jid) DO UPDATE SET token = excluded.token, token_t = excluded.token_t, updated_at = excluded.updated_at
                WHERE privacy_tokens.token_t IS NULL OR privacy_tokens.token_t <= excluded.token_t
                """, [.text(key), .blob(token), .time(t), .time(now)])
        }
    }

    /// Records that we issued our token to `user` at `at`.
    func notePrivacyTokenIssued(to user: JID, at: UnixTime) throws(WauseError) {
        let key = try privacyTokenKey(for: user)
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("""
                INSERT INTO privacy_tokens (jid, issued_at, updated_at) VALUES (?, ?, ?)
                ON CONFLICT (jid) DO UPDATE SET issued_at = excluded.issued_at, updated_at = excluded.updated_at
                """, [.text(key), .time(at), .time(at)])
        }
    }

    /// The account's NCT salt for `<cstoken>` (whatsmeow store NCTSalt), once history sync or app state gave it.
    func nctSalt() throws(WauseError) -> [UInt8]? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT nct_salt FROM device WHERE id = 1").first?["nct_salt"].blob
        }
    }

    /// Keeps (or, nil, clears) the NCT salt (whatsmeow cstoken.go storeNCTSalt, clearNCTSalt). Nothing in the engine
    /// receives it yet (history sync and app state are still to come); it is here so the cstoken path is whole.
    func saveNCTSalt(_ salt: [UInt8]?) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("UPDATE device SET nct_salt = ? WHERE id = 1", [SQLValue(salt)])
        }
    }

    /// The keys `user` may be stored under: the LID first, then the phone JID.
    private func privacyTokenKeys(for user: JID) throws(WauseError) -> [String] {
        let bare = JID(user: user.user, server: user.server)
        let other: String? = try database.withConnection { (c) throws(WauseError) in
            switch bare.server {
            case .whatsApp:
                return try c.query("SELECT lid FROM contacts WHERE phone = ?", [.text(bare.user)]).first?["lid"].text.map { "\($0)@lid" }
            case .lid:
                return try c.query("SELECT phone FROM contacts WHERE lid = ?", [.text(bare.user)]).first?["phone"].text
                    .map { "\($0)@s.whatsapp.net" }
            default:
                return nil
            }
        }
        let keys = bare.server == .lid ? [bare.description] + (other.map { [$0] } ?? []) : (other.map { [$0] } ?? []) + [bare.description]
        return keys
    }
}
