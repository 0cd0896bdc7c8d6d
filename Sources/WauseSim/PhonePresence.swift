import WauseBinary
import WauseHTTP
import WauseProtocol
import WauseSupport

/// Presence and typing between virtual phones and linked devices (issue 14; whatsmeow presence.go). A companion's
/// `<presence type="subscribe" to>` is remembered and answered at once with the account's current presence;
/// `PUT /accounts/{phone}/presence` tells every subscriber (in the form it subscribed by, phone or LID JID).
/// A companion's `<chatstate to>` goes to the addressee's companions as `<chatstate from>` (in a group, to every other
/// member's, with `participant`), and `POST /accounts/{phone}/typing` has a phone do the same. What companions tell a phone (their own
/// presence, their typing to it) is kept for `GET /accounts/{phone}/presence`: the phone has no screen.
struct PresenceRelay: Sendable {
    let state: SimState
    let connections: SimConnections
    let logger: Logger

    private var now: Int64 { state.clock().seconds }

    /// Sends `node` to every live connection of the account's companions.
    private func push(_ node: Node, toCompanionsOf account: SimAccount) throws(WauseError) {
        for device in try state.devices(phone: account.phone) {
            for link in connections.links(phone: account.phone, device: device.device) { link.sendNow(node) }
        }
    }

    private func update(for account: SimAccount, namedAs: JID) throws(WauseError) -> Node? {
        guard let profile = try state.profile(phone: account.phone) else { return nil }
        let from = namedAs.server == .lid ? JID(user: account.lid, server: .lid) : JID(user: account.phone, server: .whatsApp)
        return PresenceStanzas.Update(from: from, state: profile.presence, lastSeen: profile.presence == .unavailable ? profile.lastSeen : nil).node
    }

    /// A companion subscribes to `target`: remembered, and told the current presence now.
    func subscribe(_ subscriber: SimEndpoint, to target: JID) throws(WauseError) {
        guard let account = try state.account(jid: target) else {
            logger.info("presence subscribe to unknown \(target) ignored")
            return
        }
        let named = JID(user: target.user, server: target.server)
        try state.subscribe(device: subscriber, to: account, namedAs: named)
        if let node = try update(for: account, namedAs: named) {
            for link in connections.links(phone: subscriber.account.phone, device: subscriber.device) { link.sendNow(node) }
        }
    }

    /// The phone's presence changed: stored, and every subscriber told.
    func setPresence(_ account: SimAccount, _ presence: PresenceStanzas.State) throws(WauseError) -> SimProfile {
        guard var profile = try state.profile(phone: account.phone) else { throw WauseError(.notFound, "no account \(account.phone)") }
        profile.presence = presence
        if presence == .unavailable { profile.lastSeen = now }
        try state.setProfile(phone: account.phone, profile)
        for subscriber in try state.subscribers(of: account.phone) {
            guard let node = try update(for: account, namedAs: subscriber.namedAs) else { continue }
            for link in connections.links(phone: subscriber.phone, device: subscriber.device) { link.sendNow(node) }
        }
        return profile
    }

    /// `sender` types to `chat` (a user JID): the addressee's companions are told, and its phone keeps it.
    /// The chat they see is the sender in the addressing form the sender used.
    func chatState(from sender: SimAccount, to chat: JID, _ kind: ChatStateStanza.State) throws(WauseError) -> Bool {
        guard let addressee = try state.account(jid: chat) else { return false }
        let from = chat.server == .lid ? JID(user: sender.lid, server: .lid) : JID(user: sender.phone, server: .whatsApp)
        try push(ChatStateStanza(chat: from, state: kind).delivered, toCompanionsOf: addressee)
        try state.recordActivity(phone: addressee.phone, kind: "typing", from: from, state: kind.rawValue, at: now)
        return true
    }

    /// `sender` types in a group it is in: every other member's companions get `<chatstate from=group participant=sender>`
    /// (the sender in the group's addressing form), and their phones keep it. False when there is no such group or the
    /// sender is not in it.
    func groupChatState(from sender: SimAccount, group id: String, _ kind: ChatStateStanza.State) throws(WauseError) -> Bool {
        guard let group = try state.group(id: id), group.member(sender.phone) != nil else { return false }
        let participant = group.userJID(sender)
        let node = ChatStateStanza(chat: group.jid, participant: participant, state: kind).delivered
        for member in group.members where member.account.phone != sender.phone {
            try push(node, toCompanionsOf: member.account)
            try state.recordActivity(phone: member.account.phone, kind: "typing", from: participant, state: kind.rawValue, at: now)
        }
        return true
    }

    /// A companion's own presence: its phone keeps it.
    func companionPresence(_ device: SimEndpoint, _ presence: PresenceStanzas.State) throws(WauseError) {
        try state.recordActivity(phone: device.account.phone, kind: "presence", from: device.jid(.whatsApp), state: presence.rawValue,
                                 at: now)
    }
}

extension ChatEndpoint {
    /// A logged-in companion's `<presence>` or `<chatstate>` (no answer: neither is acked, whatsmeow presence.go).
    func presenceStanza(_ node: Node, from device: SimDevice) throws {
        guard let account = try state.account(phone: device.phone) else { return }
        let relay = PresenceRelay(state: state, connections: connections, logger: logger)
        let sender = SimEndpoint(account: account, device: device.device)
        if node.tag == "chatstate" {
            guard let stanza = ChatStateStanza(parsing: node) else {
                logger.info("\(device.jid): chatstate not understood: \(node)")
                return
            }
            let relayed = stanza.chat.server == .group
                ? try relay.groupChatState(from: account, group: stanza.chat.user, stanza.state)
                : try relay.chatState(from: account, to: JID(user: stanza.chat.user, server: stanza.chat.server), stanza.state)
            if !relayed { logger.info("\(device.jid): chatstate to \(stanza.chat) not relayed: no such account or group") }
            return
        }
        switch PresenceStanzas.Request(parsing: node) {
        case .subscribe(let target)?: try relay.subscribe(sender, to: target)
        case .own(let presence, _)?: try relay.companionPresence(sender, presence)
        case nil: logger.info("\(device.jid): presence not understood: \(node)")
        }
    }
}

/// The admin routes (tests/sim/README.md): `PUT /accounts/{phone}/presence {state}`, `GET` the same path
/// (profile, subscribers and what companions told the phone), `POST /accounts/{phone}/typing {to, state}`,
/// `PUT /accounts/{phone}/profile {about?, business?, picture_base64?}` (`GET` answers the profile).
extension AdminAPI {
    /// Largest profile picture accepted (WhatsApp's full-size pictures are 640×640 JPEGs, well under this).
    static let maximumPictureSize = 2 * 1024 * 1024

    func presenceRoute(_ request: HTTPRequest, parts: [String]) throws(WauseError) -> HTTPResponse? {
        guard parts.count == 3, parts[0] == "accounts", ["presence", "typing", "profile"].contains(parts[2]) else { return nil }
        let allowed = parts[2] == "typing" ? ["POST"] : ["GET", "PUT"]
        guard allowed.contains(request.method) else {
            return .json(405, ["code": "invalid_request", "message": .string("\(request.method) is not allowed on \(request.path)")],
                         headers: [("Allow", allowed.joined(separator: ", "))])
        }
        let account = try existingAccount(parts[1])
        let relay = PresenceRelay(state: state, connections: connections, logger: phones.logger)
        switch (parts[2], request.method) {
        case ("typing", _):
            let body = try AdminAPI.body(request)
            guard let to = body["to"]?.stringValue, !to.isEmpty else { throw .invalidRequest("to (a phone number or user JID) is required") }
            guard let kind = body["state"]?.stringValue.flatMap(ChatStateStanza.State.init) else {
                throw .invalidRequest("state must be composing, recording or paused")
            }
            if to.hasSuffix("@g.us") {
                let id = try AdminAPI.groupID(to)
                guard try relay.groupChatState(from: account, group: id, kind) else {
                    throw WauseError(.notFound, "\(account.phone) is in no group \(id)@g.us")
                }
                return .json(200, ["ok": true, "from": .string(account.jid), "to": .string("\(id)@g.us"), "state": .string(kind.rawValue)])
            }
            let chat = try AdminAPI.userChat(to)
            guard try relay.chatState(from: account, to: chat, kind) else { throw WauseError(.notFound, "\(chat) is not an account here") }
            return .json(200, ["ok": true, "from": .string(account.jid), "to": .string(chat.description), "state": .string(kind.rawValue)])
        case ("presence", "PUT"):
            let body = try AdminAPI.body(request)
            guard let presence = body["state"]?.stringValue.flatMap(PresenceStanzas.State.init) else {
                throw .invalidRequest("state must be available or unavailable")
            }
            let profile = try relay.setPresence(account, presence)
            return .json(200, ["ok": true, "phone": .string(account.phone), "state": .string(presence.rawValue),
                               "last_seen": profile.lastSeen.map { .int($0) } ?? .null])
        case ("presence", _):
            guard let profile = try state.profile(phone: account.phone) else { throw WauseError(.notFound, "no account \(account.phone)") }
            return .json(200, [
                "phone": .string(account.phone), "state": .string(profile.presence.rawValue),
                "last_seen": profile.lastSeen.map { .int($0) } ?? .null,
                "subscribers": .array(try state.subscribers(of: account.phone).map { .string("\($0.phone):\($0.device)@s.whatsapp.net") }),
                "activity": .array(try state.activity(phone: account.phone)),
            ])
        case ("profile", "PUT"):
            return .json(200, try setProfile(account, body: try AdminAPI.body(request)))
        default:
            guard let profile = try state.profile(phone: account.phone) else { throw WauseError(.notFound, "no account \(account.phone)") }
            var answer = profile.json.objectValue ?? [:]
            answer["phone"] = .string(account.phone)
            return .json(200, .object(answer))
        }
    }

    /// Each field given replaces the stored one; `picture_base64` "" removes the picture. Nothing is stored
    /// when any field is bad.
    private func setProfile(_ account: SimAccount, body: JSONObject) throws(WauseError) -> JSONValue {
        guard var profile = try state.profile(phone: account.phone) else { throw WauseError(.notFound, "no account \(account.phone)") }
        if let about = body["about"], !about.isNull {
            guard let text = about.stringValue, text.unicodeScalars.count <= 139 else {
                throw .invalidRequest("about must be a string of at most 139 characters (WhatsApp's limit)")
            }
            profile.about = text
            profile.aboutSetAt = state.clock().seconds
        }
        if let business = body["business"], !business.isNull {
            guard let flag = business.boolValue else { throw .invalidRequest("business must be true or false") }
            profile.business = flag
        }
        if let picture = body["picture_base64"], !picture.isNull {
            guard let text = picture.stringValue, let bytes = Base64.decode(text) else { throw .invalidRequest("picture_base64 must be base64") }
            if bytes.isEmpty {
                profile.pictureID = nil
                profile.picturePath = nil
            } else {
                guard bytes.count <= AdminAPI.maximumPictureSize else {
                    throw .invalidRequest("picture_base64 is over \(AdminAPI.maximumPictureSize) bytes")
                }
                // A profile picture is a JPEG (whatsmeow user.go SetGroupPhoto: "must be JPEG"); PNG is accepted for tests' convenience.
                guard bytes.starts(with: [0xFF, 0xD8, 0xFF]) || bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) else {
                    throw .invalidRequest("picture_base64 must hold a JPEG or PNG image")
                }
                profile.picturePath = try media.store(bytes)
                // WhatsApp's picture ids are decimal numbers that change with every new picture.
                profile.pictureID = String(state.clock().milliseconds)
            }
        }
        try state.setProfile(phone: account.phone, profile)
        var answer = profile.json.objectValue ?? [:]
        answer["ok"] = true
        answer["phone"] = .string(account.phone)
        return .object(answer)
    }
}
