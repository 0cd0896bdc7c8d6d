import Testing
import WauseBinary
import WauseCrypto
import WauseProtocol
import WauseSignal

/// Receipts as both sides of the wire build and read them. The shapes are whatsmeow's: receipt.go
/// buildBaseReceipt / sendMessageReceipt / MarkRead / parseReceipt and retry.go sendRetryReceipt.
/// Every built receipt also goes through the real binary codec, as it does on the wire.
@Suite struct ReceiptStanzasTests {
    typealias Receipt = ReceiptStanzas.Receipt

    let ada = JID(user: "15550001111", server: .whatsApp)
    let adaPhone = JID(user: "15550001111", device: 0, server: .whatsApp)
    let bobCompanion = JID(user: "15550002222", device: 3, server: .whatsApp)
    let bob = JID(user: "15550002222", server: .whatsApp)

    /// What the wire gives back for `node`: encoded and decoded with the binary codec.
    func overTheWire(_ node: Node) throws -> Node {
        try NodeDecoder().decodeNode(NodeEncoder().encodeNode(node))
    }

    func names(_ node: Node) -> [String] { node.attributes.map(\.name) }

    // MARK: Delivery and sender receipts (whatsmeow receipt.go sendMessageReceipt)

    @Test func aDeliveryReceiptAnswersTheMessageItsIdAndSender() throws {
        let message = MessageEnvelope(id: "3EB0AA", type: "text", from: bobCompanion, t: 1_700_000_000)
        let node = Receipt.answering(message, type: .delivery).node
        // buildBaseReceipt: id and to (the message's from); a plain delivery has no type attribute.
        #expect(node.tag == "receipt")
        #expect(names(node) == ["id", "to"])
        #expect(node[attribute: "id"] == "3EB0AA")
        #expect(node.jid("to") == bobCompanion)
        #expect(node.content == .none)
        let back = try Receipt(parsing: overTheWire(node))
        #expect(back.ids == ["3EB0AA"] && back.type == .delivery && back.to == bobCompanion)
    }

    @Test func ourOwnDevicesCopyIsAnsweredWithTypeSenderAndTheRecipient() throws {
        let message = MessageEnvelope(id: "3EB0BB", from: JID(user: "15550001111", device: 2, server: .whatsApp), recipient: bob)
        let node = Receipt.answering(message, type: .sender).node
        // buildBaseReceipt copies recipient; sendMessageReceipt sets type="sender" for IsFromMe.
        #expect(Set(names(node)) == ["id", "to", "type", "recipient"])
        #expect(node[attribute: "type"] == "sender")
        #expect(node.jid("recipient") == bob)
        #expect(try Receipt(parsing: overTheWire(node)) == Receipt.answering(message, type: .sender))
    }

    // MARK: Read receipts (whatsmeow receipt.go MarkRead, parseReceipt)

    @Test func severalIdsGoAsTheIdAttributeAndAListOfItems() throws {
        let receipt = Receipt.read(ids: ["A1", "A2", "A3"], chat: ada, t: 1_700_000_123)
        let node = receipt.node
        #expect(Set(names(node)) == ["id", "to", "type", "t"])
        #expect(node[attribute: "id"] == "A1" && node[attribute: "type"] == "read" && node[attribute: "t"] == "1700000123")
        #expect(node.children.map(\.tag) == ["list"])
        let items = node.child("list")!.children
        #expect(items.map(\.tag) == ["item", "item"])
        #expect(items.map { $0[attribute: "id"] } == ["A2", "A3"])
        let back = try Receipt(parsing: overTheWire(node))
        #expect(back == receipt)
        #expect(back.ids == ["A1", "A2", "A3"])
    }

    @Test func oneIdHasNoList() {
        #expect(Receipt.read(ids: ["A1"], chat: ada, t: nil).node.content == .none)
    }

    @Test func aGroupReadReceiptNamesTheSender() {
        let group = JID(user: "120363000000000001", server: .group)
        let node = Receipt.read(ids: ["G1"], chat: group, t: 5, sender: bob).node
        #expect(node.jid("participant") == bob)
    }

    // MARK: What the server forwards

    @Test func aForwardedReceiptIsReadWithItsSenderTimeAndType() throws {
        // As the server delivers a receipt: from the device that sent it, t, type, recipient.
        let node = Node(tag: "receipt", attributes: [
            "from": .jid(bobCompanion), "id": "X1", "t": "1700000200", "type": "read-self", "recipient": .jid(ada),
        ], children: [Node(tag: "list", children: [Node(tag: "item", attributes: ["id": "X2"])])])
        let receipt = try Receipt(parsing: overTheWire(node))
        #expect(receipt.from == bobCompanion)
        #expect(receipt.ids == ["X1", "X2"])
        #expect(receipt.t == 1_700_000_200)
        #expect(receipt.type == .readSelf)
        #expect(receipt.recipient == ada)
        #expect(receipt.to == nil)
    }

    @Test func addressesWrittenAsTextAreReadAsJIDs() throws {
        // Independent clients (tests/interop) may write JIDs as plain strings.
        let node = Node(tag: "receipt", attributes: ["id": "T1", "to": "15550002222:3@s.whatsapp.net", "type": "played"])
        let receipt = try Receipt(parsing: node)
        #expect(receipt.to == bobCompanion && receipt.type == .played)
        // Built again, the address is a typed JID (whatsmeow ignores a text `from`).
        #expect(receipt.node.jid("to") == bobCompanion)
    }

    @Test func anUnknownTypeIsKept() throws {
        let receipt = try Receipt(parsing: Node(tag: "receipt", attributes: ["id": "U1", "type": "enc_rekey_retry"]))
        #expect(receipt.type.rawValue == "enc_rekey_retry")
        #expect(receipt.node[attribute: "type"] == "enc_rekey_retry")
    }

    @Test func whatIsNotAReceiptIsRefusedWithAReason() {
        #expect(throws: MalformedStanza(tag: "receipt", reason: "no id")) {
            try Receipt(parsing: Node(tag: "receipt", attributes: ["to": .jid(self.ada)]))
        }
        #expect(throws: MalformedStanza(tag: "message", reason: "not a receipt")) {
            try Receipt(parsing: Node(tag: "message", attributes: ["id": "1"]))
        }
        // whatsmeow retry.go handleRetryReceipt: a <retry> must name the message.
        #expect(throws: MalformedStanza(tag: "receipt", reason: "<retry> without id")) {
            try Receipt(parsing: Node(tag: "receipt", attributes: ["id": "1", "type": "retry"],
                                      children: [Node(tag: "retry", attributes: ["count": "1"])]))
        }
    }

    // MARK: Retry receipts (whatsmeow retry.go sendRetryReceipt, handleRetryReceipt)

    @Test func aFirstRetryReceiptCarriesRetryAndRegistration() throws {
        let message = MessageEnvelope(id: "3EB0CC", from: bobCompanion, t: 1_700_000_300)
        let receipt = Receipt.retry(answering: message, count: 1, t: 1_700_000_300, registrationID: 0x0102_0304, keys: nil)
        let node = receipt.node
        #expect(Set(names(node)) == ["id", "to", "type"])
        #expect(node[attribute: "type"] == "retry")
        // Children in sendRetryReceipt's order: <retry count id t v/>, <registration>4 bytes BE</registration>.
        #expect(node.children.map(\.tag) == ["retry", "registration"])
        let retry = node.child("retry")!
        #expect(names(retry) == ["count", "id", "t", "v"])
        #expect(retry[attribute: "count"] == "1" && retry[attribute: "id"] == "3EB0CC" && retry[attribute: "t"] == "1700000300"
            && retry[attribute: "v"] == "1")
        #expect(node.child("registration")?.bytes == [1, 2, 3, 4])
        let back = try Receipt(parsing: overTheWire(node))
        #expect(back == receipt)
        #expect(back.retry == ReceiptStanzas.Retry(count: 1, id: "3EB0CC", t: 1_700_000_300))
        #expect(back.registrationID == 0x0102_0304)
        #expect(back.bundle(for: bobCompanion) == nil)
    }

    @Test func laterRetryReceiptsCarryKeysThatMakeASession() throws {
        let identity = SignalKeyHelper.generateIdentityKeyPair()
        let signed = try SignalKeyHelper.generateSignedPreKey(identity: identity, id: 7, timestamp: 0)
        let oneTime = SignalKeyHelper.generatePreKeys(start: 42, count: 1)[0]
        let published = PreKeyStanzas.PublicKeys(registrationID: 1234, identityKey: identity.publicKey, signedPreKeyID: 7,
                                                 signedPreKey: signed.keyPair.publicKey, signedPreKeySignature: signed.signature)
        let keys = PreKeyStanzas.retryKeys(published, oneTime: (oneTime.id, oneTime.keyPair.publicKey), deviceIdentity: [9, 9, 9])
        // sendRetryReceipt's <keys>: type (05), identity, key, skey, device-identity — in that order.
        #expect(keys.children.map(\.tag) == ["type", "identity", "key", "skey", "device-identity"])
        #expect(keys.child("type")?.bytes == [0x05])
        #expect(keys.child("key")?.children.map(\.tag) == ["id", "value"])
        #expect(keys.child(path: "key", "id")?.bytes == [0, 0, 42])
        #expect(keys.child("skey")?.children.map(\.tag) == ["id", "value", "signature"])

        let message = MessageEnvelope(id: "3EB0DD", from: bobCompanion, recipient: ada, t: 10)
        let receipt = Receipt.retry(answering: message, count: 2, t: 10, registrationID: 1234, keys: keys)
        let node = receipt.node
        #expect(node.children.map(\.tag) == ["retry", "registration", "keys"])
        #expect(node.jid("recipient") == ada)
        let back = try Receipt(parsing: overTheWire(node))
        #expect(back == receipt)
        let bundle = try #require(back.bundle(for: bobCompanion))
        #expect(bundle.registrationId == 1234)
        #expect(bundle.deviceId == 3)
        #expect(bundle.preKeyId == 42 && bundle.preKeyPublic == oneTime.keyPair.publicKey)
        #expect(bundle.signedPreKeyId == 7 && bundle.signedPreKeyPublic == signed.keyPair.publicKey)
        #expect(bundle.signedPreKeySignature == signed.signature)
        // A phone has no device identity to send: the keys end with the signed prekey.
        #expect(PreKeyStanzas.retryKeys(published, oneTime: (1, oneTime.keyPair.publicKey), deviceIdentity: nil).children.map(\.tag)
            == ["type", "identity", "key", "skey"])
    }

    // MARK: The bundle answer (whatsmeow prekeys.go fetchPreKeys, nodeToPreKeyBundle)

    @Test func theServersBundleAnswerReadsBackAsABundle() throws {
        let identity = SignalKeyHelper.generateIdentityKeyPair()
        let signed = try SignalKeyHelper.generateSignedPreKey(identity: identity, id: 3, timestamp: 0)
        let published = PreKeyStanzas.PublicKeys(registrationID: 77, identityKey: identity.publicKey, signedPreKeyID: 3,
                                                 signedPreKey: signed.keyPair.publicKey, signedPreKeySignature: signed.signature)
        let withKey = PreKeyStanzas.bundleUser(device: bobCompanion, keys: published, oneTime: (5, signed.keyPair.publicKey))
        #expect(withKey.children.map(\.tag) == ["registration", "type", "identity", "skey", "key"])
        let without = PreKeyStanzas.bundleUser(device: adaPhone, keys: published, oneTime: nil)
        #expect(without.children.map(\.tag) == ["registration", "type", "identity", "skey"])
        let missing = PreKeyStanzas.missingBundleUser(device: JID(user: "15550009999", server: .whatsApp))
        #expect(missing.child("error")?[attribute: "code"] == "404")
        let answer = try overTheWire(Node(tag: "iq", attributes: ["type": "result", "id": "1"],
                                          children: [Node(tag: "list", children: [withKey, without, missing])]))
        let bundles = PreKeyStanzas.bundles(in: answer)
        #expect(Set(bundles.keys) == [bobCompanion, adaPhone])
        #expect(bundles[bobCompanion]?.preKeyId == 5)
        #expect(bundles[adaPhone]?.preKeyId == nil)
        #expect(bundles[adaPhone]?.registrationId == 77)
    }
}
