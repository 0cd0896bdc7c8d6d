import WauseBinary
import WauseSQLite
import WauseSupport

// The store's SQL for the history area (ARCHITECTURE.md: one Store+Area file per area).

// MARK: History

extension Store {
    static func message(_ row: SQLRow) -> MessageRecord {
        var record = MessageRecord(rowid: row["rowid"].integer ?? 0, id: row["id"].text ?? "", chatJID: row["chat_jid"].text ?? "",
                      senderJID: row["sender_jid"].text, fromMe: row["from_me"].integer == 1, type: row["type"].text ?? "chat",
                      body: row["body"].text ?? "", quotedID: row["quoted_id"].text, timestamp: row["timestamp"].time ?? .epoch,
                      hasMedia: row["has_media"].integer == 1, status: row["status"].text.flatMap(MessageStatus.init(rawValue:)), statusReason: row["status_reason"].text,
                      raw: row["raw"].blob)
        record.edited = row["edited"].integer == 1
        record.deleted = row["deleted"].integer == 1
        record.editHistory = row["edit_history"].text.flatMap { try? JSONValue.parse($0) }?.arrayValue ?? []
        record.reactions = row["reactions"].text.flatMap { try? JSONValue.parse($0) }?.objectValue ?? [:]
        return record
    }

    /// Files a message under its chat (created if new), once: a message id already stored in that
    /// chat from the same side is a duplicate and changes nothing. Returns the row id and whether
    /// it was new. Incoming messages count as unread.
    public func insertMessage(_ message: MessageRecord, contactID: Int64?, now: UnixTime) throws(WauseError) -> (rowid: Int64, inserted: Bool) {
        // A batch of one (Store+Ingest.swift): the same statements as a history chunk's.
        let filed = try ingest([IncomingMessage(record: message, contactID: contactID)], now: now)[0]
        return (filed.rowid, filed.inserted)
    }

    /// `author` of each message (DESIGN.md "Message fields": the sender's display name): the
    /// contact's saved, full or push name for the sender's phone number or LID, and for our own
    /// messages `ownPushName` (or the push name kept at linking). One rule for every tool and
    /// event, so a message reads the same in wait_for_message and read_messages (issue 11).
    func authors(of messages: [MessageRecord], ownPushName: String?) throws(WauseError) -> [String?] {
        try database.withConnection { (c) throws(WauseError) in
            try messages.map { message throws(WauseError) in try Store.author(of: message, ownPushName: ownPushName, c) }
        }
    }

    static func author(of message: MessageRecord, ownPushName: String?, _ c: SQLiteConnection) throws(WauseError) -> String? {
        if message.fromMe {
            if let ownPushName { return ownPushName }
            return try c.query("SELECT push_name FROM device WHERE id = 1").first?["push_name"].text
        }
        guard let sender = JID(message.senderJID ?? message.chatJID), sender.server == .whatsApp || sender.server == .lid else { return nil }
        let column = sender.server == .lid ? "lid" : "phone"
        guard let row = try c.query("SELECT saved_name, full_name, push_name FROM contacts WHERE \(column) = ?", [.text(sender.user)]).first
        else { return nil }
        return row["saved_name"].text ?? row["full_name"].text ?? row["push_name"].text
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
            "last_message": try last.map { last throws(WauseError) in
                History.json(last, ownJID: nil, author: try Store.author(of: last, ownPushName: nil, c))
            } ?? .null,
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

    /// FTS5 search (words, "phrases", AND/OR/NOT, prefix*), best matches first. Ordinary text
    /// that FTS5 rejects (`don't`, `lunch?`, `12:30`, `hello-bob`: issue 11) is searched as the
    /// AND of its whitespace-separated tokens, each quoted as an FTS5 string (SQLite FTS5 docs,
    /// "FTS5 Strings": a quote inside is doubled), so valid FTS5 syntax keeps its meaning.
    public func searchMessages(_ query: String, chat: String?, limit: Int) throws(WauseError) -> [(MessageRecord, String)] {
        try database.withConnection { (c) throws(WauseError) in
            func run(_ match: String) throws(WauseError) -> [(MessageRecord, String)] {
                var sql = """
                    SELECT messages.*, snippet(messages_fts, 0, '[', ']', '…', 12) AS snippet FROM messages_fts
                    JOIN messages ON messages.rowid = messages_fts.rowid WHERE messages_fts MATCH ?
                    """
                var parameters: [SQLValue] = [.text(match)]
                if let chat { sql += " AND messages.chat_jid = ?"; parameters.append(.text(chat)) }
                sql += " ORDER BY rank LIMIT ?"
                parameters.append(.integer(Int64(limit)))
                return try c.query(sql, parameters).map { (Store.message($0), $0["snippet"].text ?? "") }
            }
            // SQLite reports a bad MATCH expression as a plain error ("fts5: syntax error near …",
            // "unterminated string", "no such column").
            func rejected(_ error: WauseError) -> Bool {
                ["fts5", "syntax", "no such column", "unterminated", "unknown special query"].contains(where: error.message.contains)
            }
            do throws(WauseError) {
                return try run(query)
            } catch {
                guard rejected(error) else { throw error }
                let tokens = query.split(whereSeparator: \.isWhitespace)
                guard !tokens.isEmpty else {
                    throw WauseError.invalidRequest("'\(query)' is not a valid search: use words, \"phrases\", AND, OR, NOT and prefix*")
                }
                let quoted = tokens.map { "\"" + String($0).replacing("\"", with: "\"\"") + "\"" }.joined(separator: " AND ")
                do throws(WauseError) {
                    return try run(quoted)
                } catch {
                    guard rejected(error) else { throw error }
                    throw WauseError.invalidRequest("'\(query)' is not a valid search: use words, \"phrases\", AND, OR, NOT and prefix*")
                }
            }
        }
    }
}
