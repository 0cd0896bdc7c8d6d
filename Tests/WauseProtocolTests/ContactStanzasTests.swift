import Testing
import WauseBinary
import WauseProtocol

/// The contacts and presence stanzas (issue 14) through the binary codec, both directions: what the engine builds
/// the server side reads (USyncRequest, PresenceStanzas.Request, ChatStateStanza, ProfilePictureStanzas.Request),
/// and what the server answers the engine parses — with the shapes of whatsmeow user.go and presence.go.
@Suite struct ContactStanzasTests {
    static func roundTrip(_ node: Node) throws -> Node {
        try NodeDecoder().decodeNode(NodeEncoder().encodeNode(node))
    }

    @Test func theContactQueryNamesPhonesWithoutJIDsAndTheAnswerIsReadBack() throws {
        let query = try Self.roundTrip(USyncContacts.query(id: "7", phones: ["15550001111", "15559990000"]))
        #expect(query[attribute: "xmlns"] == "usync" && query[attribute: "type"] == "get")
        #expect(query.child("usync")?[attribute: "context"] == "interactive" && query.child("usync")?[attribute: "mode"] == "query")
        let request = try #require(USyncRequest(parsing: query))
        #expect(request.protocols == ["contact", "lid"])
        #expect(request.users.map(\.jid) == [nil, nil])
        #expect(request.users.map(\.contact) == ["+15550001111", "+15559990000"])
        #expect(request.users.compactMap { $0.contact.flatMap(USyncRequest.contactDigits) } == ["15550001111", "15559990000"])

        let answer = IQShapes.result("7", [request.answer(users: [
            Node(tag: "user", attributes: ["jid": .jid(JID(user: "15550001111", server: .whatsApp))], children: [
                USyncContacts.answer(query: "+15550001111", registered: true),
                Node(tag: "lid", attributes: ["val": .jid(JID(user: "123456789012345", server: .lid))]),
            ]),
            Node(tag: "user", attributes: ["jid": .jid(JID(user: "15559990000", server: .whatsApp))], children: [
                USyncContacts.answer(query: "+15559990000", registered: false),
            ]),
        ])])
        let results = USyncContacts.parse(try Self.roundTrip(answer))
        #expect(results == [
            USyncContacts.Result(phone: "15550001111", onWhatsApp: true, jid: JID(user: "15550001111", server: .whatsApp),
                                 lid: JID(user: "123456789012345", server: .lid)),
            USyncContacts.Result(phone: "15559990000", onWhatsApp: false, jid: nil, lid: nil),
        ])
        // The usync attributes are echoed.
        #expect(try Self.roundTrip(answer).child("usync")?[attribute: "sid"] == "7")
    }

    @Test func contactDigitsAcceptBaileysAndWhatsmeowForms() {
        #expect(USyncRequest.contactDigits("+15550001111") == "15550001111")
        #expect(USyncRequest.contactDigits("+15550001111@c.us") == "15550001111")
        #expect(USyncRequest.contactDigits("15550001111") == "15550001111")
        #expect(USyncRequest.contactDigits("+") == nil)
        #expect(USyncRequest.contactDigits("+1555abc") == nil)
    }

    @Test func theUserInfoQueryAsksWhatGetUserInfoAsksAndTheAnswerIsRead() throws {
        let bob = JID(user: "15550002222", server: .whatsApp)
        let query = try Self.roundTrip(USyncUserInfo.query(id: "9", users: [bob]))
        #expect(query.child("usync")?[attribute: "mode"] == "full" && query.child("usync")?[attribute: "context"] == "background")
        let request = try #require(USyncRequest(parsing: query))
        #expect(request.protocols == ["business", "status", "picture", "devices", "lid"])
        #expect(request.users.map(\.jid) == [bob])

        let answer = IQShapes.result("9", [request.answer(users: [
            Node(tag: "user", attributes: ["jid": .jid(bob)], children: [
                USyncUserInfo.statusAnswer("Out fishing", setAt: 1_700_000_000), USyncUserInfo.businessAnswer(),
                USyncUserInfo.pictureAnswer(id: "1700000000123"),
                Node(tag: "devices", children: [Node(tag: "device-list", children: [
                    Node(tag: "device", attributes: ["id": "0"]), Node(tag: "device", attributes: ["id": "3", "key-index": "1"]),
                ])]),
                Node(tag: "lid", attributes: ["val": .jid(JID(user: "99887766554433", server: .lid))]),
            ]),
        ])])
        let info = try #require(USyncUserInfo.parse(try Self.roundTrip(answer)).first)
        #expect(info.user == bob && info.lid == JID(user: "99887766554433", server: .lid))
        #expect(info.status == "Out fishing" && info.statusSetAt == 1_700_000_000 && info.business && info.pictureID == "1700000000123")
        #expect(info.devices == [JID(user: bob.user, device: 0, server: .whatsApp), JID(user: bob.user, device: 3, server: .whatsApp)])

        // A hidden about (code 401, Baileys fetchStatus), no business, no picture.
        let hidden = IQShapes.result("9", [request.answer(users: [
            Node(tag: "user", attributes: ["jid": .jid(bob)], children: [Node(tag: "status", attributes: ["code": "401"])]),
        ])])
        let plain = try #require(USyncUserInfo.parse(try Self.roundTrip(hidden)).first)
        #expect(plain.status == nil && !plain.business && plain.pictureID == nil && plain.devices.isEmpty)
    }

    @Test func presenceBothWays() throws {
        let own = try Self.roundTrip(PresenceStanzas.own(.available, name: "Ada @home"))
        #expect(own[attribute: "type"] == "available" && own[attribute: "name"] == "Ada home")
        #expect(PresenceStanzas.Request(parsing: own) == .own(.available, name: "Ada home"))
        let bob = JID(user: "15550002222", server: .whatsApp)
        let subscribe = try Self.roundTrip(PresenceStanzas.subscribe(to: bob, token: [1, 2, 3]))
        #expect(subscribe.child("tctoken")?.bytes == [1, 2, 3])
        #expect(PresenceStanzas.Request(parsing: subscribe) == .subscribe(bob))
        #expect(PresenceStanzas.Request(parsing: Node(tag: "presence", attributes: ["type": "probe"])) == nil)

        let offline = PresenceStanzas.Update(from: bob, state: .unavailable, lastSeen: 1_700_000_100)
        #expect(PresenceStanzas.Update(parsing: try Self.roundTrip(offline.node)) == offline)
        // No type is available (whatsmeow handlePresence); last="deny" is no time.
        let online = Node(tag: "presence", attributes: ["from": .jid(bob), "last": "deny"])
        #expect(PresenceStanzas.Update(parsing: try Self.roundTrip(online)) == PresenceStanzas.Update(from: bob, state: .available, lastSeen: nil))
    }

    @Test func chatStatesBothWaysWithRecordingAsComposingAudio() throws {
        let bob = JID(user: "15550002222", server: .whatsApp)
        for state in ChatStateStanza.State.allCases {
            let sent = try Self.roundTrip(ChatStateStanza(chat: bob, state: state).outgoing)
            #expect(sent.jid("to") == bob && sent.attributes["from"] == nil)
            #expect(ChatStateStanza(parsing: sent) == ChatStateStanza(chat: bob, state: state))
        }
        let recording = ChatStateStanza(chat: bob, state: .recording).outgoing
        #expect(recording.children.first?.tag == "composing" && recording.children.first?[attribute: "media"] == "audio")
        let group = JID(user: "120363000000000001", server: .group)
        let delivered = try Self.roundTrip(ChatStateStanza(chat: group, participant: bob, state: .composing).delivered)
        #expect(delivered.jid("from") == group && delivered.jid("participant") == bob)
        #expect(ChatStateStanza(parsing: delivered) == ChatStateStanza(chat: group, participant: bob, state: .composing))
        #expect(ChatStateStanza(parsing: Node(tag: "chatstate", attributes: ["from": .jid(bob)], children: [Node(tag: "gone")])) == nil)
    }

    @Test func profilePictureQueryAnswerAndErrors() throws {
        let bob = JID(user: "15550002222", server: .whatsApp)
        let query = try Self.roundTrip(ProfilePictureStanzas.query(id: "5", target: bob, preview: true))
        #expect(query[attribute: "xmlns"] == "w:profile:picture" && query.jid("target") == bob)
        #expect(query.child("picture")?[attribute: "query"] == "url" && query.child("picture")?[attribute: "type"] == "preview")
        let request = try #require(ProfilePictureStanzas.Request(parsing: query))
        #expect(request.target == bob && request.preview)

        let picture = ProfilePictureStanzas.Picture(id: "123", url: "https://127.0.0.1:9/v/t62/abc.enc?x=1", directPath: "/v/t62/abc.enc?x=1",
                                                    type: "preview")
        #expect(ProfilePictureStanzas.Answer(parsing: try Self.roundTrip(IQShapes.result("5", [picture.node]))) == .picture(picture))
        #expect(ProfilePictureStanzas.Answer(parsing: IQShapes.error("5", 404)) == .notSet)
        #expect(ProfilePictureStanzas.Answer(parsing: IQShapes.error("5", 401)) == .hidden)
        #expect(ProfilePictureStanzas.Answer(parsing: IQShapes.error("5", 500)) == .failed(code: 500, text: "x"))
    }
}

/// The iq result and error the server wraps answers in (whatsmeow request.go).
enum IQShapes {
    static func result(_ id: String, _ children: [Node]) -> Node {
        Node(tag: "iq", attributes: ["from": .jid(.whatsAppServer), "type": "result", "id": .text(id)], children: children)
    }

    static func error(_ id: String, _ code: Int) -> Node {
        Node(tag: "iq", attributes: ["type": "error", "id": .text(id)],
             children: [Node(tag: "error", attributes: ["code": .text(String(code)), "text": "x"])])
    }
}
