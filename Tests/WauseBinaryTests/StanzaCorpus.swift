import WauseSupport
import WauseBinary

/// Realistic stanzas, shaped after what whatsmeow and Baileys send and receive
/// (whatsmeow pair.go, pair-code.go, connectionevents.go, prekeys.go, send.go, receipt.go). Byte payloads come from a
/// seeded generator so the corpus is the same on every run.
enum StanzaCorpus {
    static let me = jid("491701234567:12@s.whatsapp.net")
    static let meLID = jid("101234567890123:12@lid")
    static let peer = jid("14155550123@s.whatsapp.net")
    static let peerDevice = jid("14155550123:3@s.whatsapp.net")
    static let group = jid("120363012345678901@g.us")

    static var all: [(name: String, node: Node)] {
        var random = SplitMix64(seed: 0xC0DEC)
        return [
            ("keepalive iq", Node(tag: "iq", attributes: ["id": "1.2-3", "xmlns": "w:p", "type": "get", "to": .jid(.whatsAppServer)])),
            ("ping with child", Node(tag: "iq", attributes: ["id": "3EB0A1B2C3D4", "xmlns": "w:p", "type": "get", "to": .jid(.whatsAppServer)], children: [Node(tag: "ping")])),
            ("prekey count", Node(tag: "iq", attributes: ["id": "abc", "xmlns": "encrypt", "type": "get", "to": .jid(.whatsAppServer)], children: [Node(tag: "count")])),
            ("prekey upload", prekeyUpload(&random)),
            ("message with enc children", message(&random)),
            ("group message with skmsg", Node(tag: "message", attributes: [
                "id": "3EB0C0FFEE1234567890", "to": .jid(group), "type": "text", "phash": "2:abcDEF+/=",
            ], children: [
                Node(tag: "participants", children: [
                    Node(tag: "to", attributes: ["jid": .jid(peerDevice)], children: [
                        Node(tag: "enc", attributes: ["v": "2", "type": "pkmsg"], bytes: random.bytes(200)),
                    ]),
                ]),
                Node(tag: "enc", attributes: ["v": "2", "type": "skmsg"], bytes: random.bytes(90)),
            ])),
            ("incoming message", Node(tag: "message", attributes: [
                "from": .jid(peer), "type": "text", "id": "3EB05D1A9E7C", "t": "1718000000",
                "notify": "Ana María 🌻", "sender_lid": .jid(jid("201234567890123@lid")),
            ], children: [
                Node(tag: "enc", attributes: ["v": "2", "type": "msg"], bytes: random.bytes(64)),
            ])),
            ("delivery receipt", Node(tag: "receipt", attributes: ["id": "3EB05D1A9E7C", "to": .jid(peer)])),
            ("read receipt with list", Node(tag: "receipt", attributes: [
                "id": "3EB05D1A9E7C", "to": .jid(group), "participant": .jid(peerDevice), "type": "read", "t": "1718000001",
            ], children: [
                Node(tag: "list", children: [
                    Node(tag: "item", attributes: ["id": "3EB05D1A9E7D"]),
                    Node(tag: "item", attributes: ["id": "3EB05D1A9E7E"]),
                ]),
            ])),
            ("retry receipt", Node(tag: "receipt", attributes: ["id": "3EB0AA", "to": .jid(peerDevice), "type": "retry"], children: [
                Node(tag: "retry", attributes: ["count": "1", "id": "3EB0AA", "t": "1718000002", "v": "1"]),
                Node(tag: "registration", bytes: [0, 0, 0x30, 0x39]),
            ])),
            ("message ack", Node(tag: "ack", attributes: ["id": "3EB05D1A9E7C", "class": "message", "from": .jid(peer), "t": "1718000003"])),
            ("receipt ack", Node(tag: "ack", attributes: ["class": "receipt", "id": "3EB05D1A9E7C", "to": .jid(peer), "type": "read"])),
            ("encrypt notification", Node(tag: "notification", attributes: [
                "from": .jid(.whatsAppServer), "type": "encrypt", "id": "1234567890", "t": "1718000004",
            ], children: [Node(tag: "count", attributes: ["value": "4"])])),
            ("devices notification", Node(tag: "notification", attributes: [
                "from": .jid(peer), "type": "devices", "id": "987654321", "t": "1718000005", "lid": .jid(jid("201234567890123@lid")),
            ], children: [
                Node(tag: "add", attributes: ["device_hash": "2:abc"], children: [
                    Node(tag: "device", attributes: ["jid": .jid(jid("14155550123:7@s.whatsapp.net")), "key-index": "5"]),
                    Node(tag: "key-index-list", attributes: ["ts": "1718000005"], bytes: random.bytes(40)),
                ]),
            ])),
            ("pair-device with 6 refs", Node(tag: "iq", attributes: [
                "from": .jid(.whatsAppServer), "type": "set", "id": "1234-5678", "xmlns": "md",
            ], children: [
                Node(tag: "pair-device", children: (0..<6).map { index in
                    Node(tag: "ref", bytes: Array("2@\(index)qZx9Vb3kLmN0pQrStUvWxYz+/AbCdEfGhIjKlMnOpQ==".utf8))
                }),
            ])),
            ("pair-success", Node(tag: "iq", attributes: ["from": .jid(.whatsAppServer), "type": "set", "id": "2233", "xmlns": "md"], children: [
                Node(tag: "pair-success", children: [
                    Node(tag: "device-identity", bytes: random.bytes(180)),
                    Node(tag: "biz", attributes: ["name": "Café Luna"]),
                    Node(tag: "device", attributes: ["jid": .jid(me), "lid": .jid(meLID)]),
                    Node(tag: "platform", attributes: ["name": "smba"]),
                ]),
            ])),
            ("success with lid", Node(tag: "success", attributes: [
                "t": "1718000006", "props": "3", "abprops": "21", "location": "frc", "lid": .jid(jid("101234567890123@lid")),
                "creation": "1700000000", "companion_enc_static": "Zm9vYmFyYmF6",
            ])),
            ("stream error conflict", Node(tag: "stream:error", children: [Node(tag: "conflict", attributes: ["type": "replaced"])])),
            ("failure", Node(tag: "failure", attributes: ["reason": "401", "location": "atn"])),
            ("presence", Node(tag: "presence", attributes: ["name": "wause", "type": "available"])),
            ("chatstate", Node(tag: "chatstate", attributes: ["to": .jid(peer)], children: [Node(tag: "composing")])),
            ("usync query", Node(tag: "iq", attributes: ["to": .jid(.whatsAppServer), "type": "get", "xmlns": "usync", "id": "42"], children: [
                Node(tag: "usync", attributes: ["sid": "3EB0AB", "mode": "query", "last": "true", "index": "0", "context": "message"], children: [
                    Node(tag: "query", children: [Node(tag: "devices", attributes: ["version": "2"])]),
                    Node(tag: "list", children: [
                        Node(tag: "user", attributes: ["jid": .jid(peer)]),
                        Node(tag: "user", attributes: ["jid": .jid(jid("4915112345678@s.whatsapp.net"))]),
                    ]),
                ]),
            ])),
            ("group participants", Node(tag: "iq", attributes: ["to": .jid(group), "type": "set", "xmlns": "w:g2", "id": "43"], children: [
                Node(tag: "add", children: (0..<40).map { index in
                    Node(tag: "participant", attributes: ["jid": .jid(JID(user: "4917000000\(index)", server: .whatsApp))])
                }),
            ])),
            ("status broadcast", Node(tag: "message", attributes: ["to": .jid(.statusBroadcast), "id": "3EB0FF", "type": "text"], children: [
                Node(tag: "enc", attributes: ["v": "2", "type": "skmsg"], bytes: random.bytes(48)),
            ])),
            ("newsletter", Node(tag: "message", attributes: ["to": .jid(jid("120363123456789012@newsletter")), "id": "3EB0FE", "type": "text"], children: [
                Node(tag: "plaintext", bytes: Array("hello channel".utf8)),
            ])),
            ("hosted and messenger JIDs", Node(tag: "item", attributes: [
                "hosted": .jid(jid("5511999999999:99@hosted")), "hosted_lid": .jid(jid("77777@hosted.lid")),
                "fb": .jid(jid("100001234:2@msgr")), "interop": .jid(jid("7-555123:1@interop")),
            ])),
            ("text and jid content", Node(tag: "wrapper", children: [
                Node(tag: "token", content: .text("s.whatsapp.net")),
                Node(tag: "version", content: .text("2.3000.1012345678")),
                Node(tag: "hexid", content: .text("3EB0ABCDEF")),
                Node(tag: "who", content: .jid(peerDevice)),
                Node(tag: "empty", children: []),
            ])),
            ("large binary (BINARY_20)", Node(tag: "media", bytes: random.bytes(70_000))),
        ]
    }

    /// A one-to-one message as sent to three devices: `<participants><to jid><enc/></to>…` plus
    /// the sender's `<device-identity>` (a pkmsg needs it; whatsmeow send.go makeDeviceIdentityNode).
    static func message(_ random: inout SplitMix64) -> Node {
        let devices = [jid("14155550123@s.whatsapp.net"), jid("14155550123:3@s.whatsapp.net"), jid("491701234567:5@s.whatsapp.net")]
        return Node(tag: "message", attributes: ["id": "3EB0B7C9D2E4F60718293A", "to": .jid(peer), "type": "text"], children: [
            Node(tag: "participants", children: devices.map { device in
                Node(tag: "to", attributes: ["jid": .jid(device)], children: [
                    Node(tag: "enc", attributes: ["v": "2", "type": "pkmsg"], bytes: random.bytes(180)),
                ])
            }),
            Node(tag: "device-identity", bytes: random.bytes(120)),
        ])
    }

    /// A prekey upload (whatsmeow prekeys.go uploadPreKeys): registration id, key type, identity, 30 one-time keys, signed key.
    static func prekeyUpload(_ random: inout SplitMix64) -> Node {
        func key(_ id: Int) -> Node {
            Node(tag: "key", children: [
                Node(tag: "id", bytes: [0, UInt8(id >> 8), UInt8(id & 0xFF)]),
                Node(tag: "value", bytes: random.bytes(32)),
            ])
        }
        return Node(tag: "iq", attributes: ["id": "44", "xmlns": "encrypt", "type": "set", "to": .jid(.whatsAppServer)], children: [
            Node(tag: "registration", bytes: random.bytes(4)),
            Node(tag: "type", bytes: [5]),
            Node(tag: "identity", bytes: random.bytes(32)),
            Node(tag: "list", children: (1...30).map(key)),
            Node(tag: "skey", children: [
                Node(tag: "id", bytes: [0, 0, 1]),
                Node(tag: "value", bytes: random.bytes(32)),
                Node(tag: "signature", bytes: random.bytes(64)),
            ]),
        ])
    }
}
