import SwiftProtobuf
import WauseBinary
import WauseCrypto
import WauseProto
import WauseProtocol
import WauseSQLite
import WauseSignal
import WauseSupport

// The store's SQL for the messaging area (ARCHITECTURE.md: one Store+Area file per area).

// MARK: DeviceList

extension Store {
    func cachedDeviceList(user: JID, newerThan: UnixTime) throws(WauseError) -> DeviceList.Entry? {
        try database.withConnection { (c) throws(WauseError) in
            guard let row = try c.query("SELECT * FROM device_lists WHERE user_jid = ? AND fetched_at > ?",
                                        [.text(user.description), .time(newerThan)]).first,
                let devices = (try? JSONValue.parse(row["devices"].text ?? "[]"))?.arrayValue
            else { return nil }
            return DeviceList.Entry(user: user, lid: row["lid"].text.flatMap(JID.init),
                                    devices: devices.compactMap { $0.stringValue.flatMap(JID.init) })
        }
    }

    func saveDeviceList(_ entry: DeviceList.Entry, now: UnixTime) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("""
                INSERT INTO device_lists (user_jid, lid, devices, fetched_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (user_jid) DO UPDATE SET lid = excluded.lid, devices = excluded.devices, fetched_at = excluded.fetched_at
                """, [.text(entry.user.description), SQLValue(entry.lid?.description),
                      .text(JSONValue.array(entry.devices.map { .string($0.description) }).serialized), .time(now)])
        }
    }

    /// Forgets cached device lists (a `devices` notification, a phash mismatch).
    func invalidateDeviceList(user: JID) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("DELETE FROM device_lists WHERE user_jid = ?", [.text(JID(user: user.user, server: user.server).description)])
        }
    }
}

// MARK: Signal sessions by LID

extension Store {
    /// Moves the session and identity kept under a phone-number address to the LID address of
    /// the same device, unless the LID address has its own already (whatsmeow store
    /// MigratePNToLID). A no-op once moved.
    func movePhoneSession(from phoneAddress: String, to lidAddress: String) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            guard try c.scalar("SELECT count(*) FROM sessions WHERE address = ?", [.text(phoneAddress)]) > 0 else { return }
            try c.transaction { () throws(WauseError) in
                try c.execute("""
                    INSERT OR IGNORE INTO sessions (address, record, updated_at) SELECT ?, record, updated_at FROM sessions WHERE address = ?
                    """, [.text(lidAddress), .text(phoneAddress)])
                try c.execute("""
                    INSERT OR IGNORE INTO identities (address, identity_key, trusted_at, changed_at)
                    SELECT ?, identity_key, trusted_at, changed_at FROM identities WHERE address = ?
                    """, [.text(lidAddress), .text(phoneAddress)])
                try c.execute("DELETE FROM sessions WHERE address = ?", [.text(phoneAddress)])
            }
        }
    }
}

// MARK: MessageStatus

extension Store {
    func timeline(rowid: Int64) throws(WauseError) -> [(status: MessageStatus, at: UnixTime, device: String?)] {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT status, at, device_jid FROM message_status_timeline WHERE message_rowid = ? ORDER BY rowid",
                        [.integer(rowid)]).compactMap { row in
                            row["status"].text.flatMap(MessageStatus.init(rawValue:)).map { ($0, row["at"].time ?? .epoch, row["device_jid"].text) }
                        }
        }
    }
}

// MARK: PreKeys

extension Store {
    struct StoredPreKey {
        var id: UInt32
        var publicKey: [UInt8]
    }

    func uploadedPreKeyCount() throws(WauseError) -> Int64 {
        try database.withConnection { (c) throws(WauseError) in try c.scalar("SELECT count(*) FROM prekeys WHERE uploaded = 1") }
    }

    /// `count` keys not yet on the server: those left over from an upload that never got its answer
    /// first, then new ones with ids counting up (24-bit, wrapping past ids still in use).
    func preparePreKeys(count: Int, random: (Int) -> [UInt8], now: UnixTime) throws(WauseError) -> [StoredPreKey] {
        try database.withConnection { (c) throws(WauseError) -> [StoredPreKey] in
            try c.transaction { () throws(WauseError) -> [StoredPreKey] in
                var keys = try c.query("SELECT id, public_key FROM prekeys WHERE uploaded = 0 ORDER BY id LIMIT ?", [.integer(Int64(count))])
                    .compactMap { row -> StoredPreKey? in
                        guard let id = row["id"].integer, let key = row["public_key"].blob else { return nil }
                        return StoredPreKey(id: UInt32(id), publicKey: key)
                    }
                var next = UInt32(try c.scalar("SELECT coalesce(max(id), 0) FROM prekeys")) % PreKeys.maximumID + 1
                while keys.count < count {
                    if try c.scalar("SELECT count(*) FROM prekeys WHERE id = ?", [.integer(Int64(next))]) == 0 {
                        let pair = Curve25519KeyPair.generate(random: random)
                        try c.execute("INSERT INTO prekeys (id, private_key, public_key, uploaded, created_at) VALUES (?, ?, ?, 0, ?)",
                                      [.integer(Int64(next)), .blob(pair.privateKey), .blob(pair.publicKey), .time(now)])
                        keys.append(StoredPreKey(id: next, publicKey: pair.publicKey))
                    }
                    next = next % PreKeys.maximumID + 1
                }
                return keys
            }
        }
    }

    func markPreKeysUploaded(_ ids: [UInt32]) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                for id in ids { try c.execute("UPDATE prekeys SET uploaded = 1 WHERE id = ?", [.integer(Int64(id))]) }
            }
        }
    }
}

// MARK: Receipts

extension Store {
    /// Moves our message's status forward (never back) and records the step; false if it did not move.
    func advanceStatus(messageID: String, to status: MessageStatus, device: String, at: UnixTime) throws(WauseError) -> Bool {
        try database.withConnection { (c) throws(WauseError) -> Bool in
            try c.transaction { () throws(WauseError) -> Bool in
                guard let row = try c.query("SELECT rowid, status FROM messages WHERE id = ? AND from_me = 1", [.text(messageID)]).first,
                    let rowid = row["rowid"].integer
                else { return false }
                let stored = row["status"].text.flatMap(MessageStatus.init(rawValue:)) ?? .queued
                let current = stored.progress ?? 0
                let target = status.progress ?? 0
                try c.execute("INSERT INTO message_status_timeline (message_rowid, status, device_jid, at) VALUES (?, ?, ?, ?)",
                              [.integer(rowid), .text(status.rawValue), .text(device), .time(at)])
                guard target > current, stored != .failed else { return false }
                try c.execute("UPDATE messages SET status = ? WHERE rowid = ?", [.text(status.rawValue), .integer(rowid)])
                return true
            }
        }
    }

    func countRetryAnswered(messageID: String, device: String) throws(WauseError) -> Int64 {
        try database.withConnection { (c) throws(WauseError) -> Int64 in
            _ = try c.execute("""
                INSERT INTO retries_answered (message_id, device_jid, count) VALUES (?, ?, 1)
                ON CONFLICT (message_id, device_jid) DO UPDATE SET count = count + 1
                """, [.text(messageID), .text(device)])
            return try c.scalar("SELECT count FROM retries_answered WHERE message_id = ? AND device_jid = ?", [.text(messageID), .text(device)])
        }
    }

    func unreadMessages(chat: String) throws(WauseError) -> [MessageRecord] {
        try database.withConnection { (c) throws(WauseError) in
            let unread = try c.scalar("SELECT coalesce((SELECT unread_count FROM chats WHERE jid = ?), 0)", [.text(chat)])
            guard unread > 0 else { return [] }
            return try c.query("SELECT * FROM messages WHERE chat_jid = ? AND from_me = 0 ORDER BY rowid DESC LIMIT ?",
                               [.text(chat), .integer(unread)]).map(Store.message).reversed()
        }
    }

    func markChatRead(chat: String, messageIDs: [String], now: UnixTime) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                try c.execute("UPDATE chats SET unread_count = max(0, unread_count - ?), updated_at = ? WHERE jid = ?",
                              [.integer(Int64(messageIDs.count)), .time(now), .text(chat)])
                for id in messageIDs {
                    try c.execute("""
                        INSERT INTO message_status_timeline (message_rowid, status, at)
                        SELECT rowid, 'read', ? FROM messages WHERE chat_jid = ? AND id = ? AND from_me = 0
                        """, [.time(now), .text(chat), .text(id)])
                }
            }
        }
    }
}

// MARK: Receive

extension Store {
    func annotate(rowid: Int64, identityChanged: Bool, device: String) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("UPDATE messages SET identity_changed = ?, sender_device = ? WHERE rowid = ?",
                              [SQLValue(identityChanged), .text(device), .integer(rowid)])
        }
    }

    /// Counts one more failed attempt for this message; returns the count (the retry number).
    func recordDecryptFailure(messageID: String, sender: String, reason: String, now: UnixTime) throws(WauseError) -> Int {
        try database.withConnection { (c) throws(WauseError) -> Int in
            _ = try c.execute("""
                INSERT INTO decrypt_failures (message_id, sender_jid, retry_count, reason, first_at, last_at) VALUES (?, ?, 1, ?, ?, ?)
                ON CONFLICT (message_id, sender_jid) DO UPDATE SET retry_count = retry_count + 1, reason = excluded.reason,
                       last_at = excluded.last_at, resolved_at = NULL
                """, [.text(messageID), .text(sender), .text(reason), .time(now), .time(now)])
            return Int(try c.scalar("SELECT retry_count FROM decrypt_failures WHERE message_id = ? AND sender_jid = ?",
                                    [.text(messageID), .text(sender)]))
        }
    }

    func resolveDecryptFailure(messageID: String, sender: String, now: UnixTime) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("UPDATE decrypt_failures SET resolved_at = ? WHERE message_id = ? AND sender_jid = ? AND resolved_at IS NULL",
                              [.time(now), .text(messageID), .text(sender)])
        }
    }

    /// Messages that have not decrypted (yet): reported by `whatsapp_status`.
    func unresolvedDecryptFailures() throws(WauseError) -> Int64 {
        try database.withConnection { (c) throws(WauseError) in
            try c.scalar("SELECT count(*) FROM decrypt_failures WHERE resolved_at IS NULL")
        }
    }
}

// MARK: SendMessage

extension Store {
    func idempotentResult(key: String, method: String, newerThan: UnixTime) throws(WauseError) -> JSONObject? {
        try database.withConnection { (c) throws(WauseError) in
            guard let text = try c.query("SELECT result FROM idempotency_keys WHERE key = ? AND method = ? AND created_at > ?",
                                         [.text(key), .text(method), .time(newerThan)]).first?["result"].text
            else { return nil }
            return (try? JSONValue.parse(text))?.objectValue
        }
    }
}

// MARK: Outbox

extension Store {
    struct OutboxEntry: Sendable {
        var id: Int64
        var messageID: String
        var chatJID: String
        var payload: [UInt8]
        var attempts: Int64
        /// When a scheduled send was asked to go (nil for an ordinary send).
        var sendAt: UnixTime? = nil
    }

    /// The message row, the outbox row and `queued` in the timeline, in one transaction. With
    /// `sendAt`, the message is `scheduled` instead and its row waits for that instant.
    /// With `idempotency`, the caller's key and its result are recorded in the same transaction, so a
    /// retry after a crash finds either both the message and the key, or neither.
    func enqueue(_ message: MessageRecord, contactID: Int64?, payload: [UInt8], now: UnixTime,
                 idempotency: (key: String, method: String, result: JSONObject)? = nil, sendAt: UnixTime? = nil) throws(WauseError) -> Int64 {
        try database.withConnection { (c) throws(WauseError) -> Int64 in
            try Store.enqueue(message, contactID: contactID, payload: payload, now: now, idempotency: idempotency, sendAt: sendAt, c)
        }
    }

    /// `enqueue` on a connection the caller holds: in a transaction of its own, or as part of the
    /// caller's (a bulk job stores its messages with the job, Store+Bulk.swift).
    static func enqueue(_ message: MessageRecord, contactID: Int64?, payload: [UInt8], now: UnixTime,
                        idempotency: (key: String, method: String, result: JSONObject)?, sendAt: UnixTime?,
                        _ c: SQLiteConnection) throws(WauseError) -> Int64 {
        let status = sendAt == nil ? MessageStatus.queued : .scheduled
        return try c.transaction { () throws(WauseError) -> Int64 in
            if let idempotency {
                try c.execute("INSERT OR REPLACE INTO idempotency_keys (key, method, result, created_at) VALUES (?, ?, ?, ?)",
                              [.text(idempotency.key), .text(idempotency.method),
                               .text(JSONValue.object(idempotency.result).serialized), .time(now)])
            }
            try c.execute("""
                INSERT INTO chats (jid, contact_id, updated_at) VALUES (?, ?, ?)
                ON CONFLICT (jid) DO UPDATE SET contact_id = coalesce(chats.contact_id, excluded.contact_id)
                """, [.text(message.chatJID), SQLValue(contactID), .time(now)])
            let rowid = try c.execute("""
                INSERT INTO messages (id, chat_jid, sender_jid, from_me, type, body, quoted_id, timestamp, has_media, status, raw,
                                      received_at)
                VALUES (?, ?, NULL, 1, ?, ?, ?, ?, 0, ?, ?, ?)
                """, [.text(message.id), .text(message.chatJID), .text(message.type), .text(message.body),
                      SQLValue(message.quotedID), .time(message.timestamp), .text(status.rawValue), .blob(payload), .time(now)])
            try c.execute("UPDATE chats SET last_message_at = max(coalesce(last_message_at, 0), ?), updated_at = ? WHERE jid = ?",
                          [.time(message.timestamp), .time(now), .text(message.chatJID)])
            try c.execute("INSERT INTO message_status_timeline (message_rowid, status, at) VALUES (?, ?, ?)",
                          [.integer(rowid), .text(status.rawValue), .time(now)])
            try c.execute("""
                INSERT INTO outbox (message_id, chat_jid, payload, next_attempt_at, created_at, send_at) VALUES (?, ?, ?, ?, ?, ?)
                """, [.text(message.id), .text(message.chatJID), .blob(payload), .time(sendAt ?? now), .time(now),
                      SQLValue(sendAt.map(\.milliseconds))])
            return rowid
        }
    }

    /// The oldest row that is first in its chat and due by `now` (per-chat order: a later message
    /// of a chat never overtakes an earlier one that waits for its retry). A scheduled row takes
    /// its place in its chat's order only once its `send_at` has come: until then it holds
    /// nothing up.
    func nextOutboxEntry(dueBy now: UnixTime = UnixTime(milliseconds: .max)) throws(WauseError) -> OutboxEntry? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("""
                SELECT * FROM outbox o
                WHERE o.id = (SELECT min(id) FROM outbox WHERE chat_jid = o.chat_jid AND coalesce(send_at, 0) <= ?)
                  AND o.next_attempt_at <= ?
                ORDER BY o.id LIMIT 1
                """, [.time(now), .time(now)]).first.map { row in
                OutboxEntry(id: row["id"].integer ?? 0, messageID: row["message_id"].text ?? "", chatJID: row["chat_jid"].text ?? "",
                            payload: row["payload"].blob ?? [], attempts: row["attempts"].integer ?? 0, sendAt: row["send_at"].time)
            }
        }
    }

    /// How many messages wait in the outbox (what a closing client reports as left queued). With
    /// `dueBy`, scheduled sends whose time comes later are left out: a close does not wait for them.
    func outboxCount(dueBy now: UnixTime? = nil) throws(WauseError) -> Int64 {
        try database.withConnection { (c) throws(WauseError) in
            try c.scalar("SELECT count(*) FROM outbox WHERE ? IS NULL OR coalesce(send_at, 0) <= ?", [SQLValue(now), SQLValue(now)])
        }
    }

    /// When the earliest chat's first row falls due, or the earliest scheduled send, if any row waits.
    func nextOutboxRetry(now: UnixTime) throws(WauseError) -> UnixTime? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("""
                SELECT min(due) AS due FROM (
                    SELECT o.next_attempt_at AS due FROM outbox o
                    WHERE o.id = (SELECT min(id) FROM outbox WHERE chat_jid = o.chat_jid AND coalesce(send_at, 0) <= ?)
                    UNION ALL SELECT send_at FROM outbox WHERE send_at > ?)
                """, [.time(now), .time(now)]).first?["due"].time
        }
    }

    /// One counted attempt that failed; the row waits until `nextAttemptAt`.
    func noteOutboxAttempt(_ entry: OutboxEntry, error: String, nextAttemptAt: UnixTime) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
                          [.text(error), .time(nextAttemptAt), .integer(entry.id)])
        }
    }

    /// Records the server's ack; returns the time `sent` got in the timeline. The ack's `t` is
    /// whole seconds while `queued` was recorded in milliseconds, so `sent` could read earlier
    /// than `queued` (issue 11, item 7): it is recorded no earlier than the latest step before it.
    @discardableResult
    func markSent(_ entry: OutboxEntry, at serverTime: UnixTime, now: UnixTime) throws(WauseError) -> UnixTime {
        try database.withConnection { (c) throws(WauseError) -> UnixTime in
            try c.transaction { () throws(WauseError) -> UnixTime in
                try c.execute("DELETE FROM outbox WHERE id = ?", [.integer(entry.id)])
                try c.execute("UPDATE messages SET status = 'sent' WHERE id = ? AND from_me = 1 AND status = 'queued'",
                              [.text(entry.messageID)])
                let latest = try c.query("""
                    SELECT max(t.at) AS at FROM message_status_timeline t JOIN messages m ON m.rowid = t.message_rowid
                    WHERE m.id = ? AND m.from_me = 1
                    """, [.text(entry.messageID)]).first?["at"].time
                let at = max(serverTime, latest ?? serverTime)
                try c.execute("""
                    INSERT INTO message_status_timeline (message_rowid, status, at)
                    SELECT rowid, 'sent', ? FROM messages WHERE id = ? AND from_me = 1
                    """, [.time(at), .text(entry.messageID)])
                return at
            }
        }
    }

    func markFailed(_ entry: OutboxEntry, reason: String, now: UnixTime) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                try c.execute("DELETE FROM outbox WHERE id = ?", [.integer(entry.id)])
                try c.execute("UPDATE messages SET status = 'failed', status_reason = ? WHERE id = ? AND from_me = 1",
                              [.text(reason), .text(entry.messageID)])
                try c.execute("""
                    INSERT INTO message_status_timeline (message_rowid, status, at)
                    SELECT rowid, 'failed', ? FROM messages WHERE id = ? AND from_me = 1
                    """, [.time(now), .text(entry.messageID)])
            }
        }
    }

    func advSignedIdentity() throws(WauseError) -> [UInt8]? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT adv_signed_identity FROM device WHERE id = 1").first?["adv_signed_identity"].blob
        }
    }
}
