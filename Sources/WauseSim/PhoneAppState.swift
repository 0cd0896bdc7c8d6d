import FoundationEssentials
import SwiftProtobuf
import WauseBinary
import WauseCrypto
import WauseHTTP
import WauseProto
import WauseProtocol
import WauseSQLite
import WauseSupport

/// A virtual phone's side of app state (whatsmeow message.go `handleAppStateSyncKeyShare`,
/// appstate.go `requestMissingAppStateKeys`; the phone is the only device that makes keys):
///
/// - It holds the account's app-state sync key, made the first time the phone changes a setting,
///   and shares it with each companion that can receive messages (its prekeys are on the server):
///   at that first change, and with every companion that uploads prekeys later. A peer message
///   (`category="peer"`) carrying `ProtocolMessage{type: APP_STATE_SYNC_KEY_SHARE, appStateSyncKeyShare}`.
///   A companion's `APP_STATE_SYNC_KEY_REQUEST` is answered with the keys it names that the phone has.
/// - It changes settings through the admin API (`POST /accounts/{phone}/app-state`): a patch built on
///   the server's current state with its newest key, stored through `AppStateServer.submit` as
///   device 0, and `server_sync` to its companions.
/// - Its view (`GET /accounts/{phone}/app-state`) is every live record decrypted and verified with
///   its keys: what the server holds, and what that means for chats, stars and settings.
extension VirtualPhones {
    var appState: AppStateServer {
        AppStateServer(state: state, router: router, media: media, environment: environment, logger: logger,
                       blobBytes: appStateBlobBytes.withLock { $0 })
    }

    // MARK: Key shares

    /// Shares the phone's key with companion `device` unless it has it already.
    func shareAppStateKeys(phone: String, device: Int, only requested: [[UInt8]]? = nil) throws(WauseError) {
        guard device != 0, let account = try state.account(phone: phone),
            let endpoint = try state.endpoints(of: account).first(where: { $0.device == device })
        else { return }
        guard let key = try appState.phoneKey(account, create: false) else { return }
        if let requested {
            guard requested.contains(key.id) else {
                logger.info("virtual phone \(phone): device \(device) asked for app-state keys it does not hold")
                return
            }
        } else if try state.database.withConnection({ (c) throws(WauseError) in
            try c.scalar("SELECT COUNT(*) FROM app_state_key_shares WHERE phone = ? AND device = ? AND key_id = ?",
                         [.text(phone), .integer(Int64(device)), .blob(key.id)])
        }) > 0 {
            return
        }
        var shared = WAWebProtobufsE2E_AppStateSyncKey()
        shared.keyID.keyID = Data(key.id)
        shared.keyData.keyData = Data(key.data)
        shared.keyData.timestamp = key.timestamp
        shared.keyData.fingerprint.rawID = UInt32(key.id.suffix(4).reduce(0) { $0 << 8 | UInt32($1) })
        shared.keyData.fingerprint.currentIndex = 0
        shared.keyData.fingerprint.deviceIndexes = [0]
        var message = WAWebProtobufsE2E_Message()
        message.protocolMessage.type = .appStateSyncKeyShare
        message.protocolMessage.appStateSyncKeyShare.keys = [shared]
        let id = MessageFormat.newMessageID(now: environment.now(), ownUser: account.phone, random: environment.randomBytes)
        let sent = try sendPeer(message, id: id, from: account, to: endpoint) { (c) throws(WauseError) in
            try c.execute("INSERT OR IGNORE INTO app_state_key_shares (phone, device, key_id) VALUES (?, ?, ?)",
                          [.text(phone), .integer(Int64(device)), .blob(key.id)])
        }
        if sent { logger.info("virtual phone \(phone): app-state key shared with device \(device)") }
    }

    /// A peer message from the phone to one of its companions (whatsmeow send.go SendPeerMessage:
    /// `category="peer"`, from the account's own JID); false when the companion has no keys yet.
    private func sendPeer(_ message: WAWebProtobufsE2E_Message, id: String, from account: SimAccount, to endpoint: SimEndpoint,
                          also: @escaping (SQLiteConnection) throws(WauseError) -> Void) throws(WauseError) -> Bool {
        let payload = try MessageFormat.encode(message)
        let sender = SimEndpoint(account: account, device: 0)
        let t = environment.now().seconds
        return try signalLock.withLock { _ throws(WauseError) -> Bool in
            let store = try state.phoneSignalStore(account)
            guard let enc = try encrypt(payload, for: endpoint, form: .whatsApp, store: store) else { return false }
            let node = MessageRouter.delivered(id: id, t: t, type: "text", sender: sender, form: .whatsApp, ownDeviceChat: nil,
                                               category: "peer", encrypted: [enc])
            try router.deliver([QueuedStanza(phone: account.phone, device: endpoint.device, kind: .message, node: node)]) {
                (c) throws(WauseError) in
                try store.apply(c)
                try also(c)
            }
            return true
        }
    }

    /// A companion's own message to the phone that asks for keys (APP_STATE_SYNC_KEY_REQUEST);
    /// true when `content` was one, so the caller files nothing else for it.
    func answerAppStateKeyRequest(_ content: WAWebProtobufsE2E_Message, account: SimAccount, from device: Int) -> Bool {
        guard content.hasProtocolMessage, content.protocolMessage.type == .appStateSyncKeyRequest else { return false }
        let requested = content.protocolMessage.appStateSyncKeyRequest.keyIds.map { Array($0.keyID) }
        do { try shareAppStateKeys(phone: account.phone, device: device, only: requested) } catch {
            logger.error("virtual phone \(account.phone): cannot answer the key request of device \(device): \(error.message)")
        }
        return true
    }

    /// A companion whose full resync failed asks for a collection in plain text
    /// (AppStateRecovery); the phone answers with its live records at the server's version, in a
    /// peer message (whatsmeow message.go handleProtocolMessage reads the answer).
    func answerAppStateRecovery(_ collection: AppStateCollection, requestID: String, account: SimAccount, to endpoint: SimEndpoint) {
        do {
            let server = appState
            let keys = try server.appStateKeys(account.phone)
            let state = try server.collectionState(account.phone, collection)
            let made = AppStateRecovery.make(collection, version: state.version, hash: state.hash,
                                             records: try server.records(account.phone, collection), keys: { keys[$0] })
            let answer = try AppStateRecovery.response(to: requestID, made.recovery)
            let id = MessageFormat.newMessageID(now: environment.now(), ownUser: account.phone, random: environment.randomBytes)
            let sent = try sendPeer(answer, id: id, from: account, to: endpoint) { _ throws(WauseError) in }
            logger.info("virtual phone \(account.phone): \(collection.rawValue) v\(state.version) recovery for device \(endpoint.device): "
                        + "\(made.recovery.mutationRecords.count) record(s), \(made.unreadable) unreadable, \(sent ? "sent" : "not sent (no session)")")
        } catch {
            logger.error("virtual phone \(account.phone): cannot answer the \(collection.rawValue) recovery request: \(error.message)")
        }
    }

    // MARK: The phone's own changes

    /// The phone changes a setting: a patch on the server's state, stored as device 0.
    func changeAppState(_ account: SimAccount, _ action: AppStateAction, lastMessageTimestamp: Int64? = nil)
        throws(WauseError) -> (collection: AppStateCollection, version: UInt64) {
        let server = appState
        guard let key = try server.phoneKey(account) else { throw WauseError(.internal, "no app-state key") }
        // Companions linked before the key existed get it first, so they can read the patch.
        for companion in try state.devices(phone: account.phone) { try shareAppStateKeys(phone: account.phone, device: companion.device) }
        let collection = action.collection
        for _ in 0..<2 {  // once more if a companion's patch landed in between (the 409 whatsmeow retries once)
            let current = try server.collectionState(account.phone, collection)
            let built = try current.building(action.changes(timestamp: environment.now().milliseconds, lastMessageTimestamp: lastMessageTimestamp),
                                             collection: collection, keyID: key.id, keys: key.keys, iv: { environment.randomBytes(16) })
            let bytes: [UInt8]
            do { bytes = try built.patch.serializedBytes() } catch { throw WauseError(.internal, "cannot encode the patch: \(error)") }
            let answer = try server.submit([bytes], to: collection, on: current.version, from: SimEndpoint(account: account, device: 0))
            if let error = answer.error {
                if error.code == 409 { continue }
                throw WauseError(.internal, "the phone's own \(collection.rawValue) patch was refused: \(error.code) \(error.text)")
            }
            try server.notify(account, except: 0, [(collection, answer.version)])
            return (collection, answer.version)
        }
        throw WauseError(.internal, "\(collection.rawValue) kept moving while the phone patched it")
    }

    // MARK: The phone's view

    /// The collections as the server holds them and what the live records say.
    func appStateView(_ account: SimAccount) throws(WauseError) -> JSONValue {
        let server = appState
        let keys = try server.appStateKeys(account.phone)
        var collections = JSONObject()
        var chats: [String: JSONObject] = [:]
        var starred: [JSONValue] = []
        var deletedMessages: [JSONValue] = []
        var contacts = JSONObject()
        var pushName: JSONValue = .null
        var labels = JSONObject()
        var labeledMessages: [JSONValue] = []
        var unreadable = 0
        for collection in AppStateCollection.fetchOrder {
            let records = try server.records(account.phone, collection)
            collections[collection.rawValue] = [
                "version": .int(Int64(try server.version(account.phone, collection))),
                "patches": .int(try server.patchCount(account.phone, collection)),
                "records": .int(Int64(records.count)),
            ]
            for (position, record) in records.enumerated() {
                var mutation = WAWebProtobufsServerSync_SyncdMutation()
                mutation.operation = .set
                mutation.record = record
                guard let opened = try? AppStateMutation.open(mutation, position: position, keys: { keys[$0] }),
                    let action = AppStateAction(opened)
                else { unreadable += 1; continue }
                func update(_ chat: String, _ body: (inout JSONObject) -> Void) {
                    var entry = chats[chat] ?? ["chat": .string(chat)]
                    body(&entry)
                    chats[chat] = entry
                }
                switch action {
                case .archive(let chat, let archived): update(chat) { $0["archived"] = .bool(archived) }
                case .pin(let chat, let pinned): update(chat) { $0["pinned"] = .bool(pinned) }
                case .mute(let chat, let until):
                    update(chat) {
                        $0["muted"] = .bool(until != nil)
                        $0["muted_until"] = until.map { .int($0) } ?? .null
                    }
                case .markRead(let chat, let read): update(chat) { $0["marked_unread"] = .bool(!read) }
                case .clearChat(let chat): update(chat) { $0["cleared"] = true }
                case .deleteChat(let chat, _): update(chat) { $0["deleted"] = true }
                case .star(let ref, let isStarred):
                    if isStarred { starred.append(["chat": .string(ref.chat), "message_id": .string(ref.id), "from_me": .bool(ref.fromMe)]) }
                case .deleteMessageForMe(let ref, _):
                    deletedMessages.append(["chat": .string(ref.chat), "message_id": .string(ref.id), "from_me": .bool(ref.fromMe)])
                case .contact(let jid, let fullName, _): contacts[jid] = JSONValue(fullName)
                case .pushName(let name): pushName = .string(name)
                case .labelEdit(let label):
                    labels[label.id] = ["name": .string(label.name), "color": JSONValue(label.color.map(Int64.init)),
                                        "predefined_id": JSONValue(label.predefinedID.map(Int64.init)), "deleted": .bool(label.deleted)]
                case .labelChat(let labelID, let chat, let labeled):
                    update(chat) {
                        var ids = $0["labels"]?.arrayValue ?? []
                        ids.removeAll { $0 == .string(labelID) }
                        if labeled { ids.append(.string(labelID)) }
                        $0["labels"] = .array(ids)
                    }
                case .labelMessage(let labelID, let ref, let labeled):
                    if labeled {
                        labeledMessages.append(["label_id": .string(labelID), "chat": .string(ref.chat), "message_id": .string(ref.id),
                                                "from_me": .bool(ref.fromMe)])
                    }
                }
            }
        }
        let key = try server.phoneKey(account, create: false)
        return [
            "phone": .string(account.phone), "key_id": key.map { .string(Hex.encode($0.id)) } ?? .null, "collections": .object(collections),
            "chats": .array(chats.keys.sorted().compactMap { chats[$0].map(JSONValue.object) }), "starred": .array(starred),
            "deleted_messages": .array(deletedMessages), "contacts": .object(contacts), "push_name": pushName,
            "labels": .object(labels), "labeled_messages": .array(labeledMessages),
            "unreadable_records": .int(Int64(unreadable)),
        ]
    }
}

extension AdminAPI {
    /// `POST /accounts/{phone}/app-state {action, chat, value?, message_id?, from_me?, participant?}` and
    /// `GET /accounts/{phone}/app-state` (tests/sim/README.md, "App state").
    func appStateRoute(_ request: HTTPRequest, parts: [String]) throws(WauseError) -> HTTPResponse? {
        if parts == ["app-state", "settings"] { return try appStateSettingsRoute(request) }
        guard parts.count == 3, parts[0] == "accounts", parts[2] == "app-state" else { return nil }
        guard ["GET", "POST"].contains(request.method) else {
            return .json(405, ["code": "invalid_request", "message": .string("\(request.method) is not allowed on \(request.path)")],
                         headers: [("Allow", "GET, POST")])
        }
        let account = try existingAccount(parts[1])
        if request.method == "GET" { return .json(200, try phones.appStateView(account)) }
        let body = try AdminAPI.body(request)
        let action = try AdminAPI.appStateAction(body)
        let done = try phones.changeAppState(account, action)
        return .json(200, ["ok": true, "collection": .string(done.collection.rawValue), "version": .int(Int64(done.version)),
                           "chat": JSONValue(action.chat)])
    }

    /// `GET|PUT /app-state/settings {external_patch_bytes}`: above how many bytes of mutations a
    /// stored patch is served as an external blob (0: every patch). Applies to patches stored from
    /// then on.
    func appStateSettingsRoute(_ request: HTTPRequest) throws(WauseError) -> HTTPResponse {
        guard ["GET", "PUT"].contains(request.method) else {
            return .json(405, ["code": "invalid_request", "message": .string("\(request.method) is not allowed on \(request.path)")],
                         headers: [("Allow", "GET, PUT")])
        }
        if request.method == "PUT" {
            let body = try AdminAPI.body(request)
            guard let bytes = body["external_patch_bytes"]?.intValue, bytes >= 0 else {
                throw .invalidRequest("external_patch_bytes (0 or more) is required")
            }
            phones.appStateBlobBytes.withLock { $0 = Int(bytes) }
        }
        return .json(200, ["external_patch_bytes": .int(Int64(phones.appStateBlobBytes.withLock { $0 }))])
    }

    static func appStateAction(_ body: JSONObject) throws(WauseError) -> AppStateAction {
        guard let name = body["action"]?.stringValue else {
            throw .invalidRequest("action must be one of archive, pin, mute, star, mark_read, mark_unread, delete_message, clear_chat, delete_chat, contact, push_name, label_edit, label_chat, label_message")
        }
        func chat() throws(WauseError) -> String {
            guard let text = body["chat"]?.stringValue, !text.isEmpty else { throw .invalidRequest("chat (a phone number or JID) is required") }
            if text.hasSuffix("@g.us") { return text }
            return try userChat(text).description
        }
        func flag(_ fallback: Bool = true) throws(WauseError) -> Bool {
            guard let value = body["value"], !value.isNull else { return fallback }
            guard let bool = value.boolValue else { throw .invalidRequest("value must be true or false for \(name)") }
            return bool
        }
        func message() throws(WauseError) -> AppStateAction.MessageRef {
            guard let id = body["message_id"]?.stringValue, !id.isEmpty else { throw .invalidRequest("message_id is required for \(name)") }
            if let fromMe = body["from_me"], !fromMe.isNull, fromMe.boolValue == nil { throw .invalidRequest("from_me must be true or false") }
            return .init(chat: try chat(), id: id, fromMe: body["from_me"]?.boolValue ?? false, participant: body["participant"]?.stringValue)
        }
        func labelID() throws(WauseError) -> String {
            guard let id = body["label_id"]?.stringValue, !id.isEmpty else { throw .invalidRequest("label_id is required for \(name)") }
            return id
        }
        func int32(_ key: String) throws(WauseError) -> Int32? {
            guard let value = body[key], !value.isNull else { return nil }
            guard let number = value.intValue, let small = Int32(exactly: number) else { throw .invalidRequest("\(key) must be an integer") }
            return small
        }
        switch name {
        case "label_edit":
            let deleted = body["deleted"]?.boolValue ?? false
            if let given = body["deleted"], !given.isNull, given.boolValue == nil { throw .invalidRequest("deleted must be true or false") }
            let label = body["value"]?.stringValue ?? ""
            guard !label.isEmpty || deleted else { throw .invalidRequest("value (the label's name) is required") }
            return .labelEdit(.init(id: try labelID(), name: label, color: try int32("color"), predefinedID: try int32("predefined_id"),
                                    deleted: deleted))
        case "label_chat": return .labelChat(labelID: try labelID(), chat: try chat(), labeled: try flag())
        case "label_message": return .labelMessage(labelID: try labelID(), try message(), labeled: try flag())
        case "archive": return .archive(chat: try chat(), archived: try flag())
        case "pin": return .pin(chat: try chat(), pinned: try flag())
        case "mute":
            // value: true (forever), false (unmute) or the end as unix milliseconds.
            if let until = body["value"]?.intValue {
                guard until > 0 || until == -1 else { throw .invalidRequest("a mute end must be unix milliseconds, or -1 for always") }
                return .mute(chat: try chat(), until: until)
            }
            return .mute(chat: try chat(), until: try flag() ? -1 : nil)
        case "star": return .star(try message(), starred: try flag())
        case "mark_read": return .markRead(chat: try chat(), read: try flag())
        case "mark_unread": return .markRead(chat: try chat(), read: !(try flag()))
        case "delete_message": return .deleteMessageForMe(try message(), deleteMedia: false)
        case "clear_chat": return .clearChat(chat: try chat())
        case "delete_chat": return .deleteChat(chat: try chat(), deleteMedia: false)
        case "contact":
            guard let full = body["value"]?.stringValue, !full.isEmpty else { throw .invalidRequest("value (the contact's name) is required") }
            return .contact(jid: try chat(), fullName: full, firstName: full.split(separator: " ").first.map(String.init))
        case "push_name":
            guard let pushName = body["value"]?.stringValue, !pushName.isEmpty else { throw .invalidRequest("value (the push name) is required") }
            return .pushName(pushName)
        default:
            throw .invalidRequest("unknown action \(name)", details: ["action": .string(name)])
        }
    }
}
