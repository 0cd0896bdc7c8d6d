import Testing
import WauseBinary
@testable import WauseCore
import WauseProtocol
import WauseSignal
@testable import WauseSim
import WauseSupport
import WauseTestSupport

/// The engine's group methods (issue 12) against a real wause-sim over real sockets: two wause
/// clients and a virtual phone; create, info, list, rename, topic, invite link, preview and
/// join by invite, leave, and the errors of a revoked invite and an ambiguous name.
@Suite struct EngineGroupsTests: LinkedEngineSuite {
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

        // Dave lets nobody add him: the add answers invite_required (he must be sent the link).
        _ = try setup.account("15551110005", "Dave")
        #expect(await admin(setup.simulator, "PUT", "/accounts/15551110005/privacy", ["groupadd": "none"]).status == 200)
        let added = try await EngineGroupsTests.call(alice, "whatsapp_update_group_participants", [
            "group": .string(groupID), "action": "add", "participants": ["15551110005"],
        ])
        #expect(added["participants"]?.arrayValue?.first?["status"] == "invite_required", "\(added)")
        #expect(added["participants"]?.arrayValue?.first?["error_code"] == 403)

        // Promote Bob.
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

    /// The next `message.received` in `chat` with `text`.
    static func received(_ client: WauseClient, _ text: String, after cursor: Int64 = 0) async throws -> JSONObject {
        try await MessagingTests.event(client, "message.received", after: cursor) { $0["message"]?["body"] == .string(text) }.data
    }

    static func send(_ client: WauseClient, to group: String, _ text: String) async throws -> JSONObject {
        let result = try await client.call("whatsapp_send_message", ["to": .string(group), "message": .string(text)]).get()
        #expect(result["ok"] == true && result["chat_id"]?.stringValue?.hasSuffix("@g.us") == true)
        #expect(result["status"] == "sent" || result["status"] == "delivered", "\(result)")
        return result
    }

    @Test func messagesInEveryDirectionWithSenderKeys() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        _ = try setup.account("15552220001", "Alice")
        _ = try setup.account("15552220002", "Bob")
        _ = try setup.account("15552220003", "Carol")
        let alice = try await setup.linkedClient("15552220001")
        let bob = try await setup.linkedClient("15552220002")
        let created = try await EngineGroupsTests.call(alice, "whatsapp_create_group", [
            "name": "Band", "participants": ["15552220002", "15552220003"],
        ])
        let group = try #require(created["group_id"]?.stringValue)
        // Bob's client hears of the group (w:gp2 create) and files its chat before any message.
        let createdAtBob = try await MessagingTests.event(bob, "group.created") { $0["group_id"] == .string(group) }
        #expect(createdAtBob.data["name"] == "Band" && createdAtBob.data["by"] == "15552220001@s.whatsapp.net")
        let bobChat = try await EngineGroupsTests.call(bob, "whatsapp_list_chats", [:])["chats"]?.arrayValue?.first { $0["id"] == .string(group) }
        #expect(bobChat?["name"] == "Band" && bobChat?["is_group"] == true && bobChat?["is_read_only"] == false)
        // Stored, then acked: the server holds nothing more for Bob's device.
        let bobJID = try #require(try bob.store.linkedAccount()?.jid)
        let bobDevice = try #require(JID(bobJID))
        try await poll { try setup.simulator.state.queueCount(phone: "15552220002", device: Int(bobDevice.device)) == 0 }

        // Alice → the group: Bob's client and Carol's phone read it, with Alice as the author.
        let first = try await EngineGroupsTests.send(alice, to: "Band", "rehearsal at 8")
        let atBob = try await EngineGroupsTests.received(bob, "rehearsal at 8")
        #expect(atBob["message"]?["chat_id"] == .string(group) && atBob["message"]?["from"] == "15552220001@s.whatsapp.net")
        #expect(atBob["message"]?["author"] == "Alice" && atBob["message"]?["id"] == first["message_id"])
        try await poll { await MessagingTests.inbox(setup.simulator, "15552220003").contains { $0["text"] == "rehearsal at 8" } }
        let carolRow = try #require(await MessagingTests.inbox(setup.simulator, "15552220003").first { $0["text"] == "rehearsal at 8" })
        #expect(carolRow["chat"] == .string(group) && carolRow["author"] == "15552220001@s.whatsapp.net")

        // A second message goes without a new SKDM (every device holds Alice's key) and still reads.
        _ = try await EngineGroupsTests.send(alice, to: group, "bring the amp")
        _ = try await EngineGroupsTests.received(bob, "bring the amp")

        // Carol's phone → the group: both clients read it.
        #expect(await admin(setup.simulator, "POST", "/accounts/15552220003/send", ["to": .string(group), "text": "on my way"]).status == 200)
        let carolAtAlice = try await EngineGroupsTests.received(alice, "on my way")
        #expect(carolAtAlice["message"]?["chat_id"] == .string(group) && carolAtAlice["message"]?["from"] == "15552220003@s.whatsapp.net")
        #expect(carolAtAlice["message"]?["author"] == "Carol")
        _ = try await EngineGroupsTests.received(bob, "on my way")

        // Bob's client → the group (it learns the group from the server on first use).
        _ = try await EngineGroupsTests.send(bob, to: group, "see you")
        let bobAtAlice = try await EngineGroupsTests.received(alice, "see you")
        #expect(bobAtAlice["message"]?["author"] == "Bob")
        // Alice reads the group: the receipt names each sender, so Bob's message turns read at Bob's.
        let read = try await EngineGroupsTests.call(alice, "whatsapp_mark_read", ["chat": .string(group)])
        #expect((read["message_ids"]?.arrayValue ?? []).contains(bobAtAlice["message"]?["id"] ?? .null))
        _ = try await MessagingTests.event(bob, "message.status") {
            $0["message_id"] == bobAtAlice["message"]?["id"] && $0["status"] == "read"
        }
        try await poll { await MessagingTests.inbox(setup.simulator, "15552220003").contains { $0["text"] == "see you" } }

        // Each message is filed once, in the group's chat, on every client.
        let atAlice = try await EngineGroupsTests.call(alice, "whatsapp_list_messages", ["chat": .string(group), "limit": 20])
        #expect((atAlice["messages"]?.arrayValue ?? []).map { $0["body"] } == ["rehearsal at 8", "bring the amp", "on my way", "see you"])
        let chats = try await EngineGroupsTests.call(bob, "whatsapp_list_chats", [:])["chats"]?.arrayValue ?? []
        #expect(chats.first { $0["id"] == .string(group) }?["is_group"] == true)

        // A rename reaches Bob as group.updated, and his stored group follows.
        _ = try await EngineGroupsTests.call(alice, "whatsapp_set_group_name", ["group": .string(group), "name": "The Band"])
        let renamed = try await MessagingTests.event(bob, "group.updated") { $0["group_id"] == .string(group) && $0["name"] != nil }
        #expect(renamed.data["name"] == "The Band" && renamed.data["by"] == "15552220001@s.whatsapp.net")
        #expect(try bob.store.group(jid: group)?.group.name == "The Band")

        // Alice's own sender key for the group, by the address she sends under.
        func aliceKeyID() throws -> UInt32? {
            guard let account = try alice.store.linkedAccount(), let device = JID(account.jid) else { return nil }
            let rows = try alice.store.database.withConnection { (c) throws(WauseError) in
                try c.query("SELECT record FROM sender_keys WHERE group_id = ? AND sender = ?",
                            [.text(group), .text(MessageFormat.address(of: device).description)])
            }
            return try rows.first?["record"].blob.map { try SenderKeyRecord(serialized: $0).states.first?.keyId } ?? nil
        }
        let keyBefore = try #require(try aliceKeyID())

        // Alice removes Bob: his next send fails clearly, and he no longer receives.
        let removed = try await EngineGroupsTests.call(alice, "whatsapp_update_group_participants", [
            "group": .string(group), "action": "remove", "participants": ["15552220002"],
        ])
        #expect(removed["participants"]?.arrayValue?.first?["status"] == "done")
        let removedAtBob = try await MessagingTests.event(bob, "group.participants_changed") { $0["action"] == "remove" }
        #expect(removedAtBob.data["participants"] == ["15552220002@s.whatsapp.net"])
        let bobChats = try await EngineGroupsTests.call(bob, "whatsapp_list_chats", [:])["chats"]?.arrayValue ?? []
        #expect(bobChats.first { $0["id"] == .string(group) }?["is_read_only"] == true)
        let refused = await EngineGroupsTests.error(bob, "whatsapp_send_message", ["to": .string(group), "message": "still here?"])
        #expect(refused?.code == .notAParticipant, "\(String(describing: refused))")
        let cursor = bob.events.latestCursor
        _ = try await EngineGroupsTests.send(alice, to: group, "bye Bob")
        try await poll { await MessagingTests.inbox(setup.simulator, "15552220003").contains { $0["text"] == "bye Bob" } }
        // Alice's key was replaced when Bob went (the phone still reads her, with the new key's SKDM).
        #expect(try aliceKeyID() != keyBefore)
        let after = try bob.events.events(after: cursor, limit: 100)
        #expect(!after.contains { $0.name == "message.received" && $0.data["message"]?["body"] == "bye Bob" })
    }

    @Test func aLostSenderKeyIsRecoveredThroughARetryReceipt() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        _ = try setup.account("15553330001", "Alice")
        _ = try setup.account("15553330002", "Bob")
        let alice = try await setup.linkedClient("15553330001")
        let bob = try await setup.linkedClient("15553330002")
        let group = try #require(try await EngineGroupsTests.call(alice, "whatsapp_create_group", [
            "name": "Pair", "participants": ["15553330002"],
        ])["group_id"]?.stringValue)
        _ = try await EngineGroupsTests.send(alice, to: group, "one")
        _ = try await EngineGroupsTests.received(bob, "one")

        // Bob loses Alice's sender key; Alice believes he holds it, so her next message has no SKDM for him.
        try bob.store.database.withConnection { (c) throws(WauseError) in _ = try c.execute("DELETE FROM sender_keys") }
        _ = try await EngineGroupsTests.send(alice, to: group, "two")
        // Bob cannot read the skmsg, asks again; Alice resends it with her SKDM, pairwise: Bob files it once.
        let two = try await EngineGroupsTests.received(bob, "two")
        #expect(two["message"]?["chat_id"] == .string(group) && two["message"]?["author"] == "Alice")
        let failures = try bob.store.database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT message_id, resolved_at FROM decrypt_failures")
        }
        #expect(failures.count == 1 && failures.first?["message_id"].text == two["message"]?["id"]?.stringValue
            && failures.first?["resolved_at"].integer != nil)
        // And the key is back: the next message needs no retry. Bob has also forgotten the group
        // itself: a message in it makes his client fetch its metadata again.
        try bob.store.database.withConnection { (c) throws(WauseError) in _ = try c.execute("DELETE FROM groups") }
        _ = try await EngineGroupsTests.send(alice, to: group, "three")
        _ = try await EngineGroupsTests.received(bob, "three")
        try await poll { try bob.store.group(jid: group)?.group.name == "Pair" }
        let messages = try await EngineGroupsTests.call(bob, "whatsapp_list_messages", ["chat": .string(group)])["messages"]?.arrayValue ?? []
        #expect(messages.map { $0["body"] } == ["one", "two", "three"])
    }

    /// A group a virtual phone created LID-addressed: the clients learn it from the create
    /// notification, send with their LID device as the sender-key identity, and read each other
    /// and the phone with the member's phone number as `from`.
    @Test func aLIDAddressedGroupCreatedByAPhone() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        let aliceAccount = try setup.account("15554440001", "Alice")
        let bobAccount = try setup.account("15554440002", "Bob")
        _ = try setup.account("15554440003", "Carol")
        let alice = try await setup.linkedClient("15554440001")
        let bob = try await setup.linkedClient("15554440002")
        let made = await admin(setup.simulator, "POST", "/accounts/15554440003/groups", [
            "subject": "Lids", "participants": [.string("\(aliceAccount.lid)@lid"), .string("\(bobAccount.lid)@lid")],
            "addressing_mode": "lid",
        ])
        #expect(made.status == 200, "\(made.json)")
        let group = try #require(made.json["jid"]?.stringValue)
        _ = try await MessagingTests.event(alice, "group.created") { $0["group_id"] == .string(group) }
        _ = try await MessagingTests.event(bob, "group.created") { $0["group_id"] == .string(group) }
        let info = try await EngineGroupsTests.call(alice, "whatsapp_get_group_info", ["group": "Lids"])
        #expect(info["addressing_mode"] == "lid" && (info["participants"]?.arrayValue ?? []).count == 3)
        #expect(info["participants"]?.arrayValue?.first { $0["phone"] == "15554440003" }?["admin"] == "superadmin")

        _ = try await EngineGroupsTests.send(alice, to: group, "hello lids")
        let atBob = try await EngineGroupsTests.received(bob, "hello lids")
        #expect(atBob["message"]?["chat_id"] == .string(group) && atBob["message"]?["from"] == "15554440001@s.whatsapp.net")
        #expect(atBob["message"]?["author"] == "Alice")
        try await poll { await MessagingTests.inbox(setup.simulator, "15554440003").contains { $0["text"] == "hello lids" } }

        #expect(await admin(setup.simulator, "POST", "/accounts/15554440003/send", ["to": .string(group), "text": "hi from carol"]).status == 200)
        let atAlice = try await EngineGroupsTests.received(alice, "hi from carol")
        #expect(atAlice["message"]?["from"] == "15554440003@s.whatsapp.net" && atAlice["message"]?["author"] == "Carol")
        _ = try await EngineGroupsTests.send(bob, to: "Lids", "and bob")
        _ = try await EngineGroupsTests.received(alice, "and bob")

        // Carol makes it an announcement group: the clients hear of it, and a member who is no admin may not send.
        #expect(await admin(setup.simulator, "PUT", "/accounts/15554440003/groups/\(group)", ["announce": true]).status == 200)
        _ = try await MessagingTests.event(alice, "group.updated") { $0["group_id"] == .string(group) && $0["announce"] == true }
        let refused = await EngineGroupsTests.error(alice, "whatsapp_send_message", ["to": .string(group), "message": "may I?"])
        #expect(refused?.code == .invalidRequest && refused?.details?["reason"] == "announcement_group", "\(String(describing: refused))")
        #expect(try alice.store.group(jid: group)?.isParticipant == true)
    }

    /// A member whose client is closed during a group send gets the message when it opens again
    /// (the server queued it), filed once, and the conversation goes on; the same stanza
    /// delivered a second time is a duplicate: receipted, not filed or announced again.
    @Test func anOfflineMemberGetsTheGroupMessageOnReturn() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        _ = try setup.account("15555550001", "Alice")
        _ = try setup.account("15555550002", "Bob")
        let alice = try await setup.linkedClient("15555550001")
        let bobDirectory = TemporaryDirectory(prefix: "wause-groups-bob")
        var bob = try WauseClient(config: setup.config(bobDirectory.path), environment: .live)
        _ = try await bob.call("whatsapp_start_auth", .null).get()
        let qr = try #require(await nextEvent(bob, named: "pairing.qr", after: 0)?.data["qr"]?.stringValue)
        #expect(await admin(setup.simulator, "POST", "/accounts/15555550002/scan", ["qr": .string(qr)]).status == 200)
        try await MessagingTests.waitForLogin(bob, after: 0)
        let group = try #require(try await EngineGroupsTests.call(alice, "whatsapp_create_group", [
            "name": "Away", "participants": ["15555550002"],
        ])["group_id"]?.stringValue)
        _ = try await MessagingTests.event(bob, "group.created") { $0["group_id"] == .string(group) }
        let bobAccount = try #require(try bob.store.linkedAccount())
        let bobDevice = try #require(JID(bobAccount.jid))
        bob.close()

        let away = try await EngineGroupsTests.send(alice, to: group, "while you were out")
        // The stanza the server holds for Bob's device (kept to deliver it a second time below).
        let held = try #require(try setup.simulator.state.queued(phone: "15555550002", device: Int(bobDevice.device), after: 0)
            .first { $0.kind == .message && $0.node[attribute: "id"] == away["message_id"]?.stringValue })
        bob = try WauseClient(config: setup.config(bobDirectory.path), environment: .live)
        defer { bob.close() }
        let cursor = bob.events.latestCursor
        // A group call right after opening waits for the login rather than failing not_connected.
        let topic = try await EngineGroupsTests.call(bob, "whatsapp_set_group_topic", ["group": "Away", "topic": "back again"])
        #expect(topic["topic"] == "back again")
        let got = try await EngineGroupsTests.received(bob, "while you were out", after: cursor)
        #expect(got["message"]?["chat_id"] == .string(group) && got["message"]?["author"] == "Alice")
        _ = try await EngineGroupsTests.send(alice, to: group, "welcome back")
        _ = try await EngineGroupsTests.received(bob, "welcome back", after: cursor)
        let messages = try await EngineGroupsTests.call(bob, "whatsapp_list_messages", ["chat": .string(group)])["messages"]?.arrayValue ?? []
        #expect(messages.map { $0["body"] } == ["while you were out", "welcome back"])

        // The server delivers the first message again (as it does when a receipt was lost): the
        // sender-key chain says duplicate, it is receipted and not filed or announced twice.
        let before = bob.events.latestCursor
        try setup.simulator.state.enqueue([QueuedStanza(phone: "15555550002", device: Int(bobDevice.device), kind: .message, node: held.node)])
        setup.simulator.phones.router.push([(phone: "15555550002", device: Int(bobDevice.device))])
        try await poll { try setup.simulator.state.queueCount(phone: "15555550002", device: Int(bobDevice.device)) == 0 }
        let again = try await EngineGroupsTests.call(bob, "whatsapp_list_messages", ["chat": .string(group)])["messages"]?.arrayValue ?? []
        #expect(again.count == 2)
        #expect(!(try bob.events.events(after: before, limit: 100)).contains { $0.name == "message.received" })
        let failures = try bob.store.database.withConnection { (c) throws(WauseError) in try c.query("SELECT * FROM decrypt_failures") }
        #expect(failures.isEmpty)
    }

    /// Our member list is stale (a member we do not know of): the server's phash differs, so the
    /// list is fetched again; the member got the skmsg without our key, asks again, and reads it.
    @Test func aStaleMemberListIsRefreshedOnAPhashMismatch() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        _ = try setup.account("15556660001", "Alice")
        _ = try setup.account("15556660002", "Bea")
        _ = try setup.account("15556660003", "Cid")
        let alice = try await setup.linkedClient("15556660001")
        let group = try #require(try await EngineGroupsTests.call(alice, "whatsapp_create_group", [
            "name": "Stale", "participants": ["15556660002", "15556660003"],
        ])["group_id"]?.stringValue)
        try alice.store.database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("DELETE FROM group_participants WHERE jid = ?", ["15556660003@s.whatsapp.net"])
        }
        #expect(try alice.store.group(jid: group)?.group.participants.count == 2)
        _ = try await EngineGroupsTests.send(alice, to: group, "who is here?")
        for phone in ["15556660002", "15556660003"] {
            try await poll { await MessagingTests.inbox(setup.simulator, phone).contains { $0["text"] == "who is here?" } }
        }
        try await poll { try alice.store.group(jid: group)?.group.participants.count == 3 }
    }

    /// The issue's scenario: three wause clients and two virtual phones in one group — create,
    /// add, messages from every member, promote and demote, rename, topic, a fourth client joins by
    /// the invite link, one leaves; every member files every message once with the right author.
    @Test func threeClientsAndTwoPhonesInOneGroup() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        let people = [("15557770001", "Ann"), ("15557770002", "Ben"), ("15557770003", "Cat"), ("15557770004", "Dan"),
                      ("15557770005", "Eve"), ("15557770006", "Fay")]
        for (phone, name) in people { _ = try setup.account(phone, name) }
        let ann = try await setup.linkedClient("15557770001")
        let ben = try await setup.linkedClient("15557770002")
        let cat = try await setup.linkedClient("15557770003")
        let fay = try await setup.linkedClient("15557770006")
        // Dan and Eve are phones. Created with Ben and Dan; Cat and Eve added after.
        let group = try #require(try await EngineGroupsTests.call(ann, "whatsapp_create_group", [
            "name": "Six", "participants": ["15557770002", "15557770004"],
        ])["group_id"]?.stringValue)
        let added = try await EngineGroupsTests.call(ann, "whatsapp_update_group_participants", [
            "group": .string(group), "action": "add", "participants": ["15557770003", "15557770005"],
        ])
        #expect(added["participants"]?.arrayValue?.map { $0["status"] } == ["done", "done"])
        _ = try await MessagingTests.event(cat, "group.participants_changed") { $0["group_id"] == .string(group) && $0["action"] == "add" }

        // One message from each member, clients and phones.
        var sent: [(text: String, author: String)] = []
        for (client, name) in [(ann, "Ann"), (ben, "Ben"), (cat, "Cat")] {
            let text = "hello from \(name)"
            _ = try await EngineGroupsTests.send(client, to: group, text)
            sent.append((text, name))
        }
        for (phone, name) in [("15557770004", "Dan"), ("15557770005", "Eve")] {
            let text = "hello from \(name)"
            #expect(await admin(setup.simulator, "POST", "/accounts/\(phone)/send", ["to": .string(group), "text": .string(text)]).status == 200)
            sent.append((text, name))
        }
        for (client, me) in [(ann, "Ann"), (ben, "Ben"), (cat, "Cat")] {
            for (text, author) in sent where author != me { _ = try await EngineGroupsTests.received(client, text) }
            let filed = try await EngineGroupsTests.call(client, "whatsapp_list_messages", ["chat": .string(group), "limit": 50])["messages"]?.arrayValue ?? []
            #expect(filed.count == sent.count, "\(me): \(filed.map { $0["body"] })")
            for (text, author) in sent {
                let copies = filed.filter { $0["body"] == .string(text) }
                // Our own: from_me (its author is our push name, which these clients were not given).
                let right = author == me ? copies.first?["from_me"] == true : copies.first?["author"] == .string(author)
                #expect(copies.count == 1 && right, "\(me) filed \(text) as \(copies)")
            }
        }
        for phone in ["15557770004", "15557770005"] {
            try await poll {
                let inbox = await MessagingTests.inbox(setup.simulator, phone)
                return ["Ann", "Ben", "Cat"].allSatisfy { name in inbox.filter { $0["text"] == .string("hello from \(name)") }.count == 1 }
            }
        }

        // Promote Ben, who renames and sets the topic; then demote him.
        _ = try await EngineGroupsTests.call(ann, "whatsapp_update_group_participants", ["group": .string(group), "action": "promote", "participants": ["15557770002"]])
        _ = try await EngineGroupsTests.call(ben, "whatsapp_set_group_name", ["group": .string(group), "name": "Six and more"])
        _ = try await EngineGroupsTests.call(ben, "whatsapp_set_group_topic", ["group": "Six and more", "topic": "everyone"])
        _ = try await MessagingTests.event(cat, "group.updated") { $0["group_id"] == .string(group) && $0["topic"] == "everyone" }
        #expect(try cat.store.group(jid: group)?.group.name == "Six and more")
        let demoted = try await EngineGroupsTests.call(ann, "whatsapp_update_group_participants", [
            "group": .string(group), "action": "demote", "participants": ["15557770002"],
        ])
        #expect(demoted["participants"]?.arrayValue?.first?["status"] == "done")
        let info = try await EngineGroupsTests.call(cat, "whatsapp_get_group_info", ["group": .string(group)])
        #expect(info["participants"]?.arrayValue?.first { $0["phone"] == "15557770002" }?["admin"] == "none")
        #expect(info["topic"] == "everyone")

        // Fay joins by the link, Cat leaves; Fay reads what comes next, Cat does not.
        let link = try #require(try await EngineGroupsTests.call(ann, "whatsapp_get_group_invite_link", ["group": .string(group)])["invite_link"]?.stringValue)
        #expect(try await EngineGroupsTests.call(fay, "whatsapp_join_group", ["invite": .string(link)])["joined"] == true)
        _ = try await EngineGroupsTests.call(cat, "whatsapp_leave_group", ["group": .string(group)])
        _ = try await MessagingTests.event(ann, "group.participants_changed") { $0["action"] == "remove" }
        let catCursor = cat.events.latestCursor
        _ = try await EngineGroupsTests.send(ben, to: group, "welcome Fay")
        let atFay = try await EngineGroupsTests.received(fay, "welcome Fay")
        #expect(atFay["message"]?["author"] == "Ben")
        _ = try await EngineGroupsTests.received(ann, "welcome Fay")
        try await poll { await MessagingTests.inbox(setup.simulator, "15557770005").contains { $0["text"] == "welcome Fay" } }
        #expect(!(try cat.events.events(after: catCursor, limit: 100)).contains { $0.data["message"]?["body"] == "welcome Fay" })
    }
}
