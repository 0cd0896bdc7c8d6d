import Glibc
import WauseBinary
import WauseCrypto
import WauseProto
import WauseProtocol
import WauseSupport

/// Bulk sends (issue 16 "Scheduled and bulk sends"): `whatsapp_send_bulk` turns up to 1000 items
/// into one job whose accepted items are scheduled sends (ScheduledSends.swift) at paced
/// instants — `pacing_per_minute` a minute, never more than the account's `send_rate_per_minute`,
/// each ±20 % of the interval from the injected randomness — all stored in one transaction with
/// the job before the call answers. The outbox then sends them as their time comes, after a crash
/// too (an item whose instant passed while the engine was down goes at start, the rate limit
/// spacing what is overdue). `idempotency_key` is required: the same key with the same arguments
/// returns the first call's job and queues nothing; with other arguments it is
/// `idempotency_conflict`. `whatsapp_get_bulk_status` counts the items per status,
/// `whatsapp_cancel_bulk` cancels those not sent yet.
///
/// Per item, a recipient that cannot be resolved, is not in `allowed_recipients`, or — with
/// `only_known_contacts` (the default) — never wrote to this account is refused in the item's
/// `error`; the other items go on. A group (its JID or a name only groups have) is a recipient
/// as in `whatsapp_send_message`: one this account is in, where it may write, and that is all
/// `only_known_contacts` asks of it.
enum BulkSends {
    static let maximumItems = 1000
    /// Pacing when neither the call nor `send_rate_per_minute` sets one.
    static let defaultPacingPerMinute = 20

    static let itemSchema = Schema.object([
        ("to", Schema.string("phone number, JID, LID, contact or group", minLength: 1)),
        ("message", Schema.string("the text (or file_path)", minLength: 1)),
        ("file_path", Schema.string("a file under a media directory, sent as whatsapp_send_file does (or message)", minLength: 1)),
        ("media_type", Schema.string("how to send the file (default: from the extension)",
                                     enumeration: ["image", "video", "audio", "voice", "document", "sticker"])),
        ("caption", Schema.string("the file's caption (images, videos, documents)")),
    ], required: ["to"])

    static let send = MethodDefinition(
        name: "whatsapp_send_bulk",
        title: "Send a WhatsApp message to many recipients",
        description: """
            Queue up to 1000 messages ({to, message} or {to, file_path, media_type?, caption?} items) as one job, paced: pacing_per_minute a minute (at most the \
            account's send_rate_per_minute; default that or 20), each slot jittered. Every accepted item is stored before the \
            call answers and goes out at its slot, also after a restart. idempotency_key is required: repeating the call with \
            the same key returns the same job and sends nothing twice. With only_known_contacts (default true) an item whose \
            recipient never wrote to this account is refused in its error (a group: only one this account is in); so is one outside allowed_recipients. \
            Follow with whatsapp_get_bulk_status; stop with whatsapp_cancel_bulk.
            """,
        inputSchema: Schema.object([
            ("items", ["type": "array", "items": itemSchema, "minItems": 1, "maxItems": .int(Int64(maximumItems)),
                       "description": "what to send to whom, in order"]),
            ("pacing_per_minute", Schema.integer("messages a minute (default send_rate_per_minute, else 20)", minimum: 1, maximum: 600)),
            ("only_known_contacts", Schema.boolean("only recipients with at least one message from them", defaultValue: true)),
            ("idempotency_key", Schema.string("the same key returns the same job", minLength: 1)),
        ], required: ["items", "idempotency_key"]),
        outputSchema: Schema.object([
            ("ok", Schema.boolean()), ("job_id", Schema.string()), ("pacing_per_minute", Schema.integer(minimum: 1)),
            ("accepted", Schema.integer(minimum: 0)), ("refused", Schema.integer(minimum: 0)),
            ("items", Schema.array(of: Schema.object([
                ("to", Schema.string()), ("chat_id", Schema.string(nullable: true)), ("message_id", Schema.string(nullable: true)),
                ("send_at", Schema.string("ISO 8601 UTC", nullable: true)),
                ("error", Schema.nullable(Schema.object([("code", Schema.string()), ("message", Schema.string())], required: ["code", "message"]))),
            ], required: ["to", "message_id", "error"]))),
        ], required: ["ok", "job_id", "pacing_per_minute", "accepted", "refused", "items"]),
        annotations: MethodAnnotations(readOnly: false, destructive: false, idempotent: true, openWorld: true),
        handler: { context, arguments throws(WauseError) in try await sendBulk(context: context, arguments: arguments) }
    )

    static func sendBulk(context: MethodContext, arguments: JSONObject) async throws(WauseError) -> JSONObject {
        let key = arguments["idempotency_key"]?.stringValue ?? ""
        var request = arguments
        request["idempotency_key"] = nil
        if let earlier = try context.store.bulkJob(idempotencyKey: key) {
            guard earlier.request == request else {
                throw WauseError(.idempotencyConflict, "idempotency_key \(key) was used with different arguments",
                                 details: ["idempotency_key": .string(key), "job_id": .string(earlier.id)])
            }
            return earlier.result
        }
        guard let account = try context.store.linkedAccount(), let own = JID(account.jid) else {
            throw WauseError(.whatsappNotPaired, "this device is not linked to WhatsApp; link it with whatsapp_start_auth or whatsapp_pairing_code")
        }
        let entries = arguments["items"]?.arrayValue ?? []
        guard (1...maximumItems).contains(entries.count) else { throw .invalidRequest("items must hold 1 to \(maximumItems) entries") }
        let rate = context.sendGuard.ratePerMinute
        let asked = arguments["pacing_per_minute"]?.intValue.map(Int.init)
        let pacing = rate > 0 ? min(asked ?? rate, rate) : (asked ?? defaultPacingPerMinute)
        let interval = Int64(60_000 / max(1, pacing))
        let onlyKnown = arguments["only_known_contacts"]?.boolValue ?? true
        let now = context.environment.now()

        var items: [(position: Int, recipient: String, message: Store.BulkMessage?, error: WauseError?)] = []
        var shown: [JSONValue] = []
        var slot: Int64 = 0
        // The copies of the files items send (and their encrypted forms): removed if the job is not stored.
        var copies: [String] = []
        for (position, entry) in entries.enumerated() {
            let to = entry["to"]?.stringValue ?? "", text = entry["message"]?.stringValue
            let filePath = entry["file_path"]?.stringValue
            do throws(WauseError) {
                guard (text == nil) != (filePath == nil) else { throw .invalidRequest("give each item message or file_path, not both") }
                if let text, text.unicodeScalars.count > SendMessage.maximumTextLength {
                    throw .invalidRequest("message is \(text.unicodeScalars.count) characters; WhatsApp allows at most \(SendMessage.maximumTextLength)")
                }
                let chatJID: String, contactID: Int64?
                if let group = try await SendMessage.groupRecipient(to, context: context) {
                    // One this account is in and may write to (groupRecipient refuses the rest).
                    (chatJID, contactID) = (group.description, nil)
                    try context.sendGuard.checkRecipient(chatJID, given: to, store: context.store)
                } else {
                    let contact = try Recipients.resolve(to, store: context.store, now: now)
                    guard contact.phone != nil else { throw .invalidRequest("\(contact.chatJID) has no known phone number yet; send to their phone number") }
                    (chatJID, contactID) = (contact.chatJID, contact.id)
                    try context.sendGuard.checkRecipient(chatJID, given: to, store: context.store)
                    if onlyKnown, !(try context.store.hasMessageFrom(chatJID: chatJID)) {
                        throw WauseError(.forbiddenRecipient, "\(to) never wrote to this account (only_known_contacts)",
                                         details: ["recipient": .string(chatJID), "reason": "only_known_contacts"])
                    }
                }
                // The first goes at once; each next one a pacing interval later, ±20 %.
                let jitter = slot == 0 ? 0 : Self.jitter(interval: interval, random: context.environment.randomBytes(2))
                let sendAt = now + .milliseconds(slot * interval + jitter)
                slot += 1
                var message = WAWebProtobufsE2E_Message()
                var record: MessageRecord
                let id = MessageFormat.newMessageID(now: now, ownUser: own.user, random: context.environment.randomBytes)
                var media: (MediaMessage, String)?
                if let filePath {
                    let (built, path) = try await fileMessage(context: context, path: filePath, entry: entry, now: now)
                    copies += [path, MediaTransfers.encryptedPath(plaintext: path)]
                    guard let described = MediaMessage.describe(built) else { throw .internal("the media message describes nothing") }
                    message = built
                    media = (described, path)
                    record = MessageRecord(id: id, chatJID: chatJID, senderJID: nil, fromMe: true, type: described.type,
                                           body: described.body, timestamp: now.truncatedToSeconds, hasMedia: described.hasFile, status: .scheduled)
                } else {
                    message.conversation = text ?? ""
                    record = MessageRecord(id: id, chatJID: chatJID, senderJID: nil, fromMe: true, type: "chat", body: text ?? "",
                                           quotedID: nil, timestamp: now.truncatedToSeconds, status: .scheduled)
                }
                items.append((position, to, Store.BulkMessage(record: record, contactID: contactID, payload: try MessageFormat.encode(message),
                                                              sendAt: sendAt, media: media), nil))
                shown.append(["to": .string(to), "chat_id": .string(chatJID), "message_id": .string(id),
                              "send_at": .string(sendAt.iso8601), "error": .null])
            } catch {
                items.append((position, to, nil, error))
                shown.append(["to": .string(to), "chat_id": .null, "message_id": .null, "send_at": .null,
                              "error": ["code": .string(error.code.rawValue), "message": .string(error.message)]])
            }
        }
        let jobID = "bulk-" + Hex.encode(context.environment.randomBytes(8))
        let accepted = items.filter { $0.message != nil }.count
        let result: JSONObject = [
            "ok": true, "job_id": .string(jobID), "pacing_per_minute": .int(Int64(pacing)),
            "accepted": .int(Int64(accepted)), "refused": .int(Int64(items.count - accepted)), "items": .array(shown),
        ]
        do {
            try context.store.createBulkJob(id: jobID, key: key, request: request, result: result, pacingPerMinute: pacing, items: items, now: now)
        } catch {
            for path in copies { unlink(path) }
            throw error
        }
        context.outbox.kick()
        return result
    }

    /// A file item's message, as `whatsapp_send_file` makes it: the file copied (under the media
    /// directories' rules), encrypted for upload; returns it with the copy's path.
    static func fileMessage(context: MethodContext, path: String, entry: JSONValue,
                            now: UnixTime) async throws(WauseError) -> (WAWebProtobufsE2E_Message, String) {
        let caption = entry["caption"]?.stringValue
        if let caption, caption.unicodeScalars.count > MediaMethods.maximumCaptionLength {
            throw .invalidRequest("caption is \(caption.unicodeScalars.count) characters; at most \(MediaMethods.maximumCaptionLength)")
        }
        let declared = try entry["media_type"]?.stringValue.map { (text) throws(WauseError) in try MediaType.parse(text) }
        let intake = MediaIntake(config: context.config, randomBytes: context.environment.randomBytes)
        let file = try await BlockingFileWork.run { () throws(WauseError) in try intake.take(path: path, mediaType: declared, fileName: nil) }
        if caption != nil, [.audio, .voice, .sticker].contains(file.mediaType) {
            unlink(file.path)
            throw .invalidRequest("a \(file.mediaType.rawValue) carries no caption")
        }
        let mediaKey = context.environment.randomBytes(MediaKeys.mediaKeyLength)
        do {
            let encryption = try await BlockingFileWork.run { () throws(WauseError) in
                try MediaMethods.encryptFile(file.path, to: MediaTransfers.encryptedPath(plaintext: file.path), mediaKey: mediaKey,
                                             type: MediaMessage.cryptoType(file.mediaType))
            }
            return (MediaMessage.outgoing(file, mediaKey: mediaKey, encryption: encryption, caption: caption, gifPlayback: false, now: now), file.path)
        } catch {
            unlink(file.path)
            throw error
        }
    }

    /// ±20 % of `interval` from two random bytes.
    static func jitter(interval: Int64, random: [UInt8]) -> Int64 {
        let spread = interval / 5
        guard spread > 0, random.count >= 2 else { return 0 }
        let draw = Int64(Int(random[0]) << 8 | Int(random[1]))
        return draw % (2 * spread + 1) - spread
    }

    static let statusNames = MessageStatus.allCases.map(\.rawValue) + ["refused"]

    static let status = MethodDefinition(
        name: "whatsapp_get_bulk_status",
        title: "Progress of a WhatsApp bulk send",
        description: "How many items of a whatsapp_send_bulk job stand at each status (scheduled = waiting for its slot, queued, sent, "
            + "delivered, read, failed, cancelled; refused = never queued), and whether it is done. Local only.",
        inputSchema: Schema.object([("job_id", Schema.string("the job whatsapp_send_bulk returned", minLength: 1))], required: ["job_id"]),
        outputSchema: Schema.object([
            ("ok", Schema.boolean()), ("job_id", Schema.string()), ("total", Schema.integer(minimum: 0)),
            ("counts", Schema.object(statusNames.map { ($0, Schema.integer(minimum: 0)) }, required: statusNames)),
            ("done", Schema.boolean("nothing left scheduled or queued")), ("created_at", Schema.string("ISO 8601 UTC")),
        ], required: ["ok", "job_id", "total", "counts", "done", "created_at"]),
        annotations: .readOnlyLocal,
        handler: { context, arguments throws(WauseError) in
            let id = arguments["job_id"]?.stringValue ?? ""
            guard let job = try context.store.bulkJob(id: id) else { throw WauseError(.notFound, "no bulk job \(id)") }
            let counts = try context.store.bulkStatusCounts(jobID: id)
            var shown = JSONObject()
            for name in statusNames { shown[name] = .int(counts[name] ?? 0) }
            return ["ok": true, "job_id": .string(id), "total": .int(counts.values.reduce(0, +)), "counts": .object(shown),
                    "done": .bool((counts["scheduled"] ?? 0) + (counts["queued"] ?? 0) == 0), "created_at": .string(job.createdAt.iso8601)]
        }
    )

    static let cancel = MethodDefinition(
        name: "whatsapp_cancel_bulk",
        title: "Cancel a WhatsApp bulk send",
        description: "Cancel every item of a whatsapp_send_bulk job that has not gone yet (status cancelled); items already sent stay sent. Local only.",
        inputSchema: Schema.object([("job_id", Schema.string("the job whatsapp_send_bulk returned", minLength: 1))], required: ["job_id"]),
        outputSchema: Schema.object([
            ("ok", Schema.boolean()), ("job_id", Schema.string()), ("cancelled", Schema.integer(minimum: 0)),
            ("message_ids", Schema.array(of: Schema.string())),
        ], required: ["ok", "job_id", "cancelled", "message_ids"]),
        annotations: MethodAnnotations(readOnly: false, destructive: true, idempotent: true, openWorld: false),
        handler: { context, arguments throws(WauseError) in
            let id = arguments["job_id"]?.stringValue ?? ""
            guard try context.store.bulkJob(id: id) != nil else { throw WauseError(.notFound, "no bulk job \(id)") }
            let now = context.environment.now()
            let cancelled = try context.store.cancelBulkJob(jobID: id, now: now)
            for item in cancelled {
                context.media.discardOutgoingCopies(messageID: item.messageID)
                _ = try? context.events.publish(.messageStatus, ["message_id": .string(item.messageID), "chat_id": .string(item.chatJID),
                                                                 "status": .string(MessageStatus.cancelled.rawValue), "at": .string(now.iso8601)])
            }
            return ["ok": true, "job_id": .string(id), "cancelled": .int(Int64(cancelled.count)),
                    "message_ids": .array(cancelled.map { .string($0.messageID) })]
        }
    )

    static let all: [MethodDefinition] = [
        send.bindings(positional: ["items", "idempotency_key"]).raising(.whatsappNotPaired, .forbiddenRecipient, .idempotencyConflict).inToolset("delivery")
            .summarized("Queue up to 1000 texts as one paced, durable job (idempotency_key required); per-item message ids."),
        status.bindings(positional: ["job_id"]).raising(.notFound).inToolset("delivery")
            .summarized("Counts per status of a bulk job's items, and whether it is done."),
        cancel.bindings(positional: ["job_id"]).raising(.notFound).inToolset("delivery")
            .summarized("Cancel the items of a bulk job that have not gone yet."),
    ]
}
