import WauseBinary

/// The `<message>` stanza around end-to-end encrypted content, both as a client sends it and as
/// the server delivers it (whatsmeow send.go prepareMessageNode, sendDM, sendGroup,
/// encryptMessageForDeviceAndWrap, makeDeviceIdentityNode; retry.go handleRetryReceipt;
/// message.go parseMessageSource, handleEncryptedMessage; Baileys
/// src/Socket/messages-send.ts relayMessage).
///
/// Three shapes share it:
/// - a client's fan-out: `<message id type to [phash] [addressing_mode]><participants><to
///   jid><enc/></to>…</participants>[<device-identity/>][<enc type="skmsg"/>]</message>` — one
///   `<to>` per device; a group send adds its one sender-key `<enc>` after the rest (sendGroup);
/// - a client's resend to one device: `<message to id type t device_fanout="false"><enc
///   count/>[<device-identity/>]</message>` (handleRetryReceipt);
/// - what the server delivers to one device: `<message from id t type notify
///   [sender_pn|sender_lid] [participant] [recipient]><enc/>…[<device-identity/>]</message>`.
///
/// `<device-identity>` goes along whenever a `pkmsg` does: the receiver checks the sender's
/// signed device identity before it trusts a new session (whatsmeow send.go encryptMessageForDevices).
/// A 1:1 fan-out addressed by LID names the recipient's phone number in `peer_recipient_pn`, and
/// carries the recipient's privacy token as `<tctoken>` (or a `<cstoken>`) last (send.go sendDM;
/// PrivacyTokens.swift).
public struct MessageEnvelope: Hashable, Sendable {
    /// One `<enc v type [count] [mediatype] [decrypt-fail]>ciphertext</enc>`.
    public struct Encrypted: Hashable, Sendable {
        /// `pkmsg` (a Signal PreKeySignalMessage), `msg` (a SignalMessage) or `skmsg` (a group
        /// SenderKeyMessage); kept as text, since a receiver must answer a type it does not know.
        public var type: String
        public var ciphertext: [UInt8]
        public var version: String
        /// The retry attempt a resend answers (whatsmeow retry.go handleRetryReceipt).
        public var count: String?
        public var mediaType: String?
        /// `hide` for edits, reactions and poll votes (whatsmeow send.go prepareMessageNode).
        public var decryptFail: String?

        public init(type: String, ciphertext: [UInt8], version: String = "2", count: String? = nil, mediaType: String? = nil,
                    decryptFail: String? = nil) {
            self.type = type
            self.ciphertext = ciphertext
            self.version = version
            self.count = count
            self.mediaType = mediaType
            self.decryptFail = decryptFail
        }

        public var node: Node {
            var attributes: Attributes = ["v": .text(version), "type": .text(type)]
            if let count { attributes["count"] = .text(count) }
            if let mediaType { attributes["mediatype"] = .text(mediaType) }
            if let decryptFail { attributes["decrypt-fail"] = .text(decryptFail) }
            return Node(tag: "enc", attributes: attributes, bytes: ciphertext)
        }

        /// Nil for an `<enc>` without a type or without ciphertext.
        public init?(_ node: Node) {
            guard node.tag == "enc", let type = node[attribute: "type"], let ciphertext = node.bytes else { return nil }
            self.init(type: type, ciphertext: ciphertext, version: node[attribute: "v"] ?? "2", count: node[attribute: "count"],
                      mediaType: node[attribute: "mediatype"], decryptFail: node[attribute: "decrypt-fail"])
        }
    }

    /// One `<to jid><enc/></to>` of `<participants>`: the ciphertext for one device.
    public struct Addressed: Hashable, Sendable {
        public var device: JID
        public var encrypted: Encrypted

        public init(device: JID, encrypted: Encrypted) {
            self.device = device
            self.encrypted = encrypted
        }
    }

    public var id: String
    /// whatsmeow send.go getTypeFromMessage: `text`, `media`, `reaction`, `poll`…
    public var type: String?
    /// A client's destination: the chat (user or group), or one device for a resend.
    public var to: JID?
    /// What the server delivers: the sending device (a group's JID for group messages).
    public var from: JID?
    /// The sending device of a group message (message.go parseMessageSource).
    public var participant: JID?
    /// The chat of a message one of our own devices sent, on the copy another gets.
    public var recipient: JID?
    /// Unix seconds: the server's time on delivery, the original's on a resend.
    public var t: Int64?
    /// The sender's push name.
    public var notify: String?
    /// The sender's other address (message.go parseMessageSource: `sender_pn` beside a LID
    /// sender, `sender_lid` beside a phone-number one).
    public var senderPhone: JID?
    public var senderLID: JID?
    /// participantListHashV2 of the devices a group send was encrypted for (sendGroup).
    public var phash: String?
    /// `pn` or `lid`: how a group's participants are addressed (sendGroup's extra params).
    public var addressingMode: String?
    /// `false` on a resend to one device: the server must not fan it out (handleRetryReceipt).
    public var deviceFanout: Bool?
    /// The recipient's phone JID beside a LID `to` (send.go prepareMessageNode `peer_recipient_pn`);
    /// on what the server delivers to our own other devices, the chat's phone JID (message.go
    /// parseMessageSource RecipientAlt).
    public var peerRecipientPhone: JID?
    /// whatsmeow send.go getEditAttribute.
    public var edit: String?
    public var category: String?
    /// `<participants>`: nil when there is none (a delivery, a resend), empty for a group send
    /// that needs no new sender-key distribution.
    public var participants: [Addressed]?
    /// The `<enc>` children outside `<participants>`: what a device receives, a resend, a group's
    /// `skmsg`.
    public var encrypted: [Encrypted]
    /// The sender's signed device identity (`ADVSignedDeviceIdentity` bytes).
    public var deviceIdentity: [UInt8]?
    /// `<tctoken>`: the privacy token the recipient issued us (send.go sendDM).
    public var privacyToken: [UInt8]?
    /// `<cstoken>`: HMAC-SHA256(nctSalt, recipient LID) when no tctoken is held (cstoken.go).
    public var csToken: [UInt8]?

    public init(id: String, type: String? = nil, to: JID? = nil, from: JID? = nil, participant: JID? = nil, recipient: JID? = nil,
                t: Int64? = nil, notify: String? = nil, senderPhone: JID? = nil, senderLID: JID? = nil, phash: String? = nil,
                addressingMode: String? = nil, deviceFanout: Bool? = nil, edit: String? = nil, category: String? = nil,
                participants: [Addressed]? = nil, encrypted: [Encrypted] = [], deviceIdentity: [UInt8]? = nil,
                peerRecipientPhone: JID? = nil, privacyToken: [UInt8]? = nil, csToken: [UInt8]? = nil) {
        self.id = id
        self.type = type
        self.to = to
        self.from = from
        self.participant = participant
        self.recipient = recipient
        self.t = t
        self.notify = notify
        self.senderPhone = senderPhone
        self.senderLID = senderLID
        self.phash = phash
        self.addressingMode = addressingMode
        self.deviceFanout = deviceFanout
        self.edit = edit
        self.category = category
        self.participants = participants
        self.encrypted = encrypted
        self.deviceIdentity = deviceIdentity
        self.peerRecipientPhone = peerRecipientPhone
        self.privacyToken = privacyToken
        self.csToken = csToken
    }

    /// Whether any ciphertext starts a new session, so `<device-identity>` must go along.
    public var carriesPreKeyMessage: Bool {
        encrypted.contains { $0.type == "pkmsg" } || (participants ?? []).contains { $0.encrypted.type == "pkmsg" }
    }

    /// Attributes in the order `id type to from participant recipient peer_recipient_pn t notify
    /// sender_pn sender_lid phash addressing_mode device_fanout edit category`; children in
    /// whatsmeow's order: with `<participants>` first, then `<device-identity>`, then the other
    /// `<enc>`s (send.go prepareMessageNode, then sendGroup appends the `skmsg`); without, the
    /// `<enc>`s first and `<device-identity>` after (retry.go handleRetryReceipt via
    /// getMessageContent); `<tctoken>` or `<cstoken>` last (sendDM appends it).
    public var node: Node {
        var attributes: Attributes = ["id": .text(id)]
        if let type { attributes["type"] = .text(type) }
        if let to { attributes["to"] = .jid(to) }
        if let from { attributes["from"] = .jid(from) }
        if let participant { attributes["participant"] = .jid(participant) }
        if let recipient { attributes["recipient"] = .jid(recipient) }
        if let peerRecipientPhone { attributes["peer_recipient_pn"] = .jid(peerRecipientPhone) }
        if let t { attributes["t"] = .text(String(t)) }
        if let notify { attributes["notify"] = .text(notify) }
        if let senderPhone { attributes["sender_pn"] = .jid(senderPhone) }
        if let senderLID { attributes["sender_lid"] = .jid(senderLID) }
        if let phash { attributes["phash"] = .text(phash) }
        if let addressingMode { attributes["addressing_mode"] = .text(addressingMode) }
        if let deviceFanout { attributes["device_fanout"] = .text(deviceFanout ? "true" : "false") }
        if let edit { attributes["edit"] = .text(edit) }
        if let category { attributes["category"] = .text(category) }
        let identity = deviceIdentity.map { [Node(tag: "device-identity", bytes: $0)] } ?? []
        var children: [Node]
        if let participants {
            let list = Node(tag: "participants", children: participants.map { item in
                Node(tag: "to", attributes: ["jid": .jid(item.device)], children: [item.encrypted.node])
            })
            children = [list] + identity + encrypted.map(\.node)
        } else {
            children = encrypted.map(\.node) + identity
        }
        if let privacyToken { children.append(Node(tag: "tctoken", bytes: privacyToken)) }
        if let csToken { children.append(Node(tag: "cstoken", bytes: csToken)) }
        return Node(tag: "message", attributes: attributes, children: children)
    }

    /// Reads a `<message>` as either side receives it: `id` is required, addresses may come as
    /// JIDs or as text, and a `<to>` of `<participants>` without a device or an `<enc>` is left
    /// out (there is nothing to deliver to it).
    public init(parsing node: Node) throws(MalformedStanza) {
        guard node.tag == "message" else { throw MalformedStanza(tag: node.tag, reason: "not a message") }
        guard let id = node[attribute: "id"], !id.isEmpty else { throw MalformedStanza(tag: "message", reason: "no id") }
        let participants = node.child("participants").map { list in
            list.children("to").compactMap { target -> Addressed? in
                guard let device = target.address("jid"), let enc = target.child("enc").flatMap(Encrypted.init) else { return nil }
                return Addressed(device: device, encrypted: enc)
            }
        }
        self.init(id: id, type: node[attribute: "type"], to: node.address("to"), from: node.address("from"),
                  participant: node.address("participant"), recipient: node.address("recipient"),
                  t: node[attribute: "t"].flatMap(Int64.init), notify: node[attribute: "notify"],
                  senderPhone: node.address("sender_pn"), senderLID: node.address("sender_lid"), phash: node[attribute: "phash"],
                  addressingMode: node[attribute: "addressing_mode"], deviceFanout: node[attribute: "device_fanout"].map { $0 != "false" },
                  edit: node[attribute: "edit"], category: node[attribute: "category"], participants: participants,
                  encrypted: node.children("enc").compactMap(Encrypted.init), deviceIdentity: node.child("device-identity")?.bytes,
                  peerRecipientPhone: node.address("peer_recipient_pn"), privacyToken: node.child("tctoken")?.bytes,
                  csToken: node.child("cstoken")?.bytes)
    }
}
