import Testing
import WauseBinary
@testable import WauseCore
@testable import WauseSim
import WauseTestSupport
import WauseSupport
import WauseTransport

/// Reactions, edits, revokes and polls (issue 14) between a real `WauseClient` and the sim's
/// virtual phones over real sockets: both directions, the stored message and history, the
/// events, the 15-minute edit window, and a group poll whose votes from several phones are
/// decrypted and tallied (a changed vote replaces the old one).
@Suite struct MessageChangesTests: LinkedEngineSuite {
    /// The stored message as whatsapp_read_messages shows it.
    static func stored(_ client: WauseClient, chat: String, id: String) async throws -> JSONValue? {
        let read = try await call(client, "whatsapp_read_messages", ["phone_number": .string(chat), "limit": 50])
        return read["messages"]?.arrayValue?.first { $0["id"] == .string(id) }
    }

    /// The phone's inbox row whose change matches.
    static func change(_ simulator: Simulator, _ phone: String, kind: String, where test: (JSONValue) -> Bool = { _ in true }) async throws -> JSONValue {
        var found: JSONValue?
        try await poll {
            found = await MessagingTests.inbox(simulator, phone).first { $0["change"]?["kind"] == .string(kind) && test($0) }
            return found != nil
        }
        return try #require(found)
    }

    @Test func reactEditAndRevokeBothWaysWithAPhone() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        _ = try setup.account("15550001111", "Ada")
        _ = try setup.account("15550003333", "Carol")
        let ada = try await setup.linkedClient("15550001111")

        // Ours → the phone: a reaction, an edit and a revoke arrive as what they are.
        let sent = try await MessagingTests.send(ada, to: "15550003333", "lunch at 12?")
        let id = try #require(sent["message_id"]?.stringValue)
        let reacted = try await Self.call(ada, "whatsapp_react_to_message", ["message_id": .string(id), "emoji": "👍"])
        #expect(reacted["status"] == "sent" && reacted["message"]?["reactions"]?.arrayValue?.first?["emoji"] == "👍", "\(reacted)")
        let reaction = try await Self.change(setup.simulator, "15550003333", kind: "reaction")
        #expect(reaction["change"]?["message_id"] == .string(id) && reaction["change"]?["emoji"] == "👍")

        let edited = try await Self.call(ada, "whatsapp_edit_message", ["message_id": .string(id), "new_text": "lunch at 1?"])
        #expect(edited["status"] == "sent" && edited["message"]?["body"] == "lunch at 1?" && edited["message"]?["edited"] == true)
        let edit = try await Self.change(setup.simulator, "15550003333", kind: "edit")
        #expect(edit["change"]?["message_id"] == .string(id) && edit["change"]?["text"] == "lunch at 1?")
        let afterEdit = try #require(try await Self.stored(ada, chat: "15550003333", id: id))
        #expect(afterEdit["body"] == "lunch at 1?" && afterEdit["edit_history"]?.arrayValue?.first?["body"] == "lunch at 12?")
        // Search finds what the message says now.
        let found = try await Self.call(ada, "whatsapp_search_messages", ["query": "1?"])
        #expect(found["results"]?.arrayValue?.contains { $0["message"]?["id"] == .string(id) } == true, "\(found)")

        let removed = try await Self.call(ada, "whatsapp_react_to_message", ["message_id": .string(id), "emoji": ""])
        #expect(removed["message"]?["reactions"] == .array([]))
        _ = try await Self.change(setup.simulator, "15550003333", kind: "reaction") { $0["change"]?["emoji"] == "" }

        let revoked = try await Self.call(ada, "whatsapp_delete_message", ["message_id": .string(id), "scope": "everyone"])
        #expect(revoked["message"]?["deleted"] == true && revoked["message"]?["body"] == "")
        let revoke = try await Self.change(setup.simulator, "15550003333", kind: "revoke")
        #expect(revoke["change"]?["message_id"] == .string(id))

        // The phone → ours: its message, then its reaction to ours, its edit and its revoke.
        let cursor = ada.events.latestCursor
        let posted = await admin(setup.simulator, "POST", "/accounts/15550003333/send", ["to": "15550001111", "text": "see you thre"])
        let theirs = try #require(posted.json["message_id"]?.stringValue)
        _ = try await MessagingTests.received(ada, text: "see you thre", after: cursor)
        let second = try await MessagingTests.send(ada, to: "15550003333", "great")
        let ours = try #require(second["message_id"]?.stringValue)
        try await poll { await MessagingTests.inbox(setup.simulator, "15550003333").contains { $0["id"] == .string(ours) } }

        #expect(await admin(setup.simulator, "POST", "/accounts/15550003333/react", ["message_id": .string(ours), "emoji": "❤️"]).status == 200)
        let gotReaction = try await MessagingTests.event(ada, "message.reaction", after: cursor) { $0["message_id"] == .string(ours) }
        #expect(gotReaction.data["emoji"] == "❤️" && gotReaction.data["by"] == "15550003333@s.whatsapp.net")
        let withReaction = try #require(try await Self.stored(ada, chat: "15550003333", id: ours))
        #expect(withReaction["reactions"] == [["by": "15550003333@s.whatsapp.net", "emoji": "❤️", "at": gotReaction.data["at"] ?? .null]])

        let editPosted = await admin(setup.simulator, "POST", "/accounts/15550003333/edit", ["message_id": .string(theirs), "text": "see you there"])
        #expect(editPosted.status == 200, "\(editPosted.json)")
        let gotEdit = try await MessagingTests.event(ada, "message.edited", after: cursor) { $0["message_id"] == .string(theirs) }
        #expect(gotEdit.data["new_text"] == "see you there" && gotEdit.data["previous_text"] == "see you thre")
        let afterTheirEdit = try #require(try await Self.stored(ada, chat: "15550003333", id: theirs))
        #expect(afterTheirEdit["body"] == "see you there" && afterTheirEdit["edited"] == true)

        #expect(await admin(setup.simulator, "POST", "/accounts/15550003333/revoke", ["message_id": .string(theirs)]).status == 200)
        _ = try await MessagingTests.event(ada, "message.deleted", after: cursor) { $0["message_id"] == .string(theirs) }
        let afterRevoke = try #require(try await Self.stored(ada, chat: "15550003333", id: theirs))
        #expect(afterRevoke["deleted"] == true && afterRevoke["body"] == "" && afterRevoke["edit_history"] == .array([]))

        // A phone cannot edit what it did not write (the sim refuses, as WhatsApp does).
        #expect(await admin(setup.simulator, "POST", "/accounts/15550003333/edit", ["message_id": .string(ours), "text": "x"]).status == 400)
    }

    @Test func theEditWindowAndWhatMayBeChanged() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        _ = try setup.account("15550001111", "Ada")
        _ = try setup.account("15550003333", "Carol")
        let ada = try await setup.linkedClient("15550001111")

        // A message of ours sent 16 minutes ago: too old to edit or revoke, still fine to react to.
        let now = Environment.live.now()
        let old = MessageRecord(id: "3EB0OLD0000000000000000", chatJID: "15550003333@s.whatsapp.net", senderJID: nil, fromMe: true,
                                type: "chat", body: "old news", timestamp: (now - .seconds(16 * 60)).truncatedToSeconds, status: .sent)
        _ = try ada.store.insertMessage(old, contactID: nil, now: now)
        let late = await Self.error(ada, "whatsapp_edit_message", ["message_id": .string(old.id), "new_text": "new news"])
        #expect(late?.code == .editWindowExpired, "\(String(describing: late))")
        #expect(await Self.error(ada, "whatsapp_delete_message", ["message_id": .string(old.id), "scope": "everyone"])?.code == .editWindowExpired)
        // Nothing was changed or queued by the refused calls.
        #expect(try ada.store.message(id: old.id)?.body == "old news")
        #expect(try ada.store.outboxCount() == 0)

        // Someone else's message is not ours to edit; an unknown id is not_found.
        let cursor = ada.events.latestCursor
        let posted = await admin(setup.simulator, "POST", "/accounts/15550003333/send", ["to": "15550001111", "text": "theirs"])
        let theirs = try #require(posted.json["message_id"]?.stringValue)
        _ = try await MessagingTests.received(ada, text: "theirs", after: cursor)
        #expect(await Self.error(ada, "whatsapp_edit_message", ["message_id": .string(theirs), "new_text": "mine"])?.code == .invalidRequest)
        #expect(await Self.error(ada, "whatsapp_react_to_message", ["message_id": "3EB0NOPE", "emoji": "👍"])?.code == .notFound)
        #expect(await Self.error(ada, "whatsapp_react_to_message", ["message_id": .string(theirs), "emoji": "👍👎"])?.code == .invalidRequest)

        // Delete for me: gone from this device; the phone never shared app-state keys, so not synced, and said so.
        let mine = try await Self.call(ada, "whatsapp_delete_message", ["message_id": .string(theirs), "scope": "me"])
        #expect(mine["status"] == "deleted" && mine["note"]?.stringValue?.contains("not synced") == true, "\(mine)")
        #expect(try await Self.stored(ada, chat: "15550003333", id: theirs) == nil)
    }

    @Test func aGroupPollTalliesVotesFromSeveralPhones() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        _ = try setup.account("15553330001", "Ada")
        for (phone, name) in [("15553330002", "Bea"), ("15553330003", "Cy"), ("15553330004", "Di")] { _ = try setup.account(phone, name) }
        let ada = try await setup.linkedClient("15553330001")
        let created = try await Self.call(ada, "whatsapp_create_group", ["name": "Lunch", "participants": ["15553330002", "15553330003", "15553330004"]])
        let group = try #require(created["group_id"]?.stringValue)

        #expect(await Self.error(ada, "whatsapp_create_poll", ["to": .string(group), "question": "Where?", "options": ["Pizza"]])?.code
            == .invalidRequest)
        #expect(await Self.error(ada, "whatsapp_create_poll", ["to": .string(group), "question": "Where?", "options": ["A", "A"]])?.code
            == .invalidRequest)
        let poll = try await Self.call(ada, "whatsapp_create_poll", ["to": .string(group), "question": "Where?", "options": ["Pizza", "Soup", "Sushi"]])
        #expect(poll["status"] == "sent" || poll["status"] == "delivered", "\(poll)")
        let pollID = try #require(poll["message_id"]?.stringValue)
        for phone in ["15553330002", "15553330003", "15553330004"] {
            let row = try await Self.change(setup.simulator, phone, kind: "poll")
            #expect(row["id"] == .string(pollID) && row["text"] == "Where?" && row["change"]?["options"] == ["Pizza", "Soup", "Sushi"])
            #expect(row["change"]?["multiple_answers"] == false)
        }

        let cursor = ada.events.latestCursor
        func vote(_ phone: String, _ options: [JSONValue]) async throws -> Event {
            let posted = await admin(setup.simulator, "POST", "/accounts/\(phone)/vote", ["message_id": .string(pollID), "options": .array(options)])
            #expect(posted.status == 200, "\(posted.json)")
            let changeID = try #require(posted.json["change_id"])
            return try await MessagingTests.event(ada, "poll.vote", after: cursor) { $0["vote_id"] == changeID }
        }
        _ = try await vote("15553330002", ["Pizza"])
        _ = try await vote("15553330003", ["Soup"])
        _ = try await vote("15553330004", ["Pizza"])
        // Cy changes their mind: the new vote replaces the old one.
        let changed = try await vote("15553330003", ["Pizza"])
        #expect(changed.data["voter"] == "15553330003@s.whatsapp.net" && changed.data["options"] == ["Pizza"])

        let results = try await Self.call(ada, "whatsapp_get_poll_results", ["message_id": .string(pollID)])
        #expect(results["question"] == "Where?" && results["total_voters"] == 3, "\(results)")
        let options = results["options"]?.arrayValue ?? []
        #expect(options.map { $0["name"] } == ["Pizza", "Soup", "Sushi"])
        #expect(options.map { $0["votes"] } == [3, 0, 0])
        #expect(Set((options.first?["voters"]?.arrayValue ?? []).compactMap(\.stringValue))
            == ["15553330002@s.whatsapp.net", "15553330003@s.whatsapp.net", "15553330004@s.whatsapp.net"])

        // The phones decrypt each other's votes with the same formula (the sim's inbox shows them).
        let seen = try await Self.change(setup.simulator, "15553330002", kind: "vote") { $0["from_phone"] == "15553330004" }
        #expect(seen["change"]?["decrypted"] == true && seen["change"]?["options"] == ["Pizza"])
        // A single-answer poll refuses two options; an unknown option is refused.
        #expect(await admin(setup.simulator, "POST", "/accounts/15553330002/vote", ["message_id": .string(pollID), "options": ["Pizza", "Soup"]]).status == 400)
        #expect(await admin(setup.simulator, "POST", "/accounts/15553330002/vote", ["message_id": .string(pollID), "options": ["Tacos"]]).status == 400)
        #expect(await Self.error(ada, "whatsapp_get_poll_results", ["message_id": "3EB0NOPE"])?.code == .notFound)
    }
}

