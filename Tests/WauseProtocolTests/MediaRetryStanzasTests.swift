import Testing
import WauseBinary
import WauseCrypto
import WauseProto
import WauseProtocol

/// MediaRetryStanzas against whatsmeow mediaretry.go: the server-error receipt and the mediaretry
/// notification through the binary codec, sealed and opened with the media key, refused with any other.
@Suite struct MediaRetryStanzasTests {
    static func roundTrip(_ node: Node) throws -> Node { try NodeDecoder().decodeNode(NodeEncoder().encodeNode(node)) }

    let mediaKey = SystemRandom.bytes(32)
    let reference = MediaRetryStanzas.MessageReference(chat: JID(user: "15550001111", server: .whatsApp), fromMe: false)
    let own = JID(user: "15550002222", server: .whatsApp)

    @Test func theRequestHasWhatsmeowsShapeAndOpensOnlyWithTheMediaKey() throws {
        let request = try MediaRetryStanzas.Request.sealed(messageID: "3EB0ABC", to: own, reference: reference, mediaKey: mediaKey,
                                                           random: SystemRandom.bytes)
        let node = try MediaRetryStanzasTests.roundTrip(request.node)
        #expect(node.tag == "receipt" && node[attribute: "type"] == "server-error" && node.jid("to") == own && node[attribute: "id"] == "3EB0ABC")
        #expect(node.children.map(\.tag) == ["encrypt", "rmr"])
        #expect(node.child("rmr")?[attribute: "from_me"] == "false" && node.child("rmr")?.jid("jid") == reference.chat)
        #expect(node.child(path: "encrypt", "enc_iv")?.bytes?.count == 12)
        let parsed = try MediaRetryStanzas.Request(parsing: node)
        #expect(parsed == request)
        #expect(try parsed.stanzaID(mediaKey: mediaKey) == "3EB0ABC")
        #expect(throws: (any Error).self) { try parsed.stanzaID(mediaKey: SystemRandom.bytes(32)) }
        // The id is the associated data: the same sealed bytes under another id do not open.
        var moved = parsed
        moved.messageID = "OTHER"
        #expect(throws: (any Error).self) { try moved.stanzaID(mediaKey: mediaKey) }
    }

    @Test func theNotificationCarriesTheNewDirectPathOrAnError() throws {
        let group = MediaRetryStanzas.MessageReference(chat: JID(user: "120363000000000001", server: .group), fromMe: false,
                                                       participant: JID(user: "15550001111", server: .whatsApp))
        let answer = try MediaRetryStanzas.Notification.sealed(messageID: "3EB0ABC", from: own, t: 1_700_000_000, reference: group,
                                                               result: .success, directPath: "/v/t62.7118-24/x.enc?ccb=11-4",
                                                               mediaKey: mediaKey, random: SystemRandom.bytes)
        let node = try MediaRetryStanzasTests.roundTrip(answer.node)
        #expect(node[attribute: "type"] == "mediaretry" && node.child("rmr")?.jid("participant") == group.participant)
        let parsed = try MediaRetryStanzas.Notification(parsing: node)
        #expect(parsed == answer)
        let opened = try #require(try parsed.opened(mediaKey: mediaKey))
        #expect(opened.stanzaID == "3EB0ABC" && opened.result == .success && opened.directPath == "/v/t62.7118-24/x.enc?ccb=11-4")
        #expect(throws: (any Error).self) { try parsed.opened(mediaKey: SystemRandom.bytes(32)) }

        let missing = MediaRetryStanzas.Notification(messageID: "3EB0ABC", from: nil, t: 1, reference: reference, content: .error(code: 2))
        let parsedMissing = try MediaRetryStanzas.Notification(parsing: try MediaRetryStanzasTests.roundTrip(missing.node))
        #expect(parsedMissing.content == .error(code: 2))
        #expect(try parsedMissing.opened(mediaKey: mediaKey) == nil)
    }

    @Test func malformedStanzasAreRefused() {
        #expect(throws: MalformedStanza.self) {
            try MediaRetryStanzas.Request(parsing: Node(tag: "receipt", attributes: ["id": "1", "to": "15550002222@s.whatsapp.net", "type": "server-error"],
                                                        children: [Node(tag: "rmr", attributes: ["jid": "1@s.whatsapp.net", "from_me": "false"])]))
        }
        #expect(throws: MalformedStanza.self) {
            try MediaRetryStanzas.Request(parsing: Node(tag: "receipt", attributes: ["id": "1", "to": "15550002222@s.whatsapp.net", "type": "server-error"],
                                                        children: [Node(tag: "encrypt", children: [Node(tag: "enc_p", bytes: [1]), Node(tag: "enc_iv", bytes: [UInt8](repeating: 0, count: 12))])]))
        }
        #expect(throws: MalformedStanza.self) {
            try MediaRetryStanzas.Notification(parsing: Node(tag: "notification", attributes: ["id": "1", "type": "mediaretry"],
                                                             children: [Node(tag: "rmr", attributes: ["jid": "1@s.whatsapp.net", "from_me": "maybe"])]))
        }
        #expect(throws: MalformedStanza.self) {
            try MediaRetryStanzas.Notification(parsing: Node(tag: "notification", attributes: ["id": "1", "type": "mediaretry"],
                                                             children: [Node(tag: "rmr", attributes: ["jid": "1@s.whatsapp.net", "from_me": "true"])]))
        }
    }
}
