import WauseSupport
/// `whatsapp_message_status`: where one of our messages is — queued, sent (the server acked it),
/// delivered, read, or failed with a reason — with every step and its time (and, for receipts,
/// which device sent it).
enum MessageStatusMethod {
    static let definition = MethodDefinition(
        name: "whatsapp_message_status",
        title: "Delivery status of a WhatsApp message",
        description: "The status of a message this device sent (queued, sent, delivered, read or failed) and its timeline. Local only.",
        inputSchema: Schema.object([("message_id", Schema.string("the id whatsapp_send_message returned", minLength: 1))],
                                   required: ["message_id"]),
        outputSchema: Schema.object([
            ("ok", Schema.boolean()), ("message_id", Schema.string()), ("chat_id", Schema.string()), ("from_me", Schema.boolean()),
            ("status", Schema.string(nullable: true)), ("reason", Schema.string("why it failed", nullable: true)),
            ("timeline", Schema.array(of: Schema.object([
                ("status", Schema.string()), ("at", Schema.string("ISO 8601 UTC")), ("device", Schema.string(nullable: true)),
            ], required: ["status", "at", "device"]))),
        ], required: ["ok", "message_id", "chat_id", "from_me", "status", "reason", "timeline"]),
        annotations: .readOnlyLocal,
        handler: { context, arguments throws(WauseError) in
            let id = arguments["message_id"]?.stringValue ?? ""
            guard let message = try context.store.message(id: id) else { throw WauseError(.notFound, "no message \(id)") }
            let timeline = try context.store.timeline(rowid: message.rowid)
            return [
                "ok": true, "message_id": .string(id), "chat_id": .string(message.chatJID), "from_me": .bool(message.fromMe),
                "status": JSONValue(message.status?.rawValue), "reason": JSONValue(message.statusReason),
                "timeline": .array(timeline.map { entry in
                    ["status": .string(entry.status.rawValue), "at": .string(entry.at.iso8601),
                     "device": JSONValue(entry.device)]
                }),
            ]
        }
    )
}
