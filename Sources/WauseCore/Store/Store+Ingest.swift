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
    /// not at all, and the FTS5 index moves with them (its triggers run in the same transaction).
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

    private static func write(_ batch: [IncomingMessage], now: UnixTime, _ c: SQLiteConnection) throws(WauseError) -> [IngestedMessage] {
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
