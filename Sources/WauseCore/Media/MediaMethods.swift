import FoundationEssentials
import WauseBinary
import WauseCrypto
import WauseProto
import WauseProtocol
import WauseSupport
#if canImport(Glibc)
import Glibc
#endif

/// The media methods (issue 13 "Methods and events"), toolset `media`: sending a file, a
/// location or contact cards through the outbox like text (stored and queued before the call
/// answers; the file is taken in — confined, checked, copied — and encrypted at call time, and
/// uploaded by the outbox), and downloading a received file.
enum MediaMethods {
    static let toolset = "media"
    static let maximumCaptionLength = 1024

    static let all: [MethodDefinition] = [
        sendFile.bindings(positional: ["to", "file_path"])
            .raising(.forbiddenPath, .mediaTooLarge, .notFound, .ambiguousRecipient, .whatsappNotPaired, .notOnWhatsApp, .idempotencyConflict, .forbiddenRecipient, .rateLimited)
            .inToolset(toolset).summarized("Send an image, video, audio, voice note, document or sticker from an allowed folder; returns the message id, status, size and sha256."),
        sendLocation.bindings(positional: ["to", "latitude", "longitude"])
            .raising(.notFound, .ambiguousRecipient, .whatsappNotPaired, .notOnWhatsApp, .forbiddenRecipient, .rateLimited).inToolset(toolset).summarized("Send a location (latitude, longitude, optional name and address)."),
        sendContactCard.bindings(positional: ["to", "contacts"])
            .raising(.notFound, .ambiguousRecipient, .whatsappNotPaired, .notOnWhatsApp, .forbiddenRecipient, .rateLimited).inToolset(toolset).summarized("Send one or several contact cards (name and phone each)."),
        downloadMedia.bindings(positional: ["message_id"]).raising(.notFound, .mediaTooLarge, .notConnected).inToolset(toolset).summarized("Download a received message's file into the data directory; returns its path, mimetype, size and sha256."),
    ]

    static let sendResultFields: [(String, JSONValue)] = [
        ("ok", Schema.boolean()), ("to", Schema.string("recipient phone number, digits (a group's JID)")),
        ("chat_id", Schema.string("the chat JID")), ("message_id", Schema.string(nullable: true)),
        ("timestamp", Schema.string("ISO 8601 UTC")),
        ("status", Schema.string("scheduled, queued, sent, delivered, read, failed or cancelled")),
    ]
    static let sendRequired = ["ok", "to", "chat_id", "message_id", "timestamp", "status"]
    static let number: JSONValue = ["type": "number"]

    static let sendFile = MethodDefinition(
        name: "whatsapp_send_file",
        title: "Send a file on WhatsApp",
        description: """
            Send a file as an image, video, audio, voice note (voice: Ogg/Opus), document or sticker (WebP), end-to-end \
            encrypted. file_path must lie under a configured media directory (media_dirs); its content must match the media \
            type (implied by the extension when media_type is omitted). Optional caption (≤1024 characters, not for audio \
            or stickers), file_name (what the recipient sees for documents) and idempotency_key. The file is copied at call \
            time and the message queued like text: status "sent" once WhatsApp accepted it, "queued" while it waits.
            """,
        inputSchema: Schema.object([
            ("to", Schema.string("recipient: phone number, JID, LID, contact name or group")),
            ("file_path", Schema.string("the file, under one of the media directories", minLength: 1)),
            ("media_type", Schema.string("how to send it (default: from the extension)",
                                         enumeration: ["image", "video", "audio", "voice", "document", "sticker"])),
            ("caption", Schema.string("a caption (images, videos, documents)")),
            ("file_name", Schema.string("the name the recipient sees (documents)", minLength: 1)),
            ("gif_playback", Schema.boolean("videos only: play muted and looping, as WhatsApp shows GIFs")),
            ("idempotency_key", Schema.string("a key unique to this send; repeating it returns the first result", minLength: 1)),
            ScheduledSends.sendAtProperty,
        ], required: ["to", "file_path"]),
        outputSchema: Schema.object(sendResultFields + [
            ("media_type", Schema.string()), ("size", Schema.integer(minimum: 0)), ("sha256", Schema.string("hex SHA-256 of the file")),
        ], required: sendRequired + ["media_type", "size", "sha256"]),
        annotations: MethodAnnotations(readOnly: false, destructive: false, idempotent: false, openWorld: true),
        handler: { context, arguments throws(WauseError) in try await sendFile(context: context, arguments: arguments) }
    )

    static let sendLocation = MethodDefinition(
        name: "whatsapp_send_location",
        title: "Send a location on WhatsApp",
        description: "Send a location pin: latitude and longitude in degrees, optional name and address.",
        inputSchema: Schema.object([
            ("to", Schema.string("recipient: phone number, JID, LID, contact name or group")),
            ("latitude", ["type": "number", "minimum": -90, "maximum": 90]),
            ("longitude", ["type": "number", "minimum": -180, "maximum": 180]),
            ("name", Schema.string("the place's name")), ("address", Schema.string("its address")),
            ScheduledSends.sendAtProperty,
        ], required: ["to", "latitude", "longitude"]),
        outputSchema: Schema.object(sendResultFields, required: sendRequired),
        annotations: MethodAnnotations(readOnly: false, destructive: false, idempotent: false, openWorld: true),
        handler: { context, arguments throws(WauseError) in
            guard let latitude = degrees(arguments["latitude"]), let longitude = degrees(arguments["longitude"]),
                  (-90...90).contains(latitude), (-180...180).contains(longitude) else {
                throw .invalidRequest("latitude must be within ±90 and longitude within ±180 degrees")
            }
            var location = WAWebProtobufsE2E_LocationMessage()
            location.degreesLatitude = latitude
            location.degreesLongitude = longitude
            if let name = arguments["name"]?.stringValue { location.name = name }
            if let address = arguments["address"]?.stringValue { location.address = address }
            var message = WAWebProtobufsE2E_Message()
            message.locationMessage = location
            let media = try MediaMessage.describe(message).unwrapped()
            return try await queue(context: context, to: arguments["to"]?.stringValue, message: message, media: media, path: nil,
                                   method: "whatsapp_send_location", key: nil, request: arguments)
        }
    )

    static let sendContactCard = MethodDefinition(
        name: "whatsapp_send_contact_card",
        title: "Send contact cards on WhatsApp",
        description: "Send one or several contact cards (vCards made from each name and phone number).",
        inputSchema: Schema.object([
            ("to", Schema.string("recipient: phone number, JID, LID, contact name or group")),
            ("contacts", Schema.array(of: Schema.object([("name", Schema.string(minLength: 1)), ("phone", Schema.string(minLength: 1))],
                                                        required: ["name", "phone"]))),
            ScheduledSends.sendAtProperty,
        ], required: ["to", "contacts"]),
        outputSchema: Schema.object(sendResultFields, required: sendRequired),
        annotations: MethodAnnotations(readOnly: false, destructive: false, idempotent: false, openWorld: true),
        handler: { context, arguments throws(WauseError) in
            let entries = arguments["contacts"]?.arrayValue ?? []
            guard (1...50).contains(entries.count) else { throw .invalidRequest("contacts must hold 1 to 50 entries") }
            var cards: [WAWebProtobufsE2E_ContactMessage] = []
            for entry in entries {
                guard let name = entry["name"]?.stringValue, !name.isEmpty, let phone = entry["phone"]?.stringValue else {
                    throw .invalidRequest("each contact needs a name and a phone")
                }
                let digits = String(phone.filter(\.isNumber))
                guard (5...20).contains(digits.count), phone.allSatisfy({ $0.isNumber || " +-()".contains($0) }) else {
                    throw .invalidRequest("'\(phone)' is not a phone number", details: ["phone": .string(phone)])
                }
                var card = WAWebProtobufsE2E_ContactMessage()
                card.displayName = name
                card.vcard = vCard(name: name, digits: digits)
                cards.append(card)
            }
            var message = WAWebProtobufsE2E_Message()
            if cards.count == 1 {
                message.contactMessage = cards[0]
            } else {
                var array = WAWebProtobufsE2E_ContactsArrayMessage()
                array.displayName = "\(cards.count) contacts"
                array.contacts = cards
                message.contactsArrayMessage = array
            }
            let media = try MediaMessage.describe(message).unwrapped()
            return try await queue(context: context, to: arguments["to"]?.stringValue, message: message, media: media, path: nil,
                                   method: "whatsapp_send_contact_card", key: nil, request: arguments)
        }
    )

    static func degrees(_ value: JSONValue?) -> Double? {
        switch value {
        case .double(let number)?: number
        case .int(let number)?: Double(number)
        default: nil
        }
    }

    /// A vCard 3.0 (RFC 2426) as WhatsApp's apps write them: `waid` names the WhatsApp user.
    static func vCard(name: String, digits: String) -> String {
        var escaped = ""
        for character in name where character != "\n" && character != "\r" {
            if "\\,;".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return "BEGIN:VCARD\nVERSION:3.0\nN:;\(escaped);;;\nFN:\(escaped)\nTEL;type=CELL;type=VOICE;waid=\(digits):+\(digits)\nEND:VCARD"
    }

    static let downloadMedia = MethodDefinition(
        name: "whatsapp_download_media",
        title: "Download a WhatsApp message's file",
        description: """
            Download the file of a received media message into <data_dir>/media/ (decrypted and verified) and return its \
            path, mimetype, size and sha256. A second call returns the same file without downloading again.
            """,
        inputSchema: Schema.object([("message_id", Schema.string("the media message's id", minLength: 1))], required: ["message_id"]),
        outputSchema: Schema.object([
            ("ok", Schema.boolean()), ("message_id", Schema.string()), ("path", Schema.string()), ("mimetype", Schema.string(nullable: true)),
            ("size", Schema.integer(minimum: 0)), ("sha256", Schema.string("hex SHA-256 of the file")),
        ], required: ["ok", "message_id", "path", "mimetype", "size", "sha256"]),
        annotations: MethodAnnotations(readOnly: false, destructive: false, idempotent: true, openWorld: true),
        handler: { context, arguments throws(WauseError) in
            let id = arguments["message_id"]?.stringValue ?? ""
            guard let stored = try context.store.media(messageID: id), stored.media.hasFile else {
                throw WauseError(.notFound, "no media message \(id)", details: ["message_id": .string(id)])
            }
            var path = stored.path, size = stored.media.size ?? 0, sha256 = stored.media.sha256 ?? []
            if path == nil || access(path!, F_OK) != 0 {
                let file = try await context.media.download(stored)
                try context.store.setMediaPath(rowid: stored.rowid, path: file.path)
                (path, size, sha256) = (file.path, file.size, file.sha256)
            }
            return ["ok": true, "message_id": .string(id), "path": .string(path ?? ""), "mimetype": JSONValue(stored.media.mimetype),
                    "size": .int(size), "sha256": .string(Hex.encode(sha256))]
        }
    )

    static func sendFile(context: MethodContext, arguments: JSONObject) async throws(WauseError) -> JSONObject {
        let caption = arguments["caption"]?.stringValue
        if let caption, caption.unicodeScalars.count > maximumCaptionLength {
            throw .invalidRequest("caption is \(caption.unicodeScalars.count) characters; at most \(maximumCaptionLength)",
                                  details: ["limit": .int(Int64(maximumCaptionLength))])
        }
        let declared = try arguments["media_type"]?.stringValue.map { (text) throws(WauseError) in try MediaType.parse(text) }
        let key = arguments["idempotency_key"]?.stringValue
        if let key, let earlier = try earlierResult(context: context, key: key, method: "whatsapp_send_file", request: arguments) { return earlier }
        // send_at and the recipient first: a bad one costs no copy.
        _ = try ScheduledSends.sendAt(arguments, now: context.environment.now())
        let recipient = try await resolve(context: context, to: arguments["to"]?.stringValue)
        let intake = MediaIntake(config: context.config, randomBytes: context.environment.randomBytes)
        let filePath = arguments["file_path"]?.stringValue ?? "", fileName = arguments["file_name"]?.stringValue
        let file = try await BlockingFileWork.run { () throws(WauseError) in
            try intake.take(path: filePath, mediaType: declared, fileName: fileName)
        }
        let gifPlayback = arguments["gif_playback"]?.boolValue ?? false
        if gifPlayback, file.mediaType != .video {
            unlink(file.path)
            throw .invalidRequest("gif_playback is for videos, not a \(file.mediaType.rawValue)",
                                  details: ["media_type": .string(file.mediaType.rawValue)])
        }
        if caption != nil, [.audio, .voice, .sticker].contains(file.mediaType) {
            unlink(file.path)
            throw .invalidRequest("a \(file.mediaType.rawValue) carries no caption", details: ["media_type": .string(file.mediaType.rawValue)])
        }
        let mediaKey = context.environment.randomBytes(MediaKeys.mediaKeyLength)
        let encryption: MediaEncryptionResult
        do {
            encryption = try await BlockingFileWork.run { () throws(WauseError) in
                try encryptFile(file.path, to: MediaTransfers.encryptedPath(plaintext: file.path), mediaKey: mediaKey,
                                type: MediaMessage.cryptoType(file.mediaType))
            }
        } catch {
            unlink(file.path)
            throw error
        }
        let message = MediaMessage.outgoing(file, mediaKey: mediaKey, encryption: encryption, caption: caption, gifPlayback: gifPlayback,
                                            now: context.environment.now())
        let media = try MediaMessage.describe(message).unwrapped()
        var result: JSONObject
        do {
            result = try await queue(context: context, recipient: recipient, message: message, media: media, path: file.path,
                                     method: "whatsapp_send_file", key: key, request: arguments,
                                     extra: ["media_type": .string(file.mediaType.rawValue), "size": .int(file.size),
                                             "sha256": .string(Hex.encode(file.sha256))])
        } catch where error.code == .rateLimited || error.code == .forbiddenRecipient {
            // The guard rails refused before anything was queued: the copies have no message to serve.
            unlink(file.path)
            unlink(MediaTransfers.encryptedPath(plaintext: file.path))
            throw error
        }
        result["media_type"] = .string(file.mediaType.rawValue)
        return result
    }

    /// The file encrypted for upload, piece by piece (constant memory), to `destination` (0600).
    static func encryptFile(_ source: String, to destination: String, mediaKey: [UInt8],
                            type: WauseProtocol.MediaType) throws(WauseError) -> MediaEncryptionResult {
        var encryptor: MediaEncryptor
        do { encryptor = try MediaEncryptor(mediaKey: mediaKey, type: type) } catch { throw .internal("media keys: \(error)") }
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw .internal("cannot read \(source): \(String(cString: strerror(errno)))") }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard output >= 0 else { throw .internal("cannot create \(destination): \(String(cString: strerror(errno)))") }
        defer { close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var sealed: [UInt8] = []
        while true {
            let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            guard count >= 0 else { unlink(destination); throw .internal("reading \(source) failed") }
            if count == 0 { break }
            sealed.removeAll(keepingCapacity: true)
            buffer.withUnsafeBytes { encryptor.update(UnsafeRawBufferPointer(rebasing: $0[0..<count]), appendingTo: &sealed) }
            try MediaDownload.writeAll(output, sealed, path: destination)
        }
        sealed.removeAll(keepingCapacity: true)
        let result = encryptor.finish(appendingTo: &sealed)
        try MediaDownload.writeAll(output, sealed, path: destination)
        guard fsync(output) == 0 else { throw .internal("cannot keep \(destination)") }
        return result
    }

    struct Recipient { var chatJID: String; var contactID: Int64?; var shown: String }

    static func resolve(context: MethodContext, to: String?) async throws(WauseError) -> Recipient {
        guard let to, !to.isEmpty else { throw .invalidRequest("name the recipient with to") }
        if let group = try await SendMessage.groupRecipient(to, context: context) {
            try context.sendGuard.checkRecipient(group.description, given: to, store: context.store)
            return Recipient(chatJID: group.description, contactID: nil, shown: group.description)
        }
        let contact = try Recipients.resolve(to, store: context.store, now: context.environment.now())
        guard let phone = contact.phone else { throw .invalidRequest("\(contact.chatJID) has no known phone number yet; send to their phone number") }
        // A recipient the guard rails forbid is refused here, before a file is copied (queue checks again, with the rate).
        try context.sendGuard.checkRecipient(contact.chatJID, given: to, store: context.store)
        return Recipient(chatJID: contact.chatJID, contactID: contact.id, shown: phone)
    }

    /// The first result of an idempotency key, with the message's status now (SendMessage's rule:
    /// the same key with other arguments is `idempotency_conflict`).
    static func earlierResult(context: MethodContext, key: String, method: String, request arguments: JSONObject) throws(WauseError) -> JSONObject? {
        var request = arguments
        request["idempotency_key"] = nil
        guard var earlier = try context.store.idempotentResult(key: key, method: method,
                                                               newerThan: context.environment.now() - SendMessage.idempotencyWindow) else { return nil }
        let first = earlier[SendMessage.requestKey]?.objectValue
        earlier[SendMessage.requestKey] = nil
        if let first, first != request {
            throw WauseError(.idempotencyConflict, "idempotency_key \(key) was used with different arguments",
                             details: ["idempotency_key": .string(key), "message_id": earlier["message_id"] ?? .null])
        }
        if let id = earlier["message_id"]?.stringValue, let status = try context.store.message(id: id)?.status {
            earlier["status"] = .string(status.rawValue)
        }
        return earlier
    }

    static func queue(context: MethodContext, to: String?, message: WAWebProtobufsE2E_Message, media: MediaMessage, path: String?,
                      method: String, key: String?, request: JSONObject) async throws(WauseError) -> JSONObject {
        let recipient = try await resolve(context: context, to: to)
        return try await queue(context: context, recipient: recipient, message: message, media: media, path: path, method: method,
                               key: key, request: request)
    }

    /// Stores and queues the message with its media row (before the call answers), kicks the
    /// outbox and waits for the ack as `whatsapp_send_message` does.
    static func queue(context: MethodContext, recipient: Recipient, message: WAWebProtobufsE2E_Message, media: MediaMessage,
                      path: String?, method: String, key: String?, request: JSONObject,
                      extra: JSONObject = [:]) async throws(WauseError) -> JSONObject {
        guard let account = try context.store.linkedAccount(), let own = JID(account.jid) else {
            throw WauseError(.whatsappNotPaired, "this device is not linked to WhatsApp; link it with whatsapp_start_auth or whatsapp_pairing_code")
        }
        let now = context.environment.now()
        let sendAt = try ScheduledSends.sendAt(request, now: now)
        let id = MessageFormat.newMessageID(now: now, ownUser: own.user, random: context.environment.randomBytes)
        let record = MessageRecord(id: id, chatJID: recipient.chatJID, senderJID: nil, fromMe: true, type: media.type, body: media.body,
                                   timestamp: now.truncatedToSeconds, hasMedia: media.hasFile, status: sendAt == nil ? .queued : .scheduled)
        var result: JSONObject = [
            "ok": true, "to": .string(recipient.shown), "chat_id": .string(recipient.chatJID), "message_id": .string(id),
            "timestamp": .string(now.iso8601), "status": .string((sendAt == nil ? MessageStatus.queued : .scheduled).rawValue),
        ]
        for (name, value) in extra { result[name] = value }
        var stored = request
        stored["idempotency_key"] = nil
        var remembered = result
        remembered[SendMessage.requestKey] = .object(stored)
        let payload = try MessageFormat.encode(message)
        let rowid = try ScheduledSends.admit(context, recipient.chatJID, given: recipient.shown, sendAt: sendAt) { () throws(WauseError) in
            try context.store.enqueue(record, contactID: recipient.contactID, payload: payload, now: now,
                                      idempotency: key.map { ($0, method, remembered) }, sendAt: sendAt)
        }
        try context.store.saveMedia(rowid: rowid, media, path: path)
        context.outbox.kick()
        if sendAt != nil { return result }
        let status = try await SendMessage.waitForAck(context: context, messageID: id)
        if status == .failed, let message = try context.store.message(id: id) { try SendMessage.throwIfRefused(message, chatJID: recipient.chatJID) }
        result["status"] = .string(status.rawValue)
        return result
    }
}

private extension Optional {
    func unwrapped() throws(WauseError) -> Wrapped {
        guard let self else { throw .internal("the media message describes nothing") }
        return self
    }
}
