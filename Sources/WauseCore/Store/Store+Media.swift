import WauseSQLite
import WauseSupport

// The store's SQL for the media area (ARCHITECTURE.md: one Store+Area file per area).

extension Store {
    /// One message's media row and the message it belongs to.
    struct StoredMedia: Sendable {
        var rowid: Int64
        var messageID: String
        var chatJID: String
        var fromMe: Bool
        /// Who sent it (a group message's member), nil for ours.
        var senderJID: String?
        var media: MediaMessage
        var path: String?
    }

    /// Files (or replaces) the media row of message `rowid`.
    func saveMedia(rowid: Int64, _ media: MediaMessage, path: String?) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in try Store.saveMedia(rowid: rowid, media, path: path, c) }
    }

    /// `saveMedia(rowid:_:path:)` on a connection inside the caller's transaction (a history chunk).
    static func saveMedia(rowid: Int64, _ media: MediaMessage, path: String?, _ c: SQLiteConnection) throws(WauseError) {
        let int: (Int?) -> SQLValue = { value in value.map { .integer(Int64($0)) } ?? .null }
        do {
            _ = try c.execute("""
                INSERT OR REPLACE INTO media (message_rowid, type, mimetype, size, sha256, enc_sha256, media_key, direct_path, url,
                                             file_name, caption, width, height, seconds, path, gif_playback)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.integer(rowid), .text(media.type), SQLValue(media.mimetype), SQLValue(media.size), SQLValue(media.sha256),
                      SQLValue(media.encSha256), SQLValue(media.mediaKey), SQLValue(media.directPath), SQLValue(media.url),
                      SQLValue(media.fileName), SQLValue(media.caption), int(media.width), int(media.height), int(media.seconds),
                      SQLValue(path), SQLValue(media.gifPlayback)])
            try c.execute("UPDATE messages SET has_media = ? WHERE rowid = ?", [SQLValue(media.hasFile), .integer(rowid)])
        }
    }

    /// Fills in what the upload answered (our own message, once uploaded).
    func noteUploaded(messageID: String, directPath: String, url: String) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("""
                UPDATE media SET direct_path = ?, url = ?
                WHERE message_rowid IN (SELECT rowid FROM messages WHERE id = ? AND from_me = 1)
                """, [.text(directPath), .text(url), .text(messageID)])
        }
    }

    /// The queued payload after its upload: the outbox row and the message's raw copy, so a
    /// retry sends the same upload instead of uploading again.
    func replaceOutboxPayload(entryID: Int64, messageID: String, payload: [UInt8]) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                try c.execute("UPDATE outbox SET payload = ? WHERE id = ?", [.blob(payload), .integer(entryID)])
                try c.execute("UPDATE messages SET raw = ? WHERE id = ? AND from_me = 1", [.blob(payload), .text(messageID)])
            }
        }
    }

    /// The new direct path a media retry answered.
    func updateDirectPath(rowid: Int64, directPath: String) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("UPDATE media SET direct_path = ?, url = NULL WHERE message_rowid = ?", [.text(directPath), .integer(rowid)])
        }
    }

    /// Where the message's file is now; nil once the engine's copy is gone.
    func setMediaPath(rowid: Int64, path: String?) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("UPDATE media SET path = ? WHERE message_rowid = ?", [SQLValue(path), .integer(rowid)])
        }
    }

    /// The media of the message with `id` (the newest row of that id when several chats share it).
    func media(messageID: String) throws(WauseError) -> StoredMedia? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("""
                SELECT m.rowid AS mrowid, m.id, m.chat_jid, m.from_me, m.sender_jid, d.* FROM media d JOIN messages m ON m.rowid = d.message_rowid
                WHERE m.id = ? ORDER BY m.rowid DESC LIMIT 1
                """, [.text(messageID)]).first.map { row in
                StoredMedia(rowid: row["mrowid"].integer ?? 0, messageID: row["id"].text ?? "", chatJID: row["chat_jid"].text ?? "",
                            fromMe: row["from_me"].integer == 1, senderJID: row["sender_jid"].text, media: Store.mediaMessage(row), path: row["path"].text)
            }
        }
    }

    /// The media rows of these messages, by message row id.
    func media(rowids: [Int64]) throws(WauseError) -> [Int64: (media: MediaMessage, path: String?)] {
        guard !rowids.isEmpty else { return [:] }
        return try database.withConnection { (c) throws(WauseError) in
            var found: [Int64: (MediaMessage, String?)] = [:]
            let marks = Array(repeating: "?", count: rowids.count).joined(separator: ",")
            for row in try c.query("SELECT * FROM media WHERE message_rowid IN (\(marks))", rowids.map { .integer($0) }) {
                found[row["message_rowid"].integer ?? 0] = (Store.mediaMessage(row), row["path"].text)
            }
            return found
        }
    }

    static func mediaMessage(_ row: SQLRow) -> MediaMessage {
        MediaMessage(type: row["type"].text ?? "document", mimetype: row["mimetype"].text, size: row["size"].integer,
                     sha256: row["sha256"].blob, encSha256: row["enc_sha256"].blob, mediaKey: row["media_key"].blob,
                     directPath: row["direct_path"].text, url: row["url"].text, fileName: row["file_name"].text,
                     caption: row["caption"].text, width: row["width"].integer.map(Int.init), height: row["height"].integer.map(Int.init),
                     seconds: row["seconds"].integer.map(Int.init), gifPlayback: row["gif_playback"].integer == 1)
    }
}
