import SwiftProtobuf
import WauseBinary
import WauseProtocol
import WauseProto
import WauseSignal
import WauseSupport
import WauseTransport

/// Receipts (whatsmeow receipt.go, retry.go; types/presence.go ReceiptType): delivery and read receipts for our messages move
/// their status along a timeline (queued → sent → delivered → read); a retry receipt makes us
/// encrypt the message again for the device that could not read it; `whatsapp_mark_read` sends
/// read receipts for a chat.
struct Receipts: Sendable {
    let store: Store
    let messaging: Messaging
    let environment: Environment
    let logger: Logger
    let publisher: EventPublisher

    /// Incoming `<receipt>` stanzas, on a logged-in connection.
    func route(_ router: inout StanzaRouter) {
        router.on(.tag("receipt")) { [self] node, session in handle(node, session: session) }
    }

    /// Retry receipts answered per message and device (whatsmeow stops after 10 per sender).
    static let maximumRetriesAnswered = 5

    func handle(_ node: Node, session: ConnectionSession) {
        let connection = session.connection
        let receipt: ReceiptStanzas.Receipt
        do { receipt = try ReceiptStanzas.Receipt(parsing: node) } catch {
            logger.debug("\(error); ignored")
            return
        }
        guard let from = receipt.from else { return }
        if receipt.type == .retry {
            // Owned by the connection: a resend for a connection that ended has nowhere to go.
            session.spawn { await resend(for: receipt, connection: connection) }
            return
        }
        let status: MessageStatus
        switch receipt.type {
        case .delivery: status = .delivered
        case .read, .readSelf, .played, .playedSelf: status = .read
        default: return  // sender, inactive, peer_msg, hist_sync, server-error: nothing to record
        }
        let at = receipt.t.map(UnixTime.init(seconds:)) ?? environment.now()
        // In a group the receipt comes from the group, naming the member's device (whatsmeow receipt.go parseReceipt).
        var device = from.server == .group ? (receipt.participant ?? from) : from
        // A receipt for a LID-first message comes from the LID device: named by its phone number when known, as the
        // chats are (one contact, whichever form the server used).
        if device.server == .lid, let phone = try? store.phone(ofLID: device.user) {
            device = JID(user: phone, device: device.device, server: .whatsApp)
        }
        for id in receipt.ids {
            guard let moved = try? store.advanceStatus(messageID: id, to: status, device: device.description, at: at), moved else { continue }
            publisher.publish(.messageStatus, [
                "message_id": .string(id), "status": .string(status.rawValue), "device": .string(device.description),
                "chat_id": JSONValue(try? store.message(id: id)?.chatJID),
                "at": .string(at.iso8601),
            ])
        }
    }

    /// The keys a retry's resend to `device` is encrypted with, for 1:1 and group resends alike
    /// (whatsmeow retry.go handleRetryReceipt): the bundle the receipt carries replaces our session
    /// with that device; without one, a bundle is fetched only if we have no session.
    func bundlesForResend(to device: JID, answering receipt: ReceiptStanzas.Receipt,
                          connection: ServerConnection) async throws -> [JID: PreKeyBundle] {
        if let bundle = receipt.bundle(for: device) {
            let address = try messaging.sessionAddress(of: device)
            try messaging.withRatchet { try messaging.signalStore.deleteSession(for: address) }
            return [device: bundle]
        }
        guard try messaging.devicesWithoutSession([device]).isEmpty == false else { return [:] }
        return try await PreKeyBundles.fetch([device], connection: connection, environment: environment)
    }

    /// whatsmeow retry.go handleRetryReceipt, the sender's side: the device `from` could not decrypt our message; encrypt it again
    /// for that device only — with a new session from the keys it sent, or a fresh bundle.
    func resend(for receipt: ReceiptStanzas.Receipt, connection: ServerConnection) async {
        let id = receipt.id
        if let group = receipt.from, group.server == .group {
            await resendInGroup(for: receipt, group: group, connection: connection)
            return
        }
        guard let device = receipt.from, let message = try? store.message(id: id), message.fromMe, let raw = message.raw,
            let answered = try? store.countRetryAnswered(messageID: id, device: device.description),
            answered <= Receipts.maximumRetriesAnswered
        else {
            logger.info("retry receipt for \(id) not answered (unknown message or too many retries)")
            return
        }
        do {
            let bundles = try await bundlesForResend(to: device, answering: receipt, connection: connection)
            guard let account = try store.linkedAccount(), let own = JID(account.jid), let chat = JID(message.chatJID) else { return }
            var plaintext = raw
            // Our own other device (by phone number or, LID-first, by our LID) gets the device-sent copy.
            if device.user == own.user || account.lid.flatMap(JID.init)?.user == device.user {
                plaintext = try MessageFormat.encode(MessageFormat.deviceSentCopy(of: try WAWebProtobufsE2E_Message(serializedBytes: raw), chat: chat))
            }
            guard let sealed = try messaging.encrypt(plaintext, for: [device], bundles: bundles).first else { return }
            let count = String(receipt.retry?.count ?? 1)
            // The resend goes to that one device with the original's t (whatsmeow retry.go handleRetryReceipt).
            var stanza = MessageEnvelope(id: id, type: "text", to: device, t: receipt.retry?.t, deviceFanout: false,
                                         encrypted: [.init(type: sealed.type, ciphertext: sealed.ciphertext, count: count)])
            if stanza.carriesPreKeyMessage { stanza.deviceIdentity = try store.advSignedIdentity() }
            try connection.send(stanza.node)
            logger.info("resent \(id) to \(device) after retry receipt \(count)")
        } catch {
            logger.warning("cannot answer the retry receipt for \(id) from \(device): \(error)")
        }
    }

    // MARK: whatsapp_mark_read

    static let markRead = MethodDefinition(
        name: "whatsapp_mark_read",
        title: "Mark WhatsApp messages as read",
        description: """
            Send read receipts (blue ticks) and clear the unread count: for every unread message of chat (phone number, JID, \
            LID or contact name), or for the given message_ids (all in one chat). Needs a connection.
            """,
        inputSchema: Schema.object([
            ("chat", Schema.string("phone, JID, LID or contact name")),
            ("to", Schema.string("alias of chat")),
            ("message_ids", Schema.array(of: Schema.string(minLength: 1), "ids of received messages to mark")),
        ]),
        outputSchema: Schema.object([
            ("ok", Schema.boolean()), ("chat_id", Schema.string()), ("count", Schema.integer(minimum: 0)),
            ("message_ids", Schema.array(of: Schema.string())),
        ], required: ["ok", "chat_id", "count", "message_ids"]),
        annotations: MethodAnnotations(readOnly: false, destructive: false, idempotent: true, openWorld: true),
        handler: { context, arguments throws(WauseError) in
            let now = context.environment.now()
            var chat = try arguments["chat"]?.stringValue.map { text throws(WauseError) in
                try Recipients.chatJID(text, store: context.store, now: now)
            }
            let given = arguments["message_ids"]?.arrayValue?.compactMap(\.stringValue)
            guard chat != nil || given != nil else { throw .invalidRequest("give chat or message_ids") }
            var messages: [MessageRecord] = []
            if let given {
                for id in given {
                    guard let message = try context.store.message(id: id), !message.fromMe else {
                        throw WauseError(.notFound, "no received message \(id)")
                    }
                    if chat == nil { chat = message.chatJID }
                    guard message.chatJID == chat else { throw .invalidRequest("message_ids must all belong to one chat") }
                    messages.append(message)
                }
            } else if let chat {
                messages = try context.store.unreadMessages(chat: chat)
            }
            let chatJID = chat!
            if !messages.isEmpty {
                guard context.status.current == .ready, let session = context.serverLink.currentSession else {
                    throw WauseError(.notConnected, "not connected to WhatsApp; read receipts cannot be sent now")
                }
                // All ids in one receipt share the chat (and, in 1:1 chats, the sender) (whatsmeow receipt.go MarkRead).
                guard let to = JID(chatJID) else { throw WauseError(.internal, "the stored chat id \(chatJID) is not a JID") }
                if to.server == .group {
                    // In a group, one receipt per sender, naming them (whatsmeow receipt.go MarkRead `sender`), in the order they wrote.
                    var senders: [String] = []
                    for message in messages where !senders.contains(message.senderJID ?? "") { senders.append(message.senderJID ?? "") }
                    for sender in senders {
                        let ids = messages.filter { ($0.senderJID ?? "") == sender }.map(\.id)
                        try session.connection.send(ReceiptStanzas.Receipt.read(ids: ids, chat: to, t: now.seconds, sender: JID(sender)).node)
                    }
                } else {
                    try session.connection.send(ReceiptStanzas.Receipt.read(ids: messages.map(\.id), chat: to, t: now.seconds).node)
                }
            }
            try context.store.markChatRead(chat: chatJID, messageIDs: messages.map(\.id), now: now)
            return ["ok": true, "chat_id": .string(chatJID), "count": .int(Int64(messages.count)),
                    "message_ids": .array(messages.map { .string($0.id) })]
        }
    )
}
