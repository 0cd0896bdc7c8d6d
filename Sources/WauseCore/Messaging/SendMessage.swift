import WauseBinary
import WauseProto
import WauseSupport
import WauseProtocol

/// `whatsapp_send_message`: the contract's form (`phone_number`, `message`) and the general one
/// (`to` — phone, JID, LID or contact name —, `quoted_message_id`, `idempotency_key`). The
/// message is stored and queued before it goes anywhere (Outbox.swift); the call then waits a
/// little (also for the login, on a client that is still logging in) for the server's ack so
/// `status` usually says `sent`, and otherwise `queued` — it will go out when the connection is back.
enum SendMessage {
    /// How long the call waits for the server's ack before answering with `queued`.
    static let ackWait: Duration = .seconds(20)
    static let idempotencyWindow: Duration = .seconds(24 * 3600)
    static let maximumTextLength = 65_536
    /// Where a stored idempotent result keeps the arguments of the first call.
    static let requestKey = "_request"

    static let definition = MethodDefinition(
        name: "whatsapp_send_message",
        title: "Send a WhatsApp message",
        description: """
            Send a text message, end-to-end encrypted. Name the recipient with phone_number (digits, optional +) or to \
            (phone number, JID, LID or an unambiguous contact name) — not both. Optional quoted_message_id replies to a \
            message; optional idempotency_key makes retries safe (same key, same result, for 24 h). The message is stored \
            before sending and delivered when the connection allows: status is "sent" once WhatsApp accepted it, "queued" \
            if it is still waiting.
            """,
        inputSchema: Schema.object([
            ("phone_number", Schema.string("recipient phone number (the contract's form)")),
            ("to", Schema.string("recipient: phone, JID, LID or contact name")),
            ("message", Schema.string("the text", minLength: 1)),
            ("quoted_message_id", Schema.string("id of a message in the chat to reply to")),
            ("idempotency_key", Schema.string("a repeated key returns the first result", minLength: 1)),
            ScheduledSends.sendAtProperty,
        ], required: ["message"]),
        outputSchema: Schema.object([
            ("ok", Schema.boolean()), ("to", Schema.string("recipient phone number, digits")),
            ("chat_id", Schema.string("the chat JID")), ("message_id", Schema.string(nullable: true)),
            ("timestamp", Schema.string("ISO 8601 UTC")),
            ("status", Schema.string("scheduled, queued, sent, delivered, read, failed or cancelled")),
        ], required: ["ok", "to", "chat_id", "message_id", "timestamp", "status"]),
        annotations: MethodAnnotations(readOnly: false, destructive: false, idempotent: false, openWorld: true),
        handler: { context, arguments throws(WauseError) in try await send(context: context, arguments: arguments) }
    )

    static func send(context: MethodContext, arguments: JSONObject) async throws(WauseError) -> JSONObject {
        let phone = arguments["phone_number"]?.stringValue, to = arguments["to"]?.stringValue
        guard (phone == nil) != (to == nil) else {
            throw .invalidRequest(phone == nil ? "name the recipient with phone_number or to" : "give phone_number or to, not both")
        }
        guard let text = arguments["message"]?.stringValue, !text.isEmpty else { throw .invalidRequest("message must not be empty") }
        // WhatsApp caps a text at 65,536 characters (issue 11, item 6; counted as Unicode scalars,
        // as JSON Schema's maxLength counts). Checked here, not in the schema: the contract's
        // schema stays as it is.
        guard text.unicodeScalars.count <= maximumTextLength else {
            throw .invalidRequest("message is \(text.unicodeScalars.count) characters; WhatsApp allows at most \(maximumTextLength)",
                                  details: ["limit": .int(Int64(maximumTextLength))])
        }
        guard let account = try context.store.linkedAccount(), let own = JID(account.jid) else {
            throw WauseError(.whatsappNotPaired, "this device is not linked to WhatsApp; link it with whatsapp_start_auth or whatsapp_pairing_code")
        }
        let now = context.environment.now()
        let sendAt = try ScheduledSends.sendAt(arguments, now: now)
        let key = arguments["idempotency_key"]?.stringValue
        // The arguments the key was first used with are kept beside its result (under
        // `requestKey`, never returned): the same key with other arguments is a conflict, as
        // payment APIs answer (Stripe's "Idempotent requests": a key reused with different
        // parameters is an error), not the first send's result (issue 11, item 5).
        var request = arguments
        request["idempotency_key"] = nil
        if let key, var earlier = try context.store.idempotentResult(key: key, method: definition.name, newerThan: now - idempotencyWindow) {
            let first = earlier[requestKey]?.objectValue
            earlier[requestKey] = nil
            if let first, first != request {
                throw WauseError(.idempotencyConflict, "idempotency_key \(key) was used with different arguments",
                                 details: ["idempotency_key": .string(key), "message_id": earlier["message_id"] ?? .null])
            }
            var result = earlier
            if let id = earlier["message_id"]?.stringValue, let stored = try context.store.message(id: id), let status = stored.status {
                try throwIfRefused(stored, chatJID: earlier["chat_id"]?.stringValue ?? stored.chatJID)
                result["status"] = .string(status.rawValue)
            }
            return result
        }
        let chatJID: String, contactID: Int64?, recipientPhone: String
        if phone == nil, let group = try await groupRecipient(to ?? "", context: context) {
            // A group: `to` in the result is its JID (issue 12: sending works through whatsapp_send_message {to: group}).
            (chatJID, contactID, recipientPhone) = (group.description, nil, group.description)
        } else {
            let contact = try Recipients.resolve(phone ?? to ?? "", store: context.store, now: now)
            guard let contactPhone = contact.phone else {
                throw .invalidRequest("\(contact.chatJID) has no known phone number yet; send to their phone number")
            }
            (chatJID, contactID, recipientPhone) = (contact.chatJID, contact.id, contactPhone)
        }
        var message = WAWebProtobufsE2E_Message()
        var quoted: MessageRecord?
        if let quotedID = arguments["quoted_message_id"]?.stringValue {
            guard let original = try context.store.message(id: quotedID), original.chatJID == chatJID else {
                throw WauseError(.notFound, "no message \(quotedID) in the chat with \(recipientPhone)")
            }
            quoted = original
            var extended = WAWebProtobufsE2E_ExtendedTextMessage()
            extended.text = text
            extended.contextInfo.stanzaID = original.id
            extended.contextInfo.participant = original.fromMe ? LinkedAccount.userJID(account.jid) : (original.senderJID ?? original.chatJID)
            if let raw = original.raw, let quotedMessage = try? WAWebProtobufsE2E_Message(serializedBytes: raw) {
                extended.contextInfo.quotedMessage = quotedMessage
            } else {
                extended.contextInfo.quotedMessage.conversation = original.body
            }
            message.extendedTextMessage = extended
        } else {
            message.conversation = text
        }
        let id = MessageFormat.newMessageID(now: now, ownUser: own.user, random: context.environment.randomBytes)
        let record = MessageRecord(id: id, chatJID: chatJID, senderJID: nil, fromMe: true, type: "chat", body: text,
                                   quotedID: quoted?.id, timestamp: now.truncatedToSeconds, status: sendAt == nil ? .queued : .scheduled)
        var result: JSONObject = [
            "ok": true, "to": .string(recipientPhone), "chat_id": .string(chatJID), "message_id": .string(id),
            "timestamp": .string(now.iso8601), "status": .string((sendAt == nil ? MessageStatus.queued : .scheduled).rawValue),
        ]
        let payload = try MessageFormat.encode(message)
        _ = try ScheduledSends.admit(context, chatJID, given: phone ?? to, sendAt: sendAt) { () throws(WauseError) in
            try context.store.enqueue(record, contactID: contactID, payload: payload, now: now,
                                      idempotency: key.map { [result] in ($0, definition.name, result.merging(requestKey, .object(request))) },
                                      sendAt: sendAt)
        }
        context.outbox.kick()
        if sendAt != nil { return result }
        let status = try await waitForAck(context: context, messageID: id)
        if status == .failed, let stored = try context.store.message(id: id) { try throwIfRefused(stored, chatJID: chatJID) }
        result["status"] = .string(status.rawValue)
        return result
    }

    /// The group `text` names, if it names one: a group JID, or a name that only groups have (a
    /// name shared by groups and contacts is `ambiguous_recipient`). A group we are not in is
    /// `not_a_participant`; one we do not know yet is asked of the server.
    static func groupRecipient(_ text: String, context: MethodContext) async throws(WauseError) -> JID? {
        let trimmed = text.trimmingCharacters(in: " \t")
        let group: JID
        if trimmed.hasSuffix("@g.us") {
            group = try Groups.resolve(trimmed, store: context.store)
        } else {
            guard !trimmed.isEmpty, !trimmed.contains("@"), trimmed.first.map({ $0 == "+" || $0.isNumber }) == false else { return nil }
            let groups = try context.store.groups(named: trimmed)
            guard !groups.isEmpty else { return nil }
            let contacts = try context.store.contacts(named: trimmed)
            guard contacts.isEmpty else {
                throw WauseError(.ambiguousRecipient, "'\(trimmed)' names both a contact and a group; name one by JID",
                                 details: ["candidates": .array(contacts.map { ["name": JSONValue($0.displayName), "jid": .string($0.chatJID)] }
                                     + groups.map { ["name": .string($0.group.name), "jid": .string($0.group.jid.description)] })])
            }
            group = try Groups.resolve(trimmed, store: context.store)
        }
        let record: GroupRecord
        if let stored = try context.store.group(jid: group.description) {
            record = stored
        } else {
            record = try await Groups.refresh(group, context: context, doing: "send to \(group)")
        }
        guard record.isParticipant else {
            throw WauseError(.notAParticipant, "this account is not a participant of \(group.description) (\(record.group.name))",
                             details: ["group_id": .string(group.description)])
        }
        let own = try Groups.ownJIDs(context.store)
        let standing = record.group.participants.first { Groups.isMember(GroupStanzas.Group(jid: group, name: "", participants: [$0]), own: own) }
        if record.group.announce, standing?.admin == GroupStanzas.Admin.none {
            throw WauseError(.invalidRequest, "only admins may send to \(record.group.name) (an announcement group)",
                             details: ["group_id": .string(group.description), "reason": "announcement_group"])
        }
        return group
    }

    /// A message the outbox failed because the recipient is not on WhatsApp, or for the server's
    /// 463, answers as that error (DESIGN.md "Errors") rather than `ok: true` with `failed`;
    /// `details.message_id` names the stored, failed message.
    static func throwIfRefused(_ message: MessageRecord, chatJID: String) throws(WauseError) {
        guard message.status == .failed, let code = Outbox.errorCode(forReason: message.statusReason) else { return }
        throw WauseError(code, message.statusReason ?? code.rawValue,
                         details: ["message_id": .string(message.id), "chat_id": .string(chatJID), "status": "failed"])
    }

    /// The message's status once it left `queued`, or `queued` if that takes longer than `ackWait`
    /// or the device cannot get connected on its own. A client that is still logging in (right
    /// after opening) or reconnecting is waited for within the same bound: "open, send" should
    /// answer `sent`, not `queued` a few milliseconds in.
    static func waitForAck(context: MethodContext, messageID: String) async throws(WauseError) -> MessageStatus {
        let environment = context.environment
        let deadline = environment.now() + ackWait
        var cursor = context.events.latestCursor
        while true {
            let status = try context.store.message(id: messageID)?.status ?? .queued
            if status != .queued || !context.status.versioned().0.canStillSend || environment.now() >= deadline { return status }
            await context.events.waitForHead(after: cursor, atMost: max(.milliseconds(1), deadline - environment.now()), sleep: environment.sleep)
            cursor = context.events.latestCursor
        }
    }
}

private extension JSONObject {
    func merging(_ key: String, _ value: JSONValue) -> JSONObject {
        var copy = self
        copy[key] = value
        return copy
    }
}
