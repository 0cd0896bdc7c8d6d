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
        guard let row = try c.query("SELECT local_name, saved_name, full_name, push_name FROM contacts WHERE \(column) = ?",
                                    [.text(sender.user)]).first
        else { return nil }
        return row["local_name"].text ?? row["saved_name"].text ?? row["full_name"].text ?? row["push_name"].text
    }

    public func message(id: String) throws(WauseError) -> MessageRecord? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM messages WHERE id = ? ORDER BY from_me DESC, rowid DESC LIMIT 1", [.text(id)]).first.map(Store.message)
        }
    }

    /// A page of chats in `whatsapp_list_chats` order (last activity, newest first, then JID),
    /// after the chat whose sort key is `after`. `filter` is a substring of the
    /// chat's name (its own or its contact's) or of its phone number / JID user, case-insensitive
    /// for ASCII letters (SQLite's lower()).
    func chatSummaries(limit: Int, filter: String? = nil, groupsOnly: Bool = false,
                       after: (activity: Int64, jid: String)? = nil, now: UnixTime) throws(WauseError) -> [JSONValue] {
        try database.withConnection { (c) throws(WauseError) in
            var conditions: [String] = []
            var parameters: [SQLValue] = []
            if let filter, !filter.isEmpty {
                // A phone-like filter (+1 555-0001) matches the digits of the JID user part.
                let digits = String(filter.filter { !" -.()+\u{00A0}".contains($0) })
                let needle = !digits.isEmpty && digits.allSatisfy({ ("0"..."9").contains($0) }) ? digits : filter
                conditions.append("""
                    (instr(lower(coalesce(chats.name, '') || char(10) || coalesce(contacts.local_name, '') || char(10) ||
                                 coalesce(contacts.saved_name, '') || char(10) ||
                                 coalesce(contacts.full_name, '') || char(10) || coalesce(contacts.push_name, '')), lower(?1)) > 0
                     OR instr(substr(chats.jid, 1, instr(chats.jid, '@') - 1), ?2) > 0
                     OR instr(coalesce(contacts.phone, ''), ?2) > 0)
                    """)
                parameters += [.text(filter), .text(needle)]
            }
            if groupsOnly { conditions.append("chats.is_group = 1") }
            if let after {
                conditions.append("(coalesce(chats.last_message_at, 0) < ? OR (coalesce(chats.last_message_at, 0) = ? AND chats.jid > ?))")
                parameters += [.integer(after.activity), .integer(after.activity), .text(after.jid)]
            }
            let filterSQL = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            // Numbered parameters (?1, ?2) for the filter, positional after: SQLite numbers a bare ? one past the largest so far.
            parameters.append(.integer(Int64(limit)))
            let rows = try c.query("""
                SELECT chats.*, contacts.local_name, contacts.saved_name, contacts.full_name, contacts.push_name FROM chats
                LEFT JOIN contacts ON contacts.id = chats.contact_id \(filterSQL)
                ORDER BY coalesce(chats.last_message_at, 0) DESC, chats.jid LIMIT ?
                """, parameters)
            return try rows.map { row throws(WauseError) in try Store.chatSummary(row, now: now, c) }
        }
    }

    /// A chat's sort key in list_chats: its last activity in ms (0 when it has none).
    func chatActivity(jid: String) throws(WauseError) -> Int64 {
        try database.withConnection { (c) throws(WauseError) in
            try c.scalar("SELECT coalesce((SELECT last_message_at FROM chats WHERE jid = ?), 0)", [.text(jid)])
        }
    }

    func chatSummary(jid: String, now: UnixTime = UnixTime(milliseconds: 0)) throws(WauseError) -> JSONValue? {
        try database.withConnection { (c) throws(WauseError) in
            guard let row = try c.query("""
                SELECT chats.*, contacts.local_name, contacts.saved_name, contacts.full_name, contacts.push_name FROM chats
                LEFT JOIN contacts ON contacts.id = chats.contact_id WHERE jid = ?
                """, [.text(jid)]).first else { return nil }
            return try Store.chatSummary(row, now: now, c)
        }
    }

    /// `muted_until` is unix ms, -1 for always, null when not muted (app state's MuteAction).
    /// A mute whose end passed is over: WhatsApp shows the chat unmuted without another mutation.
    static func muted(until: Int64?, now: UnixTime) -> Bool {
        guard let until else { return false }
        return until == -1 || until > now.milliseconds
    }

    static func mutedUntilSeconds(_ until: Int64?, now: UnixTime) -> JSONValue {
        guard muted(until: until, now: now), let until else { return .null }
        return .int(until == -1 ? -1 : until / 1000)
    }

    private static func chatSummary(_ row: SQLRow, now: UnixTime, _ c: SQLiteConnection) throws(WauseError) -> JSONValue {
        let jid = row["jid"].text ?? ""
        let last = try c.query("SELECT * FROM messages WHERE chat_jid = ? ORDER BY timestamp DESC, rowid DESC LIMIT 1", [.text(jid)])
            .first.map(Store.message)
        // A name set with whatsapp_set_contact_name wins over the chat's own (ContactMethods.swift).
        let name = row["local_name"].text ?? row["name"].text ?? row["saved_name"].text ?? row["full_name"].text ?? row["push_name"].text
        let labels = try Store.chatLabels(jid, c)
        var summary: JSONObject = [
            "id": .string(jid), "name": JSONValue(name), "is_group": .bool(row["is_group"].integer == 1),
            "is_read_only": .bool(row["is_read_only"].integer == 1), "unread_count": .int(row["unread_count"].integer ?? 0),
            "timestamp": JSONValue(row["last_message_at"].time?.seconds), "archived": .bool(row["archived"].integer == 1),
            "pinned": .bool(row["pinned"].integer == 1), "muted": .bool(Store.muted(until: row["muted_until"].integer, now: now)),
            "muted_until": Store.mutedUntilSeconds(row["muted_until"].integer, now: now),
            "last_message": try last.map { last throws(WauseError) in
                History.json(last, ownJID: nil, author: try Store.author(of: last, ownPushName: nil, c))
            } ?? .null,
        ]
        // The phone's labels (app state), only when the chat has any.
        if !labels.isEmpty { summary["labels"] = .array(labels.map(JSONValue.string)) }
        return .object(summary)
    }

    /// Messages of a chat (or all chats) in conversation order — by timestamp, then row id — so
    /// older messages filed late (history sync, whatsapp_request_history) sit before newer ones
    /// that arrived live: the newest `limit` before the message with row id `before`, or the
    /// oldest `limit` after the one with row id `after`; always returned oldest first. A cursor is
    /// a message's row id and stands for its place (timestamp, row id) in that order.
    /// `sentBefore`/`sentAfter` bound the message timestamps (exclusive) on top.
    func messages(chat: String?, before: Int64?, after: Int64?, sentBefore: UnixTime? = nil, sentAfter: UnixTime? = nil,
                  limit: Int) throws(WauseError) -> [MessageRecord] {
        try database.withConnection { (c) throws(WauseError) in
            var conditions: [String] = []
            var parameters: [SQLValue] = []
            if let chat { conditions.append("chat_jid = ?"); parameters.append(.text(chat)) }
            if let before {
                conditions.append("(timestamp, rowid) < (?, ?)")
                parameters += [.integer(try Store.cursorTimestamp(before, field: "before_cursor", c)), .integer(before)]
            }
            if let after {
                conditions.append("(timestamp, rowid) > (?, ?)")
                parameters += [.integer(try Store.cursorTimestamp(after, field: "after_cursor", c)), .integer(after)]
            }
            if let sentBefore { conditions.append("timestamp < ?"); parameters.append(.time(sentBefore)) }
            if let sentAfter { conditions.append("timestamp > ?"); parameters.append(.time(sentAfter)) }
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            // Forwards only when asked to page forwards (after_cursor, or only `after` given): else the newest.
            let forwards = (after != nil && before == nil) || (sentAfter != nil && sentBefore == nil && before == nil)
            let order = forwards ? "ASC" : "DESC"
            parameters.append(.integer(Int64(limit)))
            let rows = try c.query("SELECT * FROM messages \(filter) ORDER BY timestamp \(order), rowid \(order) LIMIT ?",
                                   parameters).map(Store.message)
            return order == "DESC" ? rows.reversed() : rows
        }
    }

    /// The stored timestamp (ms) of the message a paging cursor names. A cursor whose message is
    /// gone (deleted for me, chat cleared) has no place in the order any more: a clear error
    /// rather than a page that silently skips or repeats messages.
    static func cursorTimestamp(_ rowid: Int64, field: String, _ c: SQLiteConnection) throws(WauseError) -> Int64 {
        guard let timestamp = try c.query("SELECT timestamp FROM messages WHERE rowid = ?", [.integer(rowid)]).first?["timestamp"].integer else {
            throw .invalidRequest("\(field) \(rowid) names no stored message (it was deleted, or is not a cursor from whatsapp_list_messages)",
                                  details: ["field": .string(field)])
        }
        return timestamp
    }

    /// Up to `count` messages of the same chat on each side of `message` in conversation order
    /// (timestamp, then row id — as whatsapp_list_messages lists them), oldest first: the context
    /// `include_context` adds around a hit.
    func context(around message: MessageRecord, count: Int) throws(WauseError) -> [MessageRecord] {
        try database.withConnection { (c) throws(WauseError) in
            let place: [SQLValue] = [.text(message.chatJID), .time(message.timestamp), .integer(message.rowid), .integer(Int64(count))]
            let earlier = try c.query("""
                SELECT * FROM messages WHERE chat_jid = ? AND (timestamp, rowid) < (?, ?) ORDER BY timestamp DESC, rowid DESC LIMIT ?
                """, place).map(Store.message)
            let later = try c.query("""
                SELECT * FROM messages WHERE chat_jid = ? AND (timestamp, rowid) > (?, ?) ORDER BY timestamp ASC, rowid ASC LIMIT ?
                """, place).map(Store.message)
            return earlier.reversed() + later
        }
    }

    /// A stored message by id, preferring `chat` when given (ids are unique per chat and side only).
    func message(id: String, chat: String?) throws(WauseError) -> MessageRecord? {
        guard let chat else { return try message(id: id) }
        return try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM messages WHERE id = ? AND chat_jid = ? ORDER BY from_me DESC, rowid DESC LIMIT 1",
                        [.text(id), .text(chat)]).first.map(Store.message)
        }
    }

    /// Calls `body` with the messages of `chat` in conversation order (timestamp, then row id, as
    /// whatsapp_list_messages lists them), `batch` at a time, so a chat of any size is read in
    /// bounded memory (`whatsapp_export_chat`). Returns how many there were.
    @discardableResult
    func forEachMessage(chat: String, batch: Int = 500, _ body: ([MessageRecord]) throws(WauseError) -> Void) throws(WauseError) -> Int {
        var after: (timestamp: Int64, rowid: Int64) = (Int64.min, 0)
        var total = 0
        while true {
            let page = try database.withConnection { (c) throws(WauseError) in
                try c.query("SELECT * FROM messages WHERE chat_jid = ? AND (timestamp, rowid) > (?, ?) ORDER BY timestamp, rowid LIMIT ?",
                            [.text(chat), .integer(after.timestamp), .integer(after.rowid), .integer(Int64(batch))]).map(Store.message)
            }
            guard let last = page.last else { return total }
            try body(page)
            total += page.count
            after = (last.timestamp.milliseconds, last.rowid)
        }
    }

    /// The first and last few messages of a chat (the export's preview) and its distinct senders.
    func chatEnds(chat: String, count: Int) throws(WauseError) -> (first: [MessageRecord], last: [MessageRecord], senders: [String]) {
        try database.withConnection { (c) throws(WauseError) in
            let first = try c.query("SELECT * FROM messages WHERE chat_jid = ? ORDER BY timestamp, rowid LIMIT ?",
                                    [.text(chat), .integer(Int64(count))]).map(Store.message)
            let last = try c.query("SELECT * FROM messages WHERE chat_jid = ? ORDER BY timestamp DESC, rowid DESC LIMIT ?",
                                   [.text(chat), .integer(Int64(count))]).map(Store.message).reversed()
            let senders = try c.query("SELECT DISTINCT sender_jid FROM messages WHERE chat_jid = ? AND from_me = 0 AND sender_jid IS NOT NULL ORDER BY sender_jid",
                                      [.text(chat)]).compactMap { $0["sender_jid"].text }
            return (first, Array(last), senders)
        }
    }

    // MARK: Catch-up (whatsapp_catch_up)

    /// What `whatsapp_catch_up` reads about one chat with activity since `since`.
    struct CatchUpChat {
        var jid: String
        var summary: JSONValue
        var unreadCount: Int64
        /// The last incoming message, when nothing of ours follows it (an open question is one ending in ?).
        var lastUnanswered: MessageRecord?
        /// Incoming messages still unread (the chat's last `unread_count` incoming ones), at most 50.
        var unread: [MessageRecord]
        /// How many of our own messages went to this chat in the 30 days before `since`.
        var recentOwnMessages: Int64
    }

    /// The chats with a message after `since`, most recent first, at most `limit`.
    func catchUpChats(since: UnixTime, limit: Int, now: UnixTime) throws(WauseError) -> [CatchUpChat] {
        try database.withConnection { (c) throws(WauseError) in
            let rows = try c.query("""
                SELECT chats.*, contacts.local_name, contacts.saved_name, contacts.full_name, contacts.push_name FROM chats
                LEFT JOIN contacts ON contacts.id = chats.contact_id
                WHERE coalesce(chats.last_message_at, 0) > ?
                ORDER BY coalesce(chats.last_message_at, 0) DESC, chats.jid LIMIT ?
                """, [.time(since), .integer(Int64(limit))])
            return try rows.map { row throws(WauseError) -> CatchUpChat in
                let jid = row["jid"].text ?? ""
                let unreadCount = row["unread_count"].integer ?? 0
                let lastIncoming = try c.query("""
                    SELECT * FROM messages WHERE chat_jid = ? AND from_me = 0 AND timestamp > ? ORDER BY rowid DESC LIMIT 1
                    """, [.text(jid), .time(since)]).first.map(Store.message)
                var unanswered: MessageRecord?
                if let lastIncoming {
                    let answered = try c.scalar("SELECT count(*) FROM messages WHERE chat_jid = ? AND from_me = 1 AND rowid > ?",
                                                [.text(jid), .integer(lastIncoming.rowid)])
                    if answered == 0 { unanswered = lastIncoming }
                }
                let unread = unreadCount > 0 ? try c.query("""
                    SELECT * FROM messages WHERE chat_jid = ? AND from_me = 0 ORDER BY rowid DESC LIMIT ?
                    """, [.text(jid), .integer(min(unreadCount, 50))]).map(Store.message).reversed() : []
                let own = try c.scalar("SELECT count(*) FROM messages WHERE chat_jid = ? AND from_me = 1 AND timestamp > ?",
                                       [.text(jid), .time(UnixTime(milliseconds: since.milliseconds - 30 * 86_400_000))])
                return CatchUpChat(jid: jid, summary: try Store.chatSummary(row, now: now, c), unreadCount: unreadCount, lastUnanswered: unanswered,
                                   unread: unread.filter { $0.timestamp > since }, recentOwnMessages: own)
            }
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
