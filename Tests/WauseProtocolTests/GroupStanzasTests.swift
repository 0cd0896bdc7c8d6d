import Testing
import WauseBinary
import WauseProto
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

    // MARK: The server's side (the simulator reads the iqs and writes the answers with these)

    @Test func theServerReadsEveryIQTheBuildersWrite() throws {
        let group = JID(user: "120363000000000001", server: .group)
        let ada = JID(user: "15550000001", server: .whatsApp), bea = JID(user: "900002", server: .lid)
        func read(_ iq: Node) throws -> GroupStanzas.Request { try GroupStanzas.Request(parsing: try GroupStanzasTests.roundTrip(iq)) }
        #expect(try read(GroupStanzas.create(id: "1", subject: "Trip", participants: [ada, bea, ada], key: "K"))
            == .create(subject: "Trip", key: "K", participants: [ada, bea]))
        #expect(try read(GroupStanzas.participating(id: "2")) == .participating)
        #expect(try read(GroupStanzas.invite(id: "3", code: "ABC", join: false)) == .preview(code: "ABC"))
        #expect(try read(GroupStanzas.invite(id: "4", code: "ABC", join: true)) == .join(code: "ABC"))
        #expect(try read(GroupStanzas.leave(id: "5", group: group)) == .leave(groups: [group]))
        #expect(try read(GroupStanzas.info(id: "6", group: group)) == .info(group: group))
        #expect(try read(GroupStanzas.updateParticipants(id: "7", group: group, action: "demote", participants: [bea]))
            == .updateParticipants(group: group, action: "demote", participants: [bea]))
        #expect(try read(GroupStanzas.subject(id: "8", group: group, name: "Trip ✓")) == .subject(group: group, name: "Trip ✓"))
        #expect(try read(GroupStanzas.description(id: "9", group: group, topic: "Lisbon", topicID: "N", previous: "O"))
            == .description(group: group, topic: "Lisbon", topicID: "N", previous: "O"))
        #expect(try read(GroupStanzas.description(id: "10", group: group, topic: "", topicID: "N", previous: nil))
            == .description(group: group, topic: nil, topicID: "N", previous: nil))
        #expect(try read(GroupStanzas.inviteCode(id: "11", group: group, reset: true)) == .inviteCode(group: group, reset: true))
        #expect(try read(GroupStanzas.iq(id: "12", to: group, type: "set", Node(tag: "locked"))) == .setting(group: group, name: "locked"))
        #expect(try read(GroupStanzas.accept(id: "13", group: group, code: "C0DE", expiration: 1_700_600_000, inviter: ada))
            == .accept(group: group, code: "C0DE", expiration: 1_700_600_000, inviter: ada))
        // An independent client may write `to` as text (tests/interop): the same address.
        let asText = Node(tag: "iq", attributes: ["to": "@g.us", "type": "get", "xmlns": "w:g2"], children: [Node(tag: "participating")])
        #expect(try GroupStanzas.Request(parsing: asText) == .participating)
    }

    @Test func unreadableIQsGetTheServersCodes() {
        let group = JID(user: "120363000000000001", server: .group)
        func code(_ iq: Node) -> Int? {
            do { _ = try GroupStanzas.Request(parsing: iq); return nil } catch { return error.code }
        }
        #expect(code(GroupStanzas.iq(id: "1", to: .groupServer, type: "set", Node(tag: "create"))) == 406)  // no subject
        #expect(code(GroupStanzas.iq(id: "2", to: .groupServer, type: "set",
                                     Node(tag: "create", attributes: ["subject": "x"], children: [Node(tag: "participant")]))) == 400)
        #expect(code(GroupStanzas.iq(id: "3", to: group, type: "set", Node(tag: "add"))) == 400)  // nobody to add
        #expect(code(GroupStanzas.iq(id: "4", to: group, type: "set", Node(tag: "subject", bytes: [0xFF, 0xFE]))) == 406)  // not UTF-8
        #expect(code(GroupStanzas.iq(id: "5", to: group, type: "set", Node(tag: "description", attributes: ["id": "N"]))) == 400)
        #expect(code(GroupStanzas.iq(id: "6", to: .groupServer, type: "get", Node(tag: "invite"))) == 400)  // no code
        #expect(code(GroupStanzas.iq(id: "7", to: .groupServer, type: "set", Node(tag: "leave"))) == 400)
        #expect(code(GroupStanzas.iq(id: "8", to: group, type: "set", Node(tag: "ephemeral"))) == 501)
        #expect(code(GroupStanzas.iq(id: "10", to: group, type: "set", Node(tag: "accept", attributes: ["expiration": "1"]))) == 400)  // no code
        #expect(code(GroupStanzas.iq(id: "9", to: .whatsAppServer, type: "get", Node(tag: "participating"))) == 400)
        #expect(code(Node(tag: "iq", attributes: ["to": .jid(group), "type": "get"])) == 400)  // no child
    }

    @Test func theServersGroupHasWhatsmeowsAttributesAndReadsBack() throws {
        let ada = JID(user: "900001", server: .lid), adaPN = JID(user: "15550000001", server: .whatsApp)
        let bea = JID(user: "900002", server: .lid)
        let group = GroupStanzas.Group(
            jid: JID(user: "120363000000000001", server: .group), name: "Trip", topic: "Lisbon", topicID: "T1", owner: ada,
            creation: 1_700_000_000, addressingMode: "lid", announce: true, locked: false,
            participants: [GroupStanzas.Participant(jid: ada, phoneNumber: adaPN, admin: .superadmin),
                           GroupStanzas.Participant(jid: bea, phoneNumber: JID(user: "15550000002", server: .whatsApp))],
            subjectTime: 1_700_000_100, subjectOwner: bea, subjectOwnerPN: JID(user: "15550000002", server: .whatsApp), ownerPN: adaPN,
            topicTime: 1_700_000_200, topicSetter: ada, participantVersion: 3)
        let refused = GroupStanzas.Participant(jid: JID(user: "900004", server: .lid), error: 403, addRequestCode: "INV", addRequestExpiration: 1_700_600_000)
        let node = try GroupStanzasTests.roundTrip(group.node(extra: [refused]))
        // whatsmeow group.go parseGroupNode's names: id (the local part), creator[_pn], subject, s_t, s_o[_pn], creation, p_v_id, size, addressing_mode.
        #expect(node[attribute: "id"] == "120363000000000001" && node[attribute: "size"] == "2" && node[attribute: "p_v_id"] == "3")
        #expect(node.jid("creator") == ada && node.jid("creator_pn") == adaPN && node.jid("s_o") == bea && node[attribute: "s_t"] == "1700000100")
        let participants = node.children("participant")
        #expect(participants.count == 3 && participants[0][attribute: "type"] == "superadmin" && participants[1][attribute: "type"] == nil)
        #expect(participants[2][attribute: "error"] == "403" && participants[2].child("add_request")?[attribute: "code"] == "INV")
        #expect(node.child("description")?.jid("participant") == ada && node.child("description")?[attribute: "t"] == "1700000200")
        #expect(node.child("announcement") != nil && node.child("locked") == nil)
        var back = try GroupStanzas.Group(parsing: node)
        #expect(back.participants.last == refused)
        back.participants.removeLast()
        #expect(back == group)
    }

    @Test func anInvitationCarriesTheAddRequestsCodeAndReadsAsItsCaption() throws {
        let group = JID(user: "120363000000000001", server: .group)
        let message = MessageFormat.groupInvite(group: group, code: "AbCdEfGh", expiration: 1_700_600_000, name: "Trip")
        // whatsmeow proto waE2E: Message.groupInviteMessage = 28 {groupJID 1, inviteCode 2, inviteExpiration 3, groupName 4, caption 6}.
        let bytes = try MessageFormat.encode(message)
        #expect(Array(bytes.prefix(2)) == [0xE2, 0x01])  // the key of field 28, length-delimited: varint 226
        let back = try WAWebProtobufsE2E_Message(serializedBytes: bytes)
        #expect(back.groupInviteMessage.groupJid == "120363000000000001@g.us" && back.groupInviteMessage.inviteCode == "AbCdEfGh")
        #expect(back.groupInviteMessage.inviteExpiration == 1_700_600_000 && back.groupInviteMessage.groupName == "Trip")
        let text = MessageFormat.text(of: back)
        #expect(text?.body == MessageFormat.groupInviteCaption && text?.type == "group_invite")
    }

    @Test func everyGroupChangeReadsBackAsWritten() throws {
        let ada = JID(user: "15550000001", server: .whatsApp), bea = JID(user: "15550000002", server: .whatsApp)
        let group = GroupStanzas.Group(jid: JID(user: "120363000000000001", server: .group), name: "Trip", owner: ada, creation: 1_700_000_000,
                                       participants: [GroupStanzas.Participant(jid: ada, admin: .superadmin), GroupStanzas.Participant(jid: bea)])
        let changes: [GroupStanzas.Change] = [
            .create(group, key: "K"),
            .membership(action: "add", participants: [GroupStanzas.Participant(jid: bea, lid: JID(user: "900002", server: .lid))],
                        version: 3, previousVersion: 2, reason: "invite"),
            .membership(action: "promote", participants: [GroupStanzas.Participant(jid: bea, admin: .admin)], version: nil, previousVersion: nil, reason: nil),
            .subject(name: "Trip ✓", time: 1_700_000_100, owner: bea, ownerPN: nil),
            .description(topic: "Lisbon", id: "T2"),
            .description(topic: nil, id: "T3"),
            .setting(name: "announcement", version: 4),
            .setting(name: "locked", version: nil),
            .invite(code: "NEWCODE"),
        ]
        for change in changes {
            #expect(try GroupStanzas.Change(parsing: try GroupStanzasTests.roundTrip(change.node)) == change)
        }
        // whatsmeow group.go parseGroupChange's names.
        #expect(changes[0].node[attribute: "type"] == "new" && changes[0].node.child("group")?[attribute: "id"] == "120363000000000001")
        #expect(changes[1].node[attribute: "v_id"] == "3" && changes[1].node[attribute: "prev_v_id"] == "2" && changes[1].node[attribute: "reason"] == "invite")
        #expect(changes[3].node.jid("s_o") == bea && changes[3].node[attribute: "s_t"] == "1700000100")
        #expect(changes[5].node.child("delete") != nil && changes[5].node.child("body") == nil)
        #expect(throws: MalformedStanza.self) { try GroupStanzas.Change(parsing: Node(tag: "ephemeral")) }
        #expect(throws: MalformedStanza.self) { try GroupStanzas.Change(parsing: Node(tag: "create")) }
    }
}
