import WauseSQLite
import WauseSupport

// MARK: Scheduled sends (issue 16)

extension Store {
    /// A scheduled message as `whatsapp_list_scheduled` shows it.
    struct ScheduledSend: Sendable {
        var messageID: String
        var chatJID: String
        var type: String
        var body: String?
        var sendAt: UnixTime
        var createdAt: UnixTime
    }

    /// A scheduled send whose time came: `queued` in its timeline with how late it goes (`now`
    /// minus `send_at`: more than a moment when the engine was not running then). Returns the
    /// lateness, or nil when the message was no longer `scheduled` (nothing recorded).
    func releaseScheduled(_ entry: OutboxEntry, now: UnixTime) throws(WauseError) -> Duration? {
        guard let sendAt = entry.sendAt else { return nil }
        let late = max(.zero, now - sendAt)
        return try database.withConnection { (c) throws(WauseError) -> Duration? in
            try c.transaction { () throws(WauseError) -> Duration? in
                _ = try c.execute("UPDATE messages SET status = 'queued' WHERE id = ? AND from_me = 1 AND status = 'scheduled'",
                                  [.text(entry.messageID)])
                guard c.changes > 0 else { return nil }
                try c.execute("""
                    INSERT INTO message_status_timeline (message_rowid, status, at, late_ms)
                    SELECT rowid, 'queued', ?, ? FROM messages WHERE id = ? AND from_me = 1
                    """, [.time(now), .integer(late.milliseconds), .text(entry.messageID)])
                return late
            }
        }
    }

    /// A scheduled send held back when it fell due (the rate limit): its row waits until `until`.
    func postponeOutboxEntry(_ entry: OutboxEntry, until: UnixTime) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("UPDATE outbox SET next_attempt_at = ? WHERE id = ?", [.time(until), .integer(entry.id)])
        }
    }

    /// Takes a still-scheduled message out of the outbox: `cancelled`, in its timeline too.
    /// Returns the chat it was for; throws `not_found` for no such message of ours and
    /// `invalid_request` (naming its status) for one that is not scheduled (any more).
    func cancelScheduled(messageID: String, now: UnixTime) throws(WauseError) -> String {
        try database.withConnection { (c) throws(WauseError) -> String in
            try c.transaction { () throws(WauseError) -> String in
                guard let row = try c.query("SELECT rowid, chat_jid, status FROM messages WHERE id = ? AND from_me = 1",
                                            [.text(messageID)]).first else {
                    throw WauseError(.notFound, "no message \(messageID) sent by this account")
                }
                let status = row["status"].text ?? ""
                let queued = try c.scalar("SELECT count(*) FROM outbox WHERE message_id = ? AND send_at IS NOT NULL", [.text(messageID)])
                guard status == MessageStatus.scheduled.rawValue, queued > 0 else {
                    throw .invalidRequest("message \(messageID) is \(status), not scheduled: only a scheduled send can be cancelled",
                                          details: ["message_id": .string(messageID), "status": .string(status)])
                }
                try c.execute("DELETE FROM outbox WHERE message_id = ?", [.text(messageID)])
                try c.execute("UPDATE messages SET status = 'cancelled' WHERE rowid = ?", [.integer(row["rowid"].integer ?? 0)])
                try c.execute("INSERT INTO message_status_timeline (message_rowid, status, at) VALUES (?, 'cancelled', ?)",
                              [.integer(row["rowid"].integer ?? 0), .time(now)])
                return row["chat_jid"].text ?? ""
            }
        }
    }

    /// The messages still scheduled, soonest first, optionally of one chat.
    func scheduledSends(chat: String? = nil, limit: Int = 1000) throws(WauseError) -> [ScheduledSend] {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("""
                SELECT o.message_id, o.chat_jid, o.send_at, o.created_at, m.type, m.body FROM outbox o
                JOIN messages m ON m.id = o.message_id AND m.from_me = 1
                WHERE o.send_at IS NOT NULL AND m.status = 'scheduled' AND (? IS NULL OR o.chat_jid = ?)
                ORDER BY o.send_at, o.id LIMIT ?
                """, [SQLValue(chat), SQLValue(chat), .integer(Int64(limit))]).map { row in
                ScheduledSend(messageID: row["message_id"].text ?? "", chatJID: row["chat_jid"].text ?? "", type: row["type"].text ?? "",
                              body: row["body"].text, sendAt: row["send_at"].time ?? .epoch, createdAt: row["created_at"].time ?? .epoch)
            }
        }
    }

    /// The timeline's `late_ms` steps of a message (its scheduled send's lateness), by timeline order.
    func timelineLateness(rowid: Int64) throws(WauseError) -> [Int64?] {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT late_ms FROM message_status_timeline WHERE message_rowid = ? ORDER BY rowid", [.integer(rowid)])
                .map { $0["late_ms"].integer }
        }
    }
}
