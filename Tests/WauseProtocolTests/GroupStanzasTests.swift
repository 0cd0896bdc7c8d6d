import Testing
import WauseBinary
import WauseProtocol

/// GroupStanzas against whatsmeow group.go: the iqs' shapes (through the binary codec) and the
/// `<group>` answer with participants, refused ones, the description and the settings.
@Suite struct GroupStanzasTests {
    static func roundTrip(_ node: Node) throws -> Node {
        try NodeDecoder().decodeNode(NodeEncoder().encodeNode(node))
    }

    @Test func theIQsHaveWhatsmeowsShapes() throws {
        let group = JID(user: "120363000000000001", server: .group)
        let create = try GroupStanzasTests.roundTrip(GroupStanzas.create(id: "1", subject: "Trip", participants: [JID(user: "15550000002", server: .whatsApp)], key: "K"))
        #expect(create[attribute: "xmlns"] == "w:g2" && create[attribute: "type"] == "set" && create.jid("to") == .groupServer)
        #expect(create.child("create")?[attribute: "subject"] == "Trip" && create.child("create")?[attribute: "key"] == "K")
        #expect(create.child("create")?.children("participant").first?.jid("jid") == JID(user: "15550000002", server: .whatsApp))
        let info = GroupStanzas.info(id: "2", group: group)
        #expect(info.jid("to") == group && info[attribute: "type"] == "get" && info.child("query")?[attribute: "request"] == "interactive")
        let topic = GroupStanzas.description(id: "3", group: group, topic: "Lisbon", topicID: "NEW", previous: "OLD")
        #expect(topic.child("description")?[attribute: "prev"] == "OLD" && topic.child("description")?.child("body")?.text == "Lisbon")
        let cleared = GroupStanzas.description(id: "4", group: group, topic: "", topicID: "NEW", previous: "OLD")
        #expect(cleared.child("description")?[attribute: "delete"] == "true" && cleared.child("description")?.child("body") == nil)
        #expect(GroupStanzas.inviteCode(id: "5", group: group, reset: true)[attribute: "type"] == "set")
        #expect(GroupStanzas.invite(id: "6", code: "ABC", join: false)[attribute: "type"] == "get")
        #expect(GroupStanzas.leave(id: "7", group: group).child("leave")?.child("group")?.jid("id") == group)
        #expect(GroupStanzas.updateParticipants(id: "8", group: group, action: "promote", participants: [JID(user: "1", server: .lid)])
            .child("promote")?.children("participant").count == 1)
        #expect(GroupStanzas.subject(id: "9", group: group, name: "Trip 2").child("subject")?.text == "Trip 2")
    }

    @Test func invitesAreLinksOrCodes() {
        #expect(GroupStanzas.inviteCode(fromLink: "https://chat.whatsapp.com/AbC123") == "AbC123")
        #expect(GroupStanzas.inviteCode(fromLink: "chat.whatsapp.com/AbC123/") == "AbC123")
        #expect(GroupStanzas.inviteCode(fromLink: "AbC123") == "AbC123")
    }

    @Test func aGroupAnswerIsRead() throws {
        let node = Node(tag: "group", attributes: [
            "id": "120363000000000001", "subject": "Trip", "creation": "1700000000", "creator": .jid(JID(user: "15550000001", server: .whatsApp)),
            "addressing_mode": "pn",
        ], children: [
            Node(tag: "participant", attributes: ["jid": .jid(JID(user: "15550000001", server: .whatsApp)), "type": "superadmin",
                                                  "lid": .jid(JID(user: "900001", server: .lid))]),
            Node(tag: "participant", attributes: ["jid": .jid(JID(user: "15550000004", server: .whatsApp)), "error": "403"],
                 children: [Node(tag: "add_request", attributes: ["code": "INVITE", "expiration": "1700600000"])]),
            Node(tag: "description", attributes: ["id": "T1"], children: [Node(tag: "body", bytes: Array("Lisbon".utf8))]),
            Node(tag: "locked"),
        ])
        let group = try GroupStanzas.Group(parsing: try GroupStanzasTests.roundTrip(node))
        #expect(group.jid == JID(user: "120363000000000001", server: .group) && group.name == "Trip" && group.creation == 1_700_000_000)
        #expect(group.topic == "Lisbon" && group.topicID == "T1" && group.locked && !group.announce && group.addressingMode == "pn")
        #expect(group.participants[0].admin == .superadmin && group.participants[0].phone == "15550000001" && group.participants[0].lidUser == "900001")
        #expect(group.participants[1].error == 403 && group.participants[1].addRequestCode == "INVITE")
        #expect(throws: MalformedStanza.self) { try GroupStanzas.Group(parsing: Node(tag: "group")) }
        let refused = Node(tag: "iq", attributes: ["type": "error"], children: [Node(tag: "error", attributes: ["code": "410", "text": "gone"])])
        #expect(GroupStanzas.errorCode(refused)?.code == 410)
    }
}
