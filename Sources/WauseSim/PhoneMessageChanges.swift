import FoundationEssentials
import WauseBinary
import WauseHTTP
import WauseProto
import WauseProtocol
import WauseSQLite
import WauseSupport
import WauseTransport

/// A virtual phone reacts to, edits, revokes and votes (issue 14), with the shapes of
/// WauseProtocol's `MessageChange`, `PollMessage` and `PollVoteCrypto` — the ones the engine
/// uses — and shows in its inbox (`change`) the changes, polls and decrypted votes it receives.
extension VirtualPhones {
    /// The `<message type>` and `edit` attribute of what a phone sends (whatsmeow send.go getTypeFromMessage, getEditAttribute).
    static func stanzaAttributes(of message: WAWebProtobufsE2E_Message) -> (type: String, edit: String?) {
        if PollMessage.pollType(of: message) != nil { return ("poll", nil) }
        if let change = MessageChange(message) { return (change.stanzaType, change.editAttribute?.rawValue) }
        // whatsmeow send.go getTypeFromMessage: files, places and contact cards go as "media".
        if message.hasImageMessage || message.hasVideoMessage || message.hasAudioMessage || message.hasDocumentMessage
            || message.hasStickerMessage || message.hasLocationMessage || message.hasContactMessage || message.hasContactsArrayMessage {
            return ("media", nil)
        }
        return ("text", nil)
    }

    /// A message a phone has, as it received or sent it: where it is, who wrote it (by the JID it came
    /// from), and its decrypted content.
    struct KnownMessage {
        var chat: JID
        var author: JID
        var fromMe: Bool
        var content: WAWebProtobufsE2E_Message?
    }

    func knownMessage(of account: SimAccount, id: String, _ c: SQLiteConnection) throws(WauseError) -> KnownMessage? {
        if let row = try c.query("SELECT chat, payload FROM phone_sent WHERE phone = ? AND message_id = ?", [.text(account.phone), .text(id)]).first,
            let chat = row["chat"].text.flatMap(JID.init) {
            let own = JID(user: chat.server == .lid ? account.lid : account.phone, server: chat.server == .lid ? .lid : .whatsApp)
            return KnownMessage(chat: chat, author: own, fromMe: true,
                                content: row["payload"].blob.flatMap { try? WAWebProtobufsE2E_Message(serializedBytes: $0) })
        }
        guard let row = try c.query("SELECT chat, from_jid, author, raw FROM inbox WHERE phone = ? AND message_id = ? AND from_me = 0 LIMIT 1",
                                    [.text(account.phone), .text(id)]).first,
            let chat = row["chat"].text.flatMap(JID.init), let from = (row["author"].text ?? row["from_jid"].text).flatMap(JID.init)
        else { return nil }
        return KnownMessage(chat: chat, author: JID(user: from.user, server: from.server), fromMe: false,
                            content: row["raw"].blob.flatMap { try? WAWebProtobufsE2E_Message(serializedBytes: $0) })
    }

    func knownMessage(of account: SimAccount, id: String) throws(WauseError) -> KnownMessage {
        var found: KnownMessage?
        try state.commit { (c) throws(WauseError) in found = try knownMessage(of: account, id: id, c) }
        guard let found else { throw WauseError(.notFound, "phone \(account.phone) has no message \(id) (sent or received)") }
        return found
    }

    /// Both names of an account's user (phone and LID), `jid`'s first.
    func userForms(_ jid: JID, _ c: SQLiteConnection) throws(WauseError) -> [String] {
        var forms = [JID(user: jid.user, server: jid.server).description]
        let column = jid.server == .lid ? "lid" : "phone"
        if let row = try c.query("SELECT phone, lid FROM accounts WHERE \(column) = ?", [.text(jid.user)]).first {
            for form in [row["phone"].text.map { "\($0)@s.whatsapp.net" }, row["lid"].text.map { "\($0)@lid" }].compactMap({ $0 })
            where !forms.contains(form) { forms.append(form) }
        }
        return forms
    }

    /// What the inbox shows for a received change, poll or vote; nil for other messages. A vote is
    /// shown decrypted (`options`) when the phone has the poll, else with `decrypted: false`.
    func changeJSON(_ message: WAWebProtobufsE2E_Message, account: SimAccount, from: JID, _ c: SQLiteConnection) throws(WauseError) -> String? {
        if let poll = PollMessage.Creation(message) {
            return JSONValue.object(["kind": "poll", "question": .string(poll.question), "options": .array(poll.options.map { .string($0) }),
                                     "multiple_answers": .bool(poll.selectableCount != 1)]).serialized
        }
        if let vote = PollMessage.Vote(message) {
            var object: JSONObject = ["kind": "vote", "message_id": .string(vote.poll.id), "decrypted": false]
            if let poll = try knownMessage(of: account, id: vote.poll.id, c), let creation = poll.content.flatMap(PollMessage.Creation.init),
                let plaintext = PollVoteCrypto.open(vote.payload, iv: vote.iv, secret: creation.secret, pollID: vote.poll.id,
                                                    creators: try userForms(poll.author, c), voters: try userForms(from, c)),
                let hashes = PollMessage.Vote.selectedHashes(plaintext) {
                object["decrypted"] = true
                object["options"] = .array(creation.options.filter { hashes.contains(PollVoteCrypto.optionHash($0)) }.map { .string($0) })
            }
            return JSONValue.object(object).serialized
        }
        guard let change = MessageChange(message) else { return nil }
        let object: JSONValue
        switch change {
        case .reaction(let target, let emoji, _):
            object = ["kind": "reaction", "message_id": .string(target.id), "emoji": .string(emoji)]
        case .edit(let target, let text, _):
            object = ["kind": "edit", "message_id": .string(target.id), "text": .string(text)]
        case .revoke(let target):
            object = ["kind": "revoke", "message_id": .string(target.id)]
        }
        return object.serialized
    }

    /// Sends a change or vote to the chat `known` is in (a group, or the other person).
    func sendChange(_ message: WAWebProtobufsE2E_Message, from account: SimAccount, in known: KnownMessage) throws(WauseError) -> (id: String, t: Int64) {
        if known.chat.server == .group {
            let sent = try sendToGroup(from: account, group: known.chat.user, message: message)
            return (sent.id, sent.t)
        }
        return try send(from: account, to: known.chat, message: message)
    }
}

extension AdminAPI {
    /// `POST /accounts/{phone}/react {message_id, emoji}` (empty emoji removes), `/edit {message_id, text}`
    /// and `/revoke {message_id}` (the phone's own messages), `/vote {message_id, options}` (option
    /// names; empty withdraws): the phone sends the change to the chat the message is in.
    /// 200 `{ok, message_id, change_id, timestamp}`.
    func changeMessage(_ kind: String, account: SimAccount, body: JSONObject) throws(WauseError) -> HTTPResponse {
        guard let messageID = body["message_id"]?.stringValue, !messageID.isEmpty else { throw .invalidRequest("message_id is required") }
        let known = try phones.knownMessage(of: account, id: messageID)
        let now = phones.environment.now()
        let target = MessageChange.Target(id: messageID, chat: known.chat.description, fromMe: known.fromMe,
                                          participant: known.chat.server == .group && !known.fromMe ? known.author.description : nil)
        let message: WAWebProtobufsE2E_Message
        switch kind {
        case "react":
            guard let emoji = body["emoji"]?.stringValue else { throw .invalidRequest("emoji (a string; empty removes) is required") }
            message = MessageChange.reaction(target, emoji: emoji, at: now.milliseconds).message
        case "edit":
            guard let text = body["text"]?.stringValue, !text.isEmpty else { throw .invalidRequest("text (not empty) is required") }
            guard known.fromMe else { throw .invalidRequest("a phone edits only its own messages") }
            message = MessageChange.edit(target, newText: text, at: now.milliseconds).message
        case "revoke":
            guard known.fromMe else { throw .invalidRequest("a phone revokes only its own messages") }
            message = MessageChange.revoke(target).message
        default:
            message = try vote(account: account, known: known, target: target, body: body, at: now)
        }
        let sent = try phones.sendChange(message, from: account, in: known)
        return .json(200, [
            "ok": true, "message_id": .string(messageID), "change_id": .string(sent.id),
            "timestamp": .string(ISO8601.string(fromUnixMilliseconds: sent.t * 1000)),
        ])
    }

    /// `POST /accounts/{phone}/send {to, type: "poll", question, options, multiple_answers?}`: the phone sends a poll
    /// (PollMessage.Creation, with a fresh 32-byte secret) to one person. 200 `{ok, message_id, timestamp, to, from, type}`.
    func sendPoll(_ account: SimAccount, to: String, body: JSONObject) throws(WauseError) -> HTTPResponse {
        guard let question = body["question"]?.stringValue, !question.isEmpty else { throw .invalidRequest("question (not empty) is required") }
        guard let options = body["options"]?.arrayValue?.compactMap(\.stringValue), options.count == body["options"]?.arrayValue?.count,
              (2...12).contains(options.count), Set(options).count == options.count, !options.contains("")
        else { throw .invalidRequest("options must be 2 to 12 distinct, non-empty option names") }
        if to.hasSuffix("@g.us") { throw .invalidRequest("a phone sends a poll to one person here, not to a group") }
        let chat = try AdminAPI.userChat(to)
        let multiple = body["multiple_answers"]?.boolValue ?? false
        let creation = PollMessage.Creation(question: question, options: options, selectableCount: multiple ? 0 : 1,
                                            secret: phones.environment.randomBytes(PollVoteCrypto.secretLength))
        let sent = try phones.send(from: account, to: chat, message: creation.message)
        return .json(200, [
            "ok": true, "message_id": .string(sent.id), "timestamp": .string(ISO8601.string(fromUnixMilliseconds: sent.t * 1000)),
            "to": .string(chat.description), "from": .string(account.jid), "type": "poll",
        ])
    }

    /// A vote as whatsmeow msgsecret.go EncryptPollVote makes it: the voter named in the poll
    /// creator's addressing form (LID unless the creator came by phone number).
    private func vote(account: SimAccount, known: VirtualPhones.KnownMessage, target: MessageChange.Target, body: JSONObject,
                      at: UnixTime) throws(WauseError) -> WAWebProtobufsE2E_Message {
        guard let creation = known.content.flatMap(PollMessage.Creation.init), creation.secret.count == PollVoteCrypto.secretLength else {
            throw .invalidRequest("message \(target.id) is not a poll this phone can vote in")
        }
        guard let names = body["options"]?.arrayValue?.compactMap(\.stringValue) else { throw .invalidRequest("options (option names) is required") }
        for name in names where !creation.options.contains(name) {
            throw .invalidRequest("'\(name)' is not an option of this poll", details: ["options": .array(creation.options.map { .string($0) })])
        }
        if creation.selectableCount == 1 && names.count > 1 { throw .invalidRequest("this poll allows one option") }
        let voter = known.author.server == .lid ? "\(account.lid)@lid" : "\(account.phone)@s.whatsapp.net"
        return try PollMessage.Vote.sealing(names, poll: target, secret: creation.secret, pollCreator: known.author.description, voter: voter,
                                            iv: phones.environment.randomBytes(12), at: at.milliseconds).message
    }
}
