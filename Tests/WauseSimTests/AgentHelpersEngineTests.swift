import Testing
@testable import WauseCore
@testable import WauseSim
import WauseTestSupport
import WauseSupport

/// Issue 14's agent helpers on a real `WauseClient` linked to the sim over real sockets: a phone's
/// quoted reply, reaction and edit as `whatsapp_get_message` shows them, the phone's question in
/// `whatsapp_catch_up` until we answer it, an export of the chat, and `whatsapp_reconnect`
/// dropping the live connection and answering once logged in again (sending still works).
@Suite struct AgentHelpersEngineTests: LinkedEngineSuite {
    @Test func getMessageCatchUpExportAndReconnectWithAPhone() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        _ = try setup.account("15550003333", "Carol")
        let ada = try await setup.linkedAccount("15550001111", "Ada").client

        let sent = try await MessagingTests.send(ada, to: "15550003333", "lunch at 12")
        let ours = try #require(sent["message_id"]?.stringValue)
        try await poll { await MessagingTests.inbox(setup.simulator, "15550003333").contains { $0["id"] == .string(ours) } }
        let cursor = ada.events.latestCursor
        let posted = await admin(setup.simulator, "POST", "/accounts/15550003333/send",
                                 ["to": "15550001111", "text": "which place", "quoted_message_id": .string(ours)])
        #expect(posted.status == 200, "\(posted.json)")
        let theirs = try #require(posted.json["message_id"]?.stringValue)
        _ = try await MessagingTests.received(ada, text: "which place", after: cursor)
        #expect(await admin(setup.simulator, "POST", "/accounts/15550003333/react", ["message_id": .string(ours), "emoji": "👍"]).status == 200)
        _ = try await MessagingTests.event(ada, "message.reaction", after: cursor) { $0["message_id"] == .string(ours) }
        #expect(await admin(setup.simulator, "POST", "/accounts/15550003333/edit", ["message_id": .string(theirs), "text": "which place?"]).status == 200)
        _ = try await MessagingTests.event(ada, "message.edited", after: cursor) { $0["message_id"] == .string(theirs) }

        let got = try await Self.call(ada, "whatsapp_get_message", ["message_id": .string(theirs)])
        #expect(got["message"]?["body"] == "which place?" && got["message"]?["edited"] == true)
        #expect(got["message"]?["edit_history"]?.arrayValue?.first?["body"] == "which place")
        #expect(got["quoted_message"]?["id"] == .string(ours) && got["quoted_message"]?["reactions"]?.arrayValue?.first?["emoji"] == "👍")

        // The edited text asks us something, and nothing of ours came after it.
        let open = try await Self.call(ada, "whatsapp_catch_up", ["since": "1h"])
        #expect(open["questions"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == [theirs], "\(open)")
        #expect(open["chats"]?.arrayValue?.first?["unread_count"] == 1)
        _ = try await MessagingTests.send(ada, to: "15550003333", "the usual")
        #expect(try await Self.call(ada, "whatsapp_catch_up", ["since": "1h"])["questions"] == .array([]))

        let exported = try await Self.call(ada, "whatsapp_export_chat", ["chat": "15550003333", "format": "csv"])
        #expect(exported["summary"]?["count"] == 3)
        #expect(exported["preview"]?["first"]?.arrayValue?.compactMap { $0["body"]?.stringValue } == ["lunch at 12", "which place?", "the usual"])

        let before = ada.events.latestCursor
        let reconnected = try await Self.call(ada, "whatsapp_reconnect", ["timeout": 60])
        #expect(reconnected["state"] == "ready")
        // A new login happened: the old connection went and a new one logged in.
        _ = try await MessagingTests.event(ada, "account.disconnected", after: before) { _ in true }
        try await MessagingTests.waitForLogin(ada, after: before)
        let again = try await MessagingTests.send(ada, to: "15550003333", "still here")
        let againID = try #require(again["message_id"]?.stringValue)
        try await poll { await MessagingTests.inbox(setup.simulator, "15550003333").contains { $0["id"] == .string(againID) } }
    }
}
