import WauseSupport
/// `whatsapp_catch_up` (issue 14 "Agent helpers" and "Definitions"): what happened in a recent
/// period, in one compact answer an agent can act on — the active chats with their unread counts,
/// the questions waiting for us, the unread messages worth a look, and the approval requests still
/// pending. Read from the store only; never dials.
///
/// Definitions, as the description states them:
/// - a question: the last incoming message of a chat in the period, when it ends with `?` and
///   nothing of ours follows it in that chat;
/// - a highlight: an unread incoming message in the period that mentions us (our phone number,
///   LID or push name in its text), carries media, or is in a chat we answer often (5 or more
///   messages of ours there in the last 30 days).
enum CatchUp {
    static let periods = ["1h", "4h", "today", "24h", "this_week"]
    /// Each list is capped, newest first, so the answer stays compact in an agent's context.
    static let listLimit = 50
    /// "A chat we answer often": at least this many of our messages in the last 30 days.
    static let oftenAnswered: Int64 = 5
    /// Message types that count as media for a highlight (a poll or plain text does not).
    static let mediaTypes: Set<String> = ["image", "video", "audio", "ptt", "document", "sticker", "location", "vcard"]

    /// The start of the period `since` names, ending at `now`, in `timezone` for the calendar ones.
    static func start(of since: String, now: UnixTime, timezone: TimeZoneRule) throws(WauseError) -> UnixTime {
        let seconds = now.seconds
        switch since {
        case "1h": return UnixTime(seconds: seconds - 3600)
        case "4h": return UnixTime(seconds: seconds - 4 * 3600)
        case "24h": return UnixTime(seconds: seconds - 24 * 3600)
        case "today": return UnixTime(seconds: timezone.startOfDay(containing: seconds))
        case "this_week": return UnixTime(seconds: timezone.startOfWeek(containing: seconds))
        default:
            throw .invalidRequest("since must be one of \(periods.joined(separator: ", ")), got '\(since)'", details: ["field": "since"])
        }
    }

    static let highlightSchema: JSONValue = {
        guard var schema = History.messageSchema.objectValue, var properties = schema["properties"]?.objectValue else { return History.messageSchema }
        properties["highlight_reasons"] = Schema.array(of: Schema.string(enumeration: ["mention", "media", "frequent_chat"]),
                                                       "why it is a highlight")
        schema["properties"] = .object(properties)
        return .object(schema)
    }()

    static let definition = MethodDefinition(
        name: "whatsapp_catch_up",
        title: "Catch up on WhatsApp",
        description: """
            A compact summary of a recent period (since: 1h, 4h, 24h, today or this_week; today and this_week in the \
            configured timezone, Monday-based weeks) from the local store: chats with messages in the period (most recent \
            first, with unread_count and last_message); questions — per chat, the last incoming message of the period when it \
            ends with "?" and nothing of ours follows it; highlights — unread incoming messages of the period that mention us \
            (our number or push name), carry media, or are in a chat we answer often (5+ messages of ours in 30 days), each \
            with highlight_reasons; and the approval requests still pending. At most 50 of each, newest first. Never dials. 
            """ + History.untrustedNote,
        inputSchema: Schema.object([
            ("since", Schema.string("the period: 1h, 4h, 24h, today or this_week", enumeration: periods)),
        ], required: ["since"]),
        outputSchema: Schema.object([
            ("since", Schema.string("ISO 8601 UTC start of the period")), ("until", Schema.string("ISO 8601 UTC: now")),
            ("period", Schema.string("the since argument")), ("timezone", Schema.string("the timezone today/this_week used")),
            ("chats", Schema.array(of: Schema.object([
                ("chat", Schema.string("the chat's JID")), ("name", Schema.string(nullable: true)), ("is_group", Schema.boolean()),
                ("unread_count", Schema.integer(minimum: 0)), ("last_message", Schema.nullable(History.messageSchema)),
            ], required: ["chat", "name", "unread_count", "last_message"]))),
            ("questions", Schema.array(of: History.messageSchema, "messages asking us something with no answer of ours yet")),
            ("highlights", Schema.array(of: highlightSchema, "unread messages worth a look")),
            ("pending_approvals", Schema.array(of: ApprovalMethods.approvalSchema)),
        ], required: ["since", "until", "chats", "questions", "highlights", "pending_approvals"]),
        annotations: .readOnlyLocal,
        handler: { context, arguments throws(WauseError) in
            let period = arguments["since"]?.stringValue ?? ""
            let now = context.environment.now()
            let since = try start(of: period, now: now, timezone: context.config.timezone)
            let chats = try context.store.catchUpChats(since: since, limit: listLimit, now: context.environment.now())
            let account = try context.store.linkedAccount()
            let mentions = mentionNeedles(account: account, pushName: context.config.pushName ?? account?.pushName)

            var questions: [MessageRecord] = []
            var highlights: [(MessageRecord, [String])] = []
            for chat in chats {
                if let open = chat.lastUnanswered, asksSomething(open.body) { questions.append(open) }
                for message in chat.unread {
                    var reasons: [String] = []
                    let text = message.body.lowercased()
                    if mentions.contains(where: { text.contains($0) }) { reasons.append("mention") }
                    if message.hasMedia || mediaTypes.contains(message.type) { reasons.append("media") }
                    if chat.recentOwnMessages >= oftenAnswered { reasons.append("frequent_chat") }
                    if !reasons.isEmpty { highlights.append((message, reasons)) }
                }
            }
            questions = Array(questions.sorted { ($0.timestamp, $0.rowid) > ($1.timestamp, $1.rowid) }.prefix(listLimit))
            highlights = Array(highlights.sorted { ($0.0.timestamp, $0.0.rowid) > ($1.0.timestamp, $1.0.rowid) }.prefix(listLimit))
            let highlightJSON = try History.messagesJSON(highlights.map(\.0), context: context)
            context.approvals.expireDue()
            return [
                "since": .string(since.iso8601), "until": .string(now.iso8601), "period": .string(period),
                "timezone": .string(context.config.timezone.name),
                "chats": .array(chats.map { chat in
                    ["chat": .string(chat.jid), "name": chat.summary["name"] ?? .null, "is_group": chat.summary["is_group"] ?? false,
                     "unread_count": .int(chat.unreadCount), "last_message": chat.summary["last_message"] ?? .null]
                }),
                "questions": .array(try History.messagesJSON(questions, context: context)),
                "highlights": .array(zip(highlightJSON, highlights).map { json, highlight in
                    var object = json.objectValue ?? [:]
                    object["highlight_reasons"] = .array(highlight.1.map { .string($0) })
                    return .object(object)
                }),
                "pending_approvals": .array(try context.store.pendingApprovals().map(\.json)),
            ]
        }
    )

    /// "Asks us something": the text, trimmed, ends with a question mark (ASCII, full-width or Arabic).
    static func asksSomething(_ body: String) -> Bool {
        guard let last = body.reversed().first(where: { !$0.isWhitespace }) else { return false }
        return last == "?" || last == "？" || last == "؟"
    }

    /// Lower-cased texts that mean us in a message: `@<phone>` mentions (WhatsApp writes a mention
    /// as @ and the number), our bare number, our LID user, and our push name (3+ characters, so
    /// a short name does not match every other word).
    static func mentionNeedles(account: LinkedAccount?, pushName: String?) -> [String] {
        var needles: [String] = []
        func user(_ jid: String) -> String {
            let bare = jid.split(separator: "@").first.map(String.init) ?? jid
            return bare.split(separator: ":").first.map(String.init) ?? bare
        }
        if let account {
            needles.append(user(account.jid))
            if let lid = account.lid { needles.append("@" + user(lid)) }
        }
        if let pushName, pushName.trimmingCharacters(in: " ").count >= 3 { needles.append(pushName.trimmingCharacters(in: " ").lowercased()) }
        return needles.filter { !$0.isEmpty && $0 != "@" }
    }
}
