import WauseProtocol
import WauseSupport
/// `whatsapp_wait_for_message`: an agent blocks until the next incoming message (optionally from
/// one chat or one phone number) instead of polling. It waits on the event log from the moment of
/// the call, reports progress every few seconds (over MCP: `notifications/progress` on the call's
/// SSE stream, which also keeps the client's read timeout from firing), and ends with a clear
/// `timed_out` result when nothing came.
enum WaitForMessage {
    static let progressInterval: Duration = .seconds(5)

    static let definition = MethodDefinition(
        name: "whatsapp_wait_for_message",
        title: "Wait for a WhatsApp message",
        description: """
            Wait up to timeout seconds (1–300) for the next incoming message, optionally only in chat (phone number, JID, \
            LID or contact name) or only from from_phone. Returns the message, or timed_out true if none arrived. Sends \
            progress notifications while waiting when the client asked for progress. after_cursor (an event cursor, e.g. \
            from whatsapp_sync) considers messages logged after it, so a reply that came before the call is not missed; \
            the default is from now.
            """ + " " + History.untrustedNote,
        inputSchema: Schema.object([
            ("timeout", Schema.integer("seconds to wait (1–300)", minimum: 1, maximum: 300, defaultValue: 60)),
            ("chat", Schema.string("only messages in this chat")),
            ("to", Schema.string("alias of chat")),
            ("from_phone", Schema.string("only messages from this phone number")),
            ("after_cursor", Schema.integer("only messages logged after this event cursor (default: now)", minimum: 0)),
        ]),
        outputSchema: Schema.object([
            ("ok", Schema.boolean()), ("timed_out", Schema.boolean("no matching message arrived in time")),
            ("waited_seconds", Schema.integer(minimum: 0)), ("message", Schema.nullable(History.messageSchema)),
            ("cursor", Schema.integer("event cursor of the message (or where waiting stopped)", minimum: 0)),
        ], required: ["ok", "timed_out", "waited_seconds", "message", "cursor"]),
        // Waiting changes nothing, so a repeat has no further effect (MCP's idempotentHint); what it
        // returns may differ, as any read's does.
        annotations: MethodAnnotations(readOnly: true, destructive: false, idempotent: true, openWorld: true),
        handler: { context, arguments throws(WauseError) in
            let environment = context.environment
            let chat = try arguments["chat"]?.stringValue.map { text throws(WauseError) in
                try Recipients.chatJID(text, store: context.store, now: environment.now())
            }
            let fromPhone = try arguments["from_phone"]?.stringValue.map { text throws(WauseError) in try PhoneNumber.normalize(text) }
            let timeout = Duration.seconds(arguments["timeout"]?.intValue ?? 60)
            let started = environment.now()
            var cursor = arguments["after_cursor"]?.intValue ?? context.events.latestCursor
            while true {
                // Everything logged since we last looked, in order.
                for event in try context.events.events(after: cursor, limit: 500) {
                    cursor = event.cursor
                    guard event.name == EventName.messageReceived.rawValue, let message = event.data["message"] else { continue }
                    if let chat, message["chat_id"]?.stringValue != chat { continue }
                    if let fromPhone, event.data["sender_phone"]?.stringValue != fromPhone { continue }
                    return ["ok": true, "timed_out": false, "waited_seconds": .int((environment.now() - started).wholeSeconds),
                            "message": message, "cursor": .int(cursor)]
                }
                let elapsed = environment.now() - started
                if elapsed >= timeout || Task.isCancelled {
                    return ["ok": true, "timed_out": true, "waited_seconds": .int(elapsed.wholeSeconds), "message": .null,
                            "cursor": .int(cursor)]
                }
                MethodProgress.report(Double(elapsed.wholeSeconds), total: Double(timeout.wholeSeconds),
                                      message: "waiting for a message (\(elapsed.wholeSeconds) of \(timeout.wholeSeconds) s)")
                // Wake on the next event or after a progress interval, whichever comes first.
                await context.events.waitForHead(after: cursor, atMost: min(progressInterval, timeout - elapsed),
                                                sleep: environment.sleep)
            }
        }
    )
}
