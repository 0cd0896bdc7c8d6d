import SwiftProtobuf
import WauseBinary
import WauseProto
import WauseProtocol
import WauseSignal
import WauseSQLite
import WauseSupport

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The virtual phones as group members, with Signal sender keys (whatsmeow send.go sendGroup,
/// message.go decryptGroupMsg):
///
/// - Receiving: the pairwise part (`pkmsg`/`msg`) carries the sender's
///   SenderKeyDistributionMessage, processed under (group, sender device); then the `skmsg`
///   decrypts with it and is unpadded like a 1:1 plaintext. The inbox row names the group as
///   `chat` and the sending member as `author`. What does not decrypt (no sender key yet, a bad
///   signature) earns a retry receipt to the group naming the sender; a repeated `skmsg` is only
///   receipted.
/// - Sending: the phone's own sender key for the group (named by its LID device 0, as whatsmeow
///   names its own), its SKDM pairwise to every other member device (whatsmeow sends it with
///   every message), one `skmsg` for all; delivered and acked like a device's group message.
/// - A retry receipt for one of its group messages is answered with the message and a fresh
///   SKDM, pairwise, to that one device (whatsmeow retry.go handleRetryReceipt for groups).
extension VirtualPhones {
    /// `body` with the phone's Signal store, under the lock that serialises every Signal
    /// operation of the phones (the 1:1 path in VirtualPhones.swift takes the same lock).
    private func withPhoneStore<T>(_ account: SimAccount, _ body: (PhoneSignalStore) throws(WauseError) -> T) throws(WauseError) -> T {
        try signalLock.withLock { _ throws(WauseError) -> T in try body(try state.phoneSignalStore(account)) }
    }

    func receiveGroup(_ node: Node, id: String, group: JID, seq: Int64, account: SimAccount) throws(WauseError) {
        guard let sender = MessageRouter.jid(node, "participant") else {
            try state.dropQueued(seq: seq)
            return
        }
        let senderAccount = try state.account(jid: sender)
        let fromMe = senderAccount?.phone == account.phone
        let address = SignalAddress(user: sender.user, device: sender.device, server: sender.server.rawValue)
        let name = SenderKeyName(groupId: group.description, sender: address)
        let t = node[attribute: "t"].flatMap(Int64.init) ?? environment.now().seconds
        let random = environment.randomBytes

        let outcome = try withPhoneStore(account) {
            (store) throws(WauseError) -> (store: PhoneSignalStore, contents: [WAWebProtobufsE2E_Message], duplicate: Bool, failure: String?) in
            var contents: [WAWebProtobufsE2E_Message] = []
            var duplicate = false
            for enc in node.children("enc") {
                guard let bytes = enc.bytes else { continue }
                do {
                    switch enc[attribute: "type"] {
                    case "pkmsg", "msg":
                        // The pairwise session by LID, as for 1:1 (PhoneSignalStore.sessionAddress); the sender key stays named as sent.
                        let cipher = SessionCipher(address: store.sessionAddress(for: sender, lid: senderAccount?.lid), store: store,
                                                   random: random)
                        let padded = enc[attribute: "type"] == "pkmsg" ? try cipher.decrypt(try PreKeySignalMessage(serialized: bytes))
                            : try cipher.decrypt(try SignalMessage(serialized: bytes))
                        let message = try WAWebProtobufsE2E_Message(serializedBytes: try MessageFormat.unpad(padded))
                        if message.hasSenderKeyDistributionMessage {
                            let distribution = try SenderKeyDistributionMessage(
                                serialized: Array(message.senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage))
                            try GroupSessionBuilder(store: store, random: random).process(distribution, from: name)
                        }
                        // A retry resend carries the message itself pairwise.
                        if MessageFormat.text(of: message) != nil { contents.append(message) }
                    case "skmsg":
                        let padded = try GroupCipher(name: name, store: store, random: random).decrypt(try SenderKeyMessage(serialized: bytes))
                        contents.append(try WAWebProtobufsE2E_Message(serializedBytes: try MessageFormat.unpad(padded)))
                    default:
                        return (store, [], false, "unsupported enc type \(enc[attribute: "type"] ?? "none")")
                    }
                } catch SignalError.duplicateMessage {
                    duplicate = true
                } catch {
                    return (store, [], false, "\(error)")
                }
            }
            return (store, contents, duplicate, nil)
        }
        if let failure = outcome.failure {
            // whatsmeow retry.go sendRetryReceipt: to the group, naming the sender (ReceiptStanzas answering the envelope).
            guard let envelope = try? MessageEnvelope(parsing: node) else {
                try state.dropQueued(seq: seq)
                return
            }
            try retry(envelope, from: sender, seq: seq, account: account, reason: failure)
            return
        }
        let now = environment.now()
        let author = JID(user: sender.user, server: sender.server)
        try state.commit { (c) throws(WauseError) in
            try outcome.store.apply(c)
            for message in outcome.contents {
                try c.execute("""
                    INSERT OR IGNORE INTO inbox (phone, message_id, from_jid, from_phone, from_me, chat, to_jid, text, push_name, timestamp,
                                                 received_at, author)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [.text(account.phone), .text(id), .text(sender.description), SQLValue(senderAccount?.phone), SQLValue(fromMe),
                          .text(group.description), .text(group.description), SQLValue(MessageFormat.text(of: message)?.body),
                          SQLValue(node[attribute: "notify"]), .integer(t), .time(now), .text(author.description)])
            }
            try state.dequeue(seq: seq, in: c)
        }
        // The delivery receipt to the group, naming the sender (whatsmeow receipt.go sendMessageReceipt).
        try routeReceipt(ReceiptStanzas.Receipt(ids: [id], type: fromMe ? .sender : .delivery, to: group, participant: sender), account: account)
    }

    /// `POST /accounts/{phone}/send {to: GROUP}`: the phone sends `text` to a group it is in.
    func sendToGroup(from account: SimAccount, group id: String, text: String) throws(WauseError) -> (id: String, t: Int64, group: SimGroup) {
        guard let group = try state.group(id: id) else { throw WauseError(.notFound, "no group \(id)@g.us") }
        guard let member = group.member(account.phone) else {
            throw WauseError(.notAParticipant, "the phone \(account.phone) is not a member of \(group.jid)", details: ["server_code": 403])
        }
        if group.announce && member.role == .member {
            throw WauseError(.notAParticipant, "only admins may send to \(group.jid)", details: ["server_code": 403])
        }
        var message = WAWebProtobufsE2E_Message()
        message.conversation = text
        let payload = try MessageFormat.encode(message)
        let messageID = MessageFormat.newMessageID(now: environment.now(), ownUser: account.phone, random: environment.randomBytes)
        let t = environment.now().seconds
        let sender = SimEndpoint(account: account, device: 0)
        var recipients: [SimEndpoint] = []
        for member in group.members { recipients += try state.endpoints(of: member.account) }
        recipients.removeAll { $0.account.phone == account.phone && $0.device == 0 }

        try withPhoneStore(account) { (store) throws(WauseError) in
            let (distribution, skmsg) = try senderKeyParts(group: group, account: account, payload: payload, store: store)
            var stanzas: [QueuedStanza] = []
            for endpoint in recipients {
                var children: [Node] = []
                if let enc = try encrypt(distribution, for: endpoint, form: group.server, store: store) { children.append(enc.node) }
                children.append(Node(tag: "enc", attributes: ["v": "2", "type": "skmsg"], bytes: skmsg))
                stanzas.append(QueuedStanza(phone: endpoint.account.phone, device: endpoint.device, kind: .message,
                                            node: router.groupDelivered(id: messageID, t: t, type: "text", group: group, sender: sender,
                                                                        children: children)))
            }
            try router.deliver(stanzas) { (c) throws(WauseError) in
                try store.apply(c)
                try c.execute("INSERT INTO phone_sent (phone, message_id, chat, payload, auto_reply, t) VALUES (?, ?, ?, ?, 0, ?)",
                              [.text(account.phone), .text(messageID), .text(group.jid.description), .blob(payload), .integer(t)])
                try SimState.logMessage(c, id: messageID, sender: sender, chat: group.jid, t: t)
            }
        }
        return (messageID, t, group)
    }

    /// The phone's own sender key for the group (made on first use): the pairwise plaintext
    /// carrying its SKDM, and the `skmsg` of the padded `payload`.
    private func senderKeyParts(group: SimGroup, account: SimAccount, payload: [UInt8], store: PhoneSignalStore) throws(WauseError)
        -> (distribution: [UInt8], skmsg: [UInt8])
    {
        let random = environment.randomBytes
        let own = SenderKeyName(groupId: group.jid.description, sender: SignalAddress(user: account.lid, device: 0, server: JID.Server.lid.rawValue))
        do {
            let distribution = try GroupSessionBuilder(store: store, random: random).create(for: own)
            var carrier = WAWebProtobufsE2E_Message()
            carrier.senderKeyDistributionMessage.groupID = group.jid.description
            carrier.senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage = Data(distribution.serialized)
            let skmsg = try GroupCipher(name: own, store: store, random: random).encrypt(MessageFormat.pad(payload, random: random))
            return (try MessageFormat.encode(carrier), skmsg.serialized)
        } catch let error as WauseError {
            throw error
        } catch {
            throw WauseError(.internal, "sender key for \(group.jid): \(error)")
        }
    }

    /// A member device could not read one of the phone's group messages: the message with the
    /// phone's SKDM, pairwise to that device only, `to` the group with `participant` naming it.
    func answerGroupRetry(_ node: Node, seq: Int64, account: SimAccount) throws(WauseError) {
        try state.dropQueued(seq: seq)
        guard let id = node[attribute: "id"], let groupJID = MessageRouter.jid(node, "from"), let device = MessageRouter.jid(node, "participant"),
            let endpoint = try state.endpoint(device), let group = try state.group(id: groupJID.user),
            group.member(endpoint.account.phone) != nil, let sent = try state.sentByPhone(phone: account.phone, messageID: id)
        else { return }
        var bundle: PreKeyBundle?
        if let keys = node.child("keys") {
            bundle = PreKeyStanzas.bundle(keys: keys, registration: node.child("registration")?.bytes, device: JID(user: account.phone, server: .whatsApp))
        }
        let count = node.child("retry")?[attribute: "count"] ?? "1"
        let sender = SimEndpoint(account: account, device: 0)
        try withPhoneStore(account) { (store) throws(WauseError) in
            let own = SenderKeyName(groupId: group.jid.description, sender: SignalAddress(user: account.lid, device: 0, server: JID.Server.lid.rawValue))
            var message = (try? WAWebProtobufsE2E_Message(serializedBytes: sent.payload)) ?? WAWebProtobufsE2E_Message()
            do {
                let distribution = try GroupSessionBuilder(store: store, random: environment.randomBytes).create(for: own)
                message.senderKeyDistributionMessage.groupID = group.jid.description
                message.senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage = Data(distribution.serialized)
            } catch {
                throw WauseError(.internal, "sender key for \(group.jid): \(error)")
            }
            guard let enc = try encrypt(try MessageFormat.encode(message), for: endpoint, form: device.server, store: store, bundle: bundle,
                                        count: count)
            else { return }
            let stanza = QueuedStanza(phone: endpoint.account.phone, device: endpoint.device, kind: .message,
                                      node: router.groupDelivered(id: id, t: sent.t, type: "text", group: group, sender: sender, children: [enc.node]))
            try router.deliver([stanza]) { (c) throws(WauseError) in try store.apply(c) }
        }
        logger.info("virtual phone \(account.phone): resent group message \(id) to \(device) after retry receipt \(count)")
    }
}
