import WauseBinary
import WauseProto

/// A change to an earlier message, as both sides of the wire build and read it: a reaction
/// (empty emoji removes it), an edit of one's own text, or a revoke ("delete for everyone").
/// Shapes as whatsmeow send.go `BuildReaction`, `BuildEdit`, `BuildRevoke` and `BuildMessageKey`;
/// the `<message>`'s `type` and `edit` attributes as its `getTypeFromMessage` and
/// `getEditAttribute`, and `decrypt-fail="hide"` as its `sendDM`/`sendGroup` set them.
public enum MessageChange: Sendable, Equatable {
    case reaction(Target, emoji: String, at: Int64)
    case edit(Target, newText: String, at: Int64)
    case revoke(Target)

    /// The message changed: its id, the chat as the changer names it, whether the changer wrote
    /// it (`MessageKey.fromMe`), and in a group its author when that is someone else.
    public struct Target: Sendable, Equatable {
        public var id: String
        public var chat: String
        public var fromMe: Bool
        public var participant: String?

        public init(id: String, chat: String, fromMe: Bool, participant: String? = nil) {
            self.id = id
            self.chat = chat
            self.fromMe = fromMe
            self.participant = participant
        }

        var key: WAWebProtobufsE2E_MessageKey {
            var key = WAWebProtobufsE2E_MessageKey()
            key.remoteJid = chat
            key.fromMe = fromMe
            key.id = id
            if let participant { key.participant = participant }
            return key
        }

        init(_ key: WAWebProtobufsE2E_MessageKey) {
            self.init(id: key.id, chat: key.remoteJid, fromMe: key.fromMe, participant: key.hasParticipant ? key.participant : nil)
        }
    }

    /// whatsmeow types `EditAttribute`: "1" an edit, "7" the sender's revoke (also a removed
    /// reaction), "8" an admin's revoke of someone else's message.
    public enum EditAttribute: String, Sendable {
        case messageEdit = "1"
        case senderRevoke = "7"
        case adminRevoke = "8"
    }

    public var target: Target {
        switch self {
        case .reaction(let target, _, _), .edit(let target, _, _), .revoke(let target): return target
        }
    }

    /// The message that carries the change.
    public var message: WAWebProtobufsE2E_Message {
        var message = WAWebProtobufsE2E_Message()
        switch self {
        case .reaction(let target, let emoji, let at):
            message.reactionMessage.key = target.key
            message.reactionMessage.text = emoji
            message.reactionMessage.senderTimestampMs = at
        case .edit(let target, let newText, let at):
            var inner = WAWebProtobufsE2E_Message()
            inner.protocolMessage.key = target.key
            inner.protocolMessage.type = .messageEdit
            inner.protocolMessage.editedMessage.conversation = newText
            inner.protocolMessage.timestampMs = at
            message.editedMessage.message = inner
        case .revoke(let target):
            message.protocolMessage.key = target.key
            message.protocolMessage.type = .revoke
        }
        return message
    }

    /// The change a message carries, if it is one (after the containers a device-sent copy and
    /// disappearing messages add); nil for anything else.
    public init?(_ message: WAWebProtobufsE2E_Message) {
        var current = message
        for _ in 0..<3 {
            if current.hasDeviceSentMessage { current = current.deviceSentMessage.message; continue }
            if current.hasEphemeralMessage { current = current.ephemeralMessage.message; continue }
            break
        }
        if current.hasReactionMessage, current.reactionMessage.hasKey {
            let reaction = current.reactionMessage
            self = .reaction(Target(reaction.key), emoji: reaction.text, at: reaction.senderTimestampMs)
            return
        }
        // An edit arrives wrapped in `editedMessage` (whatsmeow BuildEdit) or, from older clients, as a bare protocol message.
        let protocolMessage = current.hasEditedMessage && current.editedMessage.message.hasProtocolMessage
            ? current.editedMessage.message.protocolMessage : current.protocolMessage
        guard current.hasProtocolMessage || current.hasEditedMessage, protocolMessage.hasKey else { return nil }
        switch protocolMessage.type {
        case .messageEdit:
            guard protocolMessage.hasEditedMessage, let text = MessageFormat.text(of: protocolMessage.editedMessage)?.body else { return nil }
            self = .edit(Target(protocolMessage.key), newText: text, at: protocolMessage.timestampMs)
        case .revoke:
            self = .revoke(Target(protocolMessage.key))
        default:
            return nil
        }
    }

    /// The `<message type>`: `reaction` for reactions, `text` for edits and revokes.
    public var stanzaType: String {
        if case .reaction = self { return "reaction" }
        return "text"
    }

    /// The `<message edit>` attribute (whatsmeow `getEditAttribute`): a removed reaction counts as the sender's revoke.
    public var editAttribute: EditAttribute? {
        switch self {
        case .reaction(_, let emoji, _): return emoji.isEmpty ? .senderRevoke : nil
        case .edit: return .messageEdit
        case .revoke(let target): return target.fromMe ? .senderRevoke : .adminRevoke
        }
    }

    /// Every change is sent with `decrypt-fail="hide"` on its `<enc>`: a device that cannot
    /// decrypt it shows no "waiting for this message" placeholder (whatsmeow send.go).
    public static let decryptFailHide = "hide"
}
