import WauseSQLite
import WauseSupport

// The store's SQL for the history area (ARCHITECTURE.md: one Store+Area file per area).

// MARK: History

extension Store {
    static func message(_ row: SQLRow) -> MessageRecord {
        MessageRecord(rowid: row["rowid"].integer ?? 0, id: row["id"].text ?? "", chatJID: row["chat_jid"].text ?? "",
                      senderJID: row["sender_jid"].text, fromMe: row["from_me"].integer == 1, type: row["type"].text ?? "chat",
                      body: row["body"].text ?? "", quotedID: row["quoted_id"].text, timestamp: row["timestamp"].time ?? .epoch,
                      hasMedia: row["has_media"].integer == 1, status: row["status"].text.flatMap(MessageStatus.init(rawValue:)), statusReason: row["status_reason"].text,
                      raw: row["raw"].blob)
    }

    /// Files a message under its chat (created if new), once: a message id already stored in that
    /// chat from the same side is a duplicate and changes nothing. Returns the row id and whether
    /// it was new. Incoming messages count as unread.
    public func insertMessage(_ message: MessageRecord, contactID: Int64?, now: UnixTime) throws(WauseError) -> (rowid: Int64, inserted: Bool) {
        try database.withConnection { (c) throws(WauseError) -> (Int64, Bool) in
            try c.transaction { () throws(WauseError) -> (Int64, Bool) in
                if let existing = try c.query("SELECT rowid FROM messages WHERE chat_jid = ? AND id = ? AND from_me = ?",
                                              [.text(message.chatJID), .text(message.id), SQLValue(message.fromMe)]).first?["rowid"].integer {
                    return (existing, false)
                }
                try c.execute("""
                    INSERT INTO chats (jid, contact_id, is_group, updated_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (jid) DO UPDATE SET contact_id = coalesce(chats.contact_id, excluded.contact_id)
                    """, [.text(message.chatJID), SQLValue(contactID), SQLValue(message.chatJID.hasSuffix("@g.us")), .time(now)])
                let rowid = try c.execute("""
                    INSERT INTO messages (id, chat_jid, sender_jid, from_me, type, body, quoted_id, timestamp, has_media, status,
                                          status_reason, raw, received_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [.text(message.id), .text(message.chatJID), SQLValue(message.senderJID), SQLValue(message.fromMe),
                          .text(message.type), .text(message.body), SQLValue(message.quotedID), .time(message.timestamp),
                          SQLValue(message.hasMedia), SQLValue(message.status?.rawValue), SQLValue(message.statusReason), SQLValue(message.raw),
                          .time(now)])
                try c.execute("""
                    UPDATE chats SET last_message_at = max(coalesce(last_message_at, 0), ?), updated_at = ?,
                           unread_count = unread_count + ? WHERE jid = ?
                    """, [.time(message.timestamp), .time(now), .integer(message.fromMe ? 0 : 1), .text(message.chatJID)])
                return (rowid, true)
            }
        }
    }

    public func message(id: String) throws(WauseError) -> MessageRecord? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM messages WHERE id = ? ORDER BY from_me DESC, rowid DESC LIMIT 1", [.text(id)]).first.map(Store.message)
        }
    }

    func chatSummaries(limit: Int) throws(WauseError) -> [JSONValue] {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("""
                SELECT chats.*, contacts.saved_name, contacts.full_name, contacts.push_name FROM chats
                LEFT JOIN contacts ON contacts.id = chats.contact_id
                ORDER BY coalesce(last_message_at, 0) DESC, jid LIMIT ?
                """, [.integer(Int64(limit))]).map { row throws(WauseError) in try Store.chatSummary(row, c) }
        }
    }

    func chatSummary(jid: String) throws(WauseError) -> JSONValue? {
        try database.withConnection { (c) throws(WauseError) in
            guard let row = try c.query("""
                SELECT chats.*, contacts.saved_name, contacts.full_name, contacts.push_name FROM chats
                LEFT JOIN contacts ON contacts.id = chats.contact_id WHERE jid = ?
                """, [.text(jid)]).first else { return nil }
            return try Store.chatSummary(row, c)
        }
    }

    private static func chatSummary(_ row: SQLRow, _ c: SQLiteConnection) throws(WauseError) -> JSONValue {
        let jid = row["jid"].text ?? ""
        let last = try c.query("SELECT * FROM messages WHERE chat_jid = ? ORDER BY timestamp DESC, rowid DESC LIMIT 1", [.text(jid)])
            .first.map(Store.message)
        let name = row["name"].text ?? row["saved_name"].text ?? row["full_name"].text ?? row["push_name"].text
        return [
            "id": .string(jid), "name": JSONValue(name), "is_group": .bool(row["is_group"].integer == 1),
            "is_read_only": .bool(row["is_read_only"].integer == 1), "unread_count": .int(row["unread_count"].integer ?? 0),
            "timestamp": JSONValue(row["last_message_at"].time?.seconds), "archived": .bool(row["archived"].integer == 1),
            "pinned": .bool(row["pinned"].integer == 1), "muted": .bool((row["muted_until"].integer ?? 0) != 0),
            "last_message": last.map { History.json($0, ownJID: nil) } ?? .null,
        ]
    }

    /// Messages of a chat (or all chats) by row id: the newest `limit` before `before`, or the
    /// oldest `limit` after `after`; always returned oldest first.
    func messages(chat: String?, before: Int64?, after: Int64?, limit: Int) throws(WauseError) -> [MessageRecord] {
        try database.withConnection { (c) throws(WauseError) in
            var conditions: [String] = []
            var parameters: [SQLValue] = []
            if let chat { conditions.append("chat_jid = ?"); parameters.append(.text(chat)) }
            if let before { conditions.append("rowid < ?"); parameters.append(.integer(before)) }
            if let after { conditions.append("rowid > ?"); parameters.append(.integer(after)) }
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            let order = after != nil && before == nil ? "ASC" : "DESC"
            parameters.append(.integer(Int64(limit)))
            let rows = try c.query("SELECT * FROM messages \(filter) ORDER BY rowid \(order) LIMIT ?", parameters).map(Store.message)
            return order == "DESC" ? rows.reversed() : rows
        }
    }

    /// FTS5 search (words, "phrases", AND/OR/NOT, prefix*), best matches first.
    public func searchMessages(_ query: String, chat: String?, limit: Int) throws(WauseError) -> [(MessageRecord, String)] {
        try database.withConnection { (c) throws(WauseError) in
            var sql = """
                SELECT messages.*, snippet(messages_fts, 0, '[', ']', '…', 12) AS snippet FROM messages_fts
                JOIN messages ON messages.rowid = messages_fts.rowid WHERE messages_fts MATCH ?
                """
            var parameters: [SQLValue] = [.text(query)]
            if let chat { sql += " AND messages.chat_jid = ?"; parameters.append(.text(chat)) }
            sql += " ORDER BY rank LIMIT ?"
            parameters.append(.integer(Int64(limit)))
            do throws(WauseError) {
                return try c.query(sql, parameters).map { (Store.message($0), $0["snippet"].text ?? "") }
            } catch {
                // SQLite reports a bad MATCH expression as a plain error ("fts5: syntax error near …",
                // "unterminated string", "no such column"): the query is the caller's mistake.
                if ["fts5", "syntax", "no such column", "unterminated", "unknown special query"].contains(where: error.message.contains) {
                    throw WauseError.invalidRequest("'\(query)' is not a valid search: use words, \"phrases\", AND, OR, NOT and prefix*")
                }
                throw error
            }
        }
    }
}
