import Testing
@testable import WauseCore
@testable import WauseSim
import WauseTestSupport
import WauseSupport

/// History sync beyond the messages (issue 15) between a real `WauseClient` and a virtual phone:
/// a poll the phone made before the client linked arrives only through the history, with its
/// secret beside it and the vote already cast; a vote cast after linking is decrypted with that
/// secret and replaces the old one; a reaction from the history and one that arrives live later
/// are one entry per person.
@Suite struct HistorySyncEngineTests {
    static let ada = "15550007701", carol = "15550007703"

    static func results(_ client: WauseClient, _ poll: String) async throws -> [String: [String]] {
        let results = try await client.call("whatsapp_get_poll_results", ["message_id": .string(poll)]).get()
        var voters: [String: [String]] = [:]
        for option in results["options"]?.arrayValue ?? [] {
            voters[option["name"]?.stringValue ?? ""] = option["voters"]?.arrayValue?.compactMap(\.stringValue) ?? []
        }
        return voters
    }

    @Test func aPollFromHistoryCountsVotesCastBeforeAndAfterLinking() async throws {
        let setup = try await MessagingTests.Setup()
        defer { Task { await setup.close() } }
        _ = try setup.account(Self.ada, "Ada")
        _ = try setup.account(Self.carol, "Carol")
        let carolJID = "\(Self.carol)@s.whatsapp.net"

        // Before any companion: Ada's phone sends a poll, Carol votes and reacts to it.
        let sent = await admin(setup.simulator, "POST", "/accounts/\(Self.ada)/send",
                               ["to": .string(Self.carol), "type": "poll", "question": "Dinner?", "options": ["Thai", "Pasta"]])
        #expect(sent.status == 200, "\(sent.json)")
        let pollID = try #require(sent.json["message_id"]?.stringValue)
        _ = try await MessageChangesTests.change(setup.simulator, Self.carol, kind: "poll")
        #expect(await admin(setup.simulator, "POST", "/accounts/\(Self.carol)/vote", ["message_id": .string(pollID), "options": ["Thai"]]).status == 200)
        #expect(await admin(setup.simulator, "POST", "/accounts/\(Self.carol)/react", ["message_id": .string(pollID), "emoji": "❤️"]).status == 200)
        _ = try await MessageChangesTests.change(setup.simulator, Self.ada, kind: "vote") { $0["change"]?["decrypted"] == true }
        _ = try await MessageChangesTests.change(setup.simulator, Self.ada, kind: "reaction")
        // Ada votes in her own poll from the phone: the history carries her vote too.
        #expect(await admin(setup.simulator, "POST", "/accounts/\(Self.ada)/vote", ["message_id": .string(pollID), "options": ["Pasta"]]).status == 200)
        _ = try await MessageChangesTests.change(setup.simulator, Self.carol, kind: "vote") { $0["change"]?["options"] == ["Pasta"] }

        let client = try await setup.linkedClient(Self.ada)
        let adaJID = "\(Self.ada)@s.whatsapp.net"
        try await poll { try await Self.results(client, pollID) == ["Thai": [carolJID], "Pasta": [adaJID]] }
        let stored = try #require(try await MessageChangesTests.stored(client, chat: Self.carol, id: pollID))
        #expect(stored["reactions"]?.arrayValue?.map { [$0["by"], $0["emoji"]] } == [[.string(carolJID), "❤️"]], "\(stored)")

        // After linking: the changed vote decrypts with the secret the history carried; the new reaction replaces the old.
        #expect(await admin(setup.simulator, "POST", "/accounts/\(Self.carol)/vote", ["message_id": .string(pollID), "options": ["Pasta"]]).status == 200)
        try await poll { try await Self.results(client, pollID) == ["Thai": [], "Pasta": [carolJID, adaJID]] }
        #expect(await admin(setup.simulator, "POST", "/accounts/\(Self.carol)/react", ["message_id": .string(pollID), "emoji": "🔥"]).status == 200)
        try await poll {
            let message = try await MessageChangesTests.stored(client, chat: Self.carol, id: pollID)
            return message?["reactions"]?.arrayValue?.map { [$0["by"], $0["emoji"]] } == [[.string(carolJID), "🔥"]]
        }
    }
}
