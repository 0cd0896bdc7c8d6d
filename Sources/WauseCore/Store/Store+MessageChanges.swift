import WauseBinary
import WauseProtocol
import WauseSQLite
import WauseSupport

// The store's SQL for reactions, edits, revokes and poll votes (Messaging/MessageChanges.swift,
// Messaging/Polls.swift; the columns and `poll_votes` are Migrations.version6).

extension Store {
    /// A change of ours: its outbox row (the change is sent under `id` like any message, in order
    /// with the chat's other messages) and its effect on the stored message, in one transaction —
    /// the change is kept before the call answers. Returns the message as it is now.
    func queueChange(_ change: MessageChange, id: String, chatJID: String, payload: [UInt8], targetRowid: Int64, by: String,
                     now: UnixTime) throws(WauseError) -> MessageRecord? {
        try database.withConnection { (c) throws(WauseError) -> MessageRecord? in
            try c.transaction { () throws(WauseError) -> MessageRecord? in
                try c.execute("INSERT INTO outbox (message_id, chat_jid, payload, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?)",
                              [.text(id), .text(chatJID), .blob(payload), .time(now), .time(now)])
                return try Store.apply(change, rowid: targetRowid, by: by, at: now, c)
            }
        }
    }

    /// Someone's change to a message we have: the message by its id and side (`fromMe`: whether
    /// we wrote it), when `allowed` says the changer may change it. Returns the message before
    /// and after, or nil when there is no such message (or the change is refused).
    func applyChange(_ change: MessageChange, targetFromMe: Bool, by: String, at: UnixTime,
                     allowed: (MessageRecord) throws(WauseError) -> Bool) throws(WauseError) -> (before: MessageRecord, after: MessageRecord)? {
        // `allowed` reads the store itself, so it runs outside this connection's use (the store's
        // connection is not reentrant); the change then applies to the row found, by row id.
        guard let before = try message(id: change.target.id, fromMe: targetFromMe), try allowed(before) else { return nil }
        return try database.withConnection { (c) throws(WauseError) -> (MessageRecord, MessageRecord)? in
            try c.transaction { () throws(WauseError) -> (MessageRecord, MessageRecord)? in
                guard let after = try Store.apply(change, rowid: before.rowid, by: by, at: at, c) else { return nil }
                return (before, after)
            }
        }
    }

    /// Whether a 1:1 chat is the one with `user` (a phone number or LID user): by its JID or by the contact behind it.
    func chat(_ chatJID: String, isWith user: String) throws(WauseError) -> Bool {
        if JID(chatJID)?.user == user { return true }
        return try database.withConnection { (c) throws(WauseError) in
            try c.scalar("""
                SELECT count(*) FROM chats JOIN contacts ON contacts.id = chats.contact_id
                WHERE chats.jid = ? AND (contacts.phone = ? OR contacts.lid = ?)
                """, [.text(chatJID), .text(user), .text(user)]) > 0
        }
    }

    /// "Delete for me": the message leaves this device's store (its search entry with it, by the FTS trigger).
    func deleteMessageLocally(rowid: Int64) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                try c.execute("DELETE FROM message_status_timeline WHERE message_rowid = ?", [.integer(rowid)])
                try c.execute("DELETE FROM messages WHERE rowid = ?", [.integer(rowid)])
            }
        }
    }

    /// Whether a message or change of ours still waits in the outbox.
    func outboxHolds(messageID: String) throws(WauseError) -> Bool {
        try database.withConnection { (c) throws(WauseError) in
            try c.scalar("SELECT count(*) FROM outbox WHERE message_id = ?", [.text(messageID)]) > 0
        }
    }

    /// A message by id, on one side when `fromMe` is given.
    func message(id: String, fromMe: Bool?) throws(WauseError) -> MessageRecord? {
        guard let fromMe else { return try message(id: id) }
        return try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM messages WHERE id = ? AND from_me = ? ORDER BY rowid DESC LIMIT 1", [.text(id), SQLValue(fromMe)])
                .first.map(Store.message)
        }
    }

    /// Every name of the person `jid` (a user JID) we know: it, `also`, and the phone and LID
    /// forms of the contact behind any of them.
    func userForms(of jid: String, also: [String] = []) throws(WauseError) -> [String] {
        var forms: [String] = []
        func add(_ form: String) { if !forms.contains(form) { forms.append(form) } }
        for name in [jid] + also {
            add(name)
            guard let parsed = JID(name) else { continue }
            let column = parsed.server == .lid ? "lid" : "phone"
            let row = try database.withConnection { (c) throws(WauseError) in
                try c.query("SELECT phone, lid FROM contacts WHERE \(column) = ?", [.text(parsed.user)]).first
            }
            if let phone = row?["phone"].text { add("\(phone)@s.whatsapp.net") }
            if let lid = row?["lid"].text { add("\(lid)@lid") }
        }
        return forms
    }

    /// Files a voter's vote unless a later one of theirs is already filed; returns whether it was.
    func recordVote(pollRowid: Int64, voter: String, options: [String], messageID: String, at: UnixTime) throws(WauseError) -> Bool {
        try database.withConnection { (c) throws(WauseError) -> Bool in
            try c.transaction { () throws(WauseError) -> Bool in
                if let filed = try c.query("SELECT at FROM poll_votes WHERE poll_rowid = ? AND voter = ?",
                                           [.integer(pollRowid), .text(voter)]).first?["at"].time, filed > at {
                    return false
                }
                try c.execute("""
                    INSERT INTO poll_votes (poll_rowid, voter, options, message_id, at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (poll_rowid, voter) DO UPDATE SET options = excluded.options, message_id = excluded.message_id, at = excluded.at
                    """, [.integer(pollRowid), .text(voter), .text(JSONValue.array(options.map { .string($0) }).serialized),
                          .text(messageID), .time(at)])
                return true
            }
        }
    }

    /// Each voter's current vote, in the order they first voted.
    func pollVotes(pollRowid: Int64) throws(WauseError) -> [(voter: String, options: [String])] {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT voter, options FROM poll_votes WHERE poll_rowid = ? ORDER BY rowid", [.integer(pollRowid)]).map { row in
                (row["voter"].text ?? "",
                 (row["options"].text.flatMap { try? JSONValue.parse($0) }?.arrayValue ?? []).compactMap(\.stringValue))
            }
        }
    }

    /// The change's effect on one row: a reaction replaces (or, empty, removes) the person's
    /// reaction; an edit keeps the old text in the history; a revoke empties the message. A
    /// revoked message takes no more changes. Returns the row as it is after.
    private static func apply(_ change: MessageChange, rowid: Int64, by: String, at: UnixTime,
                              _ c: SQLiteConnection) throws(WauseError) -> MessageRecord? {
        guard let current = try c.query("SELECT * FROM messages WHERE rowid = ?", [.integer(rowid)]).first.map(Store.message) else { return nil }
        guard !current.deleted else { return current }
        switch change {
        case .reaction(_, let emoji, _):
            var reactions = current.reactions
            // The newer reaction of a person wins: one that arrives late (an offline backlog after the
            // history sync brought a newer one) changes nothing (Store+HistorySync.swift applies the same rule).
            if let filed = reactions[by]?.objectValue?["at"]?.stringValue.flatMap(ISO8601.unixMilliseconds(from:)), filed > at.milliseconds {
                return current
            }
            reactions[by] = emoji.isEmpty ? nil : .object(["emoji": .string(emoji), "at": .string(at.iso8601)])
            try c.execute("UPDATE messages SET reactions = ? WHERE rowid = ?",
                          [reactions.isEmpty ? .null : .text(JSONValue.object(reactions).serialized), .integer(rowid)])
        case .edit(_, let newText, _):
            let history = current.editHistory + [["body": .string(current.body), "at": .string(at.iso8601)]]
            try c.execute("UPDATE messages SET body = ?, edited = 1, edit_history = ? WHERE rowid = ?",
                          [.text(newText), .text(JSONValue.array(history).serialized), .integer(rowid)])
        case .revoke:
            // Deleted for everyone: the text, its earlier versions and the raw message go; the row stays to say so.
            try c.execute("UPDATE messages SET body = '', raw = NULL, edit_history = NULL, reactions = NULL, deleted = 1 WHERE rowid = ?",
                          [.integer(rowid)])
        }
        return try c.query("SELECT * FROM messages WHERE rowid = ?", [.integer(rowid)]).first.map(Store.message)
    }
}
