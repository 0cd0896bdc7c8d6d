import WauseSupport
import Testing
import WauseBinary

/// decode(encode(node)) == node over realistic stanzas and over seeded random nodes.
@Suite struct RoundTripTests {
    @Test(arguments: StanzaCorpus.all.map(\.name))
    func realisticStanzaRoundTrips(_ name: String) throws {
        let node = try #require(StanzaCorpus.all.first { $0.name == name }).node
        let frame = try node.encodedFrame()
        #expect(frame.first == 0x00)
        let decoded = try Node(frame: frame)
        #expect(decoded == node)
        #expect(try decoded.encodedFrame() == frame)
        // The same stanza compressed decodes to the same node.
        #expect(try Node(frame: NodeEncoder().encodeFrame(node, compression: .zlib)) == node)
    }

    @Test func accessorsOnDecodedStanzas() throws {
        var random = SplitMix64(seed: 1)
        let message = try Node(frame: StanzaCorpus.message(&random).encodedFrame())
        #expect(message[attribute: "type"] == "text")
        #expect(message.jid("to") == StanzaCorpus.peer)
        #expect(message[attribute: "to"] == "14155550123@s.whatsapp.net")
        let participants = try #require(message.child("participants"))
        #expect(participants.children("to").count == 3)
        #expect(participants.children.compactMap { $0.jid("jid")?.device } == [0, 3, 5])
        #expect(message.child(path: "participants", "to", "enc")?.bytes?.count == 180)
        #expect(message.child("device-identity")?.bytes?.count == 120)
        #expect(message.child("nothing") == nil)

        let pairDevice = try #require(StanzaCorpus.all.first { $0.name == "pair-device with 6 refs" }).node
        let refs = try Node(frame: pairDevice.encodedFrame()).child("pair-device")?.children("ref") ?? []
        #expect(refs.count == 6)
        #expect(refs[0].text?.hasPrefix("2@0") == true)
    }

    @Test func rawTextContentComesBackAsBytes() throws {
        // whatsmeow returns raw-length content as []byte (whatsmeow binary/decoder.go readBytesOrString); tokens and packed strings stay text.
        let node = Node(tag: "body", content: .text("héllo"))
        let decoded = try Node(frame: node.encodedFrame())
        #expect(decoded.content == .bytes(Array("héllo".utf8)))
        #expect(decoded.text == "héllo")
    }

    @Test func attributeEditingKeepsOrder() {
        var attributes: Attributes = ["id": "1", "type": "get", "to": .jid(.whatsAppServer)]
        attributes["type"] = "set"
        attributes["xmlns"] = "w:p"
        attributes["id"] = nil
        #expect(attributes.map(\.name) == ["type", "to", "xmlns"])
        #expect(attributes["type"] == "set")
        var duplicated = Attributes([Attribute(name: "a", value: "1"), Attribute(name: "a", value: "2")])
        #expect(duplicated["a"] == "2")  // last wins, like a map-based decoder
        duplicated["a"] = "3"
        #expect(duplicated.count == 1)
    }

    @Test func randomNodesRoundTrip() throws {
        var random = SplitMix64(seed: 20_240_611)
        for iteration in 0..<3_000 {
            let node = RandomNodes.node(&random, depth: 1)
            let frame = try node.encodedFrame()
            let decoded = try NodeDecoder().decodeFrame(frame)
            #expect(decoded == node, "iteration \(iteration)")
            #expect(try decoded.encodedFrame() == frame, "iteration \(iteration)")
            if decoded != node { break }
        }
    }

    @Test func listAndLengthBoundaries() throws {
        // LIST_8 → LIST_16 at 256 children; BINARY_8/20/32 at 256 and 2^20 bytes (whatsmeow binary/token/token.go).
        for count in [0, 1, 255, 256, 1_000] {
            let node = Node(tag: "list", children: Array(repeating: Node(tag: "item"), count: count))
            #expect(try Node(frame: node.encodedFrame()) == node)
        }
        for length in [0, 255, 256, (1 << 20) - 1, 1 << 20] {
            let node = Node(tag: "enc", bytes: [UInt8](repeating: 7, count: length))
            let frame = try node.encodedFrame()
            let expectedTag: UInt8 = length < 256 ? 0xFC : length < 1 << 20 ? 0xFD : 0xFE
            #expect(frame[4] == expectedTag, "length \(length)")
            #expect(try Node(frame: frame) == node)
        }
        // Every single nibble character is a token, so start at two ("98" is not one).
        for length in [2, 3, 126, 127, 128] {
            let digits = String(String(repeating: "98", count: 64).prefix(length))
            let frame = try Node(tag: "iq", content: .text(digits)).encodedFrame()
            #expect(frame[4] == (length <= 127 ? 0xFF : 0xFC), "length \(length)")
            #expect(try Node(frame: frame).text == digits)
        }
    }

    @Test func encoderRejectsWhatTheWireCannotCarry() {
        #expect(throws: NodeEncodingError.emptyTag) { try Node(tag: "").encodedFrame() }
        #expect(throws: NodeEncodingError.listTooLong(count: 65_536)) {
            try Node(tag: "x", children: Array(repeating: Node(tag: "y"), count: 65_536)).encodedFrame()
        }
    }
}

/// Seeded random nodes whose every value survives a round trip unchanged: canonical JIDs (no
/// raw agent on s.whatsapp.net, no device on JID-pair servers), no empty attribute values, and
/// text content only where the decoder returns text (tokens and packed strings).
enum RandomNodes {
    static let tokens = ["iq", "message", "receipt", "ack", "id", "to", "from", "type", "enc", "participant", "s.whatsapp.net",
                         "g.us", "pair-device", "ref", "failure", "passive", "skey", "1", "12", "100", "03", "1080"]

    static func word<G: RandomNumberGenerator>(_ random: inout G, alphabet: String, length: ClosedRange<Int>) -> String {
        let characters = Array(alphabet)
        return String((0..<Int.random(in: length, using: &random)).map { _ in characters.randomElement(using: &random)! })
    }

    static func string<G: RandomNumberGenerator>(_ random: inout G) -> String {
        switch Int.random(in: 0..<7, using: &random) {
        case 0: return tokens.randomElement(using: &random)!
        case 1: return word(&random, alphabet: "0123456789-.", length: 1...130)
        case 2: return word(&random, alphabet: "0123456789ABCDEF", length: 1...130)
        case 3: return word(&random, alphabet: "0123456789abcdef", length: 1...40)
        case 4: return word(&random, alphabet: "abcxyzé🌻 _:+/=@", length: 1...300)
        case 5: return word(&random, alphabet: "abcdefghijklmnopqrstuvwxyz-_:", length: 1...24)
        default: return String(UInt64.random(in: 0...UInt64.max, using: &random))
        }
    }

    /// Strings the decoder gives back as text in content position.
    static func textContent<G: RandomNumberGenerator>(_ random: inout G) -> String {
        switch Int.random(in: 0..<3, using: &random) {
        case 0: return tokens.randomElement(using: &random)!
        case 1: return word(&random, alphabet: "0123456789-.", length: 1...127)
        default: return word(&random, alphabet: "0123456789ABCDEF", length: 1...127)
        }
    }

    static func jid<G: RandomNumberGenerator>(_ random: inout G) -> JID {
        let user = Bool.random(using: &random)
            ? String(UInt64.random(in: 0...99_999_999_999_999, using: &random))
            : word(&random, alphabet: "abc0123456789-", length: 1...20)
        let device = UInt16.random(in: 0...255, using: &random)
        switch Int.random(in: 0..<10, using: &random) {
        case 0: return JID(user: user, device: device, server: .whatsApp)
        case 1: return JID(user: user, device: device, server: .lid)
        case 2: return JID(user: user, device: device, server: .hosted)
        case 3: return JID(user: user, device: device, server: .hostedLID)
        case 4: return JID(user: user, device: UInt16.random(in: 0...UInt16.max, using: &random), server: .messenger)
        case 5: return JID(user: user, device: device, integrator: UInt16.random(in: 0...UInt16.max, using: &random), server: .interop)
        case 6: return JID(server: [JID.Server.whatsApp, .group, .broadcast, .lid].randomElement(using: &random)!)
        case 7: return JID(user: user, server: [JID.Server.group, .broadcast, .newsletter, .bot, .legacyUser, .call].randomElement(using: &random)!)
        case 8: return JID(user: user, server: JID.Server(word(&random, alphabet: "abcdef.", length: 1...12)))
        default: return JID(user: user, server: .whatsApp)
        }
    }

    static func node<G: RandomNumberGenerator>(_ random: inout G, depth: Int) -> Node {
        let tag = Bool.random(using: &random) ? tokens.randomElement(using: &random)! : word(&random, alphabet: "abcdefgh-:_", length: 1...12)
        var attributes = Attributes()
        for _ in 0..<Int.random(in: 0...6, using: &random) {
            let name = Bool.random(using: &random) ? tokens.randomElement(using: &random)! : word(&random, alphabet: "abcdefgh_", length: 1...10)
            let value: AttributeValue = Int.random(in: 0..<3, using: &random) == 0 ? .jid(jid(&random)) : .text(string(&random))
            // Duplicates are kept as they are, as the decoder does.
            attributes.append(Attribute(name: name, value: value))
        }
        let content: Node.Content
        switch Int.random(in: 0..<(depth < 5 ? 7 : 5), using: &random) {
        case 0: content = .none
        case 1:
            let length = Int.random(in: 0..<100, using: &random) == 0 ? 70_000 : Int.random(in: 0...300, using: &random)
            content = .bytes(random.bytes(length))
        case 2: content = .text(textContent(&random))
        case 3: content = .jid(jid(&random))
        case 4: content = .nodes([])
        default: content = .nodes((0..<Int.random(in: 1...4, using: &random)).map { _ in node(&random, depth: depth + 1) })
        }
        return Node(tag: tag, attributes: attributes, content: content)
    }
}

@Suite struct NodeDescriptionTests {
    @Test func describesNodesLikeXML() {
        let node = Node(tag: "iq", attributes: ["id": "1", "to": .jid(.whatsAppServer)], children: [
            Node(tag: "ping"), Node(tag: "enc", bytes: [0xDE, 0xAD]), Node(tag: "v", content: .text("2")),
        ])
        #expect(node.description == "<iq id=\"1\" to=s.whatsapp.net><ping/><enc>dead</enc><v>2</v></iq>")
    }
}
