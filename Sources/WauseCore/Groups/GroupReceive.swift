import SwiftProtobuf
import WauseBinary
import WauseProto
import WauseProtocol
import WauseSignal
import WauseSupport

/// A group `<message from=GROUP participant=SENDER_DEVICE>` (whatsmeow message.go
/// decryptMessages, decryptGroupMsg): the pairwise part first — it carries the sender's
/// SenderKeyDistributionMessage, stored under (group, sender device), or on a retry the message
/// itself —, then the `skmsg` under that sender key. The message is filed in the group's chat
/// with the sender as `from`; a part that does not decrypt (no sender key yet, a bad signature)
/// earns a retry receipt to the group naming the sender, never a silent drop; a repeat is filed
/// once and receipted again.
extension Receive {
    func handleGroup(_ message: MessageEnvelope, node: Node, group: JID, connection: ServerConnection) {
        guard let sender = message.participant, let account = try? store.linkedAccount(), let own = JID(account.jid) else { return }
        let ownLID = account.lid.flatMap(JID.init)
        let fromMe = sender.user == own.user || (ownLID != nil && sender.user == ownLID!.user)
        let now = environment.now()
        let sentAt = message.t.map(UnixTime.init(seconds:)) ?? now.truncatedToSeconds
        let name = SenderKeyName(groupId: group.description, sender: MessageFormat.address(of: sender))
        var plaintexts: [[UInt8]] = []
        var duplicate = false
        // Pairwise parts before the skmsg, whatever order they came in: the SKDM must be in first.
        let parts = message.encrypted.filter { $0.type != "skmsg" } + message.encrypted.filter { $0.type == "skmsg" }
        for enc in parts {
            do {
                if enc.type == "skmsg" {
                    let padded = try messaging.withRatchet {
                        try GroupCipher(name: name, store: messaging.senderKeyStore, random: environment.randomBytes)
                            .decrypt(try SenderKeyMessage(serialized: enc.ciphertext))
                    }
                    plaintexts.append(try MessageFormat.unpad(padded))
                    continue
                }
                let plaintext = try messaging.decrypt(type: enc.type, ciphertext: enc.ciphertext, from: sender)
                let content = try WAWebProtobufsE2E_Message(serializedBytes: plaintext)
                if content.hasSenderKeyDistributionMessage {
                    let distribution = try SenderKeyDistributionMessage(
                        serialized: Array(content.senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage))
                    try messaging.withRatchet {
                        try GroupSessionBuilder(store: messaging.senderKeyStore, random: environment.randomBytes).process(distribution, from: name)
                    }
                }
                // A retry resend carries the message itself pairwise (whatsmeow retry.go handleRetryReceipt).
                if MessageFormat.text(of: content) != nil || MediaMessage.describe(content) != nil { plaintexts.append(plaintext) }
            } catch SignalError.duplicateMessage {
                duplicate = true
            } catch {
                failed(message, from: sender, reason: "\(error)", connection: connection)
                return
            }
        }
        let senderPhone = sender.server == .whatsApp ? sender.user : node.jid("participant_pn")?.user ?? JID(node[attribute: "participant_pn"] ?? "")?.user
        let senderLID = sender.server == .lid ? sender.user : node.jid("participant_lid")?.user ?? JID(node[attribute: "participant_lid"] ?? "")?.user
        // Decrypted is what resolves an earlier failure; marked before filing, so whoever hears
        // message.received finds the failure resolved already.
        if !plaintexts.isEmpty || duplicate {
            try? store.resolveDecryptFailure(messageID: message.id, sender: sender.description, now: now)
        }
        for plaintext in plaintexts {
            do {
                try storeGroupMessage(plaintext, message: message, group: group, sender: sender, phone: senderPhone, lid: senderLID,
                                      fromMe: fromMe, sentAt: sentAt)
            } catch {
                logger.error("cannot store group message \(message.id): \(error)")
                return
            }
        }
        try? connection.send(ReceiptStanzas.Receipt.answering(message, type: fromMe ? .sender : .delivery).node)
    }

    private func storeGroupMessage(_ plaintext: [UInt8], message envelope: MessageEnvelope, group: JID, sender: JID, phone: String?,
                                   lid: String?, fromMe: Bool, sentAt: UnixTime) throws {
        let id = envelope.id
        let message = try WAWebProtobufsE2E_Message(serializedBytes: plaintext)
        let mediaMessage = MediaMessage.describe(message)
        // A reaction, edit, revoke or poll vote changes the message it names (Messaging/MessageChanges.swift).
        if try MessageChanges.applyIncoming(message, envelope: envelope, from: sender, fromMe: fromMe, sentAt: sentAt, store: store,
                                            publisher: publisher, logger: logger) { return }
        guard let (body, quotedID, type) = MessageFormat.text(of: message) ?? mediaMessage.map({ ($0.body, nil, $0.type) }) else {
            logger.debug("group message \(id) carries no text; not filed")
            return
        }
        let now = environment.now()
        var contact: Contact?
        if !fromMe, phone != nil || lid != nil {
            contact = try store.contact(phone: phone, lid: lid, pushName: envelope.notify, now: now)
        }
        // `from` is the member who wrote it, by phone number when known (one person, one JID, whichever way it came).
        let senderJID = phone.map { "\($0)@s.whatsapp.net" } ?? JID(user: sender.user, server: sender.server).description
        var record = MessageRecord(id: id, chatJID: group.description, senderJID: fromMe ? nil : senderJID, fromMe: fromMe, type: type,
                                   body: body, quotedID: quotedID, timestamp: sentAt, hasMedia: mediaMessage?.hasFile ?? false,
                                   status: fromMe ? .sent : nil, raw: plaintext)
        let (rowid, inserted) = try store.insertMessage(record, contactID: nil, now: now)
        guard inserted else { return }
        record.rowid = rowid
        if let mediaMessage {
            try store.saveMedia(rowid: rowid, mediaMessage, path: nil)
            record.media = mediaMessage
            if !fromMe { media?.autoDownload(rowid: rowid, messageID: id, media: mediaMessage) }
        }
        if sender.device != 0 { try store.annotate(rowid: rowid, identityChanged: false, device: sender.description) }
        let own = try store.linkedAccount()?.jid
        let author = try store.authors(of: [record], ownPushName: config.pushName).first ?? nil
        let messageJSON = History.json(record, ownJID: own, author: author ?? (fromMe ? nil : envelope.notify))
        if fromMe {
            publisher.publish(.messageSent, ["message_id": .string(id), "chat_id": .string(group.description),
                                             "timestamp": .string(sentAt.iso8601), "from_other_device": true, "message": messageJSON])
        } else {
            publisher.publish(.messageReceived, ["message": messageJSON, "sender_phone": JSONValue(contact?.phone ?? phone),
                                                 "sender_lid": JSONValue(contact?.lid ?? lid), "group_id": .string(group.description)])
        }
    }
}
