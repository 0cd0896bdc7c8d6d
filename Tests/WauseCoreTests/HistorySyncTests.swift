import FoundationEssentials
import SwiftProtobuf
import Testing
import WauseBinary
@testable import WauseCore
import WauseProto
import WauseProtocol
import WauseSupport
import WauseTestSupport

/// History sync (issue 15): a chunk inflates and parses (HistorySyncBlob), reads the way the
/// reference clients read it (HistorySync.chunk: order, edits, revokes, names, LID pairs), files
/// in one transaction through the live insert functions — once, however often it arrives and
/// whatever already came live — and a notification kept before its receipt is filed after a
/// restart.
@Suite struct HistorySyncTests {
    let now = UnixTime(seconds: 1_763_000_000)
    let alice = "15550001111"
    let aliceLID = "2011111"

    func info(_ id: String, chat: String, fromMe: Bool, t: Int64, text: String) -> WAWebProtobufsHistorySync_WebMessageInfo {
        var info = WAWebProtobufsHistorySync_WebMessageInfo()
        info.key.remoteJid = chat
        info.key.fromMe = fromMe
        info.key.id = id
        info.message.conversation = text
        info.messageTimestamp = UInt64(t)
        return info
    }

    /// Alice's chat as the phone sends it: newest first, with an edit of the first message and a revoke of the second.
    func sampleSync() -> WAWebProtobufsHistorySync_HistorySync {
        var conversation = WAWebProtobufsHistorySync_Conversation()
        conversation.id = "\(alice)@c.us"
        conversation.lidJid = "\(aliceLID)@lid"
        conversation.unreadCount = 1
        conversation.archived = true
        conversation.tcToken = Data([9, 9])
        conversation.tcTokenTimestamp = UInt64(now.seconds)
        var edit = info("E1", chat: conversation.id, fromMe: true, t: now.seconds - 10, text: "")
        edit.message = WAWebProtobufsE2E_Message()
        edit.message.protocolMessage.type = .messageEdit
        edit.message.protocolMessage.key.id = "M1"
        edit.message.protocolMessage.editedMessage.conversation = "lunch at noon (edited)"
        var revoke = info("R1", chat: conversation.id, fromMe: false, t: now.seconds - 5, text: "")
        revoke.message = WAWebProtobufsE2E_Message()
        revoke.message.protocolMessage.type = .revoke
        revoke.message.protocolMessage.key.id = "M2"
        var image = info("M3", chat: conversation.id, fromMe: false, t: now.seconds - 20, text: "")
        image.message = WAWebProtobufsE2E_Message()
        image.message.imageMessage.caption = "the garden photo"
        image.message.imageMessage.mimetype = "image/jpeg"
        image.message.imageMessage.fileLength = 1234
        image.message.imageMessage.mediaKey = Data(repeating: 1, count: 32)
        image.message.imageMessage.directPath = "/v/t62.7118-24/x.enc"
        let newestFirst = [edit, revoke, image,
                           info("M2", chat: conversation.id, fromMe: false, t: now.seconds - 30, text: "secret"),
                           info("M1", chat: conversation.id, fromMe: true, t: now.seconds - 40, text: "lunch at noon")]
        conversation.messages = newestFirst.map { message in
            var item = WAWebProtobufsHistorySync_HistorySyncMsg()
            item.message = message
            return item
        }
        var sync = WAWebProtobufsHistorySync_HistorySync()
        sync.syncType = .initialBootstrap
        sync.conversations = [conversation]
        var name = WAWebProtobufsHistorySync_Pushname()
        name.id = "\(alice)@s.whatsapp.net"
        name.pushname = "Alice"
        sync.pushnames = [name]
        return sync
    }

    @Test func aBlobRoundTripsAndBadBlobsAreClearErrors() throws {
        let sync = sampleSync()
        let blob = try HistorySyncBlob.encode(sync)
        #expect(blob.first == 0x78)  // a zlib header (RFC 1950), not raw deflate or gzip
        #expect(try HistorySyncBlob.decode(blob) == sync)
        #expect(throws: WauseError.self) { try HistorySyncBlob.decode([1, 2, 3, 4]) }
        // Inflation is bounded.
        #expect(throws: WauseError.self) { try HistorySyncBlob.decode(blob, limit: 16) }
        // Valid zlib around bytes that are not a HistorySync (a required field missing).
        let notHistory = try Zlib.deflate([0x12, 0x00])
        #expect { try HistorySyncBlob.decode(notHistory) } throws: { ($0 as? WauseError)?.code == .invalidRequest }
    }

    @Test func aChunkReadsOldestFirstWithEditsRevokesNamesAndPairs() throws {
        let chunk = HistorySync.chunk(from: sampleSync(), ownJID: nil)
        #expect(chunk.pushNames.map(\.name) == ["Alice"])
        #expect(chunk.mappings.map(\.phone) == [alice] && chunk.mappings.map(\.lid) == [aliceLID])
        let conversation = try #require(chunk.conversations.first)
        #expect(conversation.jid.description == "\(alice)@s.whatsapp.net")
        #expect(conversation.messages.map(\.record.id) == ["M1", "M2", "M3", "M1"])
        // The edit carries the original id with the new text; the revoke names M2.
        #expect(conversation.messages.last?.record.body == "lunch at noon (edited)")
        #expect(conversation.revoked == ["M2"])
        #expect(conversation.messages[2].media?.type == "image" && conversation.messages[2].record.body == "the garden photo")
        #expect(conversation.privacyToken == [9, 9])
    }

    @Test func aChunkFilesOnceWhateverCameLiveAndTwice() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        // M2 came live first (by phone number, before the LID was known).
        let contact = try store.contact(phone: alice, lid: nil, now: now)
        _ = try store.insertMessage(MessageRecord(id: "M2", chatJID: contact.chatJID, senderJID: contact.chatJID, fromMe: false, type: "chat",
                                                  body: "secret", timestamp: now - .seconds(30)), contactID: contact.id, now: now)
        try store.saveHistorySyncNotification(messageID: "N1", notification: [1], now: now)
        let chunk = HistorySync.chunk(from: sampleSync(), ownJID: nil)
        let first = try store.fileHistoryChunk(chunk, pendingMessageID: "N1", now: now)
        #expect(first.conversations == 1 && first.messages == 2)  // M1 and M3; M2 was there, the edit of M1 is the same id
        #expect(try store.pendingHistorySyncs().isEmpty)
        let again = try store.fileHistoryChunk(chunk, pendingMessageID: nil, now: now)
        #expect(again.messages == 0)
        let messages = try store.messages(chat: contact.chatJID, before: nil, after: nil, limit: 100)
        // Conversation order (timestamp), not filing order: M2 came first but is newer than M1.
        #expect(messages.map(\.id) == ["M1", "M2", "M3"])
        #expect(messages.first { $0.id == "M2" }?.deleted == true)
        #expect(messages.first { $0.id == "M1" }?.body == "lunch at noon (edited)" && messages.first { $0.id == "M1" }?.edited == true)
        #expect(try store.lid(ofPhone: alice) == aliceLID)
        #expect(try store.contact(phone: alice, lid: nil, now: now).pushName == "Alice")
        #expect(try store.searchMessages("garden", chat: nil, limit: 10).map(\.0.id) == ["M3"])
        let summary = try #require(try store.chatSummary(jid: contact.chatJID)?.objectValue)
        #expect(summary["unread_count"] == .int(1) && summary["archived"] == .bool(true))
        #expect(try PrivacyTokenExchange.heldToken(for: JID(user: alice, server: .whatsApp), store: store, now: now) == [9, 9])
    }

    /// Issue 15, item 1: history that lands after live messages lists before them (timestamp order,
    /// row id breaking ties), and the paging cursors, include_context's neighbours and the export
    /// walk follow that order too.
    @Test func historyFiledAfterLiveMessagesListsInTimestampOrderAndPagesAcross() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        let contact = try store.contact(phone: alice, lid: nil, now: now)
        // Two live messages first: one now, and one with the same second as a history message (the row id breaks the tie).
        for (id, offset) in [("L1", 0), ("L0", -25)] {
            _ = try store.insertMessage(MessageRecord(id: id, chatJID: contact.chatJID, senderJID: contact.chatJID, fromMe: false, type: "chat",
                                                      body: id, timestamp: now + .seconds(Int64(offset))), contactID: contact.id, now: now)
        }
        var conversation = WAWebProtobufsHistorySync_Conversation()
        conversation.id = "\(alice)@s.whatsapp.net"
        conversation.messages = [("H4", 10), ("H3", 20), ("H2", 25), ("H1", 30)].map { id, ago in
            var item = WAWebProtobufsHistorySync_HistorySyncMsg()
            item.message = info(id, chat: conversation.id, fromMe: false, t: now.seconds - Int64(ago), text: id)
            return item
        }
        var sync = WAWebProtobufsHistorySync_HistorySync()
        sync.syncType = .onDemand
        sync.conversations = [conversation]
        #expect(try store.fileHistoryChunk(HistorySync.chunk(from: sync, ownJID: nil), pendingMessageID: nil, now: now).messages == 4)
        let expected = ["H1", "L0", "H2", "H3", "H4", "L1"]
        #expect(try store.messages(chat: contact.chatJID, before: nil, after: nil, limit: 100).map(\.id) == expected)
        #expect(try store.messages(chat: nil, before: nil, after: nil, limit: 100).map(\.id) == expected)
        // Newest page first, then backwards from its first message's cursor, then forwards again.
        let newest = try store.messages(chat: contact.chatJID, before: nil, after: nil, limit: 2)
        #expect(newest.map(\.id) == ["H4", "L1"])
        let older = try store.messages(chat: contact.chatJID, before: newest[0].rowid, after: nil, limit: 3)
        #expect(older.map(\.id) == ["L0", "H2", "H3"])
        let oldest = try store.messages(chat: nil, before: older[0].rowid, after: nil, limit: 3)
        #expect(oldest.map(\.id) == ["H1"])
        let forwards = try store.messages(chat: contact.chatJID, before: nil, after: oldest[0].rowid, limit: 2)
        #expect(forwards.map(\.id) == ["L0", "H2"])
        #expect(try store.messages(chat: contact.chatJID, before: nil, after: forwards[1].rowid, limit: 10).map(\.id) == ["H3", "H4", "L1"])
        // include_context's neighbours, and the export walk, in the same order.
        let h2 = try #require(forwards.last)
        #expect(try store.context(around: h2, count: 2).map(\.id) == ["H1", "L0", "H3", "H4"])
        var exported: [String] = []
        try store.forEachMessage(chat: contact.chatJID, batch: 4) { page in exported += page.map(\.id) }
        #expect(exported == expected)
        // A cursor whose message is gone is a clear error naming the field, not a silently wrong page.
        try store.deleteMessageLocally(rowid: h2.rowid)
        #expect { try store.messages(chat: nil, before: h2.rowid, after: nil, limit: 5) } throws: { error in
            (error as? WauseError)?.code == .invalidRequest && (error as? WauseError)?.details?["field"] == "before_cursor"
        }
    }

    /// Issue 15: reactions and poll votes the phone already applied, and a poll's secret kept beside
    /// the message (WebMessageInfo fields 41, 45 and 49), land as live ones do: one reaction per
    /// person with the newer one winning whichever came first, votes tallied, the secret where a
    /// later vote is decrypted from.
    @Test func reactionsVotesAndSecretsInTheHistoryLandAsLiveOnesDo() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        _ = try store.deviceIdentity(creatingWith: SeededRandom(seed: 0x15).bytes, now: now)
        try store.database.withConnection { (c) throws(WauseError) in
            try c.execute("UPDATE device SET jid = '15550009999:3@s.whatsapp.net' WHERE id = 1")
        }
        let me = "15550009999@s.whatsapp.net", alicePhone = "\(alice)@s.whatsapp.net"
        // M1 (ours) came live, and Alice's 👍 on it too, at now - 5.
        let contact = try store.contact(phone: alice, lid: aliceLID, now: now)
        _ = try store.insertMessage(MessageRecord(id: "M1", chatJID: contact.chatJID, senderJID: nil, fromMe: true, type: "chat",
                                                  body: "lunch?", timestamp: now - .seconds(60)), contactID: contact.id, now: now)
        let target = MessageChange.Target(id: "M1", chat: contact.chatJID, fromMe: true, participant: nil)
        _ = try store.applyChange(.reaction(target, emoji: "👍", at: (now - .seconds(5)).milliseconds), targetFromMe: true, by: alicePhone,
                                  at: now - .seconds(5)) { _ in true }

        let secret = [UInt8](repeating: 7, count: 32)
        func reaction(fromMe: Bool, participant: String? = nil, _ emoji: String, ago: Int64) -> WAWebProtobufsHistorySync_Reaction {
            var reaction = WAWebProtobufsHistorySync_Reaction()
            reaction.key.remoteJid = "\(alice)@s.whatsapp.net"
            reaction.key.fromMe = fromMe
            if let participant { reaction.key.participant = participant }
            reaction.text = emoji
            reaction.senderTimestampMs = (now - .seconds(ago)).milliseconds
            return reaction
        }
        func sync(aliceReaction: String, aliceAgo: Int64) -> WAWebProtobufsHistorySync_HistorySync {
            var m1 = info("M1", chat: "\(alice)@s.whatsapp.net", fromMe: true, t: now.seconds - 60, text: "lunch?")
            // Alice by her LID: the same person as the live 👍 by phone number.
            m1.reactions = [reaction(fromMe: false, participant: "\(aliceLID)@lid", aliceReaction, ago: aliceAgo),
                            reaction(fromMe: true, "🎉", ago: 3)]
            var poll = info("P1", chat: "\(alice)@s.whatsapp.net", fromMe: false, t: now.seconds - 50, text: "")
            poll.message = PollMessage.Creation(question: "Dinner?", options: ["Thai", "Pasta"], selectableCount: 1, secret: secret).message
            poll.message.messageContextInfo.clearMessageSecret()
            poll.messageSecret = Data(secret)
            var vote = WAWebProtobufsHistorySync_PollUpdate()
            vote.pollUpdateMessageKey.remoteJid = "\(alice)@s.whatsapp.net"
            vote.pollUpdateMessageKey.fromMe = true
            vote.pollUpdateMessageKey.id = "V1"
            vote.vote.selectedOptions = [Data(PollVoteCrypto.optionHash("Pasta"))]
            vote.senderTimestampMs = (now - .seconds(40)).milliseconds
            poll.pollUpdates = [vote]
            var conversation = WAWebProtobufsHistorySync_Conversation()
            conversation.id = "\(alice)@s.whatsapp.net"
            conversation.messages = [poll, m1].map { message in
                var item = WAWebProtobufsHistorySync_HistorySyncMsg()
                item.message = message
                return item
            }
            var sync = WAWebProtobufsHistorySync_HistorySync()
            sync.syncType = .recent
            sync.conversations = [conversation]
            return sync
        }
        func reactions() throws -> [String: String] {
            let m1 = try #require(try store.message(id: "M1", fromMe: true))
            var byPerson: [String: String] = [:]
            for (by, value) in m1.reactions { byPerson[by] = value.objectValue?["emoji"]?.stringValue }
            return byPerson
        }

        // Alice's ❤️ in the history is older than her live 👍: the 👍 stays; ours is added. Filed twice: the same.
        let older = HistorySync.chunk(from: sync(aliceReaction: "❤️", aliceAgo: 10), ownJID: nil)
        #expect(older.conversations.first?.reactions.count == 2 && older.conversations.first?.pollUpdates.count == 1)
        for _ in 0..<2 {
            _ = try store.fileHistoryChunk(older, pendingMessageID: nil, now: now)
            #expect(try reactions() == [alicePhone: "👍", me: "🎉"])
        }
        // A newer one of hers in a later chunk replaces it; an empty one takes it back.
        _ = try store.fileHistoryChunk(HistorySync.chunk(from: sync(aliceReaction: "😮", aliceAgo: 1), ownJID: nil), pendingMessageID: nil, now: now)
        #expect(try reactions() == [alicePhone: "😮", me: "🎉"])
        _ = try store.fileHistoryChunk(HistorySync.chunk(from: sync(aliceReaction: "", aliceAgo: 0), ownJID: nil), pendingMessageID: nil, now: now)
        #expect(try reactions() == [me: "🎉"])
        // A live reaction older than the one filed changes nothing either.
        _ = try store.applyChange(.reaction(target, emoji: "👎", at: (now - .seconds(20)).milliseconds), targetFromMe: true, by: me,
                                  at: now - .seconds(20)) { _ in true }
        #expect(try reactions() == [me: "🎉"])

        // The poll keeps its secret where a live poll does, and our vote from the history counts.
        let (poll, creation) = try #require(try Polls.poll(id: "P1", fromMe: false, store: store))
        #expect(creation.secret == secret && creation.options == ["Thai", "Pasta"])
        #expect(try store.pollVotes(pollRowid: poll.rowid).map(\.voter) == [me])
        #expect(try store.pollVotes(pollRowid: poll.rowid).map(\.options) == [["Pasta"]])
    }

    /// A message of ours goes as far as the history's receipts say (`userReceipt`, WebMessageInfo field 40).
    @Test func userReceiptsInTheHistoryRaiseOurMessagesStatus() {
        var sent = info("S1", chat: "\(alice)@s.whatsapp.net", fromMe: true, t: now.seconds, text: "hi")
        sent.status = .serverAck
        #expect(HistorySync.status(sent) == .sent)
        var delivered = WAWebProtobufsHistorySync_UserReceipt()
        delivered.userJid = "\(alice)@s.whatsapp.net"
        delivered.receiptTimestamp = now.seconds
        sent.userReceipt = [delivered]
        #expect(HistorySync.status(sent) == .delivered)
        sent.userReceipt[0].readTimestamp = now.seconds + 5
        #expect(HistorySync.status(sent) == .read)
        sent.userReceipt = []
        sent.status = .read
        #expect(HistorySync.status(sent) == .read)
    }

    @Test func aKeptNotificationIsFiledAfterARestart() async throws {
        let temp = TemporaryDirectory()
        var notification = WAWebProtobufsE2E_HistorySyncNotification()
        notification.syncType = .initialBootstrap
        notification.chunkOrder = 0
        notification.progress = 100
        notification.initialHistBootstrapInlinePayload = Data(try HistorySyncBlob.encode(sampleSync()))
        do {
            let store = try Store(directory: temp.path)
            let sync = try Self.historySync(store)
            try sync.accept(notification, messageID: "N1")
            try sync.accept(notification, messageID: "N1")  // a redelivery is kept once
            store.close()  // "killed" before filing
        }
        let store = try Store(directory: temp.path)
        defer { store.close() }
        #expect(try store.pendingHistorySyncs().map(\.messageID) == ["N1"])
        let sync = try Self.historySync(store)
        let pending = try #require(try store.pendingHistorySyncs().first)
        try await sync.file(messageID: pending.messageID, notificationBytes: pending.notification)
        #expect(try store.pendingHistorySyncs().isEmpty)
        #expect(try store.messages(chat: "\(alice)@s.whatsapp.net", before: nil, after: nil, limit: 10).count == 3)
        let events = try EventLog(store: store, clock: { now }).events(after: 0, limit: 10)
        let progress = try #require(events.first { $0.name == "history.progress" })
        #expect(progress.data["sync_type"] == "initial_bootstrap" && progress.data["progress"] == .int(100)
                && progress.data["messages"] == .int(3) && progress.data["conversations"] == .int(1))
    }

    static func historySync(_ store: Store) throws -> HistorySync {
        let environment = testEnvironment()
        let logger = Logger(label: "test", level: .error)
        let publisher = EventPublisher(events: try EventLog(store: store, clock: environment.now), status: ConnectionStatus(.stopped),
                                       logger: logger)
        return HistorySync(store: store, media: nil, publisher: publisher, environment: environment, logger: logger,
                           messaging: Messaging(store: store, environment: environment, publisher: publisher), link: ServerLink())
    }
}
