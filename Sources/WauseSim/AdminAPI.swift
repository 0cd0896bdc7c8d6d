import WauseBinary
import WauseHTTP
import WauseProtocol
import WauseSupport

/// The simulator's admin HTTP API (DESIGN.md "The simulator"): JSON in and out, errors as
/// `{code, message}` with a 4xx status. The virtual phones link companions through `scan` and
/// `enter-code` (`PhoneLinking` lists their statuses).
public struct AdminAPI: Sendable {
    let state: SimState
    let connections: SimConnections
    let linking: PhoneLinking
    let phones: VirtualPhones
    /// The media blobs, for `DELETE /media?direct_path=…` (MediaAdminRoutes.swift).
    let media: MediaStore

    init(state: SimState, connections: SimConnections, linking: PhoneLinking, phones: VirtualPhones, media: MediaStore) {
        self.state = state
        self.connections = connections
        self.linking = linking
        self.phones = phones
        self.media = media
    }

    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        do {
            return try route(request)
        } catch {
            // Group refusals keep the server's status (GroupAdminRoutes.swift).
            if let status = AdminAPI.groupStatus(error) { return .json(status, error.json) }
            return AdminAPI.failure(AdminFailure(error))
        }
    }

    static func failure(_ failure: AdminFailure) -> HTTPResponse {
        .json(failure.status, failure.error.json)
    }

    /// The routes, by path shape (`*` is one path segment) and the methods each allows.
    private enum Route: Equatable {
        case accounts, accountDevices, accountDevice, scan, enterCode, connections, send, inbox, autoReply, read, privacyToken
        /// `react`, `edit`, `revoke` or `vote` (PhoneMessageChanges.swift).
        case messageChange(String)

        init?(_ parts: [String]) {
            switch (parts.count, parts.first) {
            case (1, "accounts"): self = .accounts
            case (3, "accounts") where parts[2] == "devices": self = .accountDevices
            case (3, "accounts") where parts[2] == "scan": self = .scan
            case (3, "accounts") where parts[2] == "enter-code": self = .enterCode
            case (3, "accounts") where parts[2] == "send": self = .send
            case (3, "accounts") where parts[2] == "inbox": self = .inbox
            case (3, "accounts") where parts[2] == "auto-reply": self = .autoReply
            case (3, "accounts") where parts[2] == "read": self = .read
            case (3, "accounts") where parts[2] == "privacy-token": self = .privacyToken
            case (3, "accounts") where ["react", "edit", "revoke", "vote"].contains(parts[2]): self = .messageChange(parts[2])
            case (4, "accounts") where parts[2] == "devices": self = .accountDevice
            case (1, "connections"): self = .connections
            default: return nil
            }
        }

        var allowedMethods: [String] {
            switch self {
            case .accounts: return ["GET", "POST"]
            case .accountDevices, .connections, .inbox: return ["GET"]
            case .accountDevice: return ["DELETE"]
            case .scan, .enterCode, .send, .read, .privacyToken, .messageChange: return ["POST"]
            case .autoReply: return ["GET", "PUT"]
            }
        }
    }

    private func route(_ request: HTTPRequest) throws(WauseError) -> HTTPResponse {
        if request.bodyTooLarge { return .json(413, ["code": "invalid_request", "message": "request body too large"]) }
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        if let response = try groupRoute(request, parts: parts) { return response }
        if let response = try mediaRoute(request, parts: parts) { return response }
        if let response = try appStateRoute(request, parts: parts) { return response }
        if let response = try presenceRoute(request, parts: parts) { return response }
        if parts.count == 3, parts[0] == "accounts", parts[2] == "history" {
            guard request.method == "POST" else {
                return .json(405, ["code": "invalid_request", "message": .string("\(request.method) is not allowed on \(request.path)")],
                             headers: [("Allow", "POST")])
            }
            return .json(200, .object(try phones.history.seed(try existingAccount(parts[1]), body: try AdminAPI.body(request))))
        }
        guard let route = Route(parts) else { throw WauseError(.notFound, "no such route: \(request.method) \(request.path)") }
        guard route.allowedMethods.contains(request.method) else {
            return .json(405, ["code": "invalid_request", "message": .string("\(request.method) is not allowed on \(request.path)")],
                         headers: [("Allow", route.allowedMethods.joined(separator: ", "))])
        }
        switch (route, request.method) {
        case (.accounts, "GET"):
            return .json(200, .array(try state.accounts().map(\.json)))
        case (.accounts, _):
            let body = try AdminAPI.body(request)
            guard let phone = body["phone"]?.stringValue else { throw .invalidRequest("phone (a string) is required") }
            let pushName = body["push_name"]
            if let pushName, !pushName.isNull, pushName.stringValue == nil { throw .invalidRequest("push_name must be a string") }
            // An existing phone is a conflict, not a malformed request (tests/sim/README.md).
            if let existing = try? state.account(phone: PhoneNumber.normalize(phone)) {
                return .json(409, WauseError.invalidRequest("account \(existing.phone) already exists",
                                                            details: ["phone": .string(existing.phone)]).json)
            }
            return .json(201, try state.createAccount(phone: phone, pushName: pushName?.stringValue).json)
        case (.accountDevices, _):
            let account = try existingAccount(parts[1])
            return .json(200, .array(try state.devices(phone: account.phone).map(\.json)))
        case (.accountDevice, _):
            let account = try existingAccount(parts[1])
            guard let number = Int(parts[3]), number > 0 else { throw .invalidRequest("device must be a positive integer") }
            guard let removed = try state.removeDevice(phone: account.phone, device: number) else {
                throw WauseError(.notFound, "account \(account.phone) has no device \(number)")
            }
            // Online: it gets the logout stanza now; offline: failure 401 when it next logs in.
            let online = connections.disconnect(device: "\(account.phone):\(number)@s.whatsapp.net", reason: .deviceRemoved)
            linking.router.announceDevices(of: account, change: "remove", device: number, keyIndex: removed.keyIndex)
            var result = removed.json.objectValue ?? JSONObject()
            result["ok"] = true
            result["was_online"] = .bool(online > 0)
            return .json(200, .object(result))
        case (.scan, _), (.enterCode, _):
            return try link(route, phone: parts[1], body: try AdminAPI.body(request))
        case (.connections, _):
            return .json(200, connections.json)
        case (.send, _):
            return try send(try existingAccount(parts[1]), body: try AdminAPI.body(request))
        case (.inbox, _):
            return try inbox(try existingAccount(parts[1]), request: request)
        case (.read, _):
            return try markRead(try existingAccount(parts[1]), body: try AdminAPI.body(request))
        case (.privacyToken, _):
            return try issuePrivacyToken(try existingAccount(parts[1]), body: try AdminAPI.body(request))
        case (.messageChange(let kind), _):
            return try changeMessage(kind, account: try existingAccount(parts[1]), body: try AdminAPI.body(request))
        case (.autoReply, "GET"):
            let account = try existingAccount(parts[1])
            return .json(200, ["phone": .string(account.phone), "auto_reply": JSONValue(try state.autoReply(phone: account.phone))])
        case (.autoReply, _):
            return try setAutoReply(try existingAccount(parts[1]), body: try AdminAPI.body(request))
        }
    }

    // MARK: The phone as a messaging client (VirtualPhones.swift)

    /// `POST /accounts/{phone}/send {to, text, quoted_message_id?, forwarded?}` (PhoneReplies.swift): `to` is a phone number (digits, `+`, spaces) or
    /// a user JID (`PHONE@s.whatsapp.net` or `LID@lid`, a device part is ignored); the message
    /// goes out in that addressing form. 200 `{ok, message_id, timestamp, to, chat}` once it is
    /// queued for every device of the recipient (and copied to the phone's own companions).
    private func send(_ account: SimAccount, body: JSONObject) throws(WauseError) -> HTTPResponse {
        guard let to = body["to"]?.stringValue, !to.isEmpty else { throw .invalidRequest("to (a phone number or JID) is required") }
        if body["type"]?.stringValue == "poll" {
            // A poll of the phone's own (PhoneMessageChanges.swift), so a test can have one made before a companion links.
            return try sendPoll(account, to: to, body: body)
        }
        if let type = body["type"], !type.isNull, type.stringValue != "text" {
            // Media, a location or a contact card (MediaAdminRoutes.swift).
            return try sendMedia(account, to: to, body: body)
        }
        guard let text = body["text"]?.stringValue else { throw .invalidRequest("text (a string) is required") }
        guard !text.isEmpty else { throw .invalidRequest("text must not be empty") }
        if to.hasSuffix("@g.us") {
            // To a group the phone is in, with its sender key (PhoneGroups.swift).
            let sent = try phones.sendToGroup(from: account, group: try AdminAPI.groupID(to), text: text)
            return .json(200, [
                "ok": true, "message_id": .string(sent.id), "timestamp": .string(ISO8601.string(fromUnixMilliseconds: sent.t * 1000)),
                "to": .string(sent.group.jid.description), "from": .string(account.jid),
            ])
        }
        let chat = try AdminAPI.userChat(to)
        let sent: (id: String, t: Int64)
        let quoted = body["quoted_message_id"]?.stringValue, forwarded = body["forwarded"]?.boolValue == true
        if quoted != nil || forwarded {
            sent = try phones.sendExtended(from: account, to: chat, text: text, quotedID: quoted, forwarded: forwarded)
        } else {
            sent = try phones.send(from: account, to: chat, text: text)
        }
        return .json(200, [
            "ok": true, "message_id": .string(sent.id), "timestamp": .string(ISO8601.string(fromUnixMilliseconds: sent.t * 1000)),
            "to": .string(chat.description), "from": .string(account.jid),
        ])
    }

    /// `to` of a 1:1 send: a phone number or a user JID, in the addressing form given.
    static func userChat(_ to: String) throws(WauseError) -> JID {
        if to.contains("@") {
            guard let jid = JID(to), jid.server == .whatsApp || jid.server == .lid, !jid.user.isEmpty else {
                throw .invalidRequest("to must be a phone number, PHONE@s.whatsapp.net or LID@lid", details: ["to": .string(to)])
            }
            return JID(user: jid.user, server: jid.server)
        }
        return JID(user: try PhoneNumber.normalize(to), server: .whatsApp)
    }

    /// `POST /accounts/{phone}/privacy-token {to}`: the phone issues its trusted-contact token to
    /// `to` (a phone number or user JID) without a message, as a phone does on a chat action
    /// (whatsmeow tctoken.go shouldSendTCTokenInChatAction); the holder's connected devices get
    /// the `privacy_token` notification. 200 `{ok, issuer, holder, t}`; 404 for an unknown `to`.
    private func issuePrivacyToken(_ account: SimAccount, body: JSONObject) throws(WauseError) -> HTTPResponse {
        guard let to = body["to"]?.stringValue, !to.isEmpty else { throw .invalidRequest("to (a phone number or JID) is required") }
        let holder = try AdminAPI.userChat(to)
        guard let grant = try linking.router.issuePrivacyToken(from: account, to: holder) else {
            throw WauseError(.notFound, "\(holder) is not another account on this server")
        }
        return .json(200, ["ok": true, "issuer": .string(account.jid), "holder": .string(grant.holder.jid), "t": .int(grant.t)])
    }

    /// `GET /accounts/{phone}/inbox?after=N&limit=L` (L 1–500, default 100): what the phone
    /// received, decrypted, oldest first, and `next_cursor` to pass as `after` next time.
    private func inbox(_ account: SimAccount, request: HTTPRequest) throws(WauseError) -> HTTPResponse {
        var after: Int64 = 0
        if let text = request.query("after") {
            guard let value = Int64(text), value >= 0 else { throw .invalidRequest("after must be a non-negative integer") }
            after = value
        }
        var limit = 100
        if let text = request.query("limit") {
            guard let value = Int(text), (1...500).contains(value) else { throw .invalidRequest("limit must be an integer from 1 to 500") }
            limit = value
        }
        let messages = try state.inbox(phone: account.phone, after: after, limit: limit)
        let next = messages.last?["cursor"] ?? .int(after)
        return .json(200, ["messages": .array(messages), "next_cursor": next])
    }

    /// `POST /accounts/{phone}/read {ids}`: the phone reads these messages of its inbox and sends
    /// read receipts to their senders, one per chat with the other ids listed (whatsmeow
    /// receipt.go MarkRead: `<receipt id=first to=chat type=read><list><item id/>…</list>`).
    /// 200 `{ok, read: [ids], chats: [jids]}`; 404 if an id is not a message the phone received.
    private func markRead(_ account: SimAccount, body: JSONObject) throws(WauseError) -> HTTPResponse {
        guard let values = body["ids"]?.arrayValue, !values.isEmpty else { throw .invalidRequest("ids (a non-empty array of message ids) is required") }
        var ids: [String] = []
        for value in values {
            guard let id = value.stringValue, !id.isEmpty else { throw .invalidRequest("ids must be non-empty strings") }
            if !ids.contains(id) { ids.append(id) }
        }
        let received = try state.receivedMessages(phone: account.phone, ids: ids)
        if let missing = ids.first(where: { id in !received.contains(where: { $0.id == id }) }) {
            throw WauseError(.notFound, "the phone \(account.phone) did not receive message \(missing)", details: ["id": .string(missing)])
        }
        var chats: [String] = []
        for message in received where !chats.contains(message.chat) { chats.append(message.chat) }
        for chat in chats {
            let inChat = received.filter { $0.chat == chat }.map(\.id)
            guard let to = JID(chat) else { continue }
            try phones.routeReceipt(.read(ids: inChat, chat: to, t: nil), account: account)
        }
        return .json(200, ["ok": true, "read": .array(ids.map(JSONValue.string)), "chats": .array(chats.map(JSONValue.string))])
    }

    /// `PUT /accounts/{phone}/auto-reply {text}`: a string turns it on, null (or no text) off.
    private func setAutoReply(_ account: SimAccount, body: JSONObject) throws(WauseError) -> HTTPResponse {
        let value = body["text"]
        var text: String?
        if let value, !value.isNull {
            guard let string = value.stringValue else { throw .invalidRequest("text must be a string or null") }
            guard !string.isEmpty else { throw .invalidRequest("text must not be empty (null turns the auto-reply off)") }
            text = string
        }
        try state.setAutoReply(phone: account.phone, text: text)
        return .json(200, ["ok": true, "phone": .string(account.phone), "auto_reply": JSONValue(text)])
    }

    /// `scan {qr, corrupt?}` / `enter-code {code, corrupt?}`: the phone links a companion. The
    /// HTTP thread (one per connection, not a Swift concurrency thread) waits for the outcome,
    /// which takes as long as the companion needs to answer (at most 2 × 30 s).
    private func link(_ route: Route, phone: String, body: JSONObject) throws(WauseError) -> HTTPResponse {
        let corrupt: PhoneLinking.Corruption?
        if let value = body["corrupt"], !value.isNull {
            guard let text = value.stringValue, let parsed = PhoneLinking.Corruption(rawValue: text) else {
                throw .invalidRequest("corrupt must be \"hmac\" or \"account_signature\"")
            }
            corrupt = parsed
        } else {
            corrupt = nil
        }
        let field = route == .scan ? "qr" : "code"
        guard let text = body[field]?.stringValue else { throw .invalidRequest("\(field) (a string) is required") }
        let linking = self.linking
        let outcome: Result<JSONObject, AdminFailure>
        if route == .scan {
            outcome = runBlocking { () async -> Result<JSONObject, AdminFailure> in
                do throws(AdminFailure) { return .success(try await linking.scan(phone: phone, qr: text, corrupt: corrupt)) } catch {
                    return .failure(error)
                }
            }
        } else {
            let opened: PhoneLinking.OpenedCode
            do throws(AdminFailure) { opened = try linking.openCode(phone: phone, code: text) } catch {
                return AdminAPI.failure(error)
            }
            outcome = runBlocking { () async -> Result<JSONObject, AdminFailure> in
                do throws(AdminFailure) { return .success(try await linking.enterCode(opened, corrupt: corrupt)) } catch {
                    return .failure(error)
                }
            }
        }
        switch outcome {
        case .success(let result): return .json(200, .object(result))
        case .failure(let failure): return AdminAPI.failure(failure)
        }
    }

    func existingAccount(_ phone: String) throws(WauseError) -> SimAccount {
        guard let account = try state.account(phone: phone) else { throw WauseError(.notFound, "no account \(phone)") }
        return account
    }

    static func body(_ request: HTTPRequest) throws(WauseError) -> JSONObject {
        guard !request.body.isEmpty else { throw .invalidRequest("a JSON object body is required") }
        do {
            guard let object = try JSONValue.parse(bytes: request.body).objectValue else {
                throw WauseError.invalidRequest("the body must be a JSON object")
            }
            return object
        } catch let error as JSONParseError {
            throw .invalidRequest("the body is not valid JSON: \(error)")
        } catch let error as WauseError {
            throw error
        } catch {
            throw .internal("\(error)")
        }
    }
}
