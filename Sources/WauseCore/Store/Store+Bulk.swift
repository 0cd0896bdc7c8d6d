import WauseSQLite
import WauseSupport

// MARK: Bulk sends (issue 16)

extension Store {
    /// One accepted item of a bulk job: its message, queued as a scheduled send at its paced instant.
    struct BulkMessage {
        var record: MessageRecord
        var contactID: Int64?
        var payload: [UInt8]
        var sendAt: UnixTime
        /// A file item's media row and the engine's copy of the file.
        var media: (MediaMessage, String)? = nil
    }

    /// A stored job: the arguments it was made with (without the key) and the result it answered.
    struct BulkJob {
        var id: String
        var request: JSONObject
        var result: JSONObject
        var createdAt: UnixTime
    }

    func bulkJob(idempotencyKey key: String) throws(WauseError) -> BulkJob? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM bulk_jobs WHERE idempotency_key = ?", [.text(key)]).first.map(Store.bulkJob)
        }
    }

    func bulkJob(id: String) throws(WauseError) -> BulkJob? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM bulk_jobs WHERE id = ?", [.text(id)]).first.map(Store.bulkJob)
        }
    }

    private static func bulkJob(_ row: SQLRow) -> BulkJob {
        BulkJob(id: row["id"].text ?? "", request: (try? JSONValue.parse(row["request"].text ?? "{}"))?.objectValue ?? [:],
                result: (try? JSONValue.parse(row["result"].text ?? "{}"))?.objectValue ?? [:], createdAt: row["created_at"].time ?? .epoch)
    }

    /// The job, its items and every accepted item's message and outbox row, in one transaction:
    /// a crash leaves the whole job or none of it, so a retried call with the same key finds it
    /// or makes it anew — never half.
    func createBulkJob(id: String, key: String, request: JSONObject, result: JSONObject, pacingPerMinute: Int,
                       items: [(position: Int, recipient: String, message: BulkMessage?, error: WauseError?)], now: UnixTime) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                try c.execute("""
                    INSERT INTO bulk_jobs (id, idempotency_key, request, result, pacing_per_minute, created_at) VALUES (?, ?, ?, ?, ?, ?)
                    """, [.text(id), .text(key), .text(JSONValue.object(request).serialized), .text(JSONValue.object(result).serialized),
                          .integer(Int64(pacingPerMinute)), .time(now)])
                for item in items {
                    if let message = item.message {
                        let rowid = try Store.enqueue(message.record, contactID: message.contactID, payload: message.payload, now: now,
                                                      idempotency: nil, sendAt: message.sendAt, c)
                        if let (media, path) = message.media { try Store.saveMedia(rowid: rowid, media, path: path, c) }
                    }
                    try c.execute("""
                        INSERT INTO bulk_items (job_id, position, recipient, message_id, error_code, error_message) VALUES (?, ?, ?, ?, ?, ?)
                        """, [.text(id), .integer(Int64(item.position)), .text(item.recipient), SQLValue(item.message?.record.id),
                              SQLValue(item.error?.code.rawValue), SQLValue(item.error?.message)])
                }
            }
        }
    }

    /// How many of a job's items stand at each status (`refused` for items never queued).
    func bulkStatusCounts(jobID: String) throws(WauseError) -> [String: Int64] {
        try database.withConnection { (c) throws(WauseError) in
            var counts: [String: Int64] = [:]
            for row in try c.query("""
                SELECT coalesce(m.status, 'refused') AS status, count(*) AS n FROM bulk_items b
                LEFT JOIN messages m ON m.id = b.message_id AND m.from_me = 1
                WHERE b.job_id = ? GROUP BY 1
                """, [.text(jobID)]) {
                counts[row["status"].text ?? "refused"] = row["n"].integer ?? 0
            }
            return counts
        }
    }

    /// Cancels every item of a job that has not gone yet (still scheduled); returns their message ids and chats.
    func cancelBulkJob(jobID: String, now: UnixTime) throws(WauseError) -> [(messageID: String, chatJID: String)] {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                let pending = try c.query("""
                    SELECT m.rowid, m.id, m.chat_jid FROM bulk_items b JOIN messages m ON m.id = b.message_id AND m.from_me = 1
                    JOIN outbox o ON o.message_id = m.id
                    WHERE b.job_id = ? AND m.status = 'scheduled' ORDER BY b.position
                    """, [.text(jobID)])
                for row in pending {
                    let rowid = row["rowid"].integer ?? 0
                    try c.execute("DELETE FROM outbox WHERE message_id = ?", [.text(row["id"].text ?? "")])
                    try c.execute("UPDATE messages SET status = 'cancelled' WHERE rowid = ?", [.integer(rowid)])
                    try c.execute("INSERT INTO message_status_timeline (message_rowid, status, at) VALUES (?, 'cancelled', ?)",
                                  [.integer(rowid), .time(now)])
                }
                try c.execute("UPDATE bulk_jobs SET cancelled_at = coalesce(cancelled_at, ?) WHERE id = ?", [.time(now), .text(jobID)])
                return pending.map { ($0["id"].text ?? "", $0["chat_jid"].text ?? "") }
            }
        }
    }

    /// Whether anyone in the chat `chatJID` names (by any of the contact's JIDs) ever wrote to us.
    func hasMessageFrom(chatJID: String) throws(WauseError) -> Bool {
        let forms = try userForms(of: chatJID)
        return try database.withConnection { (c) throws(WauseError) in
            for form in forms where try c.scalar("SELECT count(*) FROM (SELECT 1 FROM messages WHERE chat_jid = ? AND from_me = 0 LIMIT 1)",
                                                 [.text(form)]) > 0 {
                return true
            }
            return false
        }
    }
}

// MARK: Retry and delivery summary (issue 16)

extension Store {
    /// A failed message of ours back in the outbox under its id, from its stored payload: `queued`
    /// again (its failure reason cleared, the step in its timeline).
    func requeueFailed(messageID: String, now: UnixTime) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                guard let row = try c.query("SELECT rowid, chat_jid, raw FROM messages WHERE id = ? AND from_me = 1 AND status = 'failed'",
                                            [.text(messageID)]).first, let payload = row["raw"].blob else {
                    throw .invalidRequest("message \(messageID) is not a failed message of this account with a stored payload")
                }
                try c.execute("UPDATE messages SET status = 'queued', status_reason = NULL WHERE rowid = ?", [.integer(row["rowid"].integer ?? 0)])
                try c.execute("INSERT INTO message_status_timeline (message_rowid, status, at) VALUES (?, 'queued', ?)",
                              [.integer(row["rowid"].integer ?? 0), .time(now)])
                try c.execute("INSERT INTO outbox (message_id, chat_jid, payload, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?)",
                              [.text(messageID), .text(row["chat_jid"].text ?? ""), .blob(payload), .time(now), .time(now)])
            }
        }
    }

    struct DeliveryRow {
        var status: MessageStatus
        var sentAt: UnixTime?
        var deliveredAt: UnixTime?
        var readAt: UnixTime?
    }

    /// Our messages with a status (queued since `since`, in `chat`), each with the first time it
    /// was sent, delivered (or read, which implies it) and read.
    func deliveryRows(since: UnixTime?, chat: String?) throws(WauseError) -> [DeliveryRow] {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("""
                SELECT m.status,
                       (SELECT min(at) FROM message_status_timeline t WHERE t.message_rowid = m.rowid AND t.status = 'sent') AS sent_at,
                       (SELECT min(at) FROM message_status_timeline t WHERE t.message_rowid = m.rowid AND t.status IN ('delivered', 'read')) AS delivered_at,
                       (SELECT min(at) FROM message_status_timeline t WHERE t.message_rowid = m.rowid AND t.status = 'read') AS read_at
                FROM messages m
                WHERE m.from_me = 1 AND m.status IS NOT NULL AND (? IS NULL OR m.received_at >= ?) AND (? IS NULL OR m.chat_jid = ?)
                """, [SQLValue(since), SQLValue(since), SQLValue(chat), SQLValue(chat)]).compactMap { row in
                row["status"].text.flatMap(MessageStatus.init(rawValue:)).map {
                    DeliveryRow(status: $0, sentAt: row["sent_at"].time, deliveredAt: row["delivered_at"].time, readAt: row["read_at"].time)
                }
            }
        }
    }
}
