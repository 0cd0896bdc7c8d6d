import WauseBinary
import WauseProtocol
import WauseSupport

/// Presence and typing (issue 14; whatsmeow presence.go; PresenceStanzas.swift, ChatStateStanzas.swift):
/// `whatsapp_set_presence` (ours, with the push name both reference clients require), `whatsapp_subscribe_presence`
/// (a contact's, with their privacy token when we hold one), `whatsapp_send_typing`; incoming `<presence>` becomes
/// `presence.changed` and `<chatstate>` `typing.started` / `typing.stopped`, naming people by phone JID when known.
enum Presence {
    static let toolset = UserLookup.toolset

    static let setPresence = MethodDefinition(
        name: "whatsapp_set_presence",
        title: "Set this account's WhatsApp presence",
        description: """
            Appear online (available) or offline (unavailable) to contacts who follow our presence. Needs a push name \
            (config push_name, or the one kept at linking): WhatsApp refuses presence without one.
            """,
        inputSchema: Schema.object([("state", Schema.string("available or unavailable", enumeration: PresenceStanzas.State.allCases.map(\.rawValue)))],
                                   required: ["state"]),
        outputSchema: Schema.object([("ok", Schema.boolean()), ("state", Schema.string())], required: ["ok", "state"]),
        annotations: MethodAnnotations(readOnly: false, destructive: false, idempotent: true, openWorld: true),
        handler: { context, arguments throws(WauseError) in try await setPresence(context: context, arguments: arguments) }
    )

    static let sendTyping = MethodDefinition(
        name: "whatsapp_send_typing",
        title: "Show typing in a WhatsApp chat",
        description: """
            Show the other side of a chat that we are typing (composing), recording a voice note (recording), or \
            stopped (paused). WhatsApp clears the indicator by itself after a while; send paused to clear it at once.
            """,
        inputSchema: Schema.object([
            ("to", Schema.string("recipient: phone number, JID, LID, contact or group name, or group JID", minLength: 1)),
            ("state", Schema.string("composing, recording or paused", enumeration: ChatStateStanza.State.allCases.map(\.rawValue))),
        ], required: ["to", "state"]),
        outputSchema: Schema.object([("ok", Schema.boolean()), ("chat_id", Schema.string()), ("state", Schema.string())],
                                    required: ["ok", "chat_id", "state"]),
        annotations: MethodAnnotations(readOnly: false, destructive: false, idempotent: true, openWorld: true),
        handler: { context, arguments throws(WauseError) in try await sendTyping(context: context, arguments: arguments) }
    )

    static let subscribe = MethodDefinition(
        name: "whatsapp_subscribe_presence",
        title: "Follow a contact's WhatsApp presence",
        description: """
            Ask WhatsApp to tell us when a contact comes online or goes offline: presence.changed events follow (the \
            first one at once, with their current state), for as long as this connection lasts — subscribe again after \
            a reconnect. Contacts who hide their presence send none.
            """,
        inputSchema: Schema.object([("contact", Schema.string("phone number, JID, LID or contact name", minLength: 1))], required: ["contact"]),
        outputSchema: Schema.object([("ok", Schema.boolean()), ("contact", Schema.string("the JID subscribed to"))], required: ["ok", "contact"]),
        annotations: MethodAnnotations(readOnly: false, destructive: false, idempotent: true, openWorld: true),
        handler: { context, arguments throws(WauseError) in try await subscribePresence(context: context, arguments: arguments) }
    )

    static let all = [
        setPresence.bindings(positional: ["state"]).raising(.whatsappNotPaired, .notConnected).inToolset(toolset)
            .summarized("Appear online (available) or offline (unavailable)."),
        sendTyping.bindings(positional: ["to", "state"]).raising(.notFound, .ambiguousRecipient, .whatsappNotPaired, .notConnected)
            .inToolset(toolset).summarized("Show composing, recording or paused in a chat."),
        subscribe.bindings(positional: ["contact"]).raising(.notFound, .ambiguousRecipient, .whatsappNotPaired, .notConnected)
            .inToolset(toolset).summarized("Follow a contact's online/offline state (presence.changed events)."),
    ]

    /// Sends a stanza that has no answer on the logged-in connection.
    static func send(_ context: MethodContext, _ node: Node) async throws(WauseError) {
        guard try context.store.linkedAccount() != nil else {
            throw WauseError(.whatsappNotPaired, "this device is not linked to WhatsApp; link it with whatsapp_start_auth or whatsapp_pairing_code")
        }
        try await Groups.readySession(context, wait: Groups.readyWait).connection.send(node)
    }

    static func setPresence(context: MethodContext, arguments: JSONObject) async throws(WauseError) -> JSONObject {
        guard let state = arguments["state"]?.stringValue.flatMap(PresenceStanzas.State.init) else {
            throw .invalidRequest("state must be available or unavailable")
        }
        guard let account = try context.store.linkedAccount() else {
            throw WauseError(.whatsappNotPaired, "this device is not linked to WhatsApp; link it with whatsapp_start_auth or whatsapp_pairing_code")
        }
        guard let name = context.config.pushName ?? account.pushName, !name.isEmpty else {
            throw .invalidRequest("a push name is required to send presence (WhatsApp refuses it without one): set the config key push_name")
        }
        try await send(context, PresenceStanzas.own(state, name: name))
        return ["ok": true, "state": .string(state.rawValue)]
    }

    static func sendTyping(context: MethodContext, arguments: JSONObject) async throws(WauseError) -> JSONObject {
        guard let state = arguments["state"]?.stringValue.flatMap(ChatStateStanza.State.init) else {
            throw .invalidRequest("state must be composing, recording or paused")
        }
        let now = context.environment.now()
        guard let chat = JID(try Recipients.chatJID(arguments["to"]?.stringValue ?? "", store: context.store, now: now)) else {
            throw .internal("a resolved chat is not a JID")
        }
        try await send(context, ChatStateStanza(chat: chat, state: state).outgoing)
        return ["ok": true, "chat_id": .string(chat.description), "state": .string(state.rawValue)]
    }

    static func subscribePresence(context: MethodContext, arguments: JSONObject) async throws(WauseError) -> JSONObject {
        let contact = try Recipients.resolve(arguments["contact"]?.stringValue ?? "", store: context.store, now: context.environment.now())
        guard let user = JID(contact.chatJID) else { throw .internal("a contact's chat is not a JID") }
        let token = try context.store.privacyToken(for: user)?.token
        try await send(context, PresenceStanzas.subscribe(to: user, token: token))
        return ["ok": true, "contact": .string(user.description)]
    }
}

/// Incoming `<presence>` and `<chatstate>` on a logged-in connection (neither is acked: whatsmeow presence.go
/// handlePresence, handleChatState), announced as events.
struct PresenceUpdates: Sendable {
    let store: Store
    let logger: Logger
    let publisher: EventPublisher

    func route(_ router: inout StanzaRouter) {
        router.on(.tag("presence")) { [self] node, _ in presence(node) }
        router.on(.tag("chatstate")) { [self] node, _ in chatState(node) }
    }

    /// A user JID in the form our chats use: the phone JID when the LID's number is known.
    func person(_ jid: JID) -> String {
        let bare = JID(user: jid.user, server: jid.server)
        if bare.server == .lid, let phone = try? store.phone(ofLID: bare.user) { return JID(user: phone, server: .whatsApp).description }
        return bare.description
    }

    func presence(_ node: Node) {
        guard let update = PresenceStanzas.Update(parsing: node) else {
            logger.info("presence not understood: \(node.tag) type=\(node[attribute: "type"] ?? "none")")
            return
        }
        var data: JSONObject = ["contact": .string(person(update.from)), "state": .string(update.state.rawValue)]
        data["last_seen"] = update.lastSeen.map { .string(UnixTime(seconds: $0).iso8601) } ?? .null
        publisher.publish(.presenceChanged, data)
    }

    func chatState(_ node: Node) {
        guard let stanza = ChatStateStanza(parsing: node) else {
            logger.info("chatstate not understood")
            return
        }
        let chat = stanza.chat.server == .group ? stanza.chat.description : person(stanza.chat)
        let from = stanza.participant.map(person) ?? chat
        if stanza.state == .paused {
            publisher.publish(.typingStopped, ["chat": .string(chat), "from": .string(from)])
        } else {
            publisher.publish(.typingStarted, ["chat": .string(chat), "from": .string(from),
                                               "media": stanza.state == .recording ? "audio" : .null])
        }
    }
}
