import SwiftProtobuf
import WauseBinary
import WauseCrypto
import WauseProto

/// Expired media (whatsmeow mediaretry.go; Baileys messages-media.ts encryptMediaRetryRequest,
/// decodeMediaRetryNode): a device whose download answered 404/410 sends a `server-error` receipt
/// asking the phone to upload the file again; the phone answers with a `mediaretry` notification
/// holding the new direct path. Both payloads are AES-256-GCM sealed with
/// `HKDF-SHA256(mediaKey, info "WhatsApp Media Retry Notification", 32)`, a 12-byte IV and the
/// message id as associated data, so only holders of the media key can ask or read the answer.
/// Pure values: the engine sends the request and reads the answer, the simulator's phones the reverse.
public enum MediaRetryStanzas {
    public static let keyInfo = "WhatsApp Media Retry Notification"
    /// `<error code="2">`: the phone no longer has the file (whatsmeow ErrMediaNotAvailableOnPhone).
    public static let notAvailableOnPhone = 2

    public static func retryKey(mediaKey: [UInt8]) throws -> [UInt8] {
        try HKDF.sha256(inputKeyMaterial: mediaKey, info: Array(keyInfo.utf8), outputByteCount: 32)
    }

    /// `<rmr jid=<chat> from_me=<bool> [participant=<sender in a group>]/>`: which message.
    public struct MessageReference: Hashable, Sendable {
        public var chat: JID
        public var fromMe: Bool
        public var participant: JID?

        public init(chat: JID, fromMe: Bool, participant: JID? = nil) {
            self.chat = chat
            self.fromMe = fromMe
            self.participant = participant
        }

        var node: Node {
            var attributes: Attributes = ["jid": .jid(chat), "from_me": .text(fromMe ? "true" : "false")]
            if let participant { attributes["participant"] = .jid(participant) }
            return Node(tag: "rmr", attributes: attributes)
        }

        init(parsing node: Node?) throws(MalformedStanza) {
            guard let node, node.tag == "rmr" else { throw MalformedStanza(tag: "rmr", reason: "<rmr> is missing") }
            guard let chat = node.address("jid") else { throw MalformedStanza(tag: "rmr", reason: "jid is missing") }
            guard let fromMe = node[attribute: "from_me"], fromMe == "true" || fromMe == "false" else {
                throw MalformedStanza(tag: "rmr", reason: "from_me must be true or false")
            }
            self.init(chat: chat, fromMe: fromMe == "true", participant: node.address("participant"))
        }
    }

    /// The device's request: `<receipt id to=<own non-AD JID> type="server-error"><encrypt><enc_p/><enc_iv/></encrypt><rmr …/></receipt>`.
    public struct Request: Hashable, Sendable {
        public var messageID: String
        public var to: JID
        public var reference: MessageReference
        /// `ServerErrorReceipt{stanzaID}` sealed, tag appended.
        public var ciphertext: [UInt8]
        public var iv: [UInt8]

        public init(messageID: String, to: JID, reference: MessageReference, ciphertext: [UInt8], iv: [UInt8]) {
            self.messageID = messageID
            self.to = to
            self.reference = reference
            self.ciphertext = ciphertext
            self.iv = iv
        }

        /// Seals `ServerErrorReceipt{stanzaID = messageID}` (whatsmeow encryptMediaRetryReceipt).
        public static func sealed(messageID: String, to: JID, reference: MessageReference, mediaKey: [UInt8],
                                  random: (Int) -> [UInt8]) throws -> Request {
            var receipt = WAMmsRetry_ServerErrorReceipt()
            receipt.stanzaID = messageID
            let iv = random(12)
            let ciphertext = try AESGCM.seal(plaintext: try receipt.serializedBytes(), key: try retryKey(mediaKey: mediaKey), nonce: iv,
                                             additionalData: Array(messageID.utf8))
            return Request(messageID: messageID, to: to, reference: reference, ciphertext: ciphertext, iv: iv)
        }

        public var node: Node {
            Node(tag: "receipt", attributes: ["id": .text(messageID), "to": .jid(to), "type": "server-error"], children: [
                Node(tag: "encrypt", children: [Node(tag: "enc_p", bytes: ciphertext), Node(tag: "enc_iv", bytes: iv)]),
                reference.node,
            ])
        }

        public static func isRequest(_ node: Node) -> Bool { node.tag == "receipt" && node[attribute: "type"] == "server-error" }

        public init(parsing node: Node) throws(MalformedStanza) {
            guard Request.isRequest(node) else { throw MalformedStanza(tag: node.tag, reason: "not a server-error receipt") }
            guard let id = node[attribute: "id"], !id.isEmpty else { throw MalformedStanza(tag: "receipt", reason: "id is missing") }
            guard let to = node.address("to") else { throw MalformedStanza(tag: "receipt", reason: "to is missing") }
            guard let ciphertext = node.child(path: "encrypt", "enc_p")?.bytes, let iv = node.child(path: "encrypt", "enc_iv")?.bytes,
                iv.count == 12
            else { throw MalformedStanza(tag: "receipt", reason: "encrypt needs enc_p and a 12-byte enc_iv") }
            self.init(messageID: id, to: to, reference: try MessageReference(parsing: node.child("rmr")), ciphertext: ciphertext, iv: iv)
        }

        /// The stanza id sealed inside; the phone checks it names this message.
        public func stanzaID(mediaKey: [UInt8]) throws -> String {
            let plaintext = try AESGCM.open(ciphertextAndTag: ciphertext, key: try retryKey(mediaKey: mediaKey), nonce: iv,
                                            additionalData: Array(messageID.utf8))
            return try WAMmsRetry_ServerErrorReceipt(serializedBytes: plaintext).stanzaID
        }
    }

    /// The phone's answer: `<notification type="mediaretry" id t><rmr …/>` then either
    /// `<encrypt><enc_p/><enc_iv/></encrypt>` or `<error code/>` (whatsmeow parseMediaRetryNotification).
    public struct Notification: Hashable, Sendable {
        public enum Content: Hashable, Sendable {
            case encrypted(ciphertext: [UInt8], iv: [UInt8])
            case error(code: Int)
        }

        public var messageID: String
        public var from: JID?
        public var t: Int64
        public var reference: MessageReference
        public var content: Content

        public init(messageID: String, from: JID?, t: Int64, reference: MessageReference, content: Content) {
            self.messageID = messageID
            self.from = from
            self.t = t
            self.reference = reference
            self.content = content
        }

        /// Seals `MediaRetryNotification{stanzaID, directPath?, result}`.
        public static func sealed(messageID: String, from: JID?, t: Int64, reference: MessageReference,
                                  result: WAMmsRetry_MediaRetryNotification.ResultType, directPath: String?, mediaKey: [UInt8],
                                  random: (Int) -> [UInt8]) throws -> Notification {
            var answer = WAMmsRetry_MediaRetryNotification()
            answer.stanzaID = messageID
            answer.result = result
            if let directPath { answer.directPath = directPath }
            let iv = random(12)
            let ciphertext = try AESGCM.seal(plaintext: try answer.serializedBytes(), key: try retryKey(mediaKey: mediaKey), nonce: iv,
                                             additionalData: Array(messageID.utf8))
            return Notification(messageID: messageID, from: from, t: t, reference: reference, content: .encrypted(ciphertext: ciphertext, iv: iv))
        }

        public var node: Node {
            var attributes: Attributes = ["id": .text(messageID), "type": "mediaretry", "t": .text(String(t))]
            if let from { attributes["from"] = .jid(from) }
            let payload: Node
            switch content {
            case .encrypted(let ciphertext, let iv):
                payload = Node(tag: "encrypt", children: [Node(tag: "enc_p", bytes: ciphertext), Node(tag: "enc_iv", bytes: iv)])
            case .error(let code):
                payload = Node(tag: "error", attributes: ["code": .text(String(code))])
            }
            return Node(tag: "notification", attributes: attributes, children: [reference.node, payload])
        }

        public init(parsing node: Node) throws(MalformedStanza) {
            guard node.tag == "notification", node[attribute: "type"] == "mediaretry" else {
                throw MalformedStanza(tag: node.tag, reason: "not a mediaretry notification")
            }
            guard let id = node[attribute: "id"], !id.isEmpty else { throw MalformedStanza(tag: "notification", reason: "id is missing") }
            let reference = try MessageReference(parsing: node.child("rmr"))
            let content: Content
            if let error = node.child("error") {
                guard let code = error[attribute: "code"].flatMap(Int.init) else {
                    throw MalformedStanza(tag: "error", reason: "code must be an integer")
                }
                content = .error(code: code)
            } else if let ciphertext = node.child(path: "encrypt", "enc_p")?.bytes, let iv = node.child(path: "encrypt", "enc_iv")?.bytes {
                content = .encrypted(ciphertext: ciphertext, iv: iv)
            } else {
                throw MalformedStanza(tag: "notification", reason: "neither <encrypt> with enc_p and enc_iv nor <error>")
            }
            self.init(messageID: id, from: node.address("from"), t: node[attribute: "t"].flatMap(Int64.init) ?? 0, reference: reference,
                      content: content)
        }

        /// The sealed answer; nil for an `<error>` notification.
        public func opened(mediaKey: [UInt8]) throws -> WAMmsRetry_MediaRetryNotification? {
            guard case .encrypted(let ciphertext, let iv) = content else { return nil }
            let plaintext = try AESGCM.open(ciphertextAndTag: ciphertext, key: try retryKey(mediaKey: mediaKey), nonce: iv,
                                            additionalData: Array(messageID.utf8))
            return try WAMmsRetry_MediaRetryNotification(serializedBytes: plaintext)
        }
    }
}
