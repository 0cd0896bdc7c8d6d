import WauseSupport

/// Scheduled sends (issue 16 "Scheduled and bulk sends"): `send_at` on the send methods
/// (`whatsapp_send_message`, and through MediaMethods.queue `whatsapp_send_file`,
/// `whatsapp_send_location`, `whatsapp_send_contact_card`) stores the message as `scheduled`
/// with its outbox row waiting for that instant (Outbox.swift fires it, also after a restart);
/// `whatsapp_cancel_scheduled` and `whatsapp_list_scheduled`.
///
/// Choices: a `send_at` up to `pastGrace` in the past is "now" (a clock a little behind ours, or
/// an agent that wrote the current minute) and the message goes as an ordinary send; further in
/// the past it is `invalid_request` (a wrong date or zone is likelier than a wish to send at
/// once); more than `longestAhead` ahead is `invalid_request` too. `allowed_recipients` is
/// checked when the send is scheduled (a refused recipient stores nothing); the rate limit
/// counts the message when it falls due, not when it is scheduled. The send's result says
/// `scheduled` (its schema an open string, not an enum: core's tools/list must stay within 16 KB,
/// tests/mcp/test_toolsets.py); `whatsapp_list_scheduled` shows when each goes.
enum ScheduledSends {
    static let pastGrace: Duration = .seconds(60)
    static let longestAhead: Duration = .seconds(366 * 24 * 3600)

    /// Short: it is in core's tools/list, which must stay within 16 KB (tests/mcp/test_toolsets.py).
    static let sendAtProperty = ("send_at", Schema.string("ISO 8601 time to send at (scheduled); omit to send now"))

    /// The instant `send_at` asks for, or nil to send now (none given, or within `pastGrace` of now).
    static func sendAt(_ arguments: JSONObject, now: UnixTime) throws(WauseError) -> UnixTime? {
        guard let text = arguments["send_at"]?.stringValue else { return nil }
        guard let milliseconds = ISO8601.unixMilliseconds(from: text) else {
            throw .invalidRequest("send_at '\(text)' is not an ISO 8601 instant (e.g. 2026-12-24T18:00:00Z)",
                                  details: ["send_at": .string(text)])
        }
        let at = UnixTime(milliseconds: milliseconds)
        if at <= now {
            guard now - at <= pastGrace else {
                throw .invalidRequest("send_at \(at.iso8601) is in the past (now is \(now.iso8601)); omit send_at to send now",
                                      details: ["send_at": .string(text), "now": .string(now.iso8601)])
            }
            return nil
        }
        guard at - now <= longestAhead else {
            throw .invalidRequest("send_at \(at.iso8601) is more than a year ahead", details: ["send_at": .string(text)])
        }
        return at
    }

    /// The guard rails for a send: with `sendAt`, only the recipient now (the rate limit applies
    /// when it falls due, Outbox.swift); without, `SendGuard.admit`.
    static func admit<T>(_ context: MethodContext, _ chatJID: String, given: String?, sendAt: UnixTime?,
                         _ enqueue: () throws(WauseError) -> T) throws(WauseError) -> T {
        guard sendAt != nil else { return try context.sendGuard.admit(chatJID, given: given, store: context.store, enqueue) }
        try context.sendGuard.checkRecipient(chatJID, given: given, store: context.store)
        return try enqueue()
    }

    static let cancel = MethodDefinition(
        name: "whatsapp_cancel_scheduled",
        title: "Cancel a scheduled WhatsApp message",
        description: "Cancel a message scheduled with send_at before it goes: its status becomes cancelled (kept in the timeline). "
            + "A message that is not scheduled (already queued, sent or cancelled) is refused with invalid_request naming its status. Local only.",
        inputSchema: Schema.object([("message_id", Schema.string("the id the send returned", minLength: 1))], required: ["message_id"]),
        outputSchema: Schema.object([
            ("ok", Schema.boolean()), ("message_id", Schema.string()), ("chat_id", Schema.string()),
            ("status", Schema.string(enumeration: ["cancelled"])), ("at", Schema.string("ISO 8601 UTC")),
        ], required: ["ok", "message_id", "chat_id", "status", "at"]),
        annotations: MethodAnnotations(readOnly: false, destructive: true, idempotent: false, openWorld: false),
        handler: { context, arguments throws(WauseError) in
            let id = arguments["message_id"]?.stringValue ?? ""
            let now = context.environment.now()
            let chat = try context.store.cancelScheduled(messageID: id, now: now)
            context.media.discardOutgoingCopies(messageID: id)
            _ = try? context.events.publish(.messageStatus, ["message_id": .string(id), "chat_id": .string(chat),
                                                             "status": .string(MessageStatus.cancelled.rawValue), "at": .string(now.iso8601)])
            return ["ok": true, "message_id": .string(id), "chat_id": .string(chat), "status": "cancelled", "at": .string(now.iso8601)]
        }
    )

    static let list = MethodDefinition(
        name: "whatsapp_list_scheduled",
        title: "List scheduled WhatsApp messages",
        description: "The messages scheduled with send_at that have not gone yet, soonest first (optionally of one chat JID). Local only.",
        inputSchema: Schema.object([
            ("chat_id", Schema.string("only this chat (its JID)")),
            ("limit", Schema.integer(minimum: 1, maximum: 1000, defaultValue: 100)),
        ]),
        outputSchema: Schema.object([
            ("ok", Schema.boolean()),
            ("scheduled", Schema.array(of: Schema.object([
                ("message_id", Schema.string()), ("chat_id", Schema.string()), ("type", Schema.string()),
                ("text", Schema.string("this account's own text or caption", nullable: true)),
                ("send_at", Schema.string("ISO 8601 UTC")), ("scheduled_at", Schema.string("ISO 8601 UTC")),
            ], required: ["message_id", "chat_id", "type", "text", "send_at", "scheduled_at"]))),
        ], required: ["ok", "scheduled"]),
        annotations: .readOnlyLocal,
        handler: { context, arguments throws(WauseError) in
            let limit = Int(arguments["limit"]?.intValue ?? 100)
            let sends = try context.store.scheduledSends(chat: arguments["chat_id"]?.stringValue, limit: limit)
            return ["ok": true, "scheduled": .array(sends.map { send in
                ["message_id": .string(send.messageID), "chat_id": .string(send.chatJID), "type": .string(send.type),
                 "text": JSONValue(send.body), "send_at": .string(send.sendAt.iso8601), "scheduled_at": .string(send.createdAt.iso8601)]
            })]
        }
    )

    static let all: [MethodDefinition] = [
        cancel.bindings(positional: ["message_id"]).raising(.notFound).inToolset("delivery")
            .summarized("Cancel a message scheduled with send_at before it goes (status cancelled)."),
        list.bindings(positional: []).inToolset("delivery")
            .summarized("Messages scheduled with send_at that have not gone yet, soonest first."),
    ]
}
