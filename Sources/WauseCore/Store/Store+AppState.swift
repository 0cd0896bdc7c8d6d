import WauseBinary
import WauseProtocol
import WauseSQLite
import WauseSupport

// The store's SQL for app state (ARCHITECTURE.md: one Store+Area file per area; the area is
// AppState/AppStateSync.swift): sync keys, each collection's version, LTHash and value MACs, and
// what received mutations change in chats and messages.

extension Store {
    /// One key as the phone shared it.
    struct AppStateKeyRecord: Sendable, Equatable {
        var id: [UInt8]
        var data: [UInt8]
        var fingerprint: [UInt8]?
        /// The phone's timestamp (unix ms): the newest key is the one we send with.
        var timestamp: Int64
    }

    /// Stores shared keys; an existing key is replaced only by a newer one (whatsmeow
    /// sqlstore PutAppStateSyncKey). Answers the IDs that were new.
    func storeAppStateKeys(_ keys: [AppStateKeyRecord], now: UnixTime) throws(WauseError) -> [[UInt8]] {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) -> [[UInt8]] in
                var fresh: [[UInt8]] = []
                for key in keys {
                    let known = try c.scalar("SELECT count(*) FROM app_state_keys WHERE key_id = ?", [.blob(key.id)]) > 0
                    try c.execute("""
                        INSERT INTO app_state_keys (key_id, key_data, fingerprint, timestamp, received_at) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT (key_id) DO UPDATE SET key_data = excluded.key_data, fingerprint = excluded.fingerprint,
                            timestamp = excluded.timestamp, received_at = excluded.received_at
                        WHERE excluded.timestamp > app_state_keys.timestamp
                        """, [.blob(key.id), .blob(key.data), SQLValue(key.fingerprint), .integer(key.timestamp), .time(now)])
                    if !known { fresh.append(key.id) }
                }
                return fresh
            }
        }
    }

    /// Every key we hold, expanded, by key ID.
    func appStateKeys() throws(WauseError) -> [[UInt8]: AppStateKeys] {
        let rows = try database.withConnection { (c) throws(WauseError) in try c.query("SELECT key_id, key_data FROM app_state_keys") }
        var keys: [[UInt8]: AppStateKeys] = [:]
        for row in rows {
            guard let id = row["key_id"].blob, let data = row["key_data"].blob, let expanded = try? AppStateKeys(keyData: data) else { continue }
            keys[id] = expanded
        }
        return keys
    }

    /// The key to send with: the one with the newest phone timestamp (whatsmeow getLatestAppStateSyncKeyID).
    func latestAppStateKey() throws(WauseError) -> (id: [UInt8], keys: AppStateKeys)? {
        guard let row = try database.withConnection({ (c) throws(WauseError) in
            try c.query("SELECT key_id, key_data FROM app_state_keys ORDER BY timestamp DESC LIMIT 1").first
        }), let id = row["key_id"].blob, let data = row["key_data"].blob else { return nil }
        return (id, try AppStateKeys(keyData: data))
    }

    /// A collection as we last stored it; empty (version 0) when never synced.
    func appStateCollection(_ collection: AppStateCollection) throws(WauseError) -> AppStateCollectionState {
        try database.withConnection { (c) throws(WauseError) in
            guard let row = try c.query("SELECT version, hash FROM app_state_collections WHERE name = ?", [.text(collection.rawValue)]).first,
                let version = row["version"].integer, let hash = row["hash"].blob.flatMap(LTHash.init(bytes:))
            else { return AppStateCollectionState() }
            var state = AppStateCollectionState(version: UInt64(version), hash: hash)
            for mac in try c.query("SELECT index_mac, value_mac FROM app_state_macs WHERE collection = ?", [.text(collection.rawValue)]) {
                if let index = mac["index_mac"].blob, let value = mac["value_mac"].blob { state.valueMACs[index] = value }
            }
            return state
        }
    }

    /// Forgets a collection (a full resync starts from a snapshot).
    func resetAppStateCollection(_ collection: AppStateCollection) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                try c.execute("DELETE FROM app_state_collections WHERE name = ?", [.text(collection.rawValue)])
                try c.execute("DELETE FROM app_state_macs WHERE collection = ?", [.text(collection.rawValue)])
            }
        }
    }

    /// Stores a collection's new state and applies its actions, in one transaction: a crash
    /// leaves either the old version (refetched) or the new one with everything it changed.
    /// Answers the chats and messages each action touched (for events).
    func saveAppState(_ collection: AppStateCollection, _ state: AppStateCollectionState, applying actions: [AppStateAction],
                      now: UnixTime) throws(WauseError) -> [(action: AppStateAction, chat: String?)] {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) -> [(action: AppStateAction, chat: String?)] in
                try c.execute("""
                    INSERT INTO app_state_collections (name, version, hash, updated_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (name) DO UPDATE SET version = excluded.version, hash = excluded.hash, updated_at = excluded.updated_at
                    """, [.text(collection.rawValue), .integer(Int64(state.version)), .blob(state.hash.bytes), .time(now)])
                try c.execute("DELETE FROM app_state_macs WHERE collection = ?", [.text(collection.rawValue)])
                for (index, value) in state.valueMACs {
                    try c.execute("INSERT INTO app_state_macs (collection, index_mac, value_mac) VALUES (?, ?, ?)",
                                  [.text(collection.rawValue), .blob(index), .blob(value)])
                }
                var touched: [(action: AppStateAction, chat: String?)] = []
                for action in actions { touched.append((action, try Store.apply(action, now: now, c))) }
                return touched
            }
        }
    }

    /// The names of the live labels on `chat`, by name (empty when none or none known yet).
    static func chatLabels(_ chat: String, _ c: SQLiteConnection) throws(WauseError) -> [String] {
        try c.query("""
            SELECT labels.name FROM chat_labels JOIN labels ON labels.id = chat_labels.label_id
            WHERE chat_labels.chat_jid = ? AND labels.deleted = 0 ORDER BY labels.name, labels.id
            """, [.text(chat)]).compactMap { $0["name"].text }
    }

    /// The live labels' names on each of these messages (by row id; messages without any are
    /// absent). One query for the page; none when no message carries a label at all.
    func messageLabels(rowids: [Int64]) throws(WauseError) -> [Int64: [String]] {
        guard !rowids.isEmpty else { return [:] }
        return try database.withConnection { (c) throws(WauseError) in
            guard try c.scalar("SELECT EXISTS (SELECT 1 FROM message_labels)") == 1 else { return [:] }
            let marks = Array(repeating: "?", count: rowids.count).joined(separator: ",")
            var found: [Int64: [String]] = [:]
            for row in try c.query("""
                SELECT messages.rowid AS rowid, labels.name AS name FROM messages
                JOIN message_labels ON message_labels.chat_jid = messages.chat_jid AND message_labels.message_id = messages.id
                    AND message_labels.from_me = messages.from_me
                JOIN labels ON labels.id = message_labels.label_id AND labels.deleted = 0
                WHERE messages.rowid IN (\(marks)) ORDER BY labels.name, labels.id
                """, rowids.map { .integer($0) }) {
                guard let rowid = row["rowid"].integer, let name = row["name"].text else { continue }
                found[rowid, default: []].append(name)
            }
            return found
        }
    }

    /// A label's name by ID (nil when its edit has not arrived or it was deleted): for events.
    func labelName(_ id: String) throws(WauseError) -> String? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT name FROM labels WHERE id = ? AND deleted = 0", [.text(id)]).first?["name"].text
        }
    }

    /// The chat a JID in an index names here: a LID whose phone number we know is filed under the number.
    static func appStateChat(_ jid: String, _ c: SQLiteConnection) throws(WauseError) -> String {
        guard let parsed = JID(jid) else { return jid }
        let bare = JID(user: parsed.user, server: parsed.server)
        if bare.server == .lid, let phone = try c.query("SELECT phone FROM contacts WHERE lid = ? AND phone IS NOT NULL", [.text(bare.user)])
            .first?["phone"].text {
            return "\(phone)@s.whatsapp.net"
        }
        return bare.description
    }

    /// What one received action changes (whatsmeow appstate.go dispatchAppState; Baileys
    /// chat-utils.ts processSyncAction); answers the chat it touched.
    private static func apply(_ action: AppStateAction, now: UnixTime, _ c: SQLiteConnection) throws(WauseError) -> String? {
        func ensureChat(_ jid: String) throws(WauseError) {
            try c.execute("INSERT INTO chats (jid, is_group, updated_at) VALUES (?, ?, ?) ON CONFLICT (jid) DO NOTHING",
                          [.text(jid), SQLValue(jid.hasSuffix("@g.us")), .time(now)])
        }
        switch action {
        case .archive(let chat, let archived):
            let jid = try appStateChat(chat, c)
            try ensureChat(jid)
            try c.execute("UPDATE chats SET archived = ?, updated_at = ? WHERE jid = ?", [SQLValue(archived), .time(now), .text(jid)])
            return jid
        case .pin(let chat, let pinned):
            let jid = try appStateChat(chat, c)
            try ensureChat(jid)
            try c.execute("UPDATE chats SET pinned = ?, updated_at = ? WHERE jid = ?", [SQLValue(pinned), .time(now), .text(jid)])
            return jid
        case .mute(let chat, let until):
            let jid = try appStateChat(chat, c)
            try ensureChat(jid)
            try c.execute("UPDATE chats SET muted_until = ?, updated_at = ? WHERE jid = ?", [SQLValue(until), .time(now), .text(jid)])
            return jid
        case .markRead(let chat, let read):
            let jid = try appStateChat(chat, c)
            try ensureChat(jid)
            if read {
                try c.execute("UPDATE chats SET unread_count = 0, marked_unread = 0, updated_at = ? WHERE jid = ?", [.time(now), .text(jid)])
            } else {
                try c.execute("UPDATE chats SET marked_unread = 1, updated_at = ? WHERE jid = ?", [.time(now), .text(jid)])
            }
            return jid
        case .star(let ref, let starred):
            let jid = try appStateChat(ref.chat, c)
            try c.execute("UPDATE messages SET starred = ? WHERE chat_jid = ? AND id = ? AND from_me = ?",
                          [SQLValue(starred), .text(jid), .text(ref.id), SQLValue(ref.fromMe)])
            return jid
        case .deleteMessageForMe(let ref, _):
            let jid = try appStateChat(ref.chat, c)
            for row in try c.query("SELECT rowid FROM messages WHERE chat_jid = ? AND id = ? AND from_me = ?",
                                   [.text(jid), .text(ref.id), SQLValue(ref.fromMe)]) {
                guard let rowid = row["rowid"].integer else { continue }
                try c.execute("DELETE FROM message_status_timeline WHERE message_rowid = ?", [.integer(rowid)])
                try c.execute("DELETE FROM messages WHERE rowid = ?", [.integer(rowid)])
            }
            return jid
        case .clearChat(let chat), .deleteChat(let chat, _):
            let jid = try appStateChat(chat, c)
            try c.execute("DELETE FROM message_status_timeline WHERE message_rowid IN (SELECT rowid FROM messages WHERE chat_jid = ?)", [.text(jid)])
            try c.execute("DELETE FROM messages WHERE chat_jid = ?", [.text(jid)])
            if case .deleteChat = action {
                try c.execute("UPDATE chats SET archived = 0, pinned = 0, unread_count = 0, marked_unread = 0, last_message_at = NULL, updated_at = ? WHERE jid = ?",
                              [.time(now), .text(jid)])
            } else {
                try c.execute("UPDATE chats SET unread_count = 0, last_message_at = NULL, updated_at = ? WHERE jid = ?", [.time(now), .text(jid)])
            }
            return jid
        case .contact(let jid, let fullName, _):
            guard let parsed = JID(jid), parsed.server == .whatsApp || parsed.server == .lid else { return nil }
            let column = parsed.server == .lid ? "lid" : "phone"
            if try c.scalar("SELECT count(*) FROM contacts WHERE \(column) = ?", [.text(parsed.user)]) == 0 {
                try c.execute("INSERT INTO contacts (\(column), updated_at) VALUES (?, ?)", [.text(parsed.user), .time(now)])
            }
            try c.execute("UPDATE contacts SET full_name = ?, updated_at = ? WHERE \(column) = ?", [SQLValue(fullName), .time(now), .text(parsed.user)])
            return nil
        case .pushName(let name):
            try c.execute("UPDATE device SET push_name = ? WHERE id = 1", [.text(name)])
            return nil
        case .labelEdit(let label):
            try c.execute("""
                INSERT INTO labels (id, name, color, predefined_id, deleted, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET name = excluded.name, color = excluded.color, predefined_id = excluded.predefined_id,
                    deleted = excluded.deleted, updated_at = excluded.updated_at
                """, [.text(label.id), .text(label.name), SQLValue(label.color.map(Int64.init)), SQLValue(label.predefinedID.map(Int64.init)),
                      SQLValue(label.deleted), .time(now)])
            return nil
        case .labelChat(let labelID, let chat, let labeled):
            let jid = try appStateChat(chat, c)
            if labeled {
                try ensureChat(jid)
                try c.execute("INSERT OR IGNORE INTO chat_labels (label_id, chat_jid) VALUES (?, ?)", [.text(labelID), .text(jid)])
            } else {
                try c.execute("DELETE FROM chat_labels WHERE label_id = ? AND chat_jid = ?", [.text(labelID), .text(jid)])
            }
            return jid
        case .labelMessage(let labelID, let ref, let labeled):
            let jid = try appStateChat(ref.chat, c)
            if labeled {
                try c.execute("INSERT OR IGNORE INTO message_labels (label_id, chat_jid, message_id, from_me) VALUES (?, ?, ?, ?)",
                              [.text(labelID), .text(jid), .text(ref.id), SQLValue(ref.fromMe)])
            } else {
                try c.execute("DELETE FROM message_labels WHERE label_id = ? AND chat_jid = ? AND message_id = ? AND from_me = ?",
                              [.text(labelID), .text(jid), .text(ref.id), SQLValue(ref.fromMe)])
            }
            return jid
        }
    }
}
