import SwiftProtobuf
import WauseBinary
import WauseProtocol
import WauseCrypto
import WauseProto
import WauseSignal
import WauseSQLite
import WauseSupport
import WauseTransport

/// An incoming `<message>` (whatsmeow message.go handleEncryptedMessage): decrypt each `<enc>`, strip the padding,
/// read the text, store it once (by chat, id and side), announce `message.received`, and only
/// then send the delivery receipt — the receipt is the ack, so nothing is acknowledged before it
/// is safely stored. A message that does not decrypt is never dropped silently: it is recorded,
/// and a retry receipt asks the sender to encrypt it again (whatsmeow retry.go sendRetryReceipt).
struct Receive: Sendable {
    let store: Store
    let config: ClientConfig
    let keys: DeviceKeys
    let messaging: Messaging
    let environment: Environment
    let logger: Logger
    let publisher: EventPublisher
    /// Received media: its metadata is filed with the message, and `media_auto_download` applied.
    var media: MediaTransfers? = nil
    let approvals: Approvals
    /// History-sync notifications from our phone are kept there before they are acknowledged (History/HistorySync.swift).
    var historySync: HistorySync? = nil
    /// App-state key shares from our phone are stored there (AppState/AppStateSync.swift).
    var appState: AppStateSync? = nil

    /// Incoming `<message>` stanzas, on a logged-in connection.
    func route(_ router: inout StanzaRouter) {
        router.on(.tag("message")) { [self] node, session in handle(node, connection: session.connection, session: session) }
        media?.route(&router)
    }

    /// whatsmeow sends at most 4 retry receipts per message (none once the count would reach 5).
    static let maximumRetries = 4

    func handle(_ node: Node, connection: ServerConnection, session: ConnectionSession? = nil) {
        let message: MessageEnvelope
        do { message = try MessageEnvelope(parsing: node) } catch {
            logger.debug("\(error); ignored")
            return
        }
        guard let from = message.from else { return }
        let id = message.id
        if from.server == .group, message.participant != nil {
            handleGroup(message, node: node, group: from, connection: connection)
            // A group we have not heard of yet (its create notification was missed): fetch its name and members.
            if let session, (try? store.group(jid: from.description)) == nil {
                GroupNotifications.fetchInBackground(from, session: session, store: store, environment: environment, logger: logger)
            }
            return
        }
        if from.server == .group || from.server == .broadcast || message.participant != nil {
            // Broadcast lists and status are not served: say so to the server rather than
            // leaving the stanza unanswered (nack 551, "unsupported LID group" is the closest).
            try? connection.send(Node(tag: "ack", attributes: ["id": .text(id), "class": "message", "to": .jid(from), "error": "551"]))
            return
        }
        guard let account = try? store.linkedAccount(), let own = JID(account.jid) else { return }
        let ownLID = account.lid.flatMap(JID.init)
        let fromMe = from.user == own.user || (ownLID != nil && from.user == ownLID!.user)
        let now = environment.now()
        let sentAt = message.t.map(UnixTime.init(seconds:)) ?? now.truncatedToSeconds

        // The sender's other address first (whatsmeow message.go: StoreLIDPNMapping from sender_pn/sender_lid), so the
        // session is looked up under the LID whichever form the message came in (Messaging.sessionAddress).
        if from.server == .whatsApp, let lid = message.senderLID, !fromMe {
            _ = try? store.contact(phone: from.user, lid: lid.user, pushName: message.notify, now: now)
        } else if from.server == .lid, let phone = message.senderPhone, !fromMe {
            _ = try? store.contact(phone: phone.user, lid: from.user, pushName: message.notify, now: now)
        }
        var plaintexts: [[UInt8]] = []
        var duplicate = false
        for enc in message.encrypted {
            do {
                plaintexts.append(try messaging.decrypt(type: enc.type, ciphertext: enc.ciphertext, from: from))
            } catch SignalError.duplicateMessage {
                // An old counter: we have this message already (whatsmeow message.go decryptMessages); the receipt below says so.
                duplicate = true
            } catch {
                failed(message, from: from, reason: "\(error)", connection: connection)
                return
            }
        }
        let senderAddress = (try? messaging.sessionAddress(of: from)) ?? MessageFormat.address(of: from)
        let identityChanged = messaging.withRatchetState { $0.takeIdentityChanges().contains(senderAddress) }
        // Decrypted is what resolves an earlier failure; marked before filing, so whoever hears
        // message.received finds the failure resolved already.
        if !plaintexts.isEmpty || duplicate {
            try? store.resolveDecryptFailure(messageID: id, sender: from.description, now: now)
        }
        var historyNotification = false
        for plaintext in plaintexts {
            do {
                // Only from our own phone (device 0): whatsmeow message.go handleProtocolMessage, Baileys SELF_ONLY_TYPES.
                if fromMe, from.device == 0, let historySync, let notification = HistorySync.notification(in: plaintext) {
                    try historySync.accept(notification, messageID: id)
                    historyNotification = true
                    continue
                }
                try store(plaintext, message: message, from: from, fromMe: fromMe, sentAt: sentAt, identityChanged: identityChanged)
                // Stored first: an answer to an approval request (Approvals/) is read from the filed message.
                if !fromMe { approvals.consider(plaintext, envelope: message, from: from) }
            } catch {
                logger.error("cannot store message \(id): \(error)")
                // Not acknowledged: the server delivers it again, and the duplicate check files it once.
                return
            }
        }
        // whatsmeow receipt.go sendMessageReceipt: `type="sender"` for our own devices' copies.
        try? connection.send(ReceiptStanzas.Receipt.answering(message, type: fromMe ? .sender : .delivery).node)
        if historyNotification {
            // Kept above, so it may be acknowledged: `hist_sync` to our own number (whatsmeow message.go
            // SendProtocolMessageReceipt; Baileys messages-recv.ts), then filed in the background.
            try? connection.send(ReceiptStanzas.Receipt(ids: [id], type: .historySync, to: JID(user: own.user, server: .whatsApp)).node)
            historySync?.kick()
        }
        if fromMe, message.category == "peer" {
            // A peer message from one of our own devices (key share, history sync, a peer data
            // operation's answer) is also acknowledged as `peer_msg` to our own number (whatsmeow
            // message.go handleProtocolMessage: SendProtocolMessageReceipt(ReceiptTypePeerMsg)).
            try? connection.send(ReceiptStanzas.Receipt(ids: [id], type: .peerMessage, to: JID(user: own.user, server: .whatsApp)).node)
        }
    }

    private func store(_ plaintext: [UInt8], message envelope: MessageEnvelope, from: JID, fromMe: Bool, sentAt: UnixTime,
                       identityChanged: Bool) throws {
        let id = envelope.id
        let message = try WAWebProtobufsE2E_Message(serializedBytes: plaintext)
        let mediaMessage = MediaMessage.describe(message)
        // Our phone's app-state keys (a peer message from our own account): stored before the receipt.
        if fromMe, message.protocolMessage.type == .appStateSyncKeyShare, let appState {
            try appState.receiveKeyShare(message.protocolMessage.appStateSyncKeyShare)
            return
        }
        // Our phone's answer to an app-state recovery request (AppStateRecovery): applied before the receipt.
        if fromMe, from.device == 0, message.protocolMessage.type == .peerDataOperationRequestResponseMessage, let appState,
           try appState.receiveRecovery(message) {
            return
        }
        // A reaction, edit or revoke changes the message it names instead of being filed (MessageChanges.swift).
        if try MessageChanges.applyIncoming(message, envelope: envelope, from: from, fromMe: fromMe, sentAt: sentAt, store: store,
                                            publisher: publisher, logger: logger) { return }
        guard let (body, quotedID, type) = MessageFormat.text(of: message) ?? mediaMessage.map({ ($0.body, nil, $0.type) }) else {
            logger.debug("message \(id) carries no text (\(message.hasProtocolMessage ? "protocol message" : "other content")); not filed")
            return
        }
        let now = environment.now()
        let contact: Contact
        if fromMe {
            // Our other device's copy: filed under the chat it went to (whatsmeow send.go marshalMessage; message.go parseMessageSource).
            let destination = message.hasDeviceSentMessage ? JID(message.deviceSentMessage.destinationJid) : nil
            guard let chat = destination ?? envelope.recipient else { return }
            // A LID-first send names the chat's phone number beside it (message.go parseMessageSource RecipientAlt:
            // `peer_recipient_pn`): one contact and one chat either way.
            contact = try chat.server == .lid ? store.contact(phone: envelope.peerRecipientPhone?.user, lid: chat.user, now: now)
                : store.contact(phone: chat.user, lid: nil, now: now)
        } else {
            // A sender reached by LID and by phone number is one contact (whatsmeow message.go parseMessageSource: sender_pn / sender_lid).
            let phone = from.server == .whatsApp ? from.user : envelope.senderPhone?.user
            let lid = from.server == .lid ? from.user : envelope.senderLID?.user
            contact = try store.contact(phone: phone, lid: lid, pushName: envelope.notify, now: now)
        }
        var record = MessageRecord(id: id, chatJID: contact.chatJID,
                                   senderJID: fromMe ? nil : JID(user: from.user, server: from.server).description,
                                   fromMe: fromMe, type: type, body: body, quotedID: quotedID, timestamp: sentAt,
                                   hasMedia: mediaMessage?.hasFile ?? false, status: fromMe ? .sent : nil, raw: plaintext)
        let (rowid, inserted) = try store.insertMessage(record, contactID: contact.id, now: now)
        guard inserted else { return }
        record.rowid = rowid
        if let mediaMessage {
            try store.saveMedia(rowid: rowid, mediaMessage, path: nil)
            record.media = mediaMessage
        }
        if identityChanged || from.device != 0 { try store.annotate(rowid: rowid, identityChanged: identityChanged, device: from.description) }
        let own = try store.linkedAccount()?.jid
        let author = try store.authors(of: [record], ownPushName: config.pushName).first ?? nil
        var messageJSON = History.json(record, ownJID: own, author: author)
        if case .object(var object) = messageJSON {
            object["identity_changed"] = .bool(identityChanged)
            messageJSON = .object(object)
        }
        if fromMe {
            // Sent by another of our devices: the same fields as our own sends' message.sent, plus the message.
            publisher.publish(.messageSent, [
                "message_id": .string(id), "chat_id": .string(contact.chatJID),
                "timestamp": .string(sentAt.iso8601), "from_other_device": true,
                "message": messageJSON,
            ])
        } else {
            publisher.publish(.messageReceived, [
                "message": messageJSON, "sender_phone": JSONValue(contact.phone), "sender_lid": JSONValue(contact.lid),
            ])
            if let mediaMessage { media?.autoDownload(rowid: rowid, messageID: id, media: mediaMessage) }
        }
    }

    /// Records the failure and asks the sender to try again (whatsmeow retry.go sendRetryReceipt); the retry receipt also serves
    /// as the answer to the stanza.
    func failed(_ message: MessageEnvelope, from: JID, reason: String, connection: ServerConnection) {
        let id = message.id
        let now = environment.now()
        let count = (try? store.recordDecryptFailure(messageID: id, sender: from.description, reason: reason, now: now)) ?? 1
        logger.warning("cannot decrypt message \(id) from \(from) (attempt \(count)): \(reason)")
        guard count <= Receive.maximumRetries else {
            // A group message's ack goes to the group, naming the sender (whatsmeow message.go sendAck: to = from, participant).
            var ack: Attributes = ["id": .text(id), "class": "message", "to": .jid(message.from ?? from), "error": "0"]
            if let participant = message.participant { ack["participant"] = .jid(participant) }
            try? connection.send(Node(tag: "ack", attributes: ack))
            return
        }
        let identity = keys.current
        var retryKeys: Node?
        if count > 1, let fresh = try? store.preparePreKeys(count: 1, random: environment.randomBytes, now: now).first {
            // From the second try on, our keys go along so the sender can start a new session (whatsmeow retry.go sendRetryReceipt).
            retryKeys = PreKeyStanzas.retryKeys(identity.publicKeys, oneTime: (fresh.id, fresh.publicKey),
                                           deviceIdentity: try? store.advSignedIdentity())
        }
        let receipt = ReceiptStanzas.Receipt.retry(answering: message, count: Int(count), t: message.t ?? now.seconds,
                                                   registrationID: identity.registrationID, keys: retryKeys)
        try? connection.send(receipt.node)
    }
}
