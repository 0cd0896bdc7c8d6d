import FoundationEssentials
import SwiftProtobuf
import WauseBinary
import WauseCrypto
import WauseHTTP
import WauseProto
import WauseProtocol
import WauseSQLite
import WauseSupport

/// A virtual phone's history, and the history sync it sends its companions (issue 15;
/// whatsmeow message.go and historysync.go, Baileys src/Utils/history.ts), as the phone does:
///
/// - Its history is what it sent (`phone_sent`) and received (`inbox`, its companions' copies
///   included) through the simulator, plus what the admin API seeded (`phone_history`:
///   `POST /accounts/{phone}/history`).
/// - A newly linked companion gets it once, after its first prekey upload (the phone needs its
///   keys to encrypt): chunked `HistorySync` protobufs, most recent chats first, zlib-deflated,
///   the first (INITIAL_BOOTSTRAP) inline in its notification when small (the companion offers
///   `inlineInitialPayloadInE2EeMsg`), the others encrypted as `md-msg-hist` media and put on the
///   media host, each announced by a `HistorySyncNotification` protocol message over Signal
///   (`category="peer"`), then the push names (PUSH_NAME). All of it is queued in one
///   transaction with the mark that it was sent, so a sim stopped half-way sends it whole or
///   not at all. The window the companion asked for at registration (DeviceProps
///   HistorySyncConfig `recentSyncDaysLimit`, `fullSyncSizeMbLimit`) bounds it; 0 days is none.
/// - A `PeerDataOperationRequest` HISTORY_SYNC_ON_DEMAND from a companion is answered with an
///   ON_DEMAND chunk of that chat's messages before the one named (`peerDataRequestSessionID` =
///   the request's message id).
struct PhoneHistory {
    let phones: VirtualPhones
    var state: SimState { phones.state }

    /// Messages per chunk (the phone's RECENT chunks hold a few thousand).
    static let messagesPerChunk = 2500
    /// An INITIAL_BOOTSTRAP blob at most this large travels inline.
    static let inlineLimit = 64 * 1024

    static let schema = """
    -- What the admin API seeded as a phone's history (PhoneHistory.swift); `message` is the Message protobuf.
    CREATE TABLE phone_history (
        phone      TEXT NOT NULL REFERENCES accounts(phone) ON DELETE CASCADE,
        message_id TEXT NOT NULL,
        chat       TEXT NOT NULL,
        from_me    INTEGER NOT NULL,
        t          INTEGER NOT NULL,
        message    BLOB NOT NULL,
        PRIMARY KEY (phone, message_id)
    );
    CREATE INDEX phone_history_by_chat ON phone_history (phone, chat, t);
    -- Companions owed a history sync: the window each asked for, and when it was sent.
    CREATE TABLE history_links (
        phone   TEXT NOT NULL,
        device  INTEGER NOT NULL,
        days    INTEGER,
        size_mb INTEGER,
        sent_at INTEGER,
        PRIMARY KEY (phone, device)
    );
    """

    /// Reactions seeded with a history message (`reactions: [{from_me | sender, emoji, timestamp}]`).
    static let reactionsSchema = """
    -- Reactions the admin API seeded on a phone's history messages (PhoneHistory.swift); `reactor` '' is the phone itself.
    CREATE TABLE phone_history_reactions (
        phone      TEXT NOT NULL REFERENCES accounts(phone) ON DELETE CASCADE,
        message_id TEXT NOT NULL,
        reactor    TEXT NOT NULL,
        emoji      TEXT NOT NULL,
        t_ms       INTEGER NOT NULL,
        PRIMARY KEY (phone, message_id, reactor)
    );
    """

    struct Entry {
        var chat: JID
        var id: String
        var fromMe: Bool
        var t: Int64
        var message: WAWebProtobufsE2E_Message
        /// What the phone shows on the message: reactions (one per person, the latest) and, on a poll, each voter's latest vote.
        var reactions: [WAWebProtobufsHistorySync_Reaction] = []
        var pollUpdates: [WAWebProtobufsHistorySync_PollUpdate] = []
    }

    // MARK: Seeding (admin API)

    /// `POST /accounts/{phone}/history {chats: [{with, messages: [{from_me, text, timestamp, id?, reactions?}]}]}` or
    /// `{generate: {chats, messages, seed}}`: answers `{ok, chats, messages}`. A message's `reactions`
    /// (`[{from_me | sender, emoji, timestamp}]`, `sender` the chat's other person) are what the phone shows on it.
    func seed(_ account: SimAccount, body: JSONObject) throws(WauseError) -> JSONObject {
        var rows: [(chat: JID, id: String, fromMe: Bool, t: Int64, message: WAWebProtobufsE2E_Message)] = []
        var reactionRows: [(id: String, reactor: String, emoji: String, ms: Int64)] = []
        let now = phones.environment.now().seconds
        if let generate = body["generate"] {
            guard let spec = generate.objectValue, let chats = spec["chats"]?.intValue, let messages = spec["messages"]?.intValue,
                  (1...10_000).contains(chats), (0...1_000_000).contains(messages)
            else { throw .invalidRequest("generate needs chats (1-10000) and messages (0-1000000), integers") }
            var random = SplitMix64(seed: UInt64(bitPattern: spec["seed"]?.intValue ?? 1))
            let words = ["lunch", "meeting", "tomorrow", "invoice", "holiday", "coffee", "project", "report", "train", "garden",
                         "birthday", "photo", "music", "weekend", "budget", "dinner", "flight", "doctor", "football", "recipe"]
            // Spread over the last 30 days, one chat after another by index, increasing in time.
            let span: Int64 = 30 * 86_400
            for index in 0..<messages {
                let chatIndex = Int(random.next() % UInt64(chats))
                let partner = JID(user: "1999" + String(format7(chatIndex)), server: .whatsApp)
                let t = now - span + Int64(index) * span / Int64(max(messages, 1))
                let text = "history \(index) chat \(chatIndex) \(words[Int(random.next() % 20)]) \(words[Int(random.next() % 20)])"
                var message = WAWebProtobufsE2E_Message()
                if index % 10 == 9 {
                    // Media metadata (the file itself is not on the host: history carries the message, not the file).
                    var image = WAWebProtobufsE2E_ImageMessage()
                    image.mimetype = "image/jpeg"
                    image.caption = text
                    image.fileLength = 1000 + random.next() % 100_000
                    image.fileSha256 = Data(random.bytes(32))
                    image.fileEncSha256 = Data(random.bytes(32))
                    image.mediaKey = Data(random.bytes(32))
                    image.directPath = "/v/t62.7118-24/history-\(index).enc?ccb=11-4"
                    image.width = 640
                    image.height = 480
                    message.imageMessage = image
                } else {
                    message.conversation = text
                }
                let id = "3EB0" + Hex.encode(random.bytes(8)).uppercased()
                rows.append((partner, id, random.next() % 2 == 0, t, message))
            }
        } else {
            guard let chats = body["chats"]?.arrayValue else { throw .invalidRequest("chats (an array) or generate (an object) is required") }
            for (chatIndex, chat) in chats.enumerated() {
                guard let with = chat.objectValue?["with"]?.stringValue, let messages = chat.objectValue?["messages"]?.arrayValue else {
                    throw .invalidRequest("chats[\(chatIndex)] needs with (a phone number or JID) and messages (an array)")
                }
                let jid = try AdminAPI.userChat(with)
                for (index, item) in messages.enumerated() {
                    guard let object = item.objectValue, let text = object["text"]?.stringValue, !text.isEmpty else {
                        throw .invalidRequest("chats[\(chatIndex)].messages[\(index)] needs text (a non-empty string)")
                    }
                    var t = now
                    if let stamp = object["timestamp"], !stamp.isNull {
                        guard let seconds = stamp.intValue else {
                            throw .invalidRequest("chats[\(chatIndex)].messages[\(index)].timestamp must be unix seconds (an integer)")
                        }
                        t = seconds
                    }
                    var message = WAWebProtobufsE2E_Message()
                    message.conversation = text
                    let id = object["id"]?.stringValue ?? ("3EB0" + Hex.encode(phones.environment.randomBytes(8)).uppercased())
                    rows.append((jid, id, object["from_me"]?.boolValue ?? false, t, message))
                    for (reactionIndex, reaction) in (object["reactions"]?.arrayValue ?? []).enumerated() {
                        let at = "chats[\(chatIndex)].messages[\(index)].reactions[\(reactionIndex)]"
                        guard let fields = reaction.objectValue, let emoji = fields["emoji"]?.stringValue, !emoji.isEmpty else {
                            throw .invalidRequest("\(at) needs emoji (a non-empty string)")
                        }
                        var reactor = ""
                        if fields["from_me"]?.boolValue != true {
                            guard let sender = fields["sender"]?.stringValue else { throw .invalidRequest("\(at) needs from_me: true or sender") }
                            let senderJID = try AdminAPI.userChat(sender)
                            guard try forms(of: jid).contains(senderJID.description) else {
                                throw .invalidRequest("\(at).sender must be the chat's other person (\(jid.user))")
                            }
                            reactor = jid.description
                        }
                        var ms = t * 1000
                        if let stamp = fields["timestamp"], !stamp.isNull {
                            guard let seconds = stamp.intValue else { throw .invalidRequest("\(at).timestamp must be unix seconds (an integer)") }
                            ms = seconds * 1000
                        }
                        reactionRows.append((id, reactor, emoji, ms))
                    }
                }
            }
        }
        try state.commit { (c) throws(WauseError) in
            for row in rows {
                try c.execute("INSERT OR REPLACE INTO phone_history (phone, message_id, chat, from_me, t, message) VALUES (?, ?, ?, ?, ?, ?)",
                              [.text(account.phone), .text(row.id), .text(row.chat.description), SQLValue(row.fromMe), .integer(row.t),
                               .blob(try MessageFormat.encode(row.message))])
            }
            for reaction in reactionRows {
                try c.execute("INSERT OR REPLACE INTO phone_history_reactions (phone, message_id, reactor, emoji, t_ms) VALUES (?, ?, ?, ?, ?)",
                              [.text(account.phone), .text(reaction.id), .text(reaction.reactor), .text(reaction.emoji), .integer(reaction.ms)])
            }
        }
        return ["ok": true, "chats": .int(Int64(Set(rows.map(\.chat)).count)), "messages": .int(Int64(rows.count))]
    }

    private func format7(_ value: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, 7 - digits.count)) + digits
    }

    // MARK: The phone's history

    /// Everything the phone holds for 1:1 chats, oldest first.
    func entries(of account: SimAccount, chat: JID? = nil) throws(WauseError) -> [Entry] {
        var entries: [Entry] = []
        var seen = Set<String>()
        let chats = try chat.map { chat throws(WauseError) in try forms(of: chat) }
        func wanted(_ jid: JID) -> Bool { chats?.contains(jid.description) ?? true }
        try state.database.withConnection { (c) throws(WauseError) in
            let seeded = chats.map { chats in
                "SELECT * FROM phone_history WHERE phone = ? AND chat IN (\(Array(repeating: "?", count: chats.count).joined(separator: ", ")))"
            } ?? "SELECT * FROM phone_history WHERE phone = ?"
            for row in try c.query(seeded, [.text(account.phone)] + (chats.map { $0.sorted().map(SQLValue.text) } ?? [])) {
                guard let chat = row["chat"].text.flatMap(JID.init), wanted(chat), let id = row["message_id"].text,
                      let message = try? WAWebProtobufsE2E_Message(serializedBytes: row["message"].blob ?? []) else { continue }
                if seen.insert(id).inserted {
                    entries.append(Entry(chat: chat, id: id, fromMe: row["from_me"].integer == 1, t: row["t"].integer ?? 0, message: message))
                }
            }
            for row in try c.query("SELECT * FROM phone_sent WHERE phone = ?", [.text(account.phone)]) {
                guard let chat = row["chat"].text.flatMap(JID.init), chat.server != .group, wanted(chat), let id = row["message_id"].text,
                      let message = try? WAWebProtobufsE2E_Message(serializedBytes: row["payload"].blob ?? []) else { continue }
                // A reaction, edit, revoke or vote is not a message of the history: it shows on the message it changes.
                if MessageChange(message) != nil || PollMessage.Vote(message) != nil { continue }
                if seen.insert(id).inserted {
                    entries.append(Entry(chat: JID(user: chat.user, server: chat.server), id: id, fromMe: true, t: row["t"].integer ?? 0,
                                         message: message))
                }
            }
            for row in try c.query("SELECT * FROM inbox WHERE phone = ? AND text IS NOT NULL ORDER BY cursor", [.text(account.phone)]) {
                // Polls it received belong to the history (a vote may come later); other changes show on their messages.
                guard let chat = row["chat"].text.flatMap(JID.init), chat.server == .whatsApp || chat.server == .lid, wanted(chat),
                      let id = row["message_id"].text,
                      row["change"].text.map({ (try? JSONValue.parse($0))?["kind"]?.stringValue == "poll" }) ?? true else { continue }
                var message = row["raw"].blob.flatMap { try? WAWebProtobufsE2E_Message(serializedBytes: $0) } ?? WAWebProtobufsE2E_Message()
                if message.hasDeviceSentMessage { message = message.deviceSentMessage.message }
                if MessageFormat.text(of: message) == nil, row["media"].text == nil { message.conversation = row["text"].text ?? "" }
                if seen.insert(id).inserted {
                    entries.append(Entry(chat: JID(user: chat.user, server: chat.server), id: id, fromMe: row["from_me"].integer == 1,
                                         t: row["timestamp"].integer ?? 0, message: message))
                }
            }
            try attachChanges(of: account, to: &entries, c)
        }
        return entries.sorted { $0.t != $1.t ? $0.t < $1.t : $0.id < $1.id }
    }

    /// The reactions and poll votes the phone shows on `entries`: seeded ones, the ones it sent, and
    /// the ones it received (its companions' included) — each person's latest; a reaction taken back
    /// shows no more. Votes are those the phone could decrypt: its inbox's `options`, and its own.
    private func attachChanges(of account: SimAccount, to entries: inout [Entry], _ c: SQLiteConnection) throws(WauseError) {
        var reactions: [String: [String: (emoji: String, ms: Int64)]] = [:]   // message id → reactor ('' = the phone) → latest
        var votes: [String: [String: (options: [String], ms: Int64, id: String)]] = [:]
        func react(_ id: String, _ reactor: String, _ emoji: String, _ ms: Int64) {
            if let filed = reactions[id]?[reactor], filed.ms > ms { return }
            reactions[id, default: [:]][reactor] = (emoji, ms)
        }
        for row in try c.query("SELECT * FROM phone_history_reactions WHERE phone = ?", [.text(account.phone)]) {
            react(row["message_id"].text ?? "", row["reactor"].text ?? "", row["emoji"].text ?? "", row["t_ms"].integer ?? 0)
        }
        let own = JID(user: account.phone, server: .whatsApp)
        for row in try c.query("SELECT message_id, payload, t FROM phone_sent WHERE phone = ?", [.text(account.phone)]) {
            guard let message = try? WAWebProtobufsE2E_Message(serializedBytes: row["payload"].blob ?? []) else { continue }
            let fallback = (row["t"].integer ?? 0) * 1000
            if case .reaction(let target, let emoji, let at)? = MessageChange(message) {
                react(target.id, "", emoji, at > 0 ? at : fallback)
            } else if let vote = PollMessage.Vote(message), let poll = try phones.knownMessage(of: account, id: vote.poll.id, c),
                      let creation = poll.content.flatMap(PollMessage.Creation.init),
                      let plaintext = PollVoteCrypto.open(vote.payload, iv: vote.iv, secret: creation.secret, pollID: vote.poll.id,
                                                          creators: try phones.userForms(poll.author, c), voters: try phones.userForms(own, c)),
                      let hashes = PollMessage.Vote.selectedHashes(plaintext) {
                // The phone's own vote, which it can read back as any voter's.
                let ms = vote.at > 0 ? vote.at : fallback
                if let filed = votes[vote.poll.id]?[""], filed.ms > ms { continue }
                votes[vote.poll.id, default: [:]][""] = (creation.options.filter { hashes.contains(PollVoteCrypto.optionHash($0)) }, ms,
                                                         row["message_id"].text ?? "")
            }
        }
        for row in try c.query("SELECT * FROM inbox WHERE phone = ? AND change IS NOT NULL ORDER BY cursor", [.text(account.phone)]) {
            guard let change = row["change"].text.flatMap({ try? JSONValue.parse($0) }), let kind = change["kind"]?.stringValue,
                  let target = change["message_id"]?.stringValue,
                  let message = row["raw"].blob.flatMap({ try? WAWebProtobufsE2E_Message(serializedBytes: $0) }) else { continue }
            let fromMe = row["from_me"].integer == 1
            let sender = (row["author"].text ?? row["from_jid"].text).flatMap(JID.init).map { JID(user: $0.user, server: $0.server).description }
            let fallback = (row["timestamp"].integer ?? 0) * 1000
            if kind == "reaction", case .reaction(_, let emoji, let at)? = MessageChange(message) {
                react(target, fromMe ? "" : sender ?? "", emoji, at > 0 ? at : fallback)
            } else if kind == "vote", !fromMe, change["decrypted"]?.boolValue == true, let voter = sender,
                      let options = change["options"]?.arrayValue?.compactMap(\.stringValue), let vote = PollMessage.Vote(message) {
                let ms = vote.at > 0 ? vote.at : fallback
                if let filed = votes[target]?[voter], filed.ms > ms { continue }
                votes[target, default: [:]][voter] = (options, ms, row["message_id"].text ?? "")
            }
        }
        for index in entries.indices {
            let entry = entries[index]
            for (reactor, reaction) in (reactions[entry.id] ?? [:]).sorted(by: { $0.value.ms < $1.value.ms }) where !reaction.emoji.isEmpty {
                var shown = WAWebProtobufsHistorySync_Reaction()
                shown.key.remoteJid = entry.chat.description
                shown.key.fromMe = reactor.isEmpty
                shown.key.id = "3EB0" + Hex.encode(Hash.sha256(Array("\(entry.id)/\(reactor)".utf8)).prefix(8)).uppercased()
                shown.text = reaction.emoji
                shown.senderTimestampMs = reaction.ms
                entries[index].reactions.append(shown)
            }
            guard let creation = PollMessage.Creation(entry.message) else { continue }
            for (voter, vote) in (votes[entry.id] ?? [:]).sorted(by: { $0.value.ms < $1.value.ms }) {
                var update = WAWebProtobufsHistorySync_PollUpdate()
                update.pollUpdateMessageKey.remoteJid = entry.chat.description
                update.pollUpdateMessageKey.fromMe = voter.isEmpty
                update.pollUpdateMessageKey.id = vote.id
                update.vote.selectedOptions = creation.options.filter(vote.options.contains).map { Data(PollVoteCrypto.optionHash($0)) }
                update.senderTimestampMs = vote.ms
                entries[index].pollUpdates.append(update)
            }
        }
    }

    /// A chat as the phone may have filed it: its phone JID and, for an account of this server, its LID JID.
    private func forms(of chat: JID) throws(WauseError) -> Set<String> {
        var forms: Set<String> = [JID(user: chat.user, server: chat.server).description]
        if let account = try state.account(jid: chat) { forms.formUnion([account.jid, account.lidJID]) }
        return forms
    }

    // MARK: After linking

    /// Records the window a companion asked for at registration; its history goes after its first prekey upload.
    func noteLinked(phone: String, device: Int, days: Int?, sizeMB: Int?) throws(WauseError) {
        try state.commit { (c) throws(WauseError) in
            try c.execute("INSERT OR REPLACE INTO history_links (phone, device, days, size_mb, sent_at) VALUES (?, ?, ?, ?, NULL)",
                          [.text(phone), .integer(Int64(device)), SQLValue(days.map(Int64.init)), SQLValue(sizeMB.map(Int64.init))])
        }
    }

    /// Sends the phone's history to companion `device` if it is owed one (once per link).
    func sendIfDue(phone: String, device: Int) {
        do {
            guard let row = try state.database.withConnection({ (c) throws(WauseError) in
                try c.query("SELECT * FROM history_links WHERE phone = ? AND device = ? AND sent_at IS NULL",
                            [.text(phone), .integer(Int64(device))]).first
            }), let account = try state.account(phone: phone) else { return }
            let days = row["days"].integer.map(Int.init)
            let sizeMB = row["size_mb"].integer.map(Int.init)
            try send(account, to: SimEndpoint(account: account, device: device), days: days, sizeMB: sizeMB)
        } catch {
            phones.logger.error("virtual phone \(phone): history sync to device \(device) failed: \(error.message)")
        }
    }

    private func send(_ account: SimAccount, to endpoint: SimEndpoint, days: Int?, sizeMB: Int?) throws(WauseError) {
        let now = phones.environment.now().seconds
        var entries = days == 0 ? [] : try entries(of: account)
        if let days, days > 0 { entries = entries.filter { $0.t >= now - Int64(days) * 86_400 } }
        if let sizeMB, sizeMB > 0 {
            // The most recent messages that fit the size asked for.
            var budget = sizeMB << 20
            var kept: [Entry] = []
            for entry in entries.reversed() {
                budget -= ((try? entry.message.serializedBytes() as [UInt8])?.count) ?? 0
                if budget < 0 { break }
                kept.append(entry)
            }
            entries = kept.reversed()
        }
        var chunks: [WAWebProtobufsHistorySync_HistorySync] = []
        let conversations = try self.conversations(entries)
        guard !conversations.isEmpty else {
            // Nothing to tell: no stanza at all, so a companion of a phone without history sees only what it did before.
            try state.commit { (c) throws(WauseError) in
                try c.execute("UPDATE history_links SET sent_at = ? WHERE phone = ? AND device = ?",
                              [.integer(now), .text(account.phone), .integer(Int64(endpoint.device))])
            }
            return
        }
        var current: [WAWebProtobufsHistorySync_Conversation] = []
        var count = 0
        func close(_ type: WAWebProtobufsHistorySync_HistorySync.HistorySyncType) {
            var sync = WAWebProtobufsHistorySync_HistorySync()
            sync.syncType = type
            sync.conversations = current
            chunks.append(sync)
            current = []
            count = 0
        }
        for conversation in conversations {
            current.append(conversation)
            count += conversation.messages.count
            if count >= PhoneHistory.messagesPerChunk { close(chunks.isEmpty ? .initialBootstrap : .recent) }
        }
        if !current.isEmpty || chunks.isEmpty { close(chunks.isEmpty ? .initialBootstrap : .recent) }
        var names = WAWebProtobufsHistorySync_HistorySync()
        names.syncType = .pushName
        names.pushnames = try pushNames(for: conversations.map(\.id))
        var mappings: [WAWebProtobufsHistorySync_PhoneNumberToLIDMapping] = []
        for conversation in conversations where conversation.hasLidJid && conversation.hasPnJid {
            var mapping = WAWebProtobufsHistorySync_PhoneNumberToLIDMapping()
            mapping.pnJid = conversation.pnJid
            mapping.lidJid = conversation.lidJid
            mappings.append(mapping)
        }
        if !chunks.isEmpty { chunks[0].phoneNumberToLidMappings = mappings }
        for index in chunks.indices {
            chunks[index].chunkOrder = UInt32(index)
            chunks[index].progress = UInt32((index + 1) * 100 / chunks.count)
        }
        names.chunkOrder = UInt32(chunks.count)
        chunks.append(names)
        try deliver(chunks, from: account, to: endpoint, sessionID: nil, freshSession: true) { (c) throws(WauseError) in
            try c.execute("UPDATE history_links SET sent_at = ? WHERE phone = ? AND device = ?",
                          [.integer(now), .text(account.phone), .integer(Int64(endpoint.device))])
        }
        phones.logger.info("virtual phone \(account.phone): history sync to device \(endpoint.device): \(conversations.count) chats, "
                           + "\(entries.count) messages in \(chunks.count) chunks")
    }

    /// The conversations of `entries`, most recent chat first, each chat's messages newest first with
    /// `msgOrderID` rising with time (the phone's order, as Baileys history.ts reads it: messages[0] is the newest).
    private func conversations(_ entries: [Entry]) throws(WauseError) -> [WAWebProtobufsHistorySync_Conversation] {
        var byChat: [String: [Entry]] = [:]
        var order: [String] = []
        for entry in entries {
            // One conversation per person: an account's LID chat is filed under its number.
            var key = entry.chat.description
            if entry.chat.server == .lid, let account = try state.account(jid: entry.chat) { key = account.jid }
            if byChat[key] == nil { order.append(key) }
            byChat[key, default: []].append(entry)
        }
        var result: [WAWebProtobufsHistorySync_Conversation] = []
        for key in order {
            let chatEntries = byChat[key] ?? []
            var conversation = WAWebProtobufsHistorySync_Conversation()
            conversation.id = key
            if let jid = JID(key), let account = try state.account(jid: jid) {
                conversation.pnJid = account.jid
                conversation.lidJid = account.lidJID
            }
            let last = chatEntries.last?.t ?? 0
            conversation.conversationTimestamp = UInt64(max(0, last))
            conversation.lastMsgTimestamp = UInt64(max(0, last))
            conversation.unreadCount = 0
            conversation.messages = chatEntries.enumerated().reversed().map { index, entry in
                var info = WAWebProtobufsHistorySync_WebMessageInfo()
                info.key.remoteJid = key
                info.key.fromMe = entry.fromMe
                info.key.id = entry.id
                info.message = entry.message
                // The phone keeps a message's secret beside it, not in it (whatsmeow message.go storeHistoricalMessageSecrets
                // reads WebMessageInfo.messageSecret).
                if entry.message.messageContextInfo.hasMessageSecret {
                    info.messageSecret = entry.message.messageContextInfo.messageSecret
                    info.message.messageContextInfo.clearMessageSecret()
                }
                info.reactions = entry.reactions
                info.pollUpdates = entry.pollUpdates
                info.messageTimestamp = UInt64(max(0, entry.t))
                info.status = entry.fromMe ? .deliveryAck : .read
                var item = WAWebProtobufsHistorySync_HistorySyncMsg()
                item.message = info
                item.msgOrderID = UInt64(index + 1)
                return item
            }
            result.append(conversation)
        }
        return result.sorted { $0.conversationTimestamp > $1.conversationTimestamp }
    }

    private func pushNames(for chats: [String]) throws(WauseError) -> [WAWebProtobufsHistorySync_Pushname] {
        var names: [WAWebProtobufsHistorySync_Pushname] = []
        for chat in chats {
            guard let jid = JID(chat), let account = try state.account(jid: jid) else { continue }
            var name = WAWebProtobufsHistorySync_Pushname()
            name.id = account.jid
            name.pushname = account.pushName
            names.append(name)
        }
        return names
    }

    // MARK: On demand

    /// A companion's HISTORY_SYNC_ON_DEMAND request (whatsmeow BuildHistorySyncRequest, Baileys fetchMessageHistory): up to `onDemandMsgCount`
    /// messages of the chat older than the one named, as one ON_DEMAND chunk.
    func answer(_ request: WAWebProtobufsE2E_PeerDataOperationRequestMessage.HistorySyncOnDemandRequest, requestID: String,
                account: SimAccount, from endpoint: SimEndpoint) throws(WauseError) {
        guard let chat = JID(request.chatJid) else { return }
        var entries = try entries(of: account, chat: chat)
        if request.hasOldestMsgID, let index = entries.firstIndex(where: { $0.id == request.oldestMsgID }) {
            entries = Array(entries[..<index])
        } else if request.hasOldestMsgTimestampMs {
            // Seconds despite the name (whatsmeow BuildHistorySyncRequest).
            entries = entries.filter { $0.t < request.oldestMsgTimestampMs }
        }
        let count = max(1, min(Int(request.onDemandMsgCount == 0 ? 50 : request.onDemandMsgCount), 50))
        entries = Array(entries.suffix(count))
        var sync = WAWebProtobufsHistorySync_HistorySync()
        sync.syncType = .onDemand
        sync.conversations = try conversations(entries)
        if sync.conversations.isEmpty {
            var empty = WAWebProtobufsHistorySync_Conversation()
            empty.id = JID(user: chat.user, server: chat.server).description
            sync.conversations = [empty]
        }
        sync.chunkOrder = 0
        sync.progress = 100
        try deliver([sync], from: account, to: endpoint, sessionID: requestID, also: nil)
        phones.logger.info("virtual phone \(account.phone): on-demand history for \(chat): \(entries.count) messages")
    }

    // MARK: Sending chunks

    /// Encrypts and queues one notification per chunk for `endpoint`, in one transaction with `also`.
    private func deliver(_ chunks: [WAWebProtobufsHistorySync_HistorySync], from account: SimAccount, to endpoint: SimEndpoint,
                         sessionID: String?, freshSession: Bool = false,
                         also: ((SQLiteConnection) throws(WauseError) -> Void)?) throws(WauseError) {
        let environment = phones.environment
        var notifications: [(id: String, payload: [UInt8])] = []
        for chunk in chunks {
            let blob = try HistorySyncBlob.encode(chunk)
            var notification = WAWebProtobufsE2E_HistorySyncNotification()
            notification.syncType = WAWebProtobufsE2E_HistorySyncType(rawValue: chunk.syncType.rawValue) ?? .recent
            notification.chunkOrder = chunk.chunkOrder
            notification.progress = chunk.progress
            if let sessionID { notification.peerDataRequestSessionID = sessionID }
            if chunk.syncType == .initialBootstrap, blob.count <= PhoneHistory.inlineLimit {
                notification.initialHistBootstrapInlinePayload = Data(blob)
            } else {
                let mediaKey = environment.randomBytes(32)
                let encrypted: MediaCrypto.Encrypted
                do { encrypted = try MediaCrypto.encrypt(blob, mediaKey: mediaKey, type: .history) } catch {
                    throw WauseError(.internal, "cannot encrypt a history blob: \(error)")
                }
                // The account's own blob: its companion deletes it once filed (whatsmeow DeleteMedia; MediaServer's DELETE).
                let directPath = try phones.media.store.store(encrypted.body, owners: [account.phone])
                notification.mediaKey = Data(mediaKey)
                notification.directPath = directPath
                notification.fileSha256 = Data(encrypted.result.fileSha256)
                notification.fileEncSha256 = Data(encrypted.result.fileEncSha256)
                notification.fileLength = encrypted.result.fileLength
            }
            var message = WAWebProtobufsE2E_Message()
            message.protocolMessage.type = .historySyncNotification
            message.protocolMessage.historySyncNotification = notification
            let id = MessageFormat.newMessageID(now: environment.now(), ownUser: account.phone, random: environment.randomBytes)
            notifications.append((id, try MessageFormat.encode(message)))
        }
        let sender = SimEndpoint(account: account, device: 0)
        let t = environment.now().seconds
        try phones.signalLock.withLock { _ throws(WauseError) in
            let store = try state.phoneSignalStore(account)
            if freshSession {
                // A newly linked device has a new identity: a session the phone holds under its device number belongs to
                // the device that had that number before (a re-link after logout), and would not decrypt.
                do {
                    try store.deleteSession(for: store.sessionAddress(for: endpoint.jid(.whatsApp), lid: endpoint.account.lid))
                } catch {
                    throw WauseError(.internal, "cannot reset the session with device \(endpoint.device): \(error)")
                }
            }
            var stanzas: [QueuedStanza] = []
            for notification in notifications {
                guard let enc = try phones.encrypt(notification.payload, for: endpoint, form: .whatsApp, store: store) else {
                    throw WauseError(.notConnected, "device \(endpoint.device) of \(account.phone) has no keys yet")
                }
                stanzas.append(QueuedStanza(phone: account.phone, device: endpoint.device, kind: .message,
                                            node: MessageRouter.delivered(id: notification.id, t: t, type: "text", sender: sender,
                                                                          form: .whatsApp, ownDeviceChat: nil, category: "peer",
                                                                          encrypted: [enc])))
            }
            try phones.router.deliver(stanzas) { (c) throws(WauseError) in
                try store.apply(c)
                try also?(c)
            }
        }
    }
}

extension VirtualPhones {
    var history: PhoneHistory { PhoneHistory(phones: self) }
}
