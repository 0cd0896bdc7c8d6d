import Testing
import WauseBinary

/// Byte-exact vectors worked out from whatsmeow's codec (binary/encoder.go, binary/decoder.go,
/// binary/token/token.go) and baileys-python's known answers (docs/interop-oracles.md), in both
/// directions.
@Suite struct KnownAnswerTests {
    static let vectors: [(String, Node, String)] = [
        ("<iq/> (baileys-python)", Node(tag: "iq"), "00 f8 01 19"),
        ("<ack id=1.2/> (baileys-python)", Node(tag: "ack", attributes: ["id": "1.2"]), "00 f8 03 1b 08 ff 82 1b 2f"),
        ("keepalive (whatsmeow keepalive.go sendKeepAlive)",
         Node(tag: "iq", attributes: ["id": "1.2-3", "xmlns": "w:p", "type": "get", "to": .jid(.whatsAppServer)]),
         "00 F8 09 19 08 FF 83 1B 2A 3F 16 57 04 29 11 FA 00 03"),
        ("count IQ (whatsmeow prekeys.go getServerPreKeyCount)",
         Node(tag: "iq", attributes: ["id": "abc", "xmlns": "encrypt", "type": "get", "to": .jid(.whatsAppServer)], children: [Node(tag: "count")]),
         "00 F8 0A 19 08 FC 03 61 62 63 16 CB 04 29 11 FA 00 03 F8 01 F8 01 41"),
        ("AD JID (whatsmeow binary/encoder.go writeJID)",
         Node(tag: "device", attributes: ["jid": .jid(jid("1234567890:12@s.whatsapp.net"))]),
         "00 F8 03 3B 0C F7 00 0C FF 05 12 34 56 78 90"),
        ("LID AD JID (whatsmeow binary/encoder.go writeJID)",
         Node(tag: "device", attributes: ["lid": .jid(jid("98765:3@lid"))]),
         "00 F8 03 3B 76 F7 01 03 FF 83 98 76 5F"),
        ("hex packing (whatsmeow writePackedBytes)", Node(tag: "iq", attributes: ["id": "3EB0ABCDEF"]), "00 F8 03 19 08 FB 05 3E B0 AB CD EF"),
        ("double-byte tokens (whatsmeow binary/token/token.go)",
         Node(tag: "failure", children: [Node(tag: "pair-device", children: [Node(tag: "ref")])]),
         "00 F8 02 EE 3C F8 01 F8 02 ED EE F8 01 F8 01 ED 50"),
        ("BINARY_20 length", Node(tag: "enc", bytes: [UInt8](repeating: 0xAB, count: 256)),
         "00 F8 02 1D FD 00 01 00 " + String(repeating: "AB", count: 256)),
    ]

    @Test(arguments: 0..<vectors.count)
    func encodesAndDecodesVector(_ index: Int) throws {
        let (name, node, expected) = Self.vectors[index]
        let encoded = try node.encodedFrame()
        #expect(hexString(encoded) == hexString(hex(expected)), "\(name)")
        #expect(try Node(frame: hex(expected)) == node, "\(name)")
    }

    @Test func packsNibbleString() throws {
        // whatsmeow binary/encoder.go writePackedBytes: "1.2-3" → FF 83 1B 2A 3F
        let encoded = try Node(tag: "x", content: .text("1.2-3")).encodedFrame()
        #expect(Array(encoded.suffix(5)) == hex("FF 83 1B 2A 3F"))
    }

    @Test func tokenDictionarySanity() throws {
        // whatsmeow binary/token/token.go: first and last single-byte tokens and a few double-byte ones.
        for (text, bytes) in [("xmlstreamstart", "01"), ("s.whatsapp.net", "03"), ("screen_height", "EB"), ("03", "EA"),
                              ("passive", "EC 18"), ("active", "EC 01"), ("skey", "EC 2D"), ("replaced", "EC 11")] {
            let encoded = try Node(tag: "iq", content: .text(text)).encodedFrame()
            #expect(Array(encoded.dropFirst(4)) == hex(bytes), "\(text)")
        }
    }

    @Test func rawStringsUseBinaryLengths() throws {
        let node = Node(tag: "x", attributes: ["name": "hello"])
        let encoded = try node.encodedFrame()
        // "x" is not a token: BINARY_8 "x"; name = token 0x89; "hello" raw.
        #expect(encoded == hex("00 F8 03 FC 01 78 89 FC 05 68 65 6C 6C 6F"))
    }

    @Test func lowercaseHexIsWrittenRaw() throws {
        // whatsmeow binary/encoder.go writeString: hex packing is upper-case only; "abc" would otherwise come back as "ABC".
        let encoded = try Node(tag: "iq", attributes: ["id": "abc"]).encodedFrame()
        #expect(encoded == hex("00 F8 03 19 08 FC 03 61 62 63"))
    }

    @Test func emptyAttributeValuesAreSkipped() throws {
        // whatsmeow binary/encoder.go writeNode: empty values are neither written nor counted.
        let encoded = try Node(tag: "iq", attributes: ["id": "", "type": "get"]).encodedFrame()
        #expect(encoded == hex("00 F8 03 19 04 29"))
    }

    @Test func compressedFrameDecodes() throws {
        let node = Node(tag: "iq", attributes: ["id": "1.2-3", "to": .jid(.whatsAppServer)], children: [Node(tag: "ping")])
        let frame = try NodeEncoder().encodeFrame(node, compression: .zlib)
        #expect(frame[0] == 0x02)
        #expect(try Node(frame: frame) == node)
        // Other flag bits are ignored (whatsmeow binary/unpack.go Unpack).
        var flagged = try node.encodedFrame()
        flagged[0] = 0x01
        #expect(try Node(frame: flagged) == node)
    }
}
