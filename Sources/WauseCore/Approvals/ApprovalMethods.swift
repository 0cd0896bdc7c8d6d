import WauseBinary
import WauseProtocol
import WauseSupport

/// The approval methods (DESIGN.md methods; issue 14 "Approval requests" and "Definitions"),
/// toolset `approvals`.
enum ApprovalMethods {
    static let toolset = "approvals"

    static let all: [MethodDefinition] = [
        requestApproval.bindings(positional: ["to", "action"]).raising(.whatsappNotPaired, .notFound, .ambiguousRecipient, .idempotencyConflict, .forbiddenRecipient, .rateLimited)
            .inToolset(toolset)
            .summarized("Ask a person on WhatsApp to approve or deny an action; only their own reply (APPROVE/DENY, 👍/👎, a quote or reaction) decides."),
        checkApprovals.bindings(positional: []).raising(.notFound)
            .inToolset(toolset).summarized("Approval requests and their status: one by request_id, or all pending."),
    ]

    static let maximumActionLength = 500
    static let maximumDetailsLength = 2000
    /// `wait: true` blocks at most this long, then answers `pending`.
    static let longestWait: Duration = .seconds(300)
    static let progressInterval: Duration = .seconds(5)
    static let idempotencyWindow: Duration = .seconds(24 * 3600)

    static let approvalSchema = Schema.object([
        ("request_id", Schema.string("the request id, 6 characters of A-Z and 2-9")),
        ("to", Schema.string("the chat JID of the person asked")),
        ("action", Schema.string("what was asked")), ("details", Schema.string("the details given")),
        ("status", Schema.string("pending, approved, denied or expired", enumeration: ["pending", "approved", "denied", "expired"])),
        ("created_at", Schema.string("ISO 8601 UTC")), ("expires_at", Schema.string("ISO 8601 UTC")),
        ("resolved_at", Schema.string("ISO 8601 UTC (once resolved)")),
        ("by", Schema.string("the JID whose reply decided (approved/denied only)")),
        ("reply_message_id", Schema.string("the message or reaction that decided")),
        ("message_id", Schema.string("our request message")),
    ], required: ["request_id", "to", "action", "details", "status", "created_at", "expires_at"])

    static let requestApproval = MethodDefinition(
        name: "whatsapp_request_approval",
        title: "Request an approval over WhatsApp",
        description: """
            Send a person a message asking them to approve or deny an action, with a short request id. Only that person \
            (any of their devices, by phone number or LID) can answer: APPROVE/APPROVED/YES/Y/OK/✅/👍 or \
            DENY/DENIED/NO/N/❌/👎, alone or with the request id ("APPROVE ABC123"), as a reply quoting the request, or as a \
            reaction to it. With style "poll" the request is a poll with the options Approve and Deny, and that person's \
            vote decides (a reply as above still counts). Replies and votes from anyone else, from groups, forwarded or \
            edited messages are ignored. Unanswered \
            requests expire after timeout seconds (10–3600, default 300). Returns at once with status pending, or with \
            wait: true blocks until decided (at most 300 s, then pending) — check later with whatsapp_check_approvals or \
            watch the approval.resolved event. The action and details are sent as given: do not put secrets in them.
            """,
        inputSchema: Schema.object([
            ("to", Schema.string("the person to ask: phone number, JID, LID or contact name", minLength: 1)),
            ("action", Schema.string("what needs approving, in a line (≤500 characters)", minLength: 1)),
            ("details", Schema.string("more context (≤2000 characters)")),
            ("timeout", Schema.integer("seconds until the request expires", minimum: 10, maximum: 3600, defaultValue: 300)),
            ("style", Schema.string("text (answer by message, quote or reaction; default) or poll (a poll with the options Approve and Deny)",
                                    enumeration: ["text", "poll"])),
            ("wait", Schema.boolean("block until decided or expired (at most 300 s)")),
            ("idempotency_key", Schema.string("a key unique to this request; repeating it returns the first result", minLength: 1)),
        ], required: ["to", "action"]),
        outputSchema: Schema.object([
            ("request_id", Schema.string("6 characters of A-Z and 2-9")),
            ("message_id", Schema.string("our request message")),
            ("expires_at", Schema.string("ISO 8601 UTC")),
            ("status", Schema.string("pending until decided", enumeration: ["pending", "approved", "denied", "expired"])),
            ("by", Schema.string("who decided (with wait, once decided)")),
            ("resolved_at", Schema.string("ISO 8601 UTC (with wait, once decided)")),
            ("reply_message_id", Schema.string("the message or reaction that decided (with wait)")),
        ], required: ["request_id", "message_id", "expires_at", "status"]),
        annotations: MethodAnnotations(readOnly: false, destructive: false, idempotent: false, openWorld: true),
        handler: { context, arguments throws(WauseError) in try await request(context: context, arguments: arguments) }
    )

    static func request(context: MethodContext, arguments: JSONObject) async throws(WauseError) -> JSONObject {
        let style = arguments["style"]?.stringValue ?? "text"
        guard style == "text" || style == "poll" else { throw .invalidRequest("style must be text or poll", details: ["style": .string(style)]) }
        let action = (arguments["action"]?.stringValue ?? "").trimmingCharacters(in: " \n\t")
        guard !action.isEmpty else { throw .invalidRequest("action must not be empty") }
        let details = arguments["details"]?.stringValue ?? ""
        // Counted as characters, as the schema validator counts maxLength.
        guard action.count <= maximumActionLength else {
            throw .invalidRequest("action is \(action.count) characters; at most \(maximumActionLength)", details: ["limit": .int(Int64(maximumActionLength))])
        }
        guard details.count <= maximumDetailsLength else {
            throw .invalidRequest("details is \(details.count) characters; at most \(maximumDetailsLength)", details: ["limit": .int(Int64(maximumDetailsLength))])
        }
        let timeout = Duration.seconds(arguments["timeout"]?.intValue ?? 300)
        let now = context.environment.now()
        let key = arguments["idempotency_key"]?.stringValue
        var request = arguments
        request["idempotency_key"] = nil
        request["wait"] = nil
        let approvals = context.approvals
        if let key, var earlier = try context.store.idempotentResult(key: key, method: requestApproval.name, newerThan: now - idempotencyWindow) {
            let first = earlier[SendMessage.requestKey]?.objectValue
            earlier[SendMessage.requestKey] = nil
            if let first, first != request {
                throw WauseError(.idempotencyConflict, "idempotency_key \(key) was used with different arguments",
                                 details: ["idempotency_key": .string(key), "request_id": earlier["request_id"] ?? .null])
            }
            guard let id = earlier["request_id"]?.stringValue, let stored = try context.store.approval(id: id) else { return earlier }
            return try await finish(stored, wait: arguments["wait"]?.boolValue == true, context: context)
        }
        let to = arguments["to"]?.stringValue ?? ""
        let contact = try Recipients.resolve(to, store: context.store, now: now)
        var id = ApprovalReply.newID(random: context.environment.randomBytes)
        while try context.store.approval(id: id) != nil { id = ApprovalReply.newID(random: context.environment.randomBytes) }
        let expiresAt = now + timeout
        let minutes = max(1, (timeout.wholeSeconds + 59) / 60)
        var text = "Approval request \(id)\n\nAction: \(action)\n"
        if !details.isEmpty { text += "Details: \(details)\n" }
        if style == "poll" {
            text += "\nVote Approve or Deny in the poll. Expires in \(minutes) minute\(minutes == 1 ? "" : "s")."
        } else {
            text += """

                Reply APPROVE or DENY (or 👍 / 👎). If you have several requests open, add the id: "APPROVE \(id)" or "DENY \(id)" — \
                or reply to this message. Expires in \(minutes) minute\(minutes == 1 ? "" : "s").
                """
        }
        // The request is stored before its message is queued, so no answer can arrive for an
        // unknown request; if queueing fails the request goes too.
        var record = ApprovalRecord(id: id, contactID: contact.id, toPhone: contact.phone, toLID: contact.lid, chatJID: contact.chatJID,
                                    action: action, details: details, style: style, status: .pending, createdAt: now,
                                    expiresAt: expiresAt, requestMessageID: "")
        let messageID: String
        do {
            // The message id is made first so the row can name it.
            record.requestMessageID = "pending-\(id)"
            // A poll style request is two messages: the text (which carries the details a poll
            // question is too short for) and the poll whose vote decides, which is the request
            // message (quotes and reactions name it too).
            let count = style == "poll" ? 2 : 1
            messageID = try context.sendGuard.admit(contact.chatJID, given: to, count: count, store: context.store) { () throws(WauseError) -> String in
                try context.store.insertApproval(record)
                let textID = try approvals.queueText(text, to: contact)
                let messageID = style == "poll" ? try approvals.queuePoll(pollQuestion(id: id, action: action), to: contact) : textID
                try context.store.setApprovalMessage(id: id, messageID: messageID)
                return messageID
            }
        } catch {
            try? context.store.deleteApproval(id: id)
            throw error
        }
        record.requestMessageID = messageID
        approvals.schedule()
        let result: JSONObject = ["request_id": .string(id), "message_id": .string(messageID), "expires_at": .string(expiresAt.iso8601),
                                  "status": "pending"]
        if let key {
            var stored = result
            stored[SendMessage.requestKey] = .object(request)
            try context.store.saveIdempotentResult(key: key, method: requestApproval.name, result: stored, now: now)
        }
        return try await finish(record, wait: arguments["wait"]?.boolValue == true, context: context)
    }

    /// A poll-style request's question: the request id and the first line of the action, kept to
    /// 255 characters so a phone shows it whole; the full action and details are in the text sent
    /// before the poll.
    static func pollQuestion(id: String, action: String) -> String {
        let head = "Approve request \(id)? "
        let room = maximumPollQuestionLength - head.count
        let line = action.split(whereSeparator: \.isNewline).first.map(String.init) ?? action
        return head + (line.count <= room ? line : String(line.prefix(room - 1)) + "…")
    }

    static let maximumPollQuestionLength = 255

    /// The result for a request: at once, or once it is decided (or `longestWait` passed), with
    /// progress notifications meanwhile.
    static func finish(_ record: ApprovalRecord, wait: Bool, context: MethodContext) async throws(WauseError) -> JSONObject {
        var current = record
        if wait {
            let environment = context.environment
            let started = environment.now()
            let deadline = min(started + longestWait, record.expiresAt + .milliseconds(1))
            var cursor = context.events.latestCursor
            while current.status == .pending, environment.now() < deadline, !Task.isCancelled {
                let elapsed = environment.now() - started
                let total = deadline - started
                MethodProgress.report(Double(elapsed.wholeSeconds), total: Double(total.wholeSeconds),
                                      message: "waiting for \(record.chatJID) to answer request \(record.id) (\(elapsed.wholeSeconds) of \(total.wholeSeconds) s)")
                await context.events.waitForHead(after: cursor, atMost: min(progressInterval, max(.milliseconds(1), deadline - environment.now())),
                                                sleep: environment.sleep)
                cursor = context.events.latestCursor
                if current.expiresAt <= environment.now() { context.approvals.expireDue() }
                current = try context.store.approval(id: record.id) ?? current
            }
        }
        var result: JSONObject = ["request_id": .string(current.id), "message_id": .string(current.requestMessageID),
                                  "expires_at": .string(current.expiresAt.iso8601), "status": .string(current.status.rawValue)]
        if let by = current.resolvedBy { result["by"] = .string(by) }
        if let at = current.resolvedAt { result["resolved_at"] = .string(at.iso8601) }
        if let reply = current.replyMessageID { result["reply_message_id"] = .string(reply) }
        return result
    }

    static let checkApprovals = MethodDefinition(
        name: "whatsapp_check_approvals",
        title: "Check approval requests",
        description: """
            The status of approval requests: the one named by request_id (any status, with who decided, when and by which \
            message), or every pending request when it is omitted.
            """,
        inputSchema: Schema.object([
            ("request_id", Schema.string("a request id from whatsapp_request_approval", minLength: 1)),
        ], required: []),
        outputSchema: Schema.object([("approvals", Schema.array(of: approvalSchema))], required: ["approvals"]),
        annotations: .readOnlyLocal,
        handler: { context, arguments throws(WauseError) in
            // Expiry is also checked here, so a reader never sees a request pending past its time.
            context.approvals.expireDue()
            if let id = arguments["request_id"]?.stringValue {
                guard let approval = try context.store.approval(id: id.uppercased()) else {
                    throw WauseError(.notFound, "no approval request \(id)", details: ["request_id": .string(id)])
                }
                return ["approvals": [approval.json]]
            }
            return ["approvals": .array(try context.store.pendingApprovals().map(\.json))]
        }
    )
}
