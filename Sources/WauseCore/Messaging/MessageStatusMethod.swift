import WauseSupport
/// `whatsapp_message_status`: where one of our messages is — scheduled, queued, sent (the server
/// acked it), delivered, read, failed with a reason, or cancelled — with every step and its time
/// (for receipts, which device sent it; for a scheduled send's `queued`, how late it went).
enum MessageStatusMethod {
    static let definition = MethodDefinition(
        name: "whatsapp_message_status",
        title: "Delivery status of a WhatsApp message",
        description: "The status of a message this device sent (scheduled, queued, sent, delivered, read, failed or cancelled) and its timeline. Local only.",
        inputSchema: Schema.object([("message_id", Schema.string("the id whatsapp_send_message returned", minLength: 1))],
                                   required: ["message_id"]),
        outputSchema: Schema.object([
            ("ok", Schema.boolean()), ("message_id", Schema.string()), ("chat_id", Schema.string()), ("from_me", Schema.boolean()),
            ("status", Schema.string(nullable: true)), ("reason", Schema.string("why it failed", nullable: true)),
            ("timeline", Schema.array(of: Schema.object([
                ("status", Schema.string()), ("at", Schema.string("ISO 8601 UTC")), ("device", Schema.string(nullable: true)),
                ("late_ms", Schema.integer("ms after send_at", minimum: 0)),
            ], required: ["status", "at", "device"]))),
        ], required: ["ok", "message_id", "chat_id", "from_me", "status", "reason", "timeline"]),
        annotations: .readOnlyLocal,
        handler: { context, arguments throws(WauseError) in
            let id = arguments["message_id"]?.stringValue ?? ""
            guard let message = try context.store.message(id: id) else { throw WauseError(.notFound, "no message \(id)") }
            let timeline = try context.store.timeline(rowid: message.rowid)
            let lateness = try context.store.timelineLateness(rowid: message.rowid)
            return [
                "ok": true, "message_id": .string(id), "chat_id": .string(message.chatJID), "from_me": .bool(message.fromMe),
                "status": JSONValue(message.status?.rawValue), "reason": JSONValue(message.statusReason),
                "timeline": .array(timeline.enumerated().map { index, entry in
                    var step: JSONObject = ["status": .string(entry.status.rawValue), "at": .string(entry.at.iso8601),
                                            "device": JSONValue(entry.device)]
                    if index < lateness.count, let late = lateness[index] { step["late_ms"] = .int(late) }
                    return .object(step)
                }),
            ]
        }
    )
}
