#if canImport(Glibc)
import Glibc
#endif
import WauseSupport

/// `whatsapp_export_chat` (issue 14 "Agent helpers"): a whole chat — no 10 000-message cap — written
/// to a file under `<data_dir>/exports/` (directory 0700, file 0600: it holds other people's
/// messages) in JSON or CSV, streamed a batch at a time so a chat of any size takes bounded memory;
/// the result carries a summary and a preview, not the messages. The file's name comes from the
/// chat's JID user part (digits, or a group id) with every other character dropped and the UTC
/// time, never from message text or a contact's name.
enum ChatExport {
    /// The CSV header, exactly as issue 14's "Definitions" names the columns.
    static let csvColumns = ["id", "timestamp", "chat", "from", "author", "from_me", "type", "body", "media_type", "media_sha256",
                             "quoted_id", "edited", "deleted"]
    static let previewCount = 3
    static let batchSize = 500

    static let definition = MethodDefinition(
        name: "whatsapp_export_chat",
        title: "Export a WhatsApp chat to a file",
        description: """
            Write every stored message of one chat (no cap) to a new file under <data_dir>/exports/ (readable by this \
            user only), oldest first, as json ({chat, exported_at, messages: [message]}) or csv (RFC 4180, header: id, \
            timestamp, chat, from, author, from_me, type, body, media_type, media_sha256, quoted_id, edited, deleted; \
            timestamps ISO 8601 UTC). Cells are written exactly as stored unless formula_guard is true, which prefixes ' to \
            CSV cells starting with = + - @ (so spreadsheets do not run them as formulas; this changes those cells). \
            Returns the path, the byte size, a summary (count, first/last timestamp, participants) and a preview of the \
            first and last messages. Only what this device has stored is exported; a chat it has nothing of is not_found. 
            """ + History.untrustedNote,
        inputSchema: Schema.object([
            ("chat", Schema.string("the chat: phone number, JID, LID, contact or group name", minLength: 1)),
            ("to", Schema.string("alias of chat")),
            ("format", Schema.string("json or csv", enumeration: ["json", "csv"])),
            ("formula_guard", Schema.boolean("csv: prefix ' to cells starting with = + - @", defaultValue: false)),
        ], required: ["chat", "format"]),
        outputSchema: Schema.object([
            ("ok", Schema.boolean()), ("chat", Schema.string("the chat's JID")), ("format", Schema.string()),
            ("path", Schema.string("the file written")), ("bytes", Schema.integer(minimum: 0)),
            ("summary", Schema.object([
                ("count", Schema.integer(minimum: 0)),
                ("first_timestamp", Schema.string("ISO 8601 UTC of the first message", nullable: true)),
                ("last_timestamp", Schema.string("ISO 8601 UTC of the last message", nullable: true)),
                ("participants", Schema.array(of: Schema.object([("jid", Schema.string()), ("name", Schema.string(nullable: true)),
                                                                 ("from_me", Schema.boolean())], required: ["jid", "name", "from_me"]),
                                              "who wrote in it (us too, when we did)")),
            ], required: ["count", "first_timestamp", "last_timestamp", "participants"])),
            ("preview", Schema.object([("first", Schema.array(of: History.messageSchema)), ("last", Schema.array(of: History.messageSchema))],
                                      required: ["first", "last"])),
        ], required: ["ok", "chat", "format", "path", "bytes", "summary", "preview"]),
        annotations: MethodAnnotations(readOnly: false, destructive: false, idempotent: false, openWorld: false),
        handler: { context, arguments throws(WauseError) in
            let chat = try Recipients.chatJID(arguments["chat"]?.stringValue ?? "", store: context.store, now: context.environment.now())
            // A number with no chat here would only give an empty file: say so instead.
            guard try context.store.chatSummary(jid: chat) != nil else {
                throw WauseError(.notFound, "no stored chat \(chat)", details: ["chat": .string(chat)])
            }
            let format = arguments["format"]?.stringValue ?? "json"
            let guardFormulas = arguments["formula_guard"]?.boolValue ?? false
            let now = context.environment.now()
            let written = try await BlockingFileWork.run { () throws(WauseError) in
                try write(chat: chat, format: format, guardFormulas: guardFormulas, now: now, context: context)
            }
            let ends = try context.store.chatEnds(chat: chat, count: previewCount)
            let first = try History.messagesJSON(ends.first, context: context)
            let last = try History.messagesJSON(ends.last, context: context)
            return [
                "ok": true, "chat": .string(chat), "format": .string(format), "path": .string(written.path), "bytes": .int(written.bytes),
                "summary": ["count": .int(Int64(written.count)),
                            "first_timestamp": JSONValue(ends.first.first?.timestamp.iso8601),
                            "last_timestamp": JSONValue(ends.last.last?.timestamp.iso8601),
                            "participants": .array(written.participants)],
                "preview": ["first": .array(first), "last": .array(last)],
            ]
        }
    )

    /// The file's name: the chat's JID user part reduced to `[0-9A-Za-z-]`, the UTC time, the format.
    static func fileName(chat: String, now: UnixTime, format: String, attempt: Int) -> String {
        let user = chat.split(separator: "@").first.map(String.init) ?? chat
        let safe = String(user.unicodeScalars.filter { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-") }
            .prefix(64).map(Character.init))
        let time = now.iso8601.filter { $0 != "-" && $0 != ":" }.split(separator: ".").first.map(String.init) ?? "export"
        return "chat-\(safe.isEmpty ? "unknown" : safe)-\(time)Z\(attempt > 1 ? "-\(attempt)" : "").\(format)"
    }

    struct Written: Sendable {
        var path: String
        var bytes: Int64
        var count: Int
        var participants: [JSONValue]
    }

    static func write(chat: String, format: String, guardFormulas: Bool, now: UnixTime, context: MethodContext) throws(WauseError) -> Written {
        let directory = context.config.dataDirectory + "/exports"
        if mkdir(directory, 0o700) != 0, errno != EEXIST {
            throw WauseError(.internal, "cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        // A directory we did not make (or a symlink put in its place) must not receive the file.
        var info = stat()
        guard lstat(directory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == getuid() else {
            throw WauseError(.internal, "\(directory) is not a directory of this user")
        }
        if info.st_mode & 0o777 != 0o700 { chmod(directory, 0o700) }
        var path = ""
        var fd: Int32 = -1
        for attempt in 1...100 {
            path = directory + "/" + fileName(chat: chat, now: now, format: format, attempt: attempt)
            fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else { throw WauseError(.internal, "cannot create \(path): \(String(cString: strerror(errno)))") }
        var writer = FileWriter(fd: fd)
        var participants: [String: JSONValue] = [:]
        var count = 0
        do throws(WauseError) {
            if format == "csv" {
                try writer.write(csvColumns.joined(separator: ",") + "\r\n")
            } else {
                try writer.write("{\"chat\":" + JSONValue.string(chat).serialized + ",\"exported_at\":"
                                 + JSONValue.string(now.iso8601).serialized + ",\"messages\":[")
            }
            try context.store.forEachMessage(chat: chat, batch: batchSize) { (messages) throws(WauseError) in
                for json in try History.messagesJSON(messages, context: context) {
                    guard let message = json.objectValue else { continue }
                    if let from = message["from"]?.stringValue, participants[from] == nil {
                        participants[from] = ["jid": .string(from), "name": message["author"] ?? .null,
                                              "from_me": message["from_me"] ?? false]
                    }
                    if format == "csv" {
                        try writer.write(csvRow(message, chat: chat, guardFormulas: guardFormulas))
                    } else {
                        try writer.write((count == 0 ? "\n" : ",\n") + json.serialized)
                    }
                    count += 1
                }
            }
            if format != "csv" { try writer.write("\n]}\n") }
            try writer.finish()
        } catch {
            close(fd)
            unlink(path)
            throw error
        }
        close(fd)
        return Written(path: path, bytes: writer.total, count: count, participants: participants.keys.sorted().compactMap { participants[$0] })
    }

    /// One CSV record (RFC 4180: fields with a comma, quote, CR or LF are quoted, quotes doubled; CRLF ends it).
    static func csvRow(_ message: JSONObject, chat: String, guardFormulas: Bool) -> String {
        let media = message["media"]?.objectValue
        func text(_ value: JSONValue?) -> String {
            switch value {
            case .string(let s)?: return s
            case .bool(let b)?: return b ? "true" : "false"
            case .int(let i)?: return String(i)
            default: return ""
            }
        }
        let timestamp = message["timestamp"]?.intValue.map { UnixTime(seconds: $0).iso8601 } ?? ""
        let cells = [text(message["id"]), timestamp, chat, text(message["from"]), text(message["author"]), text(message["from_me"]),
                     text(message["type"]), text(message["body"]), text(media?["type"]), text(media?["sha256"]),
                     text(message["quoted_message_id"]), text(message["edited"]), text(message["deleted"])]
        return cells.map { cell in csvField(cell, guardFormulas: guardFormulas) }.joined(separator: ",") + "\r\n"
    }

    static func csvField(_ cell: String, guardFormulas: Bool) -> String {
        var cell = cell
        // OWASP "CSV Injection": a leading = + - @ (or tab/CR) makes spreadsheets evaluate the cell.
        if guardFormulas, let first = cell.first, "=+-@\t\r".contains(first) { cell = "'" + cell }
        guard cell.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" }) else { return cell }
        return "\"" + cell.replacing("\"", with: "\"\"") + "\""
    }

    /// Buffers writes into 64 KB chunks; every write(2) error is an `internal` error with the reason.
    struct FileWriter {
        let fd: Int32
        var buffer: [UInt8] = []
        var total: Int64 = 0

        init(fd: Int32) {
            self.fd = fd
            buffer.reserveCapacity(1 << 16)
        }

        mutating func write(_ text: String) throws(WauseError) {
            buffer.append(contentsOf: text.utf8)
            if buffer.count >= 1 << 16 { try flush() }
        }

        mutating func finish() throws(WauseError) {
            try flush()
            guard fsync(fd) == 0 else { throw WauseError(.internal, "cannot sync the export: \(String(cString: strerror(errno)))") }
        }

        private mutating func flush() throws(WauseError) {
            var offset = 0
            while offset < buffer.count {
                let written = buffer[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                if written < 0 {
                    if errno == EINTR { continue }
                    throw WauseError(.internal, "cannot write the export: \(String(cString: strerror(errno)))")
                }
                offset += written
            }
            total += Int64(buffer.count)
            buffer.removeAll(keepingCapacity: true)
        }
    }
}
