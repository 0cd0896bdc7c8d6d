import WauseBinary
import WauseProtocol
import WauseSupport

/// `whatsapp_retry_message` and `whatsapp_delivery_summary` (issue 16): a failed message of ours
/// goes back into the outbox under its own id (the stored payload, after its upload for media),
/// passing the guard rails again as any send does; and the counts per status of our messages with
/// delivery and read rates and the median times from the server's ack to delivered and to read.
enum DeliveryReport {
    static let retry = MethodDefinition(
        name: "whatsapp_retry_message",
        title: "Retry a failed WhatsApp message",
        description: "Queue a failed message of this account again, under the same id (status queued, then sent...). Only a failed "
            + "message can be retried; any other is refused with invalid_request naming its status. Passes allowed_recipients and "
            + "send_rate_per_minute like a new send.",
        inputSchema: Schema.object([("message_id", Schema.string("the failed message's id", minLength: 1))], required: ["message_id"]),
        outputSchema: Schema.object([
            ("ok", Schema.boolean()), ("message_id", Schema.string()), ("chat_id", Schema.string()),
            ("status", Schema.string(enumeration: MessageStatus.allCases.map(\.rawValue))),
        ], required: ["ok", "message_id", "chat_id", "status"]),
        annotations: MethodAnnotations(readOnly: false, destructive: false, idempotent: false, openWorld: true),
        handler: { context, arguments throws(WauseError) in
            let id = arguments["message_id"]?.stringValue ?? ""
            guard let message = try context.store.message(id: id, fromMe: true) else {
                throw WauseError(.notFound, "no message \(id) sent by this account")
            }
            guard message.status == .failed else {
                throw .invalidRequest("message \(id) is \(message.status?.rawValue ?? "not ours to send"), not failed: only a failed message can be retried",
                                      details: ["message_id": .string(id), "status": JSONValue(message.status?.rawValue)])
            }
            let now = context.environment.now()
            try context.sendGuard.admit(message.chatJID, store: context.store) { () throws(WauseError) in
                try context.store.requeueFailed(messageID: id, now: now)
            }
            _ = try? context.events.publish(.messageStatus, ["message_id": .string(id), "chat_id": .string(message.chatJID),
                                                             "status": .string(MessageStatus.queued.rawValue), "at": .string(now.iso8601)])
            context.outbox.kick()
            let status = try await SendMessage.waitForAck(context: context, messageID: id)
            return ["ok": true, "message_id": .string(id), "chat_id": .string(message.chatJID), "status": .string(status.rawValue)]
        }
    )

    static let summary = MethodDefinition(
        name: "whatsapp_delivery_summary",
        title: "Delivery summary of WhatsApp messages sent",
        description: "For the messages this device sent (optionally since an ISO 8601 instant, optionally in one chat JID): counts per "
            + "status, delivery rate and read rate (of those the server accepted), and median seconds from the server's ack to "
            + "delivered and to read. Local only.",
        inputSchema: Schema.object([
            ("since", Schema.string("ISO 8601 instant: messages queued since then")),
            ("chat", Schema.string("only this chat (its JID or phone number)")),
        ]),
        outputSchema: Schema.object([
            ("ok", Schema.boolean()), ("total", Schema.integer(minimum: 0)),
            ("counts", Schema.object(MessageStatus.allCases.map { ($0.rawValue, Schema.integer(minimum: 0)) },
                                     required: MessageStatus.allCases.map(\.rawValue))),
            ("delivery_rate", ["type": ["number", "null"], "description": "delivered or read / accepted by the server"]),
            ("read_rate", ["type": ["number", "null"], "description": "read / accepted by the server"]),
            ("median_seconds_to_delivered", ["type": ["number", "null"]]),
            ("median_seconds_to_read", ["type": ["number", "null"]]),
        ], required: ["ok", "total", "counts", "delivery_rate", "read_rate", "median_seconds_to_delivered", "median_seconds_to_read"]),
        annotations: .readOnlyLocal,
        handler: { context, arguments throws(WauseError) in
            var since: UnixTime?
            if let text = arguments["since"]?.stringValue {
                guard let milliseconds = ISO8601.unixMilliseconds(from: text) else {
                    throw .invalidRequest("since '\(text)' is not an ISO 8601 instant", details: ["since": .string(text)])
                }
                since = UnixTime(milliseconds: milliseconds)
            }
            var chat = arguments["chat"]?.stringValue
            if let given = chat, !given.contains("@") {
                chat = "\(try PhoneNumber.normalize(given))@s.whatsapp.net"
            }
            let rows = try context.store.deliveryRows(since: since, chat: chat)
            var counts = JSONObject()
            for status in MessageStatus.allCases { counts[status.rawValue] = .int(0) }
            for row in rows { counts[row.status.rawValue] = .int((counts[row.status.rawValue]?.intValue ?? 0) + 1) }
            let accepted = rows.filter { [.sent, .delivered, .read].contains($0.status) }
            let delivered = accepted.filter { $0.status == .delivered || $0.status == .read }.count
            let read = accepted.filter { $0.status == .read }.count
            func rate(_ part: Int) -> JSONValue { accepted.isEmpty ? .null : .double(Double(part) / Double(accepted.count)) }
            func median(_ durations: [Int64]) -> JSONValue {
                let sorted = durations.sorted()
                guard !sorted.isEmpty else { return .null }
                let middle = sorted.count / 2
                let ms = sorted.count % 2 == 1 ? Double(sorted[middle]) : Double(sorted[middle - 1] + sorted[middle]) / 2
                return .double(ms / 1000)
            }
            return [
                "ok": true, "total": .int(Int64(rows.count)), "counts": .object(counts),
                "delivery_rate": rate(delivered), "read_rate": rate(read),
                "median_seconds_to_delivered": median(rows.compactMap { row in row.sentAt.flatMap { s in row.deliveredAt.map { ($0 - s).milliseconds } } }),
                "median_seconds_to_read": median(rows.compactMap { row in row.sentAt.flatMap { s in row.readAt.map { ($0 - s).milliseconds } } }),
            ]
        }
    )

    static let all: [MethodDefinition] = [
        retry.bindings(positional: ["message_id"]).raising(.notFound, .forbiddenRecipient, .rateLimited).inToolset("delivery")
            .summarized("Queue a failed message again under its own id."),
        summary.bindings(positional: []).inToolset("delivery")
            .summarized("Counts per status, delivery and read rates, median times to delivered and read of messages sent."),
    ]
}
