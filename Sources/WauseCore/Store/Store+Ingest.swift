import WauseSQLite
import WauseSupport

// The store's SQL for filing incoming messages: one at a time as they arrive (`insertMessage`)
// and in batches (`ingest`: a history chunk, an offline backlog). Both run the same cached
// statements, so a batch is the single path without a commit per message.

/// One message to file, and the event that announces it (if any).
public struct IncomingMessage: Sendable {
    public var record: MessageRecord
    public var contactID: Int64?
    /// Builds the event for the message once it is filed (its row id known); not called for a
    /// duplicate. Nil files the message silently.
    public var event: (@Sendable (MessageRecord) -> (name: String, data: JSONObject))?

    public init(record: MessageRecord, contactID: Int64?, event: (@Sendable (MessageRecord) -> (name: String, data: JSONObject))? = nil) {
        self.record = record
        self.contactID = contactID
        self.event = event
    }
}

/// What happened to one message of a batch.
public struct IngestedMessage: Sendable, Equatable {
    public let rowid: Int64
    /// False for a duplicate (already stored, or earlier in the same batch): nothing changed.
    public let inserted: Bool
    /// The event written with it, in the batch's order.
    public let event: Event?
}

extension Store {
    /// Files a batch of messages in one transaction: every message, its chat (created if new, its
    /// last-message time and unread count moved once per batch) and its event land together or
    /// not at all, and the FTS5 index moves with them in the same transaction (a large batch feeds
    /// it in one statement: `write`).
    /// A message id already stored in its chat from the same side — or earlier in the batch — is
    /// a duplicate and changes nothing. Events are written in the batch's order. Acknowledge the
    /// batch (receipts, acks) only after this returns: it has committed by then.
    /// The caller delivers the returned events to followers (`EventLog.announce`).
    public func ingest(_ batch: [IncomingMessage], now: UnixTime) throws(WauseError) -> [IngestedMessage] {
        guard !batch.isEmpty else { return [] }
        return try database.withConnection { (c) throws(WauseError) in try Store.ingest(batch, now: now, c) }
    }

    /// `ingest` on a connection the caller holds: in a transaction of its own, or inside the
    /// caller's (a history chunk writing conversations and names beside its messages) without a
    /// savepoint — a savepoint keeps every page the batch changes in a sub-journal until it is
    /// released, which spilled to a temporary file on every batch and cost a third of the ingest
    /// time (make bench). Inside the caller's transaction a failure is rethrown as it is, and the
    /// caller's transaction rolls back whole.
    static func ingest(_ batch: [IncomingMessage], now: UnixTime, _ c: SQLiteConnection) throws(WauseError) -> [IngestedMessage] {
        if c.inTransaction { return try write(batch, now: now, c) }
        return try c.transaction { () throws(WauseError) in try write(batch, now: now, c) }
    }

    /// From this many messages on, a batch feeds FTS5 in one statement after its message rows
    /// instead of through the per-row insert trigger (`write`). Below it the trigger is cheaper
    /// than dropping and recreating it (make bench-store: batches of 100 and 10,000).
    public static let bulkIndexFrom = 32

    /// The per-row FTS5 insert trigger (Migrations version1), set aside for a batch.
    static let ftsInsertTrigger = "messages_fts_insert"

    private static func write(_ batch: [IncomingMessage], now: UnixTime, _ c: SQLiteConnection) throws(WauseError) -> [IngestedMessage] {
        guard batch.count >= bulkIndexFrom,
            let trigger = try c.query("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", [.text(ftsInsertTrigger)])
                .first?["sql"].text
        else {
            var inserted: [Int64] = []
            return try writeRows(batch, now: now, c, inserted: &inserted)
        }
        // The per-row trigger was most of a batch's CPU: feeding FTS5 one row per statement, and
        // merely being there (measured with the Python peer on the same schema, batches of
        // 10,000: 21k msgs/s through the trigger, 41k with a trigger that never fires, 58k with
        // none). So a batch drops the trigger, files its rows, feeds the index in one
        // INSERT … SELECT of exactly the rows it inserted, and recreates the trigger from the very
        // text it dropped — all inside the batch's transaction, so no other connection ever sees
        // the schema without it, and every other writer (insertMessage's batch of one, a queued
        // send, a test's INSERT) keeps the trigger. The index ends up with the same rows and terms
        // as through the trigger (StoreIngestTests: the same matches, order and scores). On a
        // failure the trigger is recreated too, with the rows filed before it indexed as the
        // trigger would have: a caller that catches a nested batch's failure and commits must
        // find neither the trigger gone nor rows missing from the index.
        try c.execute("DROP TRIGGER \(ftsInsertTrigger)")
        var inserted: [Int64] = []
        inserted.reserveCapacity(batch.count)
        func index() throws(WauseError) {
            try c.execute("INSERT INTO messages_fts (rowid, body) SELECT rowid, body FROM messages WHERE rowid IN (SELECT value FROM json_each(?))",
                          [.text(JSONValue.array(inserted.map { .int($0) }).serialized)])
            try c.execute(trigger)
        }
        do {
            let results = try writeRows(batch, now: now, c, inserted: &inserted)
            try index()
            return results
        } catch {
            _ = try? index()
            throw error
        }
    }

    /// Files the rows; appends each message row it inserted to `inserted` as it goes.
    private static func writeRows(_ batch: [IncomingMessage], now: UnixTime, _ c: SQLiteConnection,
                                  inserted: inout [Int64]) throws(WauseError) -> [IngestedMessage] {
        // Chats first (messages reference them), once each, in the order they appear.
        var chatOrder: [String] = []
        var chats: [String: (contactID: Int64?, latest: UnixTime?, unread: Int64)] = [:]
        for message in batch {
            let jid = message.record.chatJID
            if var chat = chats[jid] {
                if chat.contactID == nil, let contactID = message.contactID {
                    chat.contactID = contactID
                    chats[jid] = chat
                }
            } else {
                chats[jid] = (message.contactID, nil, 0)
                chatOrder.append(jid)
            }
        }
        for jid in chatOrder {
            try c.execute("""
                INSERT INTO chats (jid, contact_id, is_group, updated_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (jid) DO UPDATE SET contact_id = coalesce(chats.contact_id, excluded.contact_id)
                """, [.text(jid), SQLValue(chats[jid]?.contactID ?? nil), SQLValue(jid.hasSuffix("@g.us")), .time(now)])
        }
        var results: [IngestedMessage] = []
        results.reserveCapacity(batch.count)
        // One statement files a message or finds it a duplicate (the UNIQUE (chat_jid, id, from_me) key).
        let insert = try c.statement("""
            INSERT INTO messages (id, chat_jid, sender_jid, from_me, type, body, quoted_id, timestamp, has_media, status,
                                  status_reason, raw, received_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (chat_jid, id, from_me) DO NOTHING
            """)
        let appendEvent = try c.statement("INSERT INTO events (name, ts, data) VALUES (?, ?, ?)")
        for message in batch {
            var record = message.record
            let rowid = try insert.execute([.text(record.id), .text(record.chatJID), SQLValue(record.senderJID), SQLValue(record.fromMe),
                      .text(record.type), .text(record.body), SQLValue(record.quotedID), .time(record.timestamp),
                      SQLValue(record.hasMedia), SQLValue(record.status?.rawValue), SQLValue(record.statusReason), SQLValue(record.raw),
                      .time(now)])
            guard c.changes > 0 else {
                let existing = try c.query("SELECT rowid FROM messages WHERE chat_jid = ? AND id = ? AND from_me = ?",
                                           [.text(record.chatJID), .text(record.id), SQLValue(record.fromMe)]).first?["rowid"].integer
                results.append(IngestedMessage(rowid: existing ?? 0, inserted: false, event: nil))
                continue
            }
            record.rowid = rowid
            inserted.append(rowid)
            if let index = chats.index(forKey: record.chatJID) {
                chats.values[index].latest = max(chats.values[index].latest ?? record.timestamp, record.timestamp)
                if !record.fromMe { chats.values[index].unread += 1 }
            }
            var event: Event?
            if let announce = message.event {
                let (name, data) = announce(record)
                let cursor = try appendEvent.execute([.text(name), .time(now), .text(JSONValue.object(data).serialized)])
                event = Event(cursor: cursor, name: name, timestamp: now, data: data)
            }
            results.append(IngestedMessage(rowid: rowid, inserted: true, event: event))
        }
        for jid in chatOrder {
            guard let chat = chats[jid], let latest = chat.latest else { continue }
            try c.execute("""
                UPDATE chats SET last_message_at = max(coalesce(last_message_at, 0), ?), updated_at = ?,
                       unread_count = unread_count + ? WHERE jid = ?
                """, [.time(latest), .time(now), .integer(chat.unread), .text(jid)])
        }
        return results
    }
}
