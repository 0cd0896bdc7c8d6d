import WauseBinary
import WauseHTTP
import WauseProto
import WauseProtocol
import WauseSQLite
import WauseSupport

// Virtual phones quoting and reacting (issue 14 "wause-sim": `quoted_message_id` on send and
// `POST /accounts/{phone}/react`), kept apart from VirtualPhones.swift so each stays small.

extension VirtualPhones {
    /// The message `id` as the phone knows it: the chat it is in and whether the phone sent it.
    /// Messages it received come from its inbox, its own from what it sent.
    func knownMessage(phone: String, id: String) throws(WauseError) -> (chat: JID, fromMe: Bool) {
        if let received = try state.receivedMessages(phone: phone, ids: [id]).first, let chat = JID(received.chat) {
            return (JID(user: chat.user, server: chat.server), false)
        }
        if let sent = try state.sentByPhone(phone: phone, messageID: id) { return (sent.chat, true) }
        throw WauseError(.notFound, "phone \(phone) has no message \(id)", details: ["message_id": .string(id)])
    }

    /// A text as an ExtendedTextMessage: a reply quoting message `quotedID` (ContextInfo
    /// stanzaId, participant = the quoted message's sender — whatsmeow and Baileys build replies
    /// this way), and/or marked forwarded (ContextInfo isForwarded, forwardingScore).
    func sendExtended(from account: SimAccount, to chat: JID, text: String, quotedID: String?,
                      forwarded: Bool) throws(WauseError) -> (id: String, t: Int64) {
        var message = WAWebProtobufsE2E_Message()
        var extended = WAWebProtobufsE2E_ExtendedTextMessage()
        extended.text = text
        if let quotedID {
            let quoted = try knownMessage(phone: account.phone, id: quotedID)
            extended.contextInfo.stanzaID = quotedID
            extended.contextInfo.participant = quoted.fromMe ? "\(account.phone)@s.whatsapp.net" : chat.description
        }
        if forwarded {
            extended.contextInfo.isForwarded = true
            extended.contextInfo.forwardingScore = 1
        }
        message.extendedTextMessage = extended
        return try send(from: account, to: chat, message: message, stanzaType: "text", autoReply: false)
    }

    /// A reaction (ReactionMessage: key of the message reacted to, the emoji, empty to remove,
    /// and the sender's time in ms) sent to the chat the message is in.
    func react(from account: SimAccount, messageID: String, emoji: String) throws(WauseError) -> (id: String, t: Int64, chat: JID) {
        let target = try knownMessage(phone: account.phone, id: messageID)
        var message = WAWebProtobufsE2E_Message()
        var reaction = WAWebProtobufsE2E_ReactionMessage()
        reaction.key.remoteJid = target.chat.description
        reaction.key.fromMe = target.fromMe
        reaction.key.id = messageID
        reaction.text = emoji
        reaction.senderTimestampMs = environment.now().milliseconds
        message.reactionMessage = reaction
        let sent = try send(from: account, to: target.chat, message: message, stanzaType: "reaction", autoReply: false)
        return (sent.id, sent.t, target.chat)
    }
}

extension AdminAPI {
    /// `POST /accounts/{phone}/react {message_id, emoji}`: the phone reacts to a message of its
    /// chats (an empty emoji removes its reaction). 200 `{ok, message_id, timestamp, to}`.
    func react(_ account: SimAccount, body: JSONObject) throws(WauseError) -> HTTPResponse {
        guard let messageID = body["message_id"]?.stringValue, !messageID.isEmpty else {
            throw .invalidRequest("message_id (the message to react to) is required")
        }
        guard let emoji = body["emoji"]?.stringValue else { throw .invalidRequest("emoji (a string; empty removes) is required") }
        let sent = try phones.react(from: account, messageID: messageID, emoji: emoji)
        return .json(200, [
            "ok": true, "message_id": .string(sent.id), "timestamp": .string(ISO8601.string(fromUnixMilliseconds: sent.t * 1000)),
            "to": .string(sent.chat.description), "from": .string(account.jid),
        ])
    }
}
