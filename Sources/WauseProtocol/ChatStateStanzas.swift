import WauseBinary

/// Typing indicators (whatsmeow presence.go SendChatPresence, handleChatState; Baileys src/Socket/chats.ts
/// sendPresenceUpdate): `<chatstate to=chat><composing [media="audio"]/></chatstate>` or `<paused/>` from a
/// client; the server hands it on as `<chatstate from=chat [participant=member]>…` to the chat's other side.
/// "Recording" is composing with `media="audio"`.
public struct ChatStateStanza: Equatable, Sendable {
    public enum State: String, Sendable, CaseIterable {
        case composing, recording, paused
    }

    /// The chat: the addressee when a client sends it, the sender (or group) when the server delivers it.
    public var chat: JID
    /// The member typing, in a group chat (server to client only).
    public var participant: JID?
    public var state: State

    public init(chat: JID, participant: JID? = nil, state: State) {
        self.chat = chat
        self.participant = participant
        self.state = state
    }

    /// What a client sends.
    public var outgoing: Node { node(chatAttribute: "to") }

    /// What the server delivers.
    public var delivered: Node { node(chatAttribute: "from") }

    private func node(chatAttribute: String) -> Node {
        var attributes: Attributes = [chatAttribute: .jid(chat)]
        if let participant { attributes.append(Attribute(name: "participant", value: .jid(participant))) }
        let child = state == .paused ? Node(tag: "paused")
            : Node(tag: "composing", attributes: state == .recording ? ["media": "audio"] : [:])
        return Node(tag: "chatstate", attributes: attributes, children: [child])
    }

    /// Reads either direction: the chat is `to` (from a client) or `from` (from the server).
    public init?(parsing node: Node) {
        guard node.tag == "chatstate", let chat = node.jid("from") ?? node.jid("to")
            ?? (node[attribute: "from"] ?? node[attribute: "to"]).flatMap(JID.init),
            let child = node.children.first
        else { return nil }
        switch child.tag {
        case "composing": state = child[attribute: "media"] == "audio" ? .recording : .composing
        case "paused": state = .paused
        default: return nil
        }
        self.chat = chat
        participant = node.jid("participant") ?? node[attribute: "participant"].flatMap(JID.init)
    }
}
