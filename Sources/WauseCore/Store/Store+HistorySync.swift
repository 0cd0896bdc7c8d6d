import WauseBinary
import WauseProto
import WauseProtocol
import WauseSQLite
import WauseSupport

// The store's SQL for history sync (ARCHITECTURE.md: one Store+Area file per area; the area is History/HistorySync.swift).

extension Store {
    /// One history chunk, already read from its protobuf (HistorySync.swift): what it files.
    struct HistoryChunk: Sendable {
        struct Conversation: Sendable {
            /// The chat as the phone names it: a phone, LID or group JID.
            var jid: JID
            var phone: String?
            var lid: String?
            var name: String?
            var unreadCount: Int?
            var archived = false
            var pinned = false
            var mutedUntil: UnixTime?
            var privacyToken: [UInt8]?
            var privacyTokenTime: UnixTime?
            /// Oldest first, each with its media and the sender's push name.
            var messages: [(record: MessageRecord, media: MediaMessage?)] = []
            /// Messages the history says were revoked (their ids in this chat).
            var revoked: [String] = []
            /// Reactions the phone already applied (`WebMessageInfo.reactions`), to messages of this chat.
            var reactions: [Reaction] = []
            /// Poll votes the phone already decrypted (`WebMessageInfo.pollUpdates`), on polls of this chat.
            var pollUpdates: [PollUpdate] = []
        }
        /// A message is named by its id and side (whether we wrote it), as live changes name it.
        struct Reaction: Sendable, Equatable {
            var targetID: String
            var targetFromMe: Bool
            /// The reactor; nil: us.
            var by: JID?
            /// Empty: the reaction was taken back.
            var emoji: String
            var at: UnixTime
        }
        struct PollUpdate: Sendable, Equatable {
            var pollID: String
            var pollFromMe: Bool
            /// The voter; nil: us.
            var voter: JID?
            /// SHA-256 of each chosen option's name (PollVoteCrypto.optionHash); none: the vote was withdrawn.
            var selectedHashes: [[UInt8]]
            var voteID: String
            var at: UnixTime
        }
        var conversations: [Conversation] = []
        var pushNames: [(jid: JID, name: String)] = []
        var mappings: [(phone: String, lid: String)] = []
        var nctSalt: [UInt8]?
    }

    struct HistoryChunkResult: Sendable, Equatable {
        var conversations = 0
        var messages = 0
        /// The chat each new message was filed under (for the on-demand answer).
        var inserted: [Int64] = []
    }

    /// The oldest message stored for `chat` (where an on-demand request starts).
    func oldestMessage(chat: String) throws(WauseError) -> MessageRecord? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM messages WHERE chat_jid = ? ORDER BY timestamp, rowid LIMIT 1", [.text(chat)]).first.map(Store.message)
        }
    }

    /// Keeps a history-sync notification before it is acknowledged (once per message id).
    func saveHistorySyncNotification(messageID: String, notification: [UInt8], now: UnixTime) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("INSERT OR IGNORE INTO history_sync_pending (message_id, notification, received_at) VALUES (?, ?, ?)",
                              [.text(messageID), .blob(notification), .time(now)])
        }
    }

    /// The notifications not filed yet, oldest first.
    func pendingHistorySyncs() throws(WauseError) -> [(messageID: String, notification: [UInt8], attempts: Int)] {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM history_sync_pending ORDER BY received_at, rowid").map {
                ($0["message_id"].text ?? "", $0["notification"].blob ?? [], Int($0["attempts"].integer ?? 0))
            }
        }
    }

    func noteHistorySyncAttempt(messageID: String) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("UPDATE history_sync_pending SET attempts = attempts + 1 WHERE message_id = ?", [.text(messageID)])
        }
    }

    func dropHistorySync(messageID: String) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("DELETE FROM history_sync_pending WHERE message_id = ?", [.text(messageID)])
        }
    }

    /// Files one chunk in ONE transaction, through the same insert functions live messages use
    /// (a message id already filed in its chat from the same side is skipped, so a chunk filed
    /// again after a restart, or a message that also arrived live, lands once), and deletes the
    /// pending notification `messageID` in the same transaction.
    func fileHistoryChunk(_ chunk: HistoryChunk, pendingMessageID: String?, now: UnixTime) throws(WauseError) -> HistoryChunkResult {
        // Our reactions and votes go under our user JID, as live ones do (MessageChanges.applyIncoming, Polls.receiveVote).
        let ownJID = try linkedAccount().map { LinkedAccount.userJID($0.jid) }
        return try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) -> HistoryChunkResult in
                var result = HistoryChunkResult()
                for mapping in chunk.mappings {
                    _ = try Store.contact(phone: mapping.phone, lid: mapping.lid, now: now, c)
                }
                for pushName in chunk.pushNames where pushName.jid.server == .whatsApp || pushName.jid.server == .lid {
                    let isLID = pushName.jid.server == .lid
                    _ = try Store.contact(phone: isLID ? nil : pushName.jid.user, lid: isLID ? pushName.jid.user : nil,
                                          pushName: pushName.name, now: now, c)
                }
                if let salt = chunk.nctSalt {
                    try c.execute("UPDATE device SET nct_salt = ? WHERE id = 1", [.blob(salt)])
                }
                for conversation in chunk.conversations {
                    var chatJID = JID(user: conversation.jid.user, server: conversation.jid.server).description
                    var contactID: Int64?
                    if conversation.jid.server != .group, conversation.phone != nil || conversation.lid != nil {
                        let contact = try Store.contact(phone: conversation.phone, lid: conversation.lid, now: now, c)
                        chatJID = contact.chatJID
                        contactID = contact.id
                        if let token = conversation.privacyToken {
                            // Kept under the LID when it is known (whatsmeow message.go storeHistoricalMessageSecrets, tctoken.go).
                            let key = contact.lid.map { "\($0)@lid" } ?? "\(contact.phone ?? conversation.jid.user)@s.whatsapp.net"
                            try c.execute("""
                                INSERT INTO privacy_tokens (jid, token, token_t, updated_at) VALUES (?, ?, ?, ?)
                                ON CONFLICT (jid) DO UPDATE SET token = excluded.token, token_t = excluded.token_t, updated_at = excluded.updated_at
                                WHERE privacy_tokens.token_t IS NULL OR privacy_tokens.token_t <= excluded.token_t
                                """, [.text(key), .blob(token), .time(conversation.privacyTokenTime ?? now), .time(now)])
                        }
                    }
                    try c.execute("""
                        INSERT INTO chats (jid, contact_id, is_group, updated_at) VALUES (?, ?, ?, ?)
                        ON CONFLICT (jid) DO UPDATE SET contact_id = coalesce(chats.contact_id, excluded.contact_id)
                        """, [.text(chatJID), SQLValue(contactID), SQLValue(conversation.jid.server == .group), .time(now)])
                    if let name = conversation.name, conversation.jid.server == .group {
                        try c.execute("UPDATE chats SET name = coalesce(name, ?) WHERE jid = ?", [.text(name), .text(chatJID)])
                    }
                    try c.execute("""
                        UPDATE chats SET archived = ?, pinned = ?, muted_until = coalesce(?, muted_until) WHERE jid = ?
                        """, [SQLValue(conversation.archived), SQLValue(conversation.pinned), SQLValue(conversation.mutedUntil), .text(chatJID)])
                    let unreadBefore = try c.scalar("SELECT unread_count FROM chats WHERE jid = ?", [.text(chatJID)])
                    // The conversation's messages as one batch inside the chunk's transaction (Store+Ingest.swift).
                    let batch = conversation.messages.map { record, _ in
                        var record = record
                        record.chatJID = chatJID
                        return IncomingMessage(record: record, contactID: contactID)
                    }
                    let filed = try Store.ingest(batch, now: now, c)
                    for ((record, media), outcome) in zip(conversation.messages, filed) {
                        let (rowid, inserted) = (outcome.rowid, outcome.inserted)
                        if !inserted, record.edited {
                            // An edit in the history: the message filed earlier (live or in this chunk) shows the new text.
                            try c.execute("UPDATE messages SET body = ?, edited = 1 WHERE rowid = ? AND body != ?",
                                          [.text(record.body), .integer(rowid), .text(record.body)])
                        }
                        guard inserted else { continue }
                        if let media { try Store.saveMedia(rowid: rowid, media, path: nil, c) }
                        result.messages += 1
                        result.inserted.append(rowid)
                    }
                    for id in conversation.revoked {
                        try c.execute("UPDATE messages SET deleted = 1, body = '' WHERE chat_jid = ? AND id = ?", [.text(chatJID), .text(id)])
                    }
                    for reaction in conversation.reactions {
                        try Store.applyHistoryReaction(reaction, chatJID: chatJID, ownJID: ownJID, c)
                    }
                    for update in conversation.pollUpdates {
                        try Store.applyHistoryPollUpdate(update, chatJID: chatJID, ownJID: ownJID, c)
                    }
                    // History is not news: the chat's unread count is the phone's, not one per filed message.
                    try c.execute("UPDATE chats SET unread_count = ? WHERE jid = ?",
                                  [.integer(conversation.unreadCount.map(Int64.init) ?? unreadBefore), .text(chatJID)])
                    result.conversations += 1
                }
                if let pendingMessageID {
                    try c.execute("DELETE FROM history_sync_pending WHERE message_id = ?", [.text(pendingMessageID)])
                }
                return result
            }
        }
    }

    /// One person's name for changes: the phone form when the contact's number is known, as live
    /// changes name them (MessageChanges.applyIncoming), so a reaction that came live and again in
    /// the history is one entry. Nil `jid`: us.
    private static func changer(_ jid: JID?, ownJID: String?, _ c: SQLiteConnection) throws(WauseError) -> String? {
        guard let jid else { return ownJID }
        let user = JID(user: jid.user, server: jid.server)
        if user.server == .lid,
           let phone = try c.query("SELECT phone FROM contacts WHERE lid = ? AND phone IS NOT NULL", [.text(user.user)]).first?["phone"].text {
            return "\(phone)@s.whatsapp.net"
        }
        return user.description
    }

    /// A reaction from the history on the message it names in this chat (filed live, earlier in
    /// this chunk, or before): one entry per person, and the newer of the live and the history
    /// reaction wins; an empty emoji takes the person's reaction back. A revoked message takes none.
    private static func applyHistoryReaction(_ reaction: HistoryChunk.Reaction, chatJID: String, ownJID: String?,
                                             _ c: SQLiteConnection) throws(WauseError) {
        guard let by = try changer(reaction.by, ownJID: ownJID, c),
              let row = try c.query("SELECT rowid, reactions, deleted FROM messages WHERE chat_jid = ? AND id = ? AND from_me = ?",
                                    [.text(chatJID), .text(reaction.targetID), SQLValue(reaction.targetFromMe)]).first,
              let rowid = row["rowid"].integer, row["deleted"].integer != 1
        else { return }
        var reactions = row["reactions"].text.flatMap { try? JSONValue.parse($0) }?.objectValue ?? [:]
        if let filed = reactions[by]?.objectValue?["at"]?.stringValue.flatMap(ISO8601.unixMilliseconds(from:)), filed > reaction.at.milliseconds { return }
        reactions[by] = reaction.emoji.isEmpty ? nil : .object(["emoji": .string(reaction.emoji), "at": .string(reaction.at.iso8601)])
        try c.execute("UPDATE messages SET reactions = ? WHERE rowid = ?",
                      [reactions.isEmpty ? .null : .text(JSONValue.object(reactions).serialized), .integer(rowid)])
    }

    /// A vote from the history (already decrypted by the phone) on a poll of this chat whose options
    /// we have: each voter's latest vote stands, as live votes (Store.recordVote).
    private static func applyHistoryPollUpdate(_ update: HistoryChunk.PollUpdate, chatJID: String, ownJID: String?,
                                               _ c: SQLiteConnection) throws(WauseError) {
        guard let voter = try changer(update.voter, ownJID: ownJID, c),
              let row = try c.query("SELECT rowid, raw FROM messages WHERE chat_jid = ? AND id = ? AND from_me = ? AND type = 'poll'",
                                    [.text(chatJID), .text(update.pollID), SQLValue(update.pollFromMe)]).first,
              let rowid = row["rowid"].integer, let raw = row["raw"].blob,
              let message = try? WAWebProtobufsE2E_Message(serializedBytes: raw), let creation = PollMessage.Creation(message)
        else { return }
        let chosen = creation.options.filter { update.selectedHashes.contains(PollVoteCrypto.optionHash($0)) }
        if let filed = try c.query("SELECT at FROM poll_votes WHERE poll_rowid = ? AND voter = ?", [.integer(rowid), .text(voter)]).first?["at"].time,
           filed > update.at {
            return
        }
        try c.execute("""
            INSERT INTO poll_votes (poll_rowid, voter, options, message_id, at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (poll_rowid, voter) DO UPDATE SET options = excluded.options, message_id = excluded.message_id, at = excluded.at
            """, [.integer(rowid), .text(voter), .text(JSONValue.array(chosen.map { .string($0) }).serialized), .text(update.voteID),
                  .time(update.at)])
    }
}
