import Testing
import WauseBinary
import WauseProtocol

/// Privacy tokens (whatsmeow tctoken.go, cstoken.go, notification.go
/// handlePrivacyTokenNotification, send.go sendDM, group.go): the bucket arithmetic, the cstoken
/// formula against Python's hmac module, and the stanzas through the real binary codec.
@Suite struct PrivacyTokensTests {
    let bucket = PrivacyTokens.bucketSeconds

    func overTheWire(_ node: Node) throws -> Node {
        try NodeDecoder().decodeNode(NodeEncoder().encodeNode(node))
    }

    @Test func aTokenIsGoodForFourBucketsAndOursIsIssuedOncePerBucket() {
        let now = 2900 * bucket + 1234
        // The cutoff is the start of the bucket three before the current one.
        #expect(PrivacyTokens.cutoff(now: now) == 2897 * bucket)
        #expect(!PrivacyTokens.isExpired(t: 2897 * bucket, now: now))
        #expect(PrivacyTokens.isExpired(t: 2897 * bucket - 1, now: now))
        #expect(PrivacyTokens.isExpired(t: 0, now: now))
        #expect(PrivacyTokens.shouldIssue(lastIssued: nil, now: now))
        #expect(!PrivacyTokens.shouldIssue(lastIssued: 2900 * bucket, now: now))
        #expect(PrivacyTokens.shouldIssue(lastIssued: 2900 * bucket - 1, now: now))
        #expect(PrivacyTokens.applies(to: JID(user: "15550001111", server: .whatsApp)))
        #expect(PrivacyTokens.applies(to: JID(user: "2012345", server: .lid)))
        #expect(!PrivacyTokens.applies(to: JID(user: "120363000000000001", server: .group)))
    }

    /// Expected bytes: `hmac.new(bytes(range(1, 17)), b"123456789@lid", hashlib.sha256).hexdigest()`.
    @Test func theCsTokenIsHMACOfTheRecipientsLIDText() {
        let salt = Array(UInt8(1)...16)
        let token = PrivacyTokens.csToken(salt: salt, recipientLID: JID(user: "123456789", device: 3, server: .lid))
        let expected = "e2d0eb903d8282ded5991bee93b55f778bc0cf06389d2090473deb19f888ad19"
        let digits = Array(expected.utf8).map { UInt8(($0 >= 97 ? $0 - 87 : $0 - 48)) }
        #expect(token == stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] })
        #expect(PrivacyTokens.csToken(salt: [], recipientLID: JID(user: "1", server: .lid)) == nil)
        #expect(PrivacyTokens.csToken(salt: salt, recipientLID: JID(user: "1555", server: .whatsApp)) == nil)
    }

    @Test func theIssueIqAndTheNotificationReadBack() throws {
        let issue = try overTheWire(PrivacyTokens.issue(id: "7", to: JID(user: "2012345", device: 2, server: .lid), t: 1_700_000_000))
        #expect(issue[attribute: "xmlns"] == "privacy" && issue[attribute: "type"] == "set")
        let token = try #require(issue.child("tokens")?.child("token"))
        #expect(token.jid("jid") == JID(user: "2012345", server: .lid))
        #expect(token[attribute: "t"] == "1700000000" && token[attribute: "type"] == "trusted_contact")

        let ada = JID(user: "15550001111", server: .whatsApp), adaLID = JID(user: "2011111", server: .lid)
        let notification = try overTheWire(PrivacyTokens.notification(id: "N1", issuer: ada, issuerLID: adaLID,
                                                                      holder: JID(user: "15550002222", server: .whatsApp),
                                                                      token: [1, 2, 3], tokenT: 1_700_000_000, t: 1_700_000_005))
        #expect(try PrivacyTokens.Grant.parse(notification)
            == [PrivacyTokens.Grant(issuer: ada, issuerLID: adaLID, token: [1, 2, 3], t: 1_700_000_000)])
        // Another token type is skipped; a stanza that is not a privacy_token notification is refused.
        let other = Node(tag: "notification", attributes: ["from": .jid(ada), "type": "privacy_token"], children: [
            Node(tag: "tokens", children: [Node(tag: "token", attributes: ["t": "1", "type": "other"], bytes: [1])]),
        ])
        #expect(try PrivacyTokens.Grant.parse(other).isEmpty)
        #expect(throws: MalformedStanza.self) { try PrivacyTokens.Grant.parse(Node(tag: "notification", attributes: ["type": "devices"])) }
    }

    @Test func aDirectSendCarriesTheTokenLastAndThePhoneNumberBesideALIDTo() throws {
        let bobLID = JID(user: "2022222", server: .lid), bob = JID(user: "15550002222", server: .whatsApp)
        let envelope = MessageEnvelope(id: "3EB0T1", type: "text", to: bobLID, participants: [
            .init(device: JID(user: "2022222", device: 0, server: .lid), encrypted: .init(type: "msg", ciphertext: [1])),
        ], peerRecipientPhone: bob, privacyToken: [9, 8, 7])
        let node = try overTheWire(envelope.node)
        #expect(node.children.map(\.tag) == ["participants", "tctoken"])
        #expect(node.jid("peer_recipient_pn") == bob)
        let back = try MessageEnvelope(parsing: node)
        #expect(back == envelope)
        let withCsToken = MessageEnvelope(id: "3EB0T2", to: bobLID, participants: [], csToken: [5])
        #expect(try MessageEnvelope(parsing: overTheWire(withCsToken.node)).csToken == [5])
    }

    @Test func aGroupAddCarriesTheTokensWeHoldAsPrivacy() throws {
        let held = JID(user: "15550002222", server: .whatsApp), other = JID(user: "15550003333", server: .whatsApp)
        let group = JID(user: "120363000000000001", server: .group)
        let add = try overTheWire(GroupStanzas.updateParticipants(id: "1", group: group, action: "add", participants: [held, other],
                                                                 tokens: [held: [4, 4]]))
        let participants = add.child("add")?.children("participant") ?? []
        #expect(participants.map { $0.child("privacy")?.bytes } == [[4, 4], nil])
        // Only an add carries them.
        let remove = GroupStanzas.updateParticipants(id: "2", group: group, action: "remove", participants: [held], tokens: [held: [4]])
        #expect(remove.child("remove")?.child("participant")?.child("privacy") == nil)
        let create = GroupStanzas.create(id: "3", subject: "S", participants: [held], key: "K", tokens: [held: [6]])
        #expect(create.child("create")?.child("participant")?.child("privacy")?.bytes == [6])
    }
}
