import Synchronization
import WauseBinary
import WauseProto
import WauseProtocol
import WauseSupport
import WauseTransport

/// Approval requests (issue 14 "Approval requests"): asks one person over WhatsApp, reads their
/// answer from the messages they send, and expires what is not answered in time.
///
/// Only the person asked can answer: a reply counts when it comes from their own identity (any
/// device, by phone number or LID — compared as contacts, with the phone number and LID the
/// request was sent to as a fallback), never from someone else, a group, a forwarded message or
/// an edit. Each request resolves once (the store's update is conditional on `pending`), and every
/// resolution is announced as `approval.resolved`.
final class Approvals: Sendable {
    let store: Store
    let environment: Environment
    let logger: Logger
    let publisher: EventPublisher
    let outbox: Outbox

    private struct State {
        var timer: Task<Void, Never>?
        var stopped = false
    }
    private let state = Mutex(State())

    init(store: Store, environment: Environment, logger: Logger, publisher: EventPublisher, outbox: Outbox) {
        self.store = store
        self.environment = environment
        self.logger = logger
        self.publisher = publisher
        self.outbox = outbox
    }

    // MARK: Expiry

    /// Expires what is overdue now (a request that ran out while the engine was closed), then
    /// arms the timer for the next one. Called when the client opens and after each new request.
    func schedule() {
        expireDue()
        let next = try? store.nextApprovalExpiry()
        state.withLock { state in
            state.timer?.cancel()
            state.timer = nil
            guard !state.stopped, let next else { return }
            let delay = max(.zero, next - environment.now())
            state.timer = Task { [weak self, environment] in
                do { try await environment.sleep(delay) } catch { return }
                guard !Task.isCancelled, let self else { return }
                self.schedule()
            }
        }
    }

    func stop() {
        let timer = state.withLock { state -> Task<Void, Never>? in
            state.stopped = true
            defer { state.timer = nil }
            return state.timer
        }
        timer?.cancel()
    }

    /// Marks every pending request past its expiry `expired`.
    func expireDue() {
        let now = environment.now()
        guard let pending = try? store.pendingApprovals() else { return }
        for approval in pending where approval.expiresAt <= now {
            resolve(approval.id, .expired, by: nil, replyMessageID: nil)
        }
    }

    @discardableResult
    func resolve(_ id: String, _ status: ApprovalRecord.Status, by: String?, replyMessageID: String?) -> ApprovalRecord? {
        let now = environment.now()
        let resolved: ApprovalRecord?
        do {
            resolved = try store.resolveApproval(id: id, status: status, by: by, replyMessageID: replyMessageID, at: now)
        } catch {
            logger.error("cannot resolve approval \(id): \(error.message)")
            return nil
        }
        guard let resolved else { return nil }
        logger.info("approval \(id) \(status.rawValue)\(by.map { " by \($0)" } ?? "")")
        publisher.publish(.approvalResolved, [
            "request_id": .string(id), "status": .string(status.rawValue), "by": JSONValue(by), "at": .string(now.iso8601),
            "reply_message_id": JSONValue(replyMessageID),
        ])
        return resolved
    }

    // MARK: Sending

    /// Queues a text to a person through the outbox (the same path as whatsapp_send_message) and
    /// answers its message id.
    func queueText(_ text: String, to contact: Contact, quoting: String? = nil) throws(WauseError) -> String {
        guard let account = try store.linkedAccount(), let own = JID(account.jid) else {
            throw WauseError(.whatsappNotPaired, "this device is not linked to WhatsApp; link it with whatsapp_start_auth or whatsapp_pairing_code")
        }
        let now = environment.now()
        var message = WAWebProtobufsE2E_Message()
        message.conversation = text
        let id = MessageFormat.newMessageID(now: now, ownUser: own.user, random: environment.randomBytes)
        let record = MessageRecord(id: id, chatJID: contact.chatJID, senderJID: nil, fromMe: true, type: "chat", body: text,
                                   quotedID: quoting, timestamp: now.truncatedToSeconds, status: .queued)
        _ = try store.enqueue(record, contactID: contact.id, payload: try MessageFormat.encode(message), now: now)
        outbox.kick()
        return id
    }

    /// Queues a poll-style request: a single-answer poll with the options `Approve` and `Deny`
    /// (issue 14 "Definitions"), built as `whatsapp_create_poll` builds one (PollMessage.swift, a
    /// fresh message secret kept in the stored raw message so the vote can be decrypted).
    func queuePoll(_ question: String, to contact: Contact) throws(WauseError) -> String {
        guard let account = try store.linkedAccount(), let own = JID(account.jid) else {
            throw WauseError(.whatsappNotPaired, "this device is not linked to WhatsApp; link it with whatsapp_start_auth or whatsapp_pairing_code")
        }
        let now = environment.now()
        let creation = PollMessage.Creation(question: question, options: Approvals.pollOptions, selectableCount: 1,
                                            secret: environment.randomBytes(PollVoteCrypto.secretLength))
        let id = MessageFormat.newMessageID(now: now, ownUser: own.user, random: environment.randomBytes)
        let record = MessageRecord(id: id, chatJID: contact.chatJID, senderJID: nil, fromMe: true, type: "poll", body: question,
                                   timestamp: now.truncatedToSeconds, status: .queued)
        _ = try store.enqueue(record, contactID: contact.id, payload: try MessageFormat.encode(creation.message), now: now)
        outbox.kick()
        return id
    }

    /// A poll-style request's options, in this order (issue 14 "Definitions").
    static let pollOptions = ["Approve", "Deny"]

    // MARK: Answers

    /// A vote in a poll-style request's poll, already decrypted and filed by `Polls.receiveVote`:
    /// the person asked choosing exactly one option decides. A vote from anyone else, a withdrawn
    /// vote, or a vote in a request already decided (a changed vote after the fact) is ignored.
    private func considerVote(_ vote: PollMessage.Vote, envelope: MessageEnvelope, from: JID) {
        guard let pending = try? store.pendingApprovals(),
              let request = pending.first(where: { $0.style == "poll" && $0.requestMessageID == vote.poll.id })
        else { return }
        let sender = JID(user: from.user, server: from.server).description
        guard let options = try? store.filedPollVote(messageID: envelope.id) else {
            logger.info("approvals: vote \(envelope.id) for request \(request.id) was not filed (does not decrypt, or is older); ignored")
            return
        }
        let phone = from.server == .whatsApp ? from.user : envelope.senderPhone?.user
        let lid = from.server == .lid ? from.user : envelope.senderLID?.user
        let contactIDs = (try? store.contactIDs(phone: phone, lid: lid)) ?? []
        guard request.isAsked(contactIDs: contactIDs, phone: phone, lid: lid) else {
            logger.warning("approvals: vote \(envelope.id) from \(sender) in request \(request.id)'s poll, asked of someone else; ignored")
            return
        }
        guard options.count == 1, let choice = options.first else {
            logger.info("approvals: vote \(envelope.id) for request \(request.id) chooses \(options.count) options; not a decision")
            return
        }
        resolve(request.id, choice == Approvals.pollOptions[0] ? .approved : .denied, by: sender, replyMessageID: envelope.id)
    }

    /// Called by `Receive` after a one-to-one message from someone else was stored (group
    /// messages never get here). Reads it as an answer if it is one; anything else is left alone.
    func consider(_ plaintext: [UInt8], envelope: MessageEnvelope, from: JID) {
        guard let message = try? WAWebProtobufsE2E_Message(serializedBytes: plaintext) else { return }
        var content = message
        if content.hasDeviceSentMessage { return }
        if content.hasEphemeralMessage { content = content.ephemeralMessage.message }
        if let vote = PollMessage.Vote(content) {
            considerVote(vote, envelope: envelope, from: from)
            return
        }
        let answer: (reply: ApprovalReply, quoted: String?)
        if content.hasReactionMessage {
            // A reaction to the request message (whatsmeow: ReactionMessage key.id names the message reacted to).
            guard let decision = ApprovalReply.decision(content.reactionMessage.text) else { return }
            answer = (ApprovalReply(decision: decision, requestID: nil), content.reactionMessage.key.id)
        } else if content.hasProtocolMessage {
            if content.protocolMessage.type == .messageEdit, content.protocolMessage.hasEditedMessage,
               let text = MessageFormat.text(of: content.protocolMessage.editedMessage), ApprovalReply(text: text.body) != nil {
                logger.info("approvals: edit \(envelope.id) from \(from) ignored (an edit does not answer a request)")
            }
            return
        } else if let text = MessageFormat.text(of: content) {
            guard let reply = ApprovalReply(text: text.body) else { return }
            if content.hasExtendedTextMessage, content.extendedTextMessage.contextInfo.isForwarded {
                logger.info("approvals: forwarded message \(envelope.id) from \(from) ignored")
                return
            }
            answer = (reply, text.quotedID)
        } else {
            return
        }
        guard let pending = try? store.pendingApprovals(), !pending.isEmpty else { return }
        let phone = from.server == .whatsApp ? from.user : envelope.senderPhone?.user
        let lid = from.server == .lid ? from.user : envelope.senderLID?.user
        let contactIDs = (try? store.contactIDs(phone: phone, lid: lid)) ?? []
        let sender = JID(user: from.user, server: from.server).description
        let mine = pending.filter { $0.isAsked(contactIDs: contactIDs, phone: phone, lid: lid) }

        // A quote or reaction names its request; so does an id.
        let named: ApprovalRecord?
        if let quoted = answer.quoted, let request = pending.first(where: { $0.requestMessageID == quoted }) {
            named = request
        } else if let requestID = answer.reply.requestID {
            guard let request = pending.first(where: { $0.id == requestID }) else {
                logger.info("approvals: \(envelope.id) from \(sender) names \(requestID), which is not pending; ignored")
                return
            }
            named = request
        } else if let quoted = answer.quoted {
            // A quote or reaction of some other message (or of a request already decided) answers
            // that message, not whichever request happens to be open.
            logger.debug("approvals: \(envelope.id) from \(sender) refers to \(quoted), not a pending request; ignored")
            return
        } else {
            named = nil
        }
        if let named {
            guard mine.contains(where: { $0.id == named.id }) else {
                logger.warning("approvals: \(envelope.id) from \(sender) answers \(named.id), asked of someone else; ignored")
                return
            }
            if let requestID = answer.reply.requestID, requestID != named.id {
                logger.info("approvals: \(envelope.id) quotes \(named.id) but names \(requestID); ignored")
                return
            }
            resolve(named.id, answer.reply.decision == .approved ? .approved : .denied, by: sender, replyMessageID: envelope.id)
            return
        }
        switch mine.count {
        case 0:
            return
        case 1:
            resolve(mine[0].id, answer.reply.decision == .approved ? .approved : .denied, by: sender, replyMessageID: envelope.id)
        default:
            // Several open with this person: a bare answer could mean any of them.
            logger.info("approvals: bare answer \(envelope.id) from \(sender) with \(mine.count) pending; asking which")
            let ids = mine.map(\.id)
            let lines = mine.map { "• \($0.id): \($0.action)" }.joined(separator: "\n")
            let text = "You have \(mine.count) open requests:\n\(lines)\nPlease answer with the request id, e.g. \"APPROVE \(ids[0])\" "
                + "or \"DENY \(ids[0])\", or reply to the request message itself."
            do {
                guard phone != nil || lid != nil else { return }
                _ = try queueText(text, to: try store.contact(phone: phone, lid: lid, now: environment.now()))
            } catch {
                logger.error("approvals: cannot send the clarification to \(sender): \(error.message)")
            }
        }
    }
}
