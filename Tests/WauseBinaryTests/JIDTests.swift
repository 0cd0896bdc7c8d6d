import Testing
import WauseBinary

/// JID text forms (whatsmeow types/jid.go `ParseJID`/`String`) and wire encodings (whatsmeow binary/encoder.go writeJID).
@Suite struct JIDTests {
    /// text → (user, rawAgent, device, integrator, server); every row also prints back as itself.
    static let parseTable: [(String, String, UInt8, UInt16, UInt16, String)] = [
        ("1234567890@s.whatsapp.net", "1234567890", 0, 0, 0, "s.whatsapp.net"),
        ("1234567890:12@s.whatsapp.net", "1234567890", 0, 12, 0, "s.whatsapp.net"),
        ("1234567890.5:12@s.whatsapp.net", "1234567890", 5, 12, 0, "s.whatsapp.net"),
        ("1234567890.5:0@s.whatsapp.net", "1234567890", 5, 0, 0, "s.whatsapp.net"),
        ("98765@lid", "98765", 0, 0, 0, "lid"),
        ("98765:3@lid", "98765", 0, 3, 0, "lid"),
        ("120363012345678901@g.us", "120363012345678901", 0, 0, 0, "g.us"),
        ("491701234567-1600000000@g.us", "491701234567-1600000000", 0, 0, 0, "g.us"),
        ("status@broadcast", "status", 0, 0, 0, "broadcast"),
        ("1234567890123@broadcast", "1234567890123", 0, 0, 0, "broadcast"),
        ("120363123456789012@newsletter", "120363123456789012", 0, 0, 0, "newsletter"),
        ("867051314767696@bot", "867051314767696", 0, 0, 0, "bot"),
        ("0@c.us", "0", 0, 0, 0, "c.us"),
        ("5511999999999:99@hosted", "5511999999999", 0, 99, 0, "hosted"),
        ("77777@hosted.lid", "77777", 0, 0, 0, "hosted.lid"),
        ("100001234:2@msgr", "100001234", 0, 2, 0, "msgr"),
        ("7-555123:1@interop", "555123", 0, 1, 7, "interop"),
        ("555123:1@interop", "555123", 0, 1, 0, "interop"),
        ("ABCDEF0123456789@call", "ABCDEF0123456789", 0, 0, 0, "call"),
        ("s.whatsapp.net", "", 0, 0, 0, "s.whatsapp.net"),
        ("g.us", "", 0, 0, 0, "g.us"),
    ]

    @Test(arguments: 0..<parseTable.count)
    func parsesAndPrints(_ index: Int) throws {
        let (text, user, agent, device, integrator, server) = Self.parseTable[index]
        let parsed = try JID(parsing: text)
        #expect(parsed == JID(user: user, rawAgent: agent, device: device, integrator: integrator, server: JID.Server(server)))
        #expect(parsed.description == text)
        #expect(parsed.hasLosslessTextForm)
        #expect(JID(text) == parsed)
    }

    @Test(arguments: ["", "@", "a@", "a@b@c", "1.2.3@s.whatsapp.net", "1:2:3@s.whatsapp.net", "1:x@s.whatsapp.net",
                      "1.300@s.whatsapp.net", "1:70000@s.whatsapp.net", "1.x:2@s.whatsapp.net", "70000-1:1@interop"])
    func rejectsMalformedText(_ text: String) {
        #expect(throws: JIDParseError.self) { try JID(parsing: text) }
        #expect(JID(text) == nil)
    }

    @Test func derivedValues() {
        let device = jid("1234567890.5:12@s.whatsapp.net")
        #expect(device.userJID == jid("1234567890@s.whatsapp.net"))
        #expect(jid("98765:3@lid").actualAgent == 1)
        #expect(jid("1@hosted").actualAgent == 128)
        #expect(jid("1@hosted.lid").actualAgent == 129)
        #expect(jid("1.7:1@example").actualAgent == 7)
        #expect(JID.whatsAppServer.isServerOnly)
        #expect(!JID.statusBroadcast.isServerOnly)
        #expect(JID(user: "a.b", server: .whatsApp).hasLosslessTextForm == false)
        #expect(Set([jid("1@s.whatsapp.net"), jid("1@s.whatsapp.net"), jid("1:1@s.whatsapp.net")]).count == 2)
    }

    /// The JID encoding selection of whatsmeow binary/encoder.go writeJID, byte for byte (the node is `<x a=JID/>`).
    static let encodingTable: [(String, String)] = [
        // s.whatsapp.net: JID pair without a device, AD_JID with one.
        ("s.whatsapp.net", "FA 00 03"),
        ("1234@s.whatsapp.net", "FA FF 02 12 34 03"),
        ("1234:1@s.whatsapp.net", "F7 00 01 FF 02 12 34"),
        // The raw agent of an s.whatsapp.net JID is not written: its actual agent is 0.
        ("1234.5:1@s.whatsapp.net", "F7 00 01 FF 02 12 34"),
        ("98765@lid", "FA FF 83 98 76 5F 76"),
        ("98765:3@lid", "F7 01 03 FF 83 98 76 5F"),
        // hosted servers are AD_JIDs even for device 0.
        ("1234:99@hosted", "F7 80 63 FF 02 12 34"),
        ("1234@hosted.lid", "F7 81 00 FF 02 12 34"),
        ("120363@g.us", "FA FF 03 12 03 63 1C"),
        ("status@broadcast", "FA 0B 0D"),
        ("1234@newsletter", "FA FF 02 12 34 FC 0A 6E 65 77 73 6C 65 74 74 65 72"),
        ("5550:2@msgr", "F6 FF 02 55 50 00 02 CC"),
        ("7-555:1@interop", "F5 FF 82 55 5F 00 01 00 07 FC 07 69 6E 74 65 72 6F 70"),
    ]

    @Test(arguments: 0..<encodingTable.count)
    func encodesJID(_ index: Int) throws {
        let (text, expected) = Self.encodingTable[index]
        let node = Node(tag: "x", attributes: ["a": .jid(jid(text))])
        let encoded = try node.encodedFrame()
        // 00 F8 03 | FC 01 78 ("x") | FC 01 61 ("a") | JID
        #expect(hexString(Array(encoded.dropFirst(9))) == hexString(hex(expected)), "\(text)")
        let decoded = try Node(frame: encoded)
        var normalized = jid(text)
        if normalized.server == .whatsApp { normalized.rawAgent = 0 }
        #expect(decoded.jid("a") == normalized, "\(text)")
    }

    @Test func decodesADJIDAgents() throws {
        // whatsmeow types/jid.go NewADJID: 1 → lid, 128 → hosted, 129 → hosted.lid, anything else → s.whatsapp.net with
        // the byte kept as raw agent.
        for (agent, expected) in [(0, "12:4@s.whatsapp.net"), (1, "12:4@lid"), (128, "12:4@hosted"), (129, "12:4@hosted.lid"), (5, "12.5:4@s.whatsapp.net")] {
            let frame = hex("00 F8 03 FC 01 78 FC 01 61 F7") + [UInt8(agent)] + hex("04 FF 01 12")
            #expect(try Node(frame: frame).jid("a") == jid(expected))
        }
    }

    @Test func typedJIDAttributesNeverBecomeTokens() throws {
        // docs/interop-oracles.md caveat: the server JID as an attribute must be FA 00 03, never the
        // bare token 03, or whatsmeow ignores the stanza.
        let typed = try Node(tag: "iq", attributes: ["to": .jid(.whatsAppServer)]).encodedFrame()
        #expect(typed == hex("00 F8 03 19 11 FA 00 03"))
        let text = try Node(tag: "iq", attributes: ["to": "s.whatsapp.net"]).encodedFrame()
        #expect(text == hex("00 F8 03 19 11 03"))
        // And they decode back to their own kind.
        #expect(try Node(frame: typed).attributes["to"] == .jid(.whatsAppServer))
        #expect(try Node(frame: text).attributes["to"] == .text("s.whatsapp.net"))
    }

    @Test func encoderRejectsUnrepresentableJIDs() {
        #expect(throws: NodeEncodingError.deviceOutOfRange(JID(user: "1", device: 256, server: .whatsApp))) {
            try Node(tag: "x", attributes: ["a": .jid(JID(user: "1", device: 256, server: .whatsApp))]).encodedFrame()
        }
        #expect(throws: NodeEncodingError.emptyJIDServer(JID(user: "1", server: ""))) {
            try Node(tag: "x", attributes: ["a": .jid(JID(user: "1", server: ""))]).encodedFrame()
        }
    }
}
