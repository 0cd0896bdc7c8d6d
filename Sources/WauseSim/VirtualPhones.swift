import SwiftProtobuf
import Synchronization
import WauseBinary
import WauseCrypto
import WauseProto
import WauseProtocol
import WauseSignal
import WauseSQLite
import WauseSupport
import WauseTransport

/// Every account's phone (device 0) as a Signal participant, the way a real primary device
/// behaves towards the server and its peers (whatsmeow send.go, message.go, receipt.go, retry.go):
///
/// - It reads its queue like any connected client: a `<message>` is decrypted (`pkmsg`/`msg`),
///   unpadded (whatsmeow message.go padMessage), parsed (`conversation`, `extendedTextMessage`, unwrapping
///   `deviceSentMessage`, whatsmeow send.go marshalMessage), filed in its inbox, and answered with a delivery receipt
///   (`type="sender"` and `recipient` for its own companions' copies, whatsmeow receipt.go sendMessageReceipt). A message that does
///   not decrypt earns a retry receipt with the registration id, and from the second try the
///   phone's keys (whatsmeow retry.go); an old counter is a duplicate and is only receipted (message.go decryptMessages).
/// - It sends as a client does (whatsmeow send.go SendMessage): the recipient's devices, a session from a prekey bundle
///   where there is none, the padded `Message` encrypted per device, `deviceSentMessage` copies
///   to its own companions, then into the queues. A retry receipt for one of its messages is
///   answered with the message encrypted again for that device (whatsmeow retry.go handleRetryReceipt).
/// - With an auto-reply set it answers every message from someone else with that text; never
///   an auto-reply of another virtual phone, so two phones with auto-replies do not loop.
///
/// Everything one step produces (ratchet state, inbox row, queue rows) is written in one
/// transaction, and the stanza it handled leaves the queue in that same transaction, so a sim
/// that stops half-way handles it again at the next start.
final class VirtualPhones: Sendable {
    /// whatsmeow sends at most 4 retry receipts per message.
    static let maximumRetries = 4

    let state: SimState
    let router: MessageRouter
    /// Where the phones upload the media they send and read the media they receive (PhoneMedia.swift).
    let media: MediaServer
    let environment: Environment
    let logger: Logger
    /// One Signal operation of any phone at a time: sends (admin threads) and receives (the worker).
    /// It guards no value of its own: the ratchet state is in the store it serialises. The
    /// group path (PhoneGroups.swift) takes it too.
    let signalLock = Mutex(())
    /// Above this many bytes of serialized mutations a stored app-state patch is served as an
    /// external blob (`AppStateServer.blobBytes`); `--app-state-blob-bytes`, `PUT /app-state/settings`.
    let appStateBlobBytes: Mutex<Int>
    private struct Worker {
        var task: Task<Void, Never>?
        /// Something was queued while the worker ran: drain once more.
        var again = false
        var stopped = false
    }
    private let worker = Mutex(Worker())

    init(state: SimState, router: MessageRouter, media: MediaServer, environment: Environment, logger: Logger,
         appStateBlobBytes: Int = AppStateServer.defaultBlobBytes) {
        self.appStateBlobBytes = Mutex(appStateBlobBytes)
        self.state = state
        self.router = router
        self.media = media
        self.environment = environment
        self.logger = logger
    }

    // MARK: The worker

    /// Makes sure the phones read their queues (after something was queued for one, and at start).
    func kick() {
        worker.withLock { worker in
            if worker.stopped { return }
            if worker.task != nil { worker.again = true; return }
            worker.task = Task.detached { [self] in
                while true {
                    drain()
                    let more = self.worker.withLock { worker -> Bool in
                        if worker.again && !worker.stopped { worker.again = false; return true }
                        worker.task = nil
                        return false
                    }
                    if !more { return }
                }
            }
        }
    }

    func stop() async {
        let running = worker.withLock { worker -> Task<Void, Never>? in
            worker.stopped = true
            return worker.task
        }
        await running?.value
    }

    private func drain() {
        while !worker.withLock({ $0.stopped }) {
            let next: (seq: Int64, phone: String, kind: QueuedStanza.Kind, node: Node?)
            do {
                guard let found = try state.nextPhoneStanza() else { return }
                next = found
            } catch {
                logger.error("virtual phones: cannot read the queue: \(error.message)")
                return
            }
            do throws(WauseError) {
                guard let node = next.node, let account = try state.account(phone: next.phone) else {
                    try state.dropQueued(seq: next.seq)
                    continue
                }
                switch (next.kind, node[attribute: "type"]) {
                case (.message, _): try receive(node, seq: next.seq, account: account)
                case (.receipt, "retry"): try answerRetry(node, seq: next.seq, account: account)
                case (.receipt, _), (.notification, _): try state.dropQueued(seq: next.seq)
                }
            } catch {
                // Never stuck on one stanza: it is dropped, and the log says why.
                logger.error("virtual phone \(next.phone): \(next.kind.rawValue) \(next.node?[attribute: "id"] ?? "?") dropped: \(error.message)")
                try? state.dropQueued(seq: next.seq)
            }
        }
    }

    // MARK: Receiving

    private func receive(_ node: Node, seq: Int64, account: SimAccount) throws(WauseError) {
        guard let message = try? MessageEnvelope(parsing: node), let from = message.from else {
            try state.dropQueued(seq: seq)
            return
        }
        let id = message.id
        if from.server == .group {
            try receiveGroup(node, id: id, group: from, seq: seq, account: account)
            return
        }
        let senderAccount = try state.account(jid: from)
        let fromMe = senderAccount?.phone == account.phone
        let t = message.t ?? environment.now().seconds

        let outcome = try signalLock.withLock { _ throws(WauseError) -> (store: PhoneSignalStore, plaintexts: [[UInt8]], duplicate: Bool, failure: String?) in
            let store = try state.phoneSignalStore(account)
            let address = store.sessionAddress(for: from, lid: senderAccount?.lid)
            var plaintexts: [[UInt8]] = []
            var duplicate = false
            for enc in message.encrypted {
                let cipher = SessionCipher(address: address, store: store, random: environment.randomBytes)
                do {
                    let padded: [UInt8]
                    switch enc.type {
                    case "pkmsg": padded = try cipher.decrypt(try PreKeySignalMessage(serialized: enc.ciphertext))
                    case "msg": padded = try cipher.decrypt(try SignalMessage(serialized: enc.ciphertext))
                    default: return (store, [], false, "unsupported enc type \(enc.type)")
                    }
                    plaintexts.append(try MessageFormat.unpad(padded))
                } catch SignalError.duplicateMessage {
                    duplicate = true
                } catch {
                    return (store, [], false, "\(error)")
                }
            }
            return (store, plaintexts, duplicate, nil)
        }
        if let failure = outcome.failure {
            try retry(message, from: from, seq: seq, account: account, reason: failure)
            return
        }
        var filed: [(text: String?, chat: JID, to: JID, media: JSONValue?, content: WAWebProtobufsE2E_Message)] = []
        var keyRequests: [WAWebProtobufsE2E_Message] = []
        for plaintext in outcome.plaintexts {
            guard let content = try? WAWebProtobufsE2E_Message(serializedBytes: plaintext) else {
                logger.info("virtual phone \(account.phone): message \(id) from \(from) is not a Message protobuf")
                continue
            }
            // A companion asking for app-state keys (PhoneAppState.swift), answered once this step is stored.
            if fromMe, content.protocolMessage.type == .appStateSyncKeyRequest {
                keyRequests.append(content)
                continue
            }
            let own = JID(user: from.server == .lid ? account.lid : account.phone, server: from.server == .lid ? .lid : .whatsApp)
            // Media is fetched from the store, verified and decrypted now; its caption is the row's text.
            let described = PhoneMedia.describe(content, store: media.store)
            let text = MessageFormat.text(of: content)?.body ?? described?.caption
            if fromMe {
                // A copy of what one of its companions sent (whatsmeow send.go marshalMessage): filed under that chat.
                let destination = content.hasDeviceSentMessage ? JID(content.deviceSentMessage.destinationJid) : nil
                // A LID chat with its phone number beside it is filed under the number: one chat per contact.
                let chat = message.peerRecipientPhone ?? destination ?? message.recipient ?? own
                filed.append((text, chat, chat, described?.media, content))
            } else {
                filed.append((text, JID(user: from.user, server: from.server), own, described?.media, content))
            }
        }
        let now = environment.now()
        let pushName = message.notify
        try state.commit { (c) throws(WauseError) in
            try outcome.store.apply(c)
            for item in filed {
                try c.execute("""
                    INSERT OR IGNORE INTO inbox (phone, message_id, from_jid, from_phone, from_me, chat, to_jid, text, push_name, timestamp,
                                                 received_at, media, change, raw)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [.text(account.phone), .text(id), .text(from.description), SQLValue(senderAccount?.phone), SQLValue(fromMe),
                          .text(item.chat.description), .text(item.to.description), SQLValue(item.text), SQLValue(pushName), .integer(t),
                          .time(now), SQLValue(item.media?.serialized),
                          SQLValue(try changeJSON(item.content, account: account, from: JID(user: from.user, server: from.server), c)),
                          .blob(try MessageFormat.encode(item.content))])
            }
            try state.dequeue(seq: seq, in: c)
        }
        // The delivery receipt, also the phone's answer to the stanza (whatsmeow receipt.go sendMessageReceipt).
        try routeReceipt(.answering(message, type: fromMe ? .sender : .delivery), account: account)
        if fromMe, message.category == "peer" {
            // A companion's peer message (a key request, an on-demand history request) is also
            // acknowledged as `peer_msg` to the account's own number, as the clients do (whatsmeow
            // message.go handleProtocolMessage: SendProtocolMessageReceipt(ReceiptTypePeerMsg)).
            try routeReceipt(ReceiptStanzas.Receipt(ids: [id], type: .peerMessage, to: JID(user: account.phone, server: .whatsApp)), account: account)
        }
        for request in keyRequests { _ = answerAppStateKeyRequest(request, account: account, from: Int(from.device)) }
        // A companion asking for older history (PhoneHistory.swift).
        if fromMe, !outcome.duplicate, let endpoint = try state.endpoint(from) {
            for plaintext in outcome.plaintexts {
                guard let content = try? WAWebProtobufsE2E_Message(serializedBytes: plaintext), content.protocolMessage.type == .peerDataOperationRequestMessage,
                      content.protocolMessage.peerDataOperationRequestMessage.peerDataOperationRequestType == .historySyncOnDemand
                else { continue }
                try history.answer(content.protocolMessage.peerDataOperationRequestMessage.historySyncOnDemandRequest, requestID: id,
                                   account: account, from: endpoint)
            }
            for plaintext in outcome.plaintexts {
                guard let content = try? WAWebProtobufsE2E_Message(serializedBytes: plaintext),
                      let collection = AppStateRecovery.requestedCollection(in: content) else { continue }
                answerAppStateRecovery(collection, requestID: id, account: account, to: endpoint)
            }
        }

        guard !fromMe, !outcome.duplicate, let senderAccount, filed.contains(where: { $0.text != nil }),
            let reply = try state.autoReply(phone: account.phone)
        else { return }
        if from.device == 0, let original = try state.sentByPhone(phone: senderAccount.phone, messageID: id), original.autoReply {
            return  // an auto-reply of another virtual phone: answering it would never end
        }
        _ = try send(from: account, to: JID(user: from.user, server: from.server), text: reply, autoReply: true)
    }

    /// whatsmeow retry.go sendRetryReceipt: the retry receipt a client sends when it cannot decrypt; keys from the second try.
    /// Also for group messages (PhoneGroups.swift): the receipt answers the message, so it goes to
    /// the group naming the sender (`participant`), as whatsmeow's does.
    func retry(_ message: MessageEnvelope, from: JID, seq: Int64, account: SimAccount, reason: String) throws(WauseError) {
        let id = message.id
        let count = try state.countPhoneRetry(phone: account.phone, messageID: id, sender: from.description)
        logger.info("virtual phone \(account.phone): cannot decrypt \(id) from \(from) (try \(count)): \(reason)")
        try state.dropQueued(seq: seq)
        guard count <= VirtualPhones.maximumRetries else { return }
        let keys = try state.phoneKeys(account)
        var offered: Node?
        if count > 1 {
            let fresh = try state.newPhonePreKey(account)
            let published = PreKeyStanzas.PublicKeys(registrationID: keys.registrationID, identityKey: account.identity.publicKey,
                                                     signedPreKeyID: keys.signedPreKey.id, signedPreKey: keys.signedPreKey.keyPair.publicKey,
                                                     signedPreKeySignature: keys.signedPreKey.signature)
            // A primary phone has no signed device identity to add (whatsmeow sends its account's; a phone is the account).
            offered = PreKeyStanzas.retryKeys(published, oneTime: (fresh.id, fresh.keyPair.publicKey), deviceIdentity: nil)
        }
        try routeReceipt(.retry(answering: message, count: Int(count), t: message.t ?? environment.now().seconds,
                                registrationID: keys.registrationID, keys: offered), account: account)
    }

    func routeReceipt(_ receipt: ReceiptStanzas.Receipt, account: SimAccount) throws(WauseError) {
        do { try router.receipt(receipt, from: SimEndpoint(account: account, device: 0)) } catch let error as WauseError { throw error } catch {
            throw WauseError(.internal, "\(error)")
        }
    }

    // MARK: Sending

    /// The phone sends `text` to `chat` (a user JID of another account, in the addressing form to
    /// use): every device of that account, plus copies to its own companions. Answers the
    /// message id and the server time (unix seconds).
    func send(from account: SimAccount, to chat: JID, text: String, autoReply: Bool = false) throws(WauseError) -> (id: String, t: Int64) {
        var message = WAWebProtobufsE2E_Message()
        message.conversation = text
        return try send(from: account, to: chat, message: message, autoReply: autoReply)
    }

    /// The phone sends media, a location or a contact card (PhoneMedia.swift): a file is encrypted
    /// and put in the simulator's media store first, then the message goes out as a text does,
    /// with `type="media"` on the stanza (whatsmeow send.go getTypeFromMessage).
    func send(from account: SimAccount, to chat: JID, media request: PhoneMedia.Request) throws(WauseError) -> (id: String, t: Int64) {
        guard let target = try state.account(jid: chat) else {
            throw WauseError(.notFound, "\(chat) is not on WhatsApp (no such account)")
        }
        guard target.phone != account.phone else { throw .invalidRequest("a phone cannot message itself here") }
        let message = try PhoneMedia.message(for: request, store: media.store, baseURL: media.baseURL, now: environment.now(),
                                             random: environment.randomBytes)
        return try send(from: account, to: chat, message: message, autoReply: false)
    }

    /// Any message from the phone to `chat`, with the stanza `type` and `edit` attributes the
    /// engine would use (a reaction, edit or revoke as MessageChange.swift says, media as "media").
    func send(from account: SimAccount, to chat: JID, message: WAWebProtobufsE2E_Message,
              autoReply: Bool = false) throws(WauseError) -> (id: String, t: Int64) {
        guard let target = try state.account(jid: chat) else {
            throw WauseError(.notFound, "\(chat) is not on WhatsApp (no such account)")
        }
        guard target.phone != account.phone else { throw .invalidRequest("a phone cannot message itself here") }
        let (type, edit) = VirtualPhones.stanzaAttributes(of: message)
        let payload = try MessageFormat.encode(message)
        let copyPayload = try MessageFormat.encode(MessageFormat.deviceSentCopy(of: message, chat: chat))
        let id = MessageFormat.newMessageID(now: environment.now(), ownUser: account.phone, random: environment.randomBytes)
        let t = environment.now().seconds
        let sender = SimEndpoint(account: account, device: 0)
        let recipients = try state.endpoints(of: target)
        let own = try state.endpoints(of: account).filter { $0.device != 0 }

        try signalLock.withLock { _ throws(WauseError) in
            let store = try state.phoneSignalStore(account)
            var stanzas: [QueuedStanza] = []
            for endpoint in recipients + own {
                let isOwn = endpoint.account.phone == account.phone
                guard var enc = try encrypt(isOwn ? copyPayload : payload, for: endpoint, form: chat.server, store: store) else {
                    logger.info("virtual phone \(account.phone): \(endpoint.jid(chat.server)) has no keys, skipped")
                    continue
                }
                if (type != "text" && type != "media") || edit != nil { enc.decryptFail = MessageChange.decryptFailHide }
                stanzas.append(QueuedStanza(phone: endpoint.account.phone, device: endpoint.device, kind: .message,
                                            node: MessageRouter.delivered(id: id, t: t, type: type, sender: sender,
                                                                          form: chat.server, ownDeviceChat: isOwn ? chat : nil,
                                                                          edit: edit, encrypted: [enc])))
            }
            guard stanzas.contains(where: { $0.phone == target.phone }) else {
                throw WauseError(.notConnected, "no device of \(target.phone) could be reached")
            }
            try router.deliver(stanzas) { (c) throws(WauseError) in
                try store.apply(c)
                try c.execute("INSERT INTO phone_sent (phone, message_id, chat, payload, auto_reply, t) VALUES (?, ?, ?, ?, ?, ?)",
                              [.text(account.phone), .text(id), .text(chat.description), .blob(payload), SQLValue(autoReply), .integer(t)])
                try SimState.logMessage(c, id: id, sender: sender, chat: chat, t: t)
            }
        }
        // whatsmeow send.go sendDM: after a 1:1 send the phone issues its token to the recipient once per 7-day
        // bucket (tctoken.go shouldSendNewTCToken). Only where tokens matter (the reach-out rule is on): other runs
        // keep their clients' streams free of notifications nobody needs.
        if router.requirePrivacyToken,
            PrivacyTokens.shouldIssue(lastIssued: try state.privacyToken(issuer: account.phone, holder: target.phone)?.t, now: t)
        {
            try router.issuePrivacyToken(from: account, to: chat)
        }
        return (id, t)
    }

    /// One device's `<enc>`: a session from its bundle first where there is none (whatsmeow send.go encryptMessageForDevices). Nil
    /// when the device has no keys on the server.
    func encrypt(_ plaintext: [UInt8], for endpoint: SimEndpoint, form: JID.Server, store: PhoneSignalStore,
                 bundle given: PreKeyBundle? = nil, count: String? = nil) throws(WauseError) -> MessageEnvelope.Encrypted? {
        let device = endpoint.jid(form)
        let address = store.sessionAddress(for: device, lid: endpoint.account.lid)
        do {
            if let given {
                try store.deleteSession(for: address)
                try SessionBuilder(address: address, store: store, random: environment.randomBytes).process(given)
            } else if try !store.hasSession(for: address) {
                guard let bundle = try state.takeBundle(endpoint) else { return nil }
                if endpoint.device != 0, bundle.oneTimePreKey != nil {
                    router.notifyPreKeyCount(phone: endpoint.account.phone, device: endpoint.device)
                }
                try SessionBuilder(address: address, store: store, random: environment.randomBytes).process(try bundle.preKeyBundle)
            }
            let sealed = try SessionCipher(address: address, store: store, random: environment.randomBytes)
                .encrypt(MessageFormat.pad(plaintext, random: environment.randomBytes))
            return MessageEnvelope.Encrypted(type: sealed.type, ciphertext: sealed.serialized, count: count)
        } catch let error as WauseError {
            throw error
        } catch {
            throw WauseError(.internal, "cannot encrypt for \(device): \(error)")
        }
    }

    /// whatsmeow retry.go handleRetryReceipt, the sender's side: a device could not read one of the phone's messages; encrypt it
    /// again for that device only — from the keys it sent, or a fresh bundle if there is no
    /// session — and send it with the retry count (`device_fanout="false"` is the client's
    /// marker; the server delivers the resend to that one device).
    private func answerRetry(_ node: Node, seq: Int64, account: SimAccount) throws(WauseError) {
        if MessageRouter.jid(node, "from")?.server == .group {
            try answerGroupRetry(node, seq: seq, account: account)
            return
        }
        try state.dropQueued(seq: seq)
        guard let receipt = try? ReceiptStanzas.Receipt(parsing: node), let from = receipt.from, let endpoint = try state.endpoint(from),
            let sent = try state.sentByPhone(phone: account.phone, messageID: receipt.id)
        else { return }
        let id = receipt.id
        let isOwn = endpoint.account.phone == account.phone
        var plaintext = sent.payload
        if isOwn {
            let original = (try? WAWebProtobufsE2E_Message(serializedBytes: sent.payload)) ?? WAWebProtobufsE2E_Message()
            plaintext = try MessageFormat.encode(MessageFormat.deviceSentCopy(of: original, chat: sent.chat))
        }
        let bundle = receipt.bundle(for: from)
        let count = String(receipt.retry?.count ?? 1)
        let sender = SimEndpoint(account: account, device: 0)
        try signalLock.withLock { _ throws(WauseError) in
            let store = try state.phoneSignalStore(account)
            guard let enc = try encrypt(plaintext, for: endpoint, form: from.server, store: store, bundle: bundle, count: count) else { return }
            let stanza = QueuedStanza(phone: endpoint.account.phone, device: endpoint.device, kind: .message,
                                      node: MessageRouter.delivered(id: id, t: sent.t, type: "text", sender: sender, form: from.server,
                                                                    ownDeviceChat: isOwn ? sent.chat : nil, encrypted: [enc]))
            try router.deliver([stanza]) { (c) throws(WauseError) in try store.apply(c) }
        }
        logger.info("virtual phone \(account.phone): resent \(id) to \(from) after retry receipt \(count)")
    }
}
