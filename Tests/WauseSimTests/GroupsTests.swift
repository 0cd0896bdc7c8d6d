import Testing
import WauseBinary
import WauseProtocol
@testable import WauseSim
import WauseSupport
import WauseTestSupport

/// Groups as the sim keeps them, driven over real connections with the `w:g2` iqs whatsmeow
/// group.go sends, and the `w:gp2` notifications and group fan-out the members' devices get.
@Suite struct GroupsTests {
    /// A companion of `phone` linked and logged in, its (empty) backlog read.
    static func member(_ setup: SimSetup, phone: String, name: String) async throws -> TestCompanion {
        _ = try setup.simulator.state.createAccount(phone: phone, pushName: name)
        let companion = TestCompanion()
        _ = try await PhoneLinkingTests.link(setup, companion, phone: phone)
        try await companion.login(setup.simulator, phone: phone, device: 1)
        #expect(try await companion.expectNode().tag == "success")
        #expect(try await companion.expectNode().tag == "ib")
        return companion
    }

    @Test func createQueryChangeAndLeaveAGroup() async throws {
        let setup = try await SimSetup()
        defer { Task { await setup.close() } }
        let alice = try await GroupsTests.member(setup, phone: "15550001111", name: "Alice")
        let bob = try await GroupsTests.member(setup, phone: "15550002222", name: "Bob")
        let carol = try setup.simulator.state.createAccount(phone: "15550003333", pushName: "Carol")
        let dave = try setup.simulator.state.createAccount(phone: "15550004444", pushName: "Dave")
        // Dave lets nobody add him: his add is answered 403 with an invite code instead.
        #expect(await admin(setup.simulator, "PUT", "/accounts/15550004444/privacy", ["groupadd": "none"]).status == 200)

        // Create (whatsmeow group.go CreateGroup): the answer is the <group> with every participant.
        let (created, aliceCreate) = try await alice.group(to: .groupServer, "set", Node(tag: "create", attributes: ["subject": "Trip", "key": "K1"], children: [
            Node(tag: "participant", attributes: ["jid": .jid(JID(user: "15550002222", server: .whatsApp))]),
            Node(tag: "participant", attributes: ["jid": .jid(JID(user: "15550003333", server: .whatsApp))]),
            Node(tag: "participant", attributes: ["jid": .jid(JID(user: "15550004444", server: .whatsApp))]),
            Node(tag: "participant", attributes: ["jid": .jid(JID(user: "15559999999", server: .whatsApp))]),
        ]))
        #expect(created[attribute: "type"] == "result")
        let group = try #require(created.child("group"))
        let id = try #require(group[attribute: "id"])
        let groupJID = JID(user: id, server: .group)
        #expect(group[attribute: "subject"] == "Trip" && group[attribute: "addressing_mode"] == "pn" && group[attribute: "size"] == "3")
        let participants = group.children("participant")
        func participant(_ phone: String) -> Node? { participants.first { $0.jid("jid")?.user == phone } }
        #expect(participant("15550001111")?[attribute: "type"] == "superadmin")
        #expect(participant("15550002222")?[attribute: "error"] == nil)
        #expect(participant("15550003333")?.jid("lid") == JID(user: carol.lid, server: .lid))
        #expect(participant("15550004444")?[attribute: "error"] == "403")
        #expect(participant("15550004444")?.child("add_request")?[attribute: "code"]?.count == 22)
        #expect(participant("15559999999")?[attribute: "error"] == "404")
        _ = dave
        // Every member device hears of it (whatsmeow parseGroupCreate), the creator's own included.
        let bobCreate = try await bob.nextNotification()
        #expect(bobCreate[attribute: "from"] == groupJID.description && bobCreate[attribute: "type"] == "w:gp2")
        #expect(bobCreate.jid("participant") == JID(user: "15550001111", server: .whatsApp))
        #expect(bobCreate.child("create")?[attribute: "key"] == "K1")
        #expect(bobCreate.child("create")?.child("group")?[attribute: "id"] == id)
        #expect(aliceCreate.contains { $0.child("create") != nil })
        try bob.send(Node(tag: "ack", attributes: ["class": "notification", "id": .text(bobCreate[attribute: "id"]!), "to": .jid(groupJID)]))

        // Metadata (getGroupInfo): members only; 403 for others, 404 for no such group.
        let (info, _) = try await bob.group(to: groupJID, "get", Node(tag: "query", attributes: ["request": "interactive"]))
        #expect(info.child("group")?.children("participant").count == 3)
        let (unknown, _) = try await bob.group(to: JID(user: "120363000000000000", server: .group), "get",
                                               Node(tag: "query", attributes: ["request": "interactive"]))
        #expect(unknown.child("error")?[attribute: "code"] == "404")

        // A member who is not an admin may not add (401); the admin promotes, then it may.
        let (refused, _) = try await bob.group(to: groupJID, "set", Node(tag: "remove", children: [
            Node(tag: "participant", attributes: ["jid": .jid(JID(user: "15550003333", server: .whatsApp))]),
        ]))
        #expect(refused.child("error")?[attribute: "code"] == "401")
        let (promoted, _) = try await alice.group(to: groupJID, "set", Node(tag: "promote", children: [
            Node(tag: "participant", attributes: ["jid": .jid(JID(user: "15550002222", server: .whatsApp))]),
            Node(tag: "participant", attributes: ["jid": .jid(JID(user: "15550004444", server: .whatsApp))]),
        ]))
        let outcomes = promoted.child("promote")?.children("participant") ?? []
        #expect(outcomes.count == 2 && outcomes[0][attribute: "error"] == nil && outcomes[1][attribute: "error"] == "404")
        let promote = try await bob.nextNotification()
        #expect(promote.child("promote")?.children("participant").map { $0.jid("jid")?.user } == ["15550002222"])

        // Subject and topic (SetGroupName, SetGroupTopic): a stale prev is 409.
        let (renamed, _) = try await bob.group(to: groupJID, "set", Node(tag: "subject", bytes: Array("Trip 2026".utf8)))
        #expect(renamed[attribute: "type"] == "result")
        let subject = try await alice.nextNotification()
        #expect(subject.child("subject")?[attribute: "subject"] == "Trip 2026")
        #expect(subject.child("subject")?.jid("s_o") == JID(user: "15550002222", server: .whatsApp))
        let (topic, _) = try await alice.group(to: groupJID, "set", Node(tag: "description", attributes: ["id": "T1"], children: [
            Node(tag: "body", bytes: Array("Bring boots".utf8)),
        ]))
        #expect(topic[attribute: "type"] == "result")
        let topicChange = try await bob.nextNotification()
        #expect(topicChange.child("description")?.child("body")?.bytes == Array("Bring boots".utf8))
        let (stale, _) = try await alice.group(to: groupJID, "set", Node(tag: "description", attributes: ["id": "T2", "prev": "T0"], children: [
            Node(tag: "body", bytes: Array("x".utf8)),
        ]))
        #expect(stale.child("error")?[attribute: "code"] == "409")

        // Invites (GetGroupInviteLink, reset; GetGroupInfoFromLink, JoinGroupWithLink).
        let (invite, _) = try await alice.group(to: groupJID, "get", Node(tag: "invite"))
        let firstCode = try #require(invite.child("invite")?[attribute: "code"])
        let (reset, _) = try await alice.group(to: groupJID, "set", Node(tag: "invite"))
        let secondCode = try #require(reset.child("invite")?[attribute: "code"])
        #expect(firstCode != secondCode)
        #expect(try await bob.nextNotification().child("invite")?[attribute: "code"] == secondCode)
        let (revoked, _) = try await bob.group(to: .groupServer, "get", Node(tag: "invite", attributes: ["code": .text(firstCode)]))
        #expect(revoked.child("error")?[attribute: "code"] == "410")
        let (never, _) = try await bob.group(to: .groupServer, "set", Node(tag: "invite", attributes: ["code": "AAAAAAAAAAAAAAAAAAAAAA"]))
        #expect(never.child("error")?[attribute: "code"] == "404")
        let (preview, _) = try await bob.group(to: .groupServer, "get", Node(tag: "invite", attributes: ["code": .text(secondCode)]))
        #expect(preview.child("group")?[attribute: "subject"] == "Trip 2026")
        let (already, _) = try await bob.group(to: .groupServer, "set", Node(tag: "invite", attributes: ["code": .text(secondCode)]))
        #expect(already.child("error")?[attribute: "code"] == "409")

        // Leave (LeaveGroup): the others see a remove by the leaver; then the group is closed to it (403).
        let (left, _) = try await bob.group(to: .groupServer, "set", Node(tag: "leave", children: [
            Node(tag: "group", attributes: ["id": .jid(groupJID)]),
        ]))
        #expect(left[attribute: "type"] == "result")
        let removal = try await alice.nextNotification()
        #expect(removal.child("remove")?.children("participant").first?.jid("jid")?.user == "15550002222")
        #expect(removal.jid("participant")?.user == "15550002222")
        let (outside, _) = try await bob.group(to: groupJID, "get", Node(tag: "query", attributes: ["request": "interactive"]))
        #expect(outside.child("error")?[attribute: "code"] == "403")
        // Back in by the link: every member hears an add with reason invite.
        let (joined, _) = try await bob.group(to: .groupServer, "set", Node(tag: "invite", attributes: ["code": .text(secondCode)]))
        #expect(joined.child("group")?.jid("jid") == groupJID)
        let rejoin = try await alice.nextNotification()
        #expect(rejoin.child("add")?[attribute: "reason"] == "invite")

        // The participating list (GetJoinedGroups).
        let (list, _) = try await alice.group(to: .groupServer, "get", Node(tag: "participating", children: [
            Node(tag: "participants"), Node(tag: "description"),
        ]))
        let listed = list.child("groups")?.children("group") ?? []
        #expect(listed.count == 1 && listed[0].child("description")?.child("body")?.bytes == Array("Bring boots".utf8))
        alice.close()
        bob.close()
    }

    @Test func aGroupMessageIsFannedOutWithTheGroupsPhash() async throws {
        let setup = try await SimSetup()
        defer { Task { await setup.close() } }
        let alice = try await GroupsTests.member(setup, phone: "15550001111", name: "Alice")
        let bob = try await GroupsTests.member(setup, phone: "15550002222", name: "Bob")
        let carol = try setup.simulator.state.createAccount(phone: "15550003333", pushName: "Carol")
        let created = await admin(setup.simulator, "POST", "/accounts/15550001111/groups", [
            "subject": "LID group", "participants": ["15550002222", .string(carol.lidJID)], "addressing_mode": "lid",
        ])
        #expect(created.status == 200, "\(created.json)")
        let groupJID = try #require(created.json["jid"]?.stringValue.flatMap(JID.init))
        let aliceAccount = try #require(try setup.simulator.state.account(phone: "15550001111"))
        let bobAccount = try #require(try setup.simulator.state.account(phone: "15550002222"))
        #expect(created.json["participants"]?.arrayValue?.first?["jid"]?.stringValue == aliceAccount.lidJID)
        #expect(try await bob.nextNotification().child("create") != nil)
        #expect(try await alice.nextNotification().child("create") != nil)

        // whatsmeow sendGroup: the SKDM pairwise per device, one skmsg for all.
        let bobDevice = JID(user: bobAccount.lid, device: 1, server: .lid)
        let pairwise = Node(tag: "enc", attributes: ["v": "2", "type": "msg"], bytes: [1, 2, 3])
        let skmsg = Node(tag: "enc", attributes: ["v": "2", "type": "skmsg"], bytes: [4, 5, 6])
        try alice.send(Node(tag: "message", attributes: ["id": "G1", "to": .jid(groupJID), "type": "text", "addressing_mode": "lid"], children: [
            Node(tag: "participants", children: [Node(tag: "to", attributes: ["jid": .jid(bobDevice)], children: [pairwise])]),
            skmsg,
        ]))
        let ack = try await alice.expectNode()
        #expect(ack.tag == "ack" && ack[attribute: "id"] == "G1" && ack[attribute: "error"] == nil)
        var devices: [JID] = []
        for account in [aliceAccount, bobAccount, carol] {
            devices += try setup.simulator.state.endpoints(of: account).map { $0.jid(.lid) }
        }
        #expect(ack[attribute: "phash"] == ParticipantHash.v2(devices))
        let delivered = try await bob.expectNode()
        #expect(delivered.tag == "message" && delivered.jid("from") == groupJID)
        #expect(delivered.jid("participant") == JID(user: aliceAccount.lid, device: 1, server: .lid))
        #expect(delivered.jid("participant_pn") == JID(user: aliceAccount.phone, device: 1, server: .whatsApp))
        #expect(delivered.children("enc").map { $0[attribute: "type"] } == ["msg", "skmsg"])
        // Bob's receipt goes back to Alice's device, from the group with Bob as participant.
        try bob.send(Node(tag: "receipt", attributes: ["id": "G1", "to": .jid(groupJID), "participant": .jid(delivered.jid("participant")!)]))
        #expect(try await bob.expectNode().tag == "ack")
        // The phones (Alice's own, Bob's, Carol's) got only the skmsg and hold no sender key of
        // Alice's (the bytes are not even one): each asks again with a retry receipt to the group,
        // naming Alice's device, as a client that cannot decrypt does (whatsmeow retry.go).
        var receipts: [String: Node] = [:]
        while receipts.count < 4 {
            let receipt = try await alice.expectNode()
            #expect(receipt.tag == "receipt" && receipt.jid("from") == groupJID && receipt[attribute: "id"] == "G1")
            let participant = receipt.jid("participant")
            receipts["\(participant?.user ?? "?"):\(participant?.device ?? 99)"] = receipt
        }
        let bobCompanion = try #require(receipts["\(bobAccount.lid):1"], "\(receipts)")
        #expect(bobCompanion[attribute: "type"] == nil)
        for phone in [aliceAccount, bobAccount, carol] {
            let retry = try #require(receipts["\(phone.lid):0"], "\(receipts)")
            #expect(retry[attribute: "type"] == "retry" && retry.child("retry")?[attribute: "count"] == "1")
        }

        // Not a member: 403; no such group: 404 (whatsmeow reads any ack error as a failed send).
        let outsider = try await GroupsTests.member(setup, phone: "15550005555", name: "Eve")
        try outsider.send(Node(tag: "message", attributes: ["id": "G2", "to": .jid(groupJID), "type": "text"], children: [skmsg]))
        #expect(try await outsider.expectNode()[attribute: "error"] == "403")
        try outsider.send(Node(tag: "message", attributes: ["id": "G3", "to": .jid(JID(user: "120363000000000001", server: .group)), "type": "text"],
                               children: [skmsg]))
        #expect(try await outsider.expectNode()[attribute: "error"] == "404")
        alice.close()
        bob.close()
        outsider.close()
    }
}

extension TestCompanion {
    /// A `w:g2` iq to `to` and its answer, with the notifications that arrived before it.
    func group(to: JID, _ type: String, _ child: Node) async throws -> (Node, [Node]) {
        let id = nextID()
        try send(Node(tag: "iq", attributes: ["to": .jid(to), "type": .text(type), "id": .text(id), "xmlns": "w:g2"], children: [child]))
        var before: [Node] = []
        while true {
            let node = try await expectNode()
            if node.tag == "iq", node[attribute: "id"] == id { return (node, before) }
            before.append(node)
        }
    }

    /// The next `w:gp2` notification (other stanzas are skipped).
    func nextNotification() async throws -> Node {
        while true {
            let node = try await expectNode()
            if node.tag == "notification", node[attribute: "type"] == "w:gp2" { return node }
        }
    }
}
