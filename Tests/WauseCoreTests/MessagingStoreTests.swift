import Testing
@testable import WauseCore
import WauseProto
import WauseSupport
import WauseTestSupport
import WauseProtocol

/// The store side of messaging: one contact per person, history queries, the outbox's steps and
/// status timeline — and the message formats (padding, ids, text unwrapping).
@Suite struct MessagingStoreTests {
    func message(_ id: String, chat: String, fromMe: Bool = false, body: String = "hello", at: Int64 = 1_700_000_000) -> MessageRecord {
        MessageRecord(id: id, chatJID: chat, senderJID: fromMe ? nil : chat, fromMe: fromMe, type: "chat", body: body, timestamp: UnixTime(seconds: at))
    }

    @Test func aPersonReachedByLIDAndByPhoneIsOneContactWithOneChat() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        let byLID = try store.contact(phone: nil, lid: "99887766", pushName: "Ada", now: 1)
        #expect(byLID.chatJID == "99887766@lid")
        _ = try store.insertMessage(message("A1", chat: byLID.chatJID), contactID: byLID.id, now: 2)
        let byPhone = try store.contact(phone: "15551234567", lid: nil, now: 3)
        _ = try store.insertMessage(message("P1", chat: byPhone.chatJID, body: "second"), contactID: byPhone.id, now: 4)
        // The mapping arrives (usync or sender_pn): both become one, the LID chat moves over.
        let merged = try store.contact(phone: "15551234567", lid: "99887766", now: 5)
        #expect(merged.phone == "15551234567" && merged.lid == "99887766" && merged.pushName == "Ada")
        #expect(merged.chatJID == "15551234567@s.whatsapp.net")
        let all = try store.messages(chat: merged.chatJID, before: nil, after: nil, limit: 10)
        #expect(all.map(\.id) == ["A1", "P1"])
        #expect(try store.chatSummary(jid: "99887766@lid") == nil)
        #expect(try store.chatSummary(jid: merged.chatJID)?["unread_count"] == .int(2))
        let count = try store.database.withConnection { (c) throws(WauseError) in try c.scalar("SELECT count(*) FROM contacts") }
        #expect(count == 1)
        // Every way of naming the person finds the same contact.
        for name in ["+1 555 123 4567", "15551234567@s.whatsapp.net", "99887766@lid", "ada", "ADA"] {
            #expect(try Recipients.resolve(name, store: store, now: 6).id == merged.id, "\(name)")
        }
    }

    @Test func namesThatMatchSeveralContactsAreAmbiguous() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        _ = try store.contact(phone: "15550000001", lid: nil, pushName: "Sam", now: 1)
        _ = try store.contact(phone: "15550000002", lid: nil, pushName: "Sam", now: 1)
        #expect(throws: WauseError.self) { try Recipients.resolve("Sam", store: store, now: 2) }
        do {
            _ = try Recipients.resolve("Sam", store: store, now: 2)
        } catch {
            #expect(error.code == .ambiguousRecipient)
            #expect(error.details?["candidates"]?.arrayValue?.count == 2)
        }
        do {
            _ = try Recipients.resolve("Nobody", store: store, now: 2)
            Issue.record("an unknown name resolved")
        } catch {
            #expect(error.code == .notFound)
        }
        for bad in ["", "123@g.us", "abc@lid", "+0123"] {
            #expect(throws: WauseError.self, "\(bad)") { try Recipients.resolve(bad, store: store, now: 2) }
        }
    }

    @Test func aMessageIsFiledOnceAndSearchable() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        let contact = try store.contact(phone: "15551234567", lid: nil, now: 1)
        let first = try store.insertMessage(message("M1", chat: contact.chatJID, body: "lunch next week?"), contactID: contact.id, now: 2)
        let again = try store.insertMessage(message("M1", chat: contact.chatJID, body: "lunch next week?"), contactID: contact.id, now: 3)
        #expect(first.inserted && !again.inserted && first.rowid == again.rowid)
        _ = try store.insertMessage(message("M2", chat: contact.chatJID, body: "dinner tonight"), contactID: contact.id, now: 4)
        #expect(try store.searchMessages("lunch", chat: nil, limit: 5).map(\.0.id) == ["M1"])
        #expect(try store.searchMessages("\"next week\"", chat: contact.chatJID, limit: 5).map(\.0.id) == ["M1"])
        #expect(try store.searchMessages("lunch OR dinner", chat: nil, limit: 5).count == 2)
        #expect(try store.searchMessages("din*", chat: nil, limit: 5).map(\.0.id) == ["M2"])
        // Ordinary text FTS5 rejects is searched as its quoted tokens, ANDed (issue 11).
        _ = try store.insertMessage(message("M3", chat: contact.chatJID, body: "don't forget: 12:30 at hello-bob's, ok?"),
                                    contactID: contact.id, now: 5)
        for text in ["don't", "lunch?", "12:30", "hello-bob", "forget 12:30", "\"unbalanced"] {
            let expected = text == "lunch?" ? ["M1"] : text == "\"unbalanced" ? [] : ["M3"]
            #expect(try store.searchMessages(text, chat: nil, limit: 5).map(\.0.id) == expected, "\(text)")
        }
        do {
            _ = try store.searchMessages("   ", chat: nil, limit: 5)
            Issue.record("a blank search was accepted")
        } catch {
            #expect(error.code == .invalidRequest)
        }
        // Paging: newest before a cursor, oldest after one, always oldest first.
        let page = try store.messages(chat: contact.chatJID, before: nil, after: nil, limit: 2).dropLast()
        #expect(page.map(\.id) == ["M2"])
        #expect(try store.messages(chat: contact.chatJID, before: page[0].rowid, after: nil, limit: 5).map(\.id) == ["M1"])
        #expect(try store.messages(chat: nil, before: nil, after: first.rowid, limit: 5).map(\.id) == ["M2", "M3"])
    }

    @Test func theOutboxKeepsAMessageUntilItIsAckedAndStatusOnlyMovesForward() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        let contact = try store.contact(phone: "15551234567", lid: nil, now: 1)
        var outgoing = message("3EB0AAAA", chat: contact.chatJID, fromMe: true)
        outgoing.status = .queued
        let rowid = try store.enqueue(outgoing, contactID: contact.id, payload: [1, 2, 3], now: 10)
        let entry = try #require(try store.nextOutboxEntry())
        #expect(entry.messageID == "3EB0AAAA" && entry.payload == [1, 2, 3])
        try store.noteOutboxAttempt(entry, error: "link down", nextAttemptAt: 11)
        #expect(try store.nextOutboxEntry()?.attempts == 1)
        try store.markSent(entry, at: 12_000, now: 12)
        #expect(try store.nextOutboxEntry() == nil)
        #expect(try store.message(id: "3EB0AAAA")?.status == .sent)
        #expect(try store.advanceStatus(messageID: "3EB0AAAA", to: .read, device: "15551234567@s.whatsapp.net", at: 14_000))
        // A late delivery receipt is recorded but does not move the status back.
        #expect(try !store.advanceStatus(messageID: "3EB0AAAA", to: .delivered, device: "15551234567:2@s.whatsapp.net", at: 15_000))
        #expect(try store.message(id: "3EB0AAAA")?.status == .read)
        #expect(try store.timeline(rowid: rowid).map(\.status) == [.queued, .sent, .read, .delivered])
    }

    /// Issue 11, item 7: the ack's `t` is whole seconds, `queued` milliseconds; an ack in the
    /// same second as the enqueue must not put `sent` before `queued` in time.
    @Test func sentIsNeverRecordedBeforeQueued() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        let contact = try store.contact(phone: "15551234567", lid: nil, now: 1)
        var outgoing = message("3EB0BBBB", chat: contact.chatJID, fromMe: true)
        outgoing.status = .queued
        let rowid = try store.enqueue(outgoing, contactID: contact.id, payload: [1], now: UnixTime(milliseconds: 1_700_000_000_700))
        let entry = try #require(try store.nextOutboxEntry())
        let at = try store.markSent(entry, at: UnixTime(seconds: 1_700_000_000), now: UnixTime(milliseconds: 1_700_000_000_900))
        let timeline = try store.timeline(rowid: rowid)
        #expect(timeline.map(\.status) == [.queued, .sent])
        #expect(timeline[0].at <= timeline[1].at, "\(timeline)")
        #expect(at == timeline[1].at)
    }

    @Test func paddingIdsAndTextFollowTheReferenceFormats() throws {
        var counter: UInt8 = 0
        let random: (Int) -> [UInt8] = { count in
            counter &+= 1
            return [UInt8](repeating: counter, count: count)
        }
        for _ in 0..<40 {
            let padded = MessageFormat.pad([9, 9, 9], random: random)
            #expect((4...18).contains(padded.count))
            #expect(try MessageFormat.unpad(padded) == [9, 9, 9])
        }
        #expect(throws: WauseError.self) { try MessageFormat.unpad([1, 2, 3, 2]) }
        #expect(throws: WauseError.self) { try MessageFormat.unpad([]) }
        #expect(throws: WauseError.self) { try MessageFormat.unpad([5]) }
        let id = MessageFormat.newMessageID(now: 1_700_000_000_000, ownUser: "15551234567", random: random)
        #expect(id.count == 22 && id.hasPrefix("3EB0") && id.uppercased() == id)

        var inner = WAWebProtobufsE2E_Message()
        inner.extendedTextMessage.text = "reply"
        inner.extendedTextMessage.contextInfo.stanzaID = "3EB0QUOTED"
        var outer = WAWebProtobufsE2E_Message()
        outer.deviceSentMessage.destinationJid = "15551234567@s.whatsapp.net"
        outer.deviceSentMessage.message = inner
        let text = try #require(MessageFormat.text(of: outer))
        #expect(text.body == "reply" && text.quotedID == "3EB0QUOTED" && text.type == "chat")
        var plain = WAWebProtobufsE2E_Message()
        plain.conversation = "hi"
        #expect(MessageFormat.text(of: plain)?.body == "hi")
        #expect(MessageFormat.text(of: WAWebProtobufsE2E_Message()) == nil)
    }
}
