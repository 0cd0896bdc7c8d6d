import Testing
import WauseBinary
@testable import WauseCore
import WauseProtocol
@testable import WauseSim
import WauseSupport
import WauseTestSupport

/// The engine's group methods (issue 12) against a real wause-sim over real sockets: two wause
/// clients and a virtual phone; create, info, list, rename, topic, invite link, preview and
/// join by invite, leave, and the errors of a revoked invite and an ambiguous name.
@Suite struct EngineGroupsTests {
    typealias Setup = MessagingTests.Setup

    static func call(_ client: WauseClient, _ name: String, _ arguments: JSONValue) async throws -> JSONObject {
        try await client.call(name, arguments).get()
    }

    static func error(_ client: WauseClient, _ name: String, _ arguments: JSONValue) async -> WauseError? {
        if case .failure(let error) = await client.call(name, arguments) { return error }
        return nil
    }

    @Test func createInfoListRenameTopicInviteJoinAndLeave() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        _ = try setup.account("15551110001", "Alice")
        _ = try setup.account("15551110002", "Bob")
        let carol = try setup.account("15551110003", "Carol")
        let alice = try await setup.linkedClient("15551110001")
        let bob = try await setup.linkedClient("15551110002")

        // Create: Carol is added, a number not on WhatsApp is reported as such; we own the group.
        let created = try await EngineGroupsTests.call(alice, "whatsapp_create_group", [
            "name": "Trip", "participants": ["+1 555 111 0003", "15559990000"],
        ])
        let groupID = try #require(created["group_id"]?.stringValue)
        #expect(groupID.hasSuffix("@g.us"))
        #expect(created["name"] == "Trip")
        let outcomes = created["participants"]?.arrayValue ?? []
        #expect(outcomes.count == 2)
        #expect(outcomes.first { $0["phone"] == "15551110003" }?["status"] == "added")
        #expect(outcomes.first { $0["phone"] == "15559990000" }?["status"] == "not_on_whatsapp")
        let link = try #require(created["invite_link"]?.stringValue)
        #expect(link.hasPrefix("https://chat.whatsapp.com/"))

        // Info from the server: both members, we are the superadmin, Carol's LID is known.
        let info = try await EngineGroupsTests.call(alice, "whatsapp_get_group_info", ["group": "Trip"])
        #expect(info["group_id"] == .string(groupID) && info["addressing_mode"] == "pn" && info["announce"] == false)
        let members = info["participants"]?.arrayValue ?? []
        #expect(members.count == 2)
        #expect(members.first { $0["phone"] == "15551110001" }?["admin"] == "superadmin")
        #expect(members.first { $0["phone"] == "15551110003" }?["lid"] == .string(carol.lid))
        #expect(members.first { $0["phone"] == "15551110003" }?["admin"] == "none")

        // Rename and topic; the stored group and its chat follow.
        #expect(try await EngineGroupsTests.call(alice, "whatsapp_set_group_name", ["group": .string(groupID), "name": "Trip 2026"])["name"] == "Trip 2026")
        #expect(try await EngineGroupsTests.call(alice, "whatsapp_set_group_topic", ["group": "Trip 2026", "topic": "Lisbon in May"])["topic"]
            == "Lisbon in May")
        let renamed = try await EngineGroupsTests.call(alice, "whatsapp_get_group_info", ["group": .string(groupID)])
        #expect(renamed["name"] == "Trip 2026" && renamed["topic"] == "Lisbon in May")
        // An empty topic clears it.
        #expect(try await EngineGroupsTests.call(alice, "whatsapp_set_group_topic", ["group": .string(groupID), "topic": ""])["topic"] == .null)
        #expect(try await EngineGroupsTests.call(alice, "whatsapp_get_group_info", ["group": .string(groupID)])["topic"] == .null)

        let listed = try await EngineGroupsTests.call(alice, "whatsapp_list_groups", [:])
        let row = try #require(listed["groups"]?.arrayValue?.first { $0["group_id"] == .string(groupID) })
        #expect(row["participant_count"] == 2 && row["admin"] == "superadmin" && row["is_participant"] == true && row["name"] == "Trip 2026")
        let chats = try await EngineGroupsTests.call(alice, "whatsapp_list_chats", [:])["chats"]?.arrayValue ?? []
        let chat = try #require(chats.first { $0["id"] == .string(groupID) })
        #expect(chat["is_group"] == true && chat["is_read_only"] == false && chat["name"] == "Trip 2026")

        // Bob previews by link, then joins by code.
        let invite = try await EngineGroupsTests.call(alice, "whatsapp_get_group_invite_link", ["group": .string(groupID)])
        #expect(invite["invite_link"] == .string(link))
        let preview = try await EngineGroupsTests.call(bob, "whatsapp_join_group", ["invite": .string(link), "preview_only": true])
        #expect(preview["joined"] == false && preview["group_id"] == .string(groupID) && preview["name"] == "Trip 2026")
        #expect(try await EngineGroupsTests.call(bob, "whatsapp_list_groups", [:])["count"] == 0)
        let code = try #require(invite["code"]?.stringValue)
        let joined = try await EngineGroupsTests.call(bob, "whatsapp_join_group", ["invite": .string(code)])
        #expect(joined["joined"] == true && joined["group_id"] == .string(groupID))
        #expect((joined["participants"]?.arrayValue ?? []).count == 3)

        // Promote Bob; a refused demote of a non-member says so per participant.
        let promoted = try await EngineGroupsTests.call(alice, "whatsapp_update_group_participants", [
            "group": .string(groupID), "action": "promote", "participants": ["15551110002"],
        ])
        #expect(promoted["participants"]?.arrayValue?.first?["status"] == "done")
        let bobInfo = try await EngineGroupsTests.call(bob, "whatsapp_get_group_info", ["group": "Trip 2026"])
        #expect(bobInfo["participants"]?.arrayValue?.first { $0["phone"] == "15551110002" }?["admin"] == "admin")

        // A reset revokes the old link: joining with it is not_found, reason revoked.
        let reset = try await EngineGroupsTests.call(alice, "whatsapp_get_group_invite_link", ["group": .string(groupID), "reset": true])
        #expect(reset["invite_link"] != .string(link))
        _ = try setup.account("15551110004", "Dave")
        let revoked = await EngineGroupsTests.error(bob, "whatsapp_join_group", ["invite": .string(link), "preview_only": true])
        #expect(revoked?.code == .notFound && revoked?.details?["reason"] == "revoked")

        // Bob leaves: the chat stays, read-only; the server no longer lists the group for him.
        #expect(try await EngineGroupsTests.call(bob, "whatsapp_leave_group", ["group": .string(groupID)])["ok"] == true)
        let bobChats = try await EngineGroupsTests.call(bob, "whatsapp_list_chats", [:])["chats"]?.arrayValue ?? []
        #expect(bobChats.first { $0["id"] == .string(groupID) }?["is_read_only"] == true)
        let bobGroups = try await EngineGroupsTests.call(bob, "whatsapp_list_groups", [:])["groups"]?.arrayValue ?? []
        #expect(bobGroups.first { $0["group_id"] == .string(groupID) }?["is_participant"] == false)

        // Two groups with one name: the name is ambiguous, with both candidates.
        _ = try await EngineGroupsTests.call(alice, "whatsapp_create_group", ["name": "Trip 2026", "participants": ["15551110003"]])
        let ambiguous = await EngineGroupsTests.error(alice, "whatsapp_get_group_info", ["group": "trip 2026"])
        #expect(ambiguous?.code == .ambiguousRecipient && ambiguous?.details?["candidates"]?.arrayValue?.count == 2)
        let unknown = await EngineGroupsTests.error(alice, "whatsapp_get_group_info", ["group": "No such group"])
        #expect(unknown?.code == .notFound)
    }
}
