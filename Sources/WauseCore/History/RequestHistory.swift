import WauseBinary
import WauseSupport

/// `whatsapp_request_history {chat, before_message_id?, count ≤ 50}` (issue 15 "Definitions";
/// toolset `chats`): asks our phone for older messages of a chat (HistorySync.request), waits up
/// to 30 s for its answer, and answers `{ok, count, messages}`; the messages are filed like any
/// history, so `whatsapp_list_messages` and search find them too.
enum RequestHistory {
    static let timeout: Duration = .seconds(30)

    static let definition = MethodDefinition(
        name: "whatsapp_request_history",
        title: "Fetch older messages of a chat from the phone",
        description: """
            Ask the phone for up to count (1–50) messages of chat older than before_message_id (default: the oldest message \
            stored for that chat). Waits up to 30 seconds for the phone's answer; the messages are stored, so list_messages \
            and search_messages find them afterwards. 
            """ + History.untrustedNote,
        inputSchema: Schema.object([
            ("chat", Schema.string("the chat: phone number, JID, LID or contact name")),
            ("before_message_id", Schema.string("only messages older than this one (default: the oldest one stored)", minLength: 1)),
            ("count", Schema.integer("how many (1–50)", minimum: 1, maximum: 50, defaultValue: 50)),
        ], required: ["chat"]),
        outputSchema: Schema.object([
            ("ok", Schema.boolean()), ("count", Schema.integer(minimum: 0)), ("messages", Schema.array(of: History.messageSchema)),
        ], required: ["ok", "count", "messages"]),
        annotations: MethodAnnotations(readOnly: false, destructive: false, idempotent: true, openWorld: true),
        handler: { context, arguments throws(WauseError) in
            let chat = try Recipients.chatJID(arguments["chat"]?.stringValue ?? "", store: context.store, now: context.environment.now())
            let count = Int(arguments["count"]?.intValue ?? Int64(HistorySync.maximumOnDemandCount))
            var oldest: MessageRecord?
            if let id = arguments["before_message_id"]?.stringValue {
                guard let found = try context.store.message(id: id), found.chatJID == chat else {
                    throw WauseError(.notFound, "no message \(id) in \(chat)", details: ["message_id": .string(id)])
                }
                oldest = found
            } else {
                oldest = try context.store.oldestMessage(chat: chat)
            }
            MethodProgress.report(0, total: Double(timeout.wholeSeconds), message: "asking the phone for older messages")
            guard let records = try await context.historySync.request(chat: chat, oldest: oldest, count: count, timeout: timeout) else {
                throw WauseError(.timeout, "the phone did not answer within \(timeout.wholeSeconds) seconds (is it online?)")
            }
            let sorted = records.sorted { $0.timestamp != $1.timestamp ? $0.timestamp < $1.timestamp : $0.rowid < $1.rowid }
            return ["ok": true, "count": .int(Int64(sorted.count)), "messages": .array(try History.messagesJSON(sorted, context: context))]
        }
    )
}
