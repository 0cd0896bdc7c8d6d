import Testing
import WauseBinary
import WauseProtocol

/// The `<message>` envelope in its three shapes (whatsmeow send.go prepareMessageNode, sendDM,
/// sendGroup, encryptMessageForDeviceAndWrap; retry.go handleRetryReceipt; message.go
/// parseMessageSource), built, sent through the real binary codec and read back.
@Suite struct MessageEnvelopeTests {
    typealias Encrypted = MessageEnvelope.Encrypted

    let ada = JID(user: "15550001111", server: .whatsApp)
    let adaLID = JID(user: "201234567890123", server: .lid)
    let adaCompanion = JID(user: "15550001111", device: 4, server: .whatsApp)
    let bob = JID(user: "15550002222", server: .whatsApp)
    let bobPhone = JID(user: "15550002222", device: 0, server: .whatsApp)
    let bobCompanion = JID(user: "15550002222", device: 3, server: .whatsApp)
    let group = JID(user: "120363000000000001", server: .group)

    func overTheWire(_ node: Node) throws -> Node {
        try NodeDecoder().decodeNode(NodeEncoder().encodeNode(node))
    }

    func names(_ node: Node) -> [String] { node.attributes.map(\.name) }

    @Test func aDirectSendFansOutOneToPerDeviceWithTheDeviceIdentityAfter() throws {
        let envelope = MessageEnvelope(id: "3EB0A1", type: "text", to: bob, participants: [
            .init(device: bobPhone, encrypted: Encrypted(type: "msg", ciphertext: [1, 2])),
            .init(device: bobCompanion, encrypted: Encrypted(type: "pkmsg", ciphertext: [3, 4])),
        ], deviceIdentity: [7, 7])
        #expect(envelope.carriesPreKeyMessage)
        let node = envelope.node
        // prepareMessageNode: id, type, to; children <participants>, then makeDeviceIdentityNode.
        #expect(names(node) == ["id", "type", "to"])
        #expect(node.jid("to") == bob)
        #expect(node.children.map(\.tag) == ["participants", "device-identity"])
        let targets = node.child("participants")!.children
        #expect(targets.map(\.tag) == ["to", "to"])
        #expect(targets.map { $0.jid("jid") } == [bobPhone, bobCompanion])
        // encryptMessageForDeviceAndWrap: <to jid><enc v="2" type>ciphertext</enc></to>.
        let enc = targets[1].children
        #expect(enc.map(\.tag) == ["enc"])
        #expect(names(enc[0]) == ["v", "type"])
        #expect(enc[0][attribute: "v"] == "2" && enc[0][attribute: "type"] == "pkmsg" && enc[0].bytes == [3, 4])
        #expect(try MessageEnvelope(parsing: overTheWire(node)) == envelope)
    }

    @Test func onlyAPreKeyMessageNeedsTheDeviceIdentity() {
        let envelope = MessageEnvelope(id: "1", to: bob, participants: [.init(device: bobPhone, encrypted: Encrypted(type: "msg", ciphertext: [1]))])
        #expect(!envelope.carriesPreKeyMessage)
        #expect(envelope.node.children.map(\.tag) == ["participants"])
    }

    @Test func aGroupSendPutsItsSenderKeyMessageAfterTheParticipants() throws {
        // sendGroup: prepareMessageNode's <participants> (sender-key distribution for devices that
        // lack it) and <device-identity>, then phash, then the one <enc type="skmsg"> appended.
        let envelope = MessageEnvelope(id: "3EB0G1", type: "text", to: group, phash: "2:abcdEFGH", addressingMode: "lid",
                                       participants: [.init(device: bobCompanion, encrypted: Encrypted(type: "pkmsg", ciphertext: [5]))],
                                       encrypted: [Encrypted(type: "skmsg", ciphertext: [6, 6])], deviceIdentity: [8])
        let node = envelope.node
        #expect(names(node) == ["id", "type", "to", "phash", "addressing_mode"])
        #expect(node[attribute: "phash"] == "2:abcdEFGH" && node[attribute: "addressing_mode"] == "lid")
        #expect(node.children.map(\.tag) == ["participants", "device-identity", "enc"])
        #expect(node.children[2][attribute: "type"] == "skmsg")
        #expect(try MessageEnvelope(parsing: overTheWire(node)) == envelope)
        // Nobody new to tell about the sender key: the list is empty but still there.
        let quiet = MessageEnvelope(id: "3EB0G2", type: "text", to: group, participants: [],
                                    encrypted: [Encrypted(type: "skmsg", ciphertext: [1])])
        #expect(quiet.node.children.map(\.tag) == ["participants", "enc"])
        #expect(try MessageEnvelope(parsing: overTheWire(quiet.node)).participants == [])
    }

    @Test func aResendGoesToOneDeviceWithoutFanOutAndWithTheRetryCount() throws {
        // handleRetryReceipt: to, type, id, t (the original's), device_fanout=false; <enc count>, then <device-identity>.
        let envelope = MessageEnvelope(id: "3EB0R1", type: "text", to: bobCompanion, t: 1_700_000_000, deviceFanout: false,
                                       encrypted: [Encrypted(type: "pkmsg", ciphertext: [1], count: "2")], deviceIdentity: [3])
        let node = envelope.node
        #expect(Set(names(node)) == ["id", "type", "to", "t", "device_fanout"])
        #expect(node[attribute: "device_fanout"] == "false" && node[attribute: "t"] == "1700000000")
        #expect(node.children.map(\.tag) == ["enc", "device-identity"])
        #expect(node.children[0][attribute: "count"] == "2")
        let back = try MessageEnvelope(parsing: overTheWire(node))
        #expect(back == envelope)
        #expect(back.participants == nil)
    }

    @Test func aDeliveredMessageNamesItsSenderBothWays() throws {
        // What the server delivers (message.go parseMessageSource): from, t, notify, and the
        // sender's other address; recipient on our own devices' copies.
        let node = Node(tag: "message", attributes: [
            "from": .jid(adaCompanion), "id": "3EB0D1", "t": "1700000400", "type": "text", "notify": "Ada",
            "sender_lid": .jid(adaLID), "recipient": .jid(bob),
        ], children: [
            Node(tag: "enc", attributes: ["v": "2", "type": "msg", "mediatype": "image"], bytes: [9]),
        ])
        let envelope = try MessageEnvelope(parsing: overTheWire(node))
        #expect(envelope.from == adaCompanion)
        #expect(envelope.t == 1_700_000_400)
        #expect(envelope.notify == "Ada")
        #expect(envelope.senderLID == adaLID && envelope.senderPhone == nil)
        #expect(envelope.recipient == bob)
        #expect(envelope.encrypted == [Encrypted(type: "msg", ciphertext: [9], mediaType: "image")])
        #expect(envelope.deviceIdentity == nil)
        // Built again, it is the same stanza (attribute order aside).
        let rebuilt = envelope.node
        #expect(Set(rebuilt.attributes.map(\.name)) == Set(node.attributes.map(\.name)))
        #expect(try MessageEnvelope(parsing: rebuilt) == envelope)
    }

    @Test func textAddressesAreReadAndMalformedTargetsLeftOut() throws {
        let node = Node(tag: "message", attributes: ["id": "M1", "to": "15550002222@s.whatsapp.net", "type": "text"], children: [
            Node(tag: "participants", children: [
                Node(tag: "to", attributes: ["jid": "15550002222:3@s.whatsapp.net"],
                     children: [Node(tag: "enc", attributes: ["v": "2", "type": "msg"], bytes: [1])]),
                Node(tag: "to", attributes: ["jid": "15550002222@s.whatsapp.net"]),  // no <enc>: nothing to deliver
                Node(tag: "to", children: [Node(tag: "enc", attributes: ["v": "2", "type": "msg"], bytes: [2])]),  // no jid
            ]),
        ])
        let envelope = try MessageEnvelope(parsing: node)
        #expect(envelope.to == bob)
        #expect(envelope.participants == [.init(device: bobCompanion, encrypted: Encrypted(type: "msg", ciphertext: [1]))])
    }

    @Test func aMessageWithoutAnIdIsRefused() {
        #expect(throws: MalformedStanza(tag: "message", reason: "no id")) {
            try MessageEnvelope(parsing: Node(tag: "message", attributes: ["to": .jid(self.bob)]))
        }
        #expect(throws: MalformedStanza(tag: "receipt", reason: "not a message")) {
            try MessageEnvelope(parsing: Node(tag: "receipt", attributes: ["id": "1"]))
        }
    }
}
