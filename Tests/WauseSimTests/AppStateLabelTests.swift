import FoundationEssentials
import Testing
@testable import WauseCore
import WauseProtocol
@testable import WauseSim
import WauseSupport
import WauseTestSupport

/// Labels from the phone (app state's `regular` collection: `label_edit`, `label_jid`,
/// `label_message`; whatsmeow appstate.go dispatchAppState) stored by the engine
/// (Store+AppState.swift, migration 16) and shown in `whatsapp_list_chats` as `labels`.
@Suite struct AppStateLabelTests {
    typealias Setup = MessagingTests.Setup
    static let phone = AppStateEngineTests.phone

    static func labels(_ client: WauseClient, _ jid: String) async throws -> [String]? {
        try await AppStateEngineTests.chat(client, jid)["labels"]?.arrayValue?.compactMap(\.stringValue)
    }

    static func labelEvent(_ client: WauseClient, _ action: String, after cursor: Int64, _ test: (JSONObject) -> Bool = { _ in true }) async throws -> Event {
        try await MessagingTests.event(client, "chat.updated", after: cursor) { $0["action"] == .string(action) && test($0) }
    }

    @Test func thePhonesLabelsShowInChatSummaries() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        _ = try setup.account(Self.phone, "Ada")
        _ = try setup.account("15550002222", "Bob")
        let client = try await setup.linkedClient(Self.phone)
        let bob = "15550002222@s.whatsapp.net", carol = "15550003333@s.whatsapp.net", dave = "15550004444@s.whatsapp.net"

        var cursor = client.events.latestCursor
        try await AppStateEngineTests.change(setup, ["action": "label_edit", "label_id": "1", "value": "VIP", "color": 2])
        let edit = try await Self.labelEvent(client, "label_edit", after: cursor)
        #expect(edit.data["label_id"] == "1" && edit.data["label"] == "VIP" && edit.data["deleted"] == false && edit.data["chat_id"] == .null)
        try await AppStateEngineTests.change(setup, ["action": "label_edit", "label_id": "2", "value": "Pending", "predefined_id": 3])
        try await AppStateEngineTests.change(setup, ["action": "label_chat", "label_id": "1", "chat": "15550002222"])
        try await AppStateEngineTests.change(setup, ["action": "label_chat", "label_id": "2", "chat": "15550002222"])
        try await AppStateEngineTests.change(setup, ["action": "label_chat", "label_id": "1", "chat": "15550003333"])
        let labeled = try await Self.labelEvent(client, "label_chat", after: cursor) { $0["chat_id"] == .string(carol) }
        #expect(labeled.data["label"] == "VIP" && labeled.data["labeled"] == true && labeled.data["source"] == "app_state")
        #expect(try await Self.labels(client, bob) == ["Pending", "VIP"])
        #expect(try await Self.labels(client, carol) == ["VIP"])
        #expect(try client.store.appStateCollection(.regular).version == 5)

        // An association that comes before its label shows once the label does.
        try await AppStateEngineTests.change(setup, ["action": "label_chat", "label_id": "9", "chat": "15550004444"])
        _ = try await Self.labelEvent(client, "label_chat", after: cursor) { $0["chat_id"] == .string(dave) }
        #expect(try await AppStateEngineTests.chat(client, dave)["labels"] == nil)
        try await AppStateEngineTests.change(setup, ["action": "label_edit", "label_id": "9", "value": "Later"])
        _ = try await Self.labelEvent(client, "label_edit", after: cursor) { $0["label_id"] == "9" }
        #expect(try await Self.labels(client, dave) == ["Later"])

        // Taken off, renamed, deleted: the summaries follow, and a chat without labels has no `labels`.
        cursor = client.events.latestCursor
        try await AppStateEngineTests.change(setup, ["action": "label_chat", "label_id": "1", "chat": "15550002222", "value": false])
        let off = try await Self.labelEvent(client, "label_chat", after: cursor) { $0["chat_id"] == .string(bob) }
        #expect(off.data["labeled"] == false)
        #expect(try await Self.labels(client, bob) == ["Pending"])
        try await AppStateEngineTests.change(setup, ["action": "label_edit", "label_id": "2", "value": "Paid"])
        _ = try await Self.labelEvent(client, "label_edit", after: cursor) { $0["label"] == "Paid" }
        #expect(try await Self.labels(client, bob) == ["Paid"])
        try await AppStateEngineTests.change(setup, ["action": "label_edit", "label_id": "2", "deleted": true])
        _ = try await Self.labelEvent(client, "label_edit", after: cursor) { $0["deleted"] == true }
        #expect(try await AppStateEngineTests.chat(client, bob)["labels"] == nil)

        // A message label: stored against the message, announced with its name.
        cursor = client.events.latestCursor
        let posted = await admin(setup.simulator, "POST", "/accounts/15550002222/send", ["to": .string(Self.phone), "text": "order #12"])
        let messageID = try #require(posted.json["message_id"]?.stringValue)
        _ = try await MessagingTests.received(client, text: "order #12", after: cursor)
        try await AppStateEngineTests.change(setup, ["action": "label_message", "label_id": "1", "chat": "15550002222",
                                                     "message_id": .string(messageID)])
        let onMessage = try await Self.labelEvent(client, "label_message", after: cursor)
        #expect(onMessage.data["message_id"] == .string(messageID) && onMessage.data["label"] == "VIP" && onMessage.data["chat_id"] == .string(bob))
        let rows = try client.store.database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT label_id, chat_jid, from_me FROM message_labels WHERE message_id = ?", [.text(messageID)])
        }
        #expect(rows.count == 1 && rows.first?["label_id"].text == "1" && rows.first?["chat_jid"].text == bob && rows.first?["from_me"].integer == 0)
        // Shown on the message where it is read, and only there.
        let got = try await client.call("whatsapp_get_message", ["message_id": .string(messageID)]).get()
        #expect(got["message"]?["labels"] == ["VIP"], "\(got)")
        let listed = try await client.call("whatsapp_list_messages", ["chat": "15550002222"]).get()
        let listedMessages = listed["messages"]?.arrayValue ?? []
        #expect(listedMessages.first { $0["id"] == .string(messageID) }?["labels"] == ["VIP"], "\(listed)")
        #expect(listedMessages.filter { $0["labels"] != nil }.count == 1)

        // The phone's view holds the same, and a device linked now gets it all from the snapshot.
        let view = await admin(setup.simulator, "GET", "/accounts/\(Self.phone)/app-state").json
        #expect(view["labels"]?["2"]?["deleted"] == true && view["labels"]?["1"]?["name"] == "VIP", "\(view)")
        #expect(view["chats"]?.arrayValue?.first { $0["chat"] == .string(carol) }?["labels"] == ["1"])
        #expect(view["labeled_messages"]?.arrayValue?.count == 1)
        let second = try await setup.linkedClient(Self.phone)
        try await poll { (try? second.store.appStateCollection(.regular).version) == (try? client.store.appStateCollection(.regular).version) }
        #expect(try await Self.labels(second, carol) == ["VIP"])
        #expect(try await Self.labels(second, dave) == ["Later"])
        #expect(try await AppStateEngineTests.chat(second, bob)["labels"] == nil)

        // Bad label changes are refused by the sim, and nothing moves.
        let version = try client.store.appStateCollection(.regular).version
        for body: JSONValue in [["action": "label_edit", "value": "x"], ["action": "label_edit", "label_id": "3"],
                                ["action": "label_chat", "label_id": "1"], ["action": "label_message", "label_id": "1", "chat": "15550002222"],
                                ["action": "label_edit", "label_id": "3", "value": "x", "color": "red"]] {
            let refused = await admin(setup.simulator, "POST", "/accounts/\(Self.phone)/app-state", body)
            #expect(refused.status == 400 && refused.json["code"] == "invalid_request", "\(body) → \(refused.json)")
        }
        #expect(try setup.simulator.phones.appState.version(Self.phone, .regular) == version)
    }
}
