import WauseBinary

/// Presence (whatsmeow presence.go SendPresence, SubscribePresence, handlePresence; Baileys src/Socket/chats.ts
/// sendPresenceUpdate, presenceSubscribe): a client says it is `<presence type="available|unavailable" name=…/>`
/// (both reference clients refuse without a push name), asks for a contact's with
/// `<presence type="subscribe" to=…>[<tctoken>]</presence>`, and the server tells subscribers
/// `<presence from=… [type="unavailable"] [last=<unix>|"deny"]/>` (no type: available).
public enum PresenceStanzas {
    public enum State: String, Sendable, CaseIterable {
        case available, unavailable
    }

    /// Our own presence.
    public static func own(_ state: State, name: String) -> Node {
        // Baileys strips '@' from the name: the server refuses it there.
        Node(tag: "presence", attributes: ["type": .text(state.rawValue), "name": .text(name.filter { $0 != "@" })])
    }

    /// Ask to be told a user's presence; the privacy token is attached when we hold one (whatsmeow does).
    public static func subscribe(to user: JID, token: [UInt8]?) -> Node {
        Node(tag: "presence", attributes: ["type": "subscribe", "to": .jid(user)],
             content: token.map { .nodes([Node(tag: "tctoken", bytes: $0)]) } ?? .none)
    }

    /// What a client sent, as the server reads it.
    public enum Request: Equatable, Sendable {
        case own(State, name: String?)
        case subscribe(JID)

        public init?(parsing node: Node) {
            guard node.tag == "presence" else { return nil }
            switch node[attribute: "type"] {
            case "subscribe":
                guard let to = node.jid("to") ?? node[attribute: "to"].flatMap(JID.init) else { return nil }
                self = .subscribe(to)
            case let type?:
                guard let state = State(rawValue: type) else { return nil }
                self = .own(state, name: node[attribute: "name"])
            case nil:
                self = .own(.available, name: node[attribute: "name"])
            }
        }
    }

    /// A user's presence, as the server tells a subscriber.
    public struct Update: Equatable, Sendable {
        public var from: JID
        public var state: State
        /// When they were last seen (unix seconds); nil when unknown or hidden (`last="deny"`).
        public var lastSeen: Int64?

        public init(from: JID, state: State, lastSeen: Int64?) {
            self.from = from
            self.state = state
            self.lastSeen = lastSeen
        }

        public init?(parsing node: Node) {
            guard node.tag == "presence", let from = node.jid("from") ?? node[attribute: "from"].flatMap(JID.init) else { return nil }
            switch node[attribute: "type"] {
            case nil, "available": state = .available
            case "unavailable": state = .unavailable
            default: return nil
            }
            self.from = from
            lastSeen = node[attribute: "last"].flatMap { Int64($0) }
        }

        public var node: Node {
            var attributes: Attributes = ["from": .jid(from)]
            if state == .unavailable { attributes.append(Attribute(name: "type", value: "unavailable")) }
            if let lastSeen { attributes.append(Attribute(name: "last", value: .text(String(lastSeen)))) }
            return Node(tag: "presence", attributes: attributes)
        }
    }
}
