import SwiftProtobuf
import Synchronization
import WauseBinary
import WauseCrypto
import WauseProto
import WauseSignal
import WauseProtocol
import WauseSQLite
import WauseSupport
import WauseTransport

/// The durable outbox (DESIGN.md: persist before you acknowledge). A message is written to the
/// store — message row, outbox row, `queued` in its timeline — before anything goes on the wire;
/// one worker sends the outbox while the device is `ready`, and a row leaves only when the server
/// acked the message (or it failed for good). After a crash or a dropped link the worker starts
/// again at the next login and sends what is left, under the same message id, so a recipient that
/// got an earlier attempt files it once.
///
/// Order is kept per chat: only the oldest row of each chat may go, and the oldest of those that
/// are due goes first. A message that cannot go out while connected is retried with backoff
/// (`retryDelay`: 2^n s ±20 %, at most 5 min) and fails after `maximumAttempts`; a recipient that
/// is not on WhatsApp, or the server's 463 or 479, fails it at once (sending the same stanza again
/// would be refused the same way: no blind retries). Either way only that chat waits:
/// the other chats keep flowing. A send cut short by the link going down is not counted; it goes
/// again at the next login. The policy is the outbox's own (`Failure`), not read off the public
/// error codes.
///
/// A scheduled send (`send_at`, issue 16) is a row that waits for its instant without holding up
/// its chat; when it falls due (on time through the same wake-up timer as a retry, or at the first
/// login after the engine was down then) it takes a slot of the rate limit (`admitScheduled`) —
/// held back until one frees if none is free — and becomes `queued`, with how late in its timeline.
///
/// One send at a time, as whatsmeow's `messageSendLock`: fan-out encryption advances sessions.
final class Outbox: Sendable {
    static let ackTimeout: Duration = .seconds(75)
    /// Attempts made while connected before a message fails.
    static let maximumAttempts: Int64 = 6
    static let longestRetryDelay: Duration = .seconds(5 * 60)

    /// Why one send did not go out, as the outbox decides what follows.
    enum Failure: Error {
        /// It never can (a recipient not on WhatsApp, a 463, an unreadable row): failed now.
        case permanent(String)
        /// It could not go out this time while connected: counted, retried with backoff.
        case retry(String)
    }

    /// The reasons of the final failures a sender can act on, and the public error each maps
    /// to (DESIGN.md "Errors": `not_on_whatsapp`, `reach_out_restricted`, `stale_device_session`):
    /// `whatsapp_send_message` answers with that error when its message ended failed for one of them. Both texts are made
    /// here and read back from the store's `status_reason`, so they are defined in one place.
    static func notOnWhatsAppReason(_ user: String) -> String { "\(user) is not on WhatsApp (no devices)" }
    static let reachOutRestrictedReason = "the server refused the message (error 463: the recipient's privacy settings do not allow it)"
    /// The server's 479 (Baileys messages-recv.ts handleBadAck; whatsmeow reads any ack error as a failed send): a
    /// device session the server considers out of date.
    static let staleDeviceSessionReason = "the server refused the message (error 479: a device session is out of date)"

    /// A group send by an account the server does not count as a member (issue 12: `not_a_participant`).
    static func notAParticipantReason(_ group: String) -> String { "this account is not a participant of \(group)" }

    static func errorCode(forReason reason: String?) -> WauseError.Code? {
        guard let reason else { return nil }
        if reason.hasPrefix("this account is not a participant of ") { return .notAParticipant }
        if reason.hasSuffix(" is not on WhatsApp (no devices)") { return .notOnWhatsApp }
        if reason == reachOutRestrictedReason { return .reachOutRestricted }
        if reason == staleDeviceSessionReason { return .staleDeviceSession }
        return nil
    }

    /// The wait after the `attempts`-th counted failure: 2^attempts s, ±20 % from `random`
    /// (two bytes), at most `longestRetryDelay`.
    static func retryDelay(attempts: Int64, random: [UInt8]) -> Duration {
        let base = min(longestRetryDelay.milliseconds, Int64(1000) << min(max(attempts, 0), 20))
        let spread = base / 5
        let draw = Int64(random.count >= 2 ? Int(random[0]) << 8 | Int(random[1]) : 0)
        return min(longestRetryDelay, .milliseconds(base - spread + draw % (2 * spread + 1)))
    }

    private let store: Store
    private let status: ConnectionStatus
    /// The connection to send on: the outbox sends only on a logged-in one, never dials.
    private let link: ServerLink
    private let messaging: Messaging
    private let deviceList: DeviceList
    private let privacyTokens: PrivacyTokenExchange
    private let environment: Environment
    private let logger: Logger
    private let publisher: EventPublisher
    /// Uploads a queued media message's file before it is encrypted (Media/MediaTransfers.swift).
    private let media: MediaTransfers?
    /// The rate limit a scheduled send passes when it falls due: nil lets it go, a duration says
    /// how long until a slot frees (`SendGuard.reserveWhenDue`).
    private let admitScheduled: @Sendable () -> Duration?
    private struct State {
        var worker: Task<Void, Never>?
        /// Another kick came while the worker ran: drain once more.
        var again = false
        /// Wakes the worker when the earliest retry falls due.
        var timer: Task<Void, Never>?
    }
    private let state = Mutex(State())

    init(store: Store, status: ConnectionStatus, link: ServerLink, messaging: Messaging, deviceList: DeviceList,
         privacyTokens: PrivacyTokenExchange, environment: Environment, logger: Logger, publisher: EventPublisher, media: MediaTransfers? = nil,
         admitScheduled: @escaping @Sendable () -> Duration? = { nil }) {
        self.store = store
        self.admitScheduled = admitScheduled
        self.media = media
        self.status = status
        self.link = link
        self.messaging = messaging
        self.deviceList = deviceList
        self.privacyTokens = privacyTokens
        self.environment = environment
        self.logger = logger
        self.publisher = publisher
    }

    /// Makes sure the worker runs (after an enqueue, after every login, when a retry is due).
    /// Nothing starts once the client is closed: `stop()` has cancelled the worker for good.
    func kick() {
        guard !status.isClosed else { return }
        state.withLock { state in
            if state.worker != nil { state.again = true; return }
            state.worker = Task { [self] in
                while true {
                    await drain()
                    let more = self.state.withLock { state -> Bool in
                        if state.again { state.again = false; return true }
                        state.worker = nil
                        return false
                    }
                    if !more { return }
                }
            }
        }
    }

    func stop() {
        let (running, waiting) = state.withLock { ($0.worker, $0.timer) }
        running?.cancel()
        waiting?.cancel()
    }

    private func drain() async {
        while !Task.isCancelled {
            guard status.current == .ready, let session = link.currentSession, session.loggedIn else { return }
            let now = environment.now()
            let entry: Store.OutboxEntry
            do {
                guard let next = try store.nextOutboxEntry(dueBy: now) else {
                    if let due = try store.nextOutboxRetry(now: now) { wake(at: due) }
                    return
                }
                entry = next
                if entry.sendAt != nil, try store.message(id: entry.messageID)?.status == .scheduled {
                    if let wait = admitScheduled() {
                        try store.postponeOutboxEntry(entry, until: now + wait)
                        continue
                    }
                    if let late = try store.releaseScheduled(entry, now: now) {
                        publisher.publish(.messageStatus, ["message_id": .string(entry.messageID), "chat_id": .string(entry.chatJID),
                                                        "status": .string(MessageStatus.queued.rawValue), "at": .string(now.iso8601),
                                                        "late_ms": .int(late.milliseconds)])
                    }
                }
            } catch {
                logger.error("outbox: \(error.message)")
                return
            }
            let failure: Failure?
            do {
                let ack = try await send(entry, connection: session.connection)
                failure = try finish(entry, ack: ack)
                if failure == nil, let peer = Outbox.tokenPeer(entry, ownJID: (try? store.linkedAccount())??.jid) {
                    // whatsmeow sendDM: our own token follows a 1:1 send, off the send path (it ends with the connection).
                    let connection = session.connection, privacyTokens = self.privacyTokens
                    session.spawn { await privacyTokens.issueIfDue(to: peer, connection: connection) }
                }
            } catch let decided as Failure {
                failure = decided
            } catch {
                // Still connected: this attempt counts. Gone: the row waits for the next login.
                guard !session.connection.hasEnded, status.current == .ready, link.currentSession === session else {
                    logger.warning("outbox: \(entry.messageID) not sent yet (the link went down): \(error)")
                    return
                }
                failure = .retry((error as? WauseError)?.message ?? "\(error)")
            }
            do throws(WauseError) {
                switch failure {
                case nil:
                    break
                case .permanent(let reason)?:
                    try fail(entry, reason: reason)
                case .retry(let reason)?:
                    let attempts = entry.attempts + 1
                    if attempts >= Outbox.maximumAttempts {
                        try fail(entry, reason: "not sent after \(attempts) attempts: \(reason)")
                    } else {
                        let delay = Outbox.retryDelay(attempts: attempts, random: environment.randomBytes(2))
                        logger.warning("outbox: \(entry.messageID) not sent (attempt \(attempts)), again in \(delay.milliseconds) ms: \(reason)")
                        try store.noteOutboxAttempt(entry, error: reason, nextAttemptAt: environment.now() + delay)
                    }
                }
            } catch {
                logger.error("outbox: \(error.message)")
                return
            }
        }
    }

    /// The user a sent message's chat is a 1:1 with, when that takes privacy tokens (not a group,
    /// not our own chat).
    static func tokenPeer(_ entry: Store.OutboxEntry, ownJID: String?) -> JID? {
        guard let chat = JID(entry.chatJID), PrivacyTokens.applies(to: chat) else { return nil }
        if let own = ownJID.flatMap(JID.init), own.user == chat.user { return nil }
        return JID(user: chat.user, server: chat.server)
    }

    /// Kicks the worker at `due` (replacing an earlier wake-up).
    private func wake(at due: UnixTime) {
        let environment = self.environment
        let delay = max(.milliseconds(1), due - environment.now())
        state.withLock { state in
            state.timer?.cancel()
            state.timer = Task { [weak self] in
                do { try await environment.sleep(delay) } catch { return }
                self?.kick()
            }
        }
    }

    /// Encrypts for every device of the recipient and our own other devices, sends, waits for
    /// the server's ack (whatsmeow send.go SendMessage, sendDM; user.go GetUserDevices).
    /// Throws `Failure` for what the outbox decides at once, other errors for an attempt that
    /// did not get through.
    private func send(_ queued: Store.OutboxEntry, connection: ServerConnection) async throws -> Node {
        // A media message's file goes up first; its payload then names the upload.
        let entry = try await media?.prepare(queued) ?? queued
        guard let account = try store.linkedAccount(), let ownDevice = JID(account.jid) else {
            throw WauseError(.whatsappNotPaired, "this device is not linked")
        }
        guard let chat = JID(entry.chatJID) else { throw Failure.permanent("bad chat JID \(entry.chatJID)") }
        if chat.server == .group {
            return try await GroupSend(store: store, messaging: messaging, deviceList: deviceList, environment: environment, logger: logger)
                .send(entry, group: chat, connection: connection)
        }
        let ownUser = JID(user: ownDevice.user, server: .whatsApp)
        let addressing = try await addressing(chat: chat, account: account, ownDevice: ownDevice, connection: connection)
        let lists = addressing.lists
        var recipients: [JID] = []
        var ownDevices: [JID] = []
        for list in lists {
            for device in list.devices where device != addressing.sendingDevice {
                if list.user.user == addressing.ownUser.user { ownDevices.append(device) } else { recipients.append(device) }
            }
        }
        if chat.user == ownUser.user { recipients = ownDevices; ownDevices = [] }
        guard !recipients.isEmpty else { throw Failure.permanent(Outbox.notOnWhatsAppReason(chat.user)) }
        let missing = try messaging.devicesWithoutSession(recipients + ownDevices)
        let bundles = try await PreKeyBundles.fetch(missing, connection: connection, environment: environment)

        let message: WAWebProtobufsE2E_Message
        do { message = try WAWebProtobufsE2E_Message(serializedBytes: entry.payload) } catch {
            throw Failure.permanent("the queued message is unreadable: \(error)")
        }
        let sentCopy = MessageFormat.deviceSentCopy(of: message, chat: addressing.to)
        let reachable = recipients.filter { bundles[$0] != nil || !missing.contains($0) }
        // Copies for our own devices alone are no send: the recipient would get nothing.
        guard !reachable.isEmpty else { throw WauseError(.notConnected, "no device of \(chat.user) could be reached") }
        var sealed = try messaging.encrypt(entry.payload, for: reachable, bundles: bundles)
        sealed += try messaging.encrypt(try MessageFormat.encode(sentCopy),
                                               for: ownDevices.filter { bundles[$0] != nil || !missing.contains($0) }, bundles: bundles)
        // whatsmeow send.go getTypeFromMessage/getMediaTypeFromMessage: media goes as type="media" with `mediatype` on each <enc>.
        // A reaction, edit or revoke goes with its own type and edit attributes (MessageChange.swift).
        // A poll is type "poll" with <meta polltype> (PollMessage.swift); a vote hides a failed decryption as a change does.
        let mediaType = MediaMessage.encMediaType(message)
        let change = MessageChange(message), pollType = PollMessage.pollType(of: message)
        let hide = change != nil || pollType == "vote"
        var envelope = MessageEnvelope(id: entry.messageID, type: pollType != nil ? "poll" : change?.stanzaType ?? (mediaType == nil ? "text" : "media"),
                                       to: addressing.to, edit: change?.editAttribute?.rawValue, participants: sealed.map { item in
            MessageEnvelope.Addressed(device: item.device, encrypted: .init(type: item.type, ciphertext: item.ciphertext, mediaType: mediaType,
                                                                            decryptFail: hide ? MessageChange.decryptFailHide : nil))
        }, peerRecipientPhone: addressing.peerRecipientPhone)
        envelope.pollType = pollType
        // whatsmeow send.go sendDM, makeDeviceIdentityNode: our signed device identity goes along whenever a pkmsg does.
        if envelope.carriesPreKeyMessage, let identity = try store.advSignedIdentity() { envelope.deviceIdentity = identity }
        // whatsmeow send.go sendDM: the recipient's privacy token (or a cstoken), so the server lets the message through.
        if chat.user != ownUser.user {
            (envelope.privacyToken, envelope.csToken) = try PrivacyTokenExchange.attachment(for: chat, store: store, now: environment.now())
        }
        let stanza = envelope.node
        let ack = try await connection.sendAwaitingAck(stanza, timeout: Outbox.ackTimeout, environment: environment)
        // whatsmeow send.go SendMessage: the server's phash names the devices it knows; ours differs when our cached lists
        // are stale (a device linked or unlinked meanwhile) — ask again next time. Like whatsmeow
        // `sendDM` (participantListHashV2 over `allDevices`), it covers every listed device of
        // both users, this sending device included.
        if let phash = ack[attribute: "phash"], phash != ParticipantHash.v2(lists.flatMap(\.devices)) {
            logger.info("device lists of \(chat.user) are stale (phash mismatch); refreshing on the next send")
            for list in lists { try store.invalidateDeviceList(user: list.user) }
        }
        return ack
    }

    /// How a 1:1 send is addressed (whatsmeow send.go SendMessage, sendDM): LID-first — when the
    /// recipient's LID is known (a contact's stored LID, else the device-list answer's `<lid>`),
    /// the stanza goes `to` the LID with the phone number in `peer_recipient_pn`, and both users'
    /// devices are listed and encrypted for in LID form (Signal sessions keyed by the LID
    /// addresses; sessions under the phone-number addresses stay, and still decrypt what comes
    /// from a phone-number sender). Without a LID for either side, by phone number as before.
    struct Addressing {
        var to: JID
        var peerRecipientPhone: JID?
        var ownUser: JID
        /// This device, in the form its own list uses.
        var sendingDevice: JID
        var lists: [DeviceList.Entry]
    }

    private func addressing(chat: JID, account: LinkedAccount, ownDevice: JID, connection: ServerConnection) async throws -> Addressing {
        let ownUser = JID(user: ownDevice.user, server: .whatsApp)
        let ownLID = account.lid.flatMap(JID.init).map { JID(user: $0.user, server: .lid) }
        if chat.user == ownUser.user || ownLID == nil {
            let lists = try await deviceList.devices(of: chat.user == ownUser.user ? [ownUser] : [chat, ownUser], connection: connection)
            return Addressing(to: chat, peerRecipientPhone: nil, ownUser: ownUser, sendingDevice: ownDevice, lists: lists)
        }
        let lidDevice = JID(user: ownLID!.user, device: ownDevice.device, server: .lid)
        var recipientLID: JID? = chat.server == .lid ? chat : try store.lid(ofPhone: chat.user).map { JID(user: $0, server: .lid) }
        var phoneLists: [DeviceList.Entry] = []
        if recipientLID == nil {
            // The device-list query asks for the LID too (DeviceList stores it with the contact).
            phoneLists = try await deviceList.devices(of: [chat, ownUser], connection: connection)
            recipientLID = phoneLists.first { $0.user.user == chat.user }?.lid.map { JID(user: $0.user, server: .lid) }
        }
        guard let recipientLID else {
            // The server gave no LID (whatsmeow fails the send here; we fall back to the phone number).
            let lists = phoneLists.isEmpty ? try await deviceList.devices(of: [chat, ownUser], connection: connection) : phoneLists
            return Addressing(to: chat, peerRecipientPhone: nil, ownUser: ownUser, sendingDevice: ownDevice, lists: lists)
        }
        let lists = try await deviceList.devices(of: [recipientLID, ownLID!], connection: connection)
        let phone = chat.server == .whatsApp ? chat : try store.phone(ofLID: recipientLID.user).map { JID(user: $0, server: .whatsApp) }
        return Addressing(to: recipientLID, peerRecipientPhone: phone, ownUser: ownLID!, sendingDevice: lidDevice, lists: lists)
    }

    /// Marks the message sent, or says why not: the server's 463 (a reach-out the recipient's
    /// privacy does not allow without a trusted-contact token; Baileys issue #2441) and 479 (a
    /// stale device session) are final — the same stanza would be refused again — other
    /// refusals are retried.
    private func finish(_ entry: Store.OutboxEntry, ack: Node) throws(WauseError) -> Failure? {
        if let error = ack[attribute: "error"], error != "0" {
            switch error {
            case "463": return .permanent(Outbox.reachOutRestrictedReason)
            case "479": return .permanent(Outbox.staleDeviceSessionReason)
            default: return .retry("the server refused the message (error \(error))")
            }
        }
        let now = environment.now()
        let serverTime = ack[attribute: "t"].flatMap(Int64.init).map(UnixTime.init(seconds:)) ?? now
        let sentAt = try store.markSent(entry, at: serverTime, now: now)
        publisher.publish(.messageSent, ["message_id": .string(entry.messageID), "chat_id": .string(entry.chatJID),
                                      "timestamp": .string(serverTime.iso8601),
                                      "from_other_device": false])
        publisher.publish(.messageStatus, ["message_id": .string(entry.messageID), "chat_id": .string(entry.chatJID),
                                        "status": .string(MessageStatus.sent.rawValue), "at": .string(sentAt.iso8601)])
        return nil
    }

    private func fail(_ entry: Store.OutboxEntry, reason: String) throws(WauseError) {
        let now = environment.now()
        try store.markFailed(entry, reason: reason, now: now)
        // Said as it is: a message that will never go out is not "not sent yet" (issue 11, item 3),
        // at info level like the rest of a message's and the link's life. The stored reason may
        // name the recipient's number; the log shows only its last digits (DESIGN.md "Security").
        let user = JID(entry.chatJID)?.user ?? ""
        logger.info("outbox: \(entry.messageID) failed: " + (user.isEmpty ? reason : reason.replacing(user, with: Logger.redact(user))))
        publisher.publish(.messageStatus, ["message_id": .string(entry.messageID), "chat_id": .string(entry.chatJID),
                                        "status": .string(MessageStatus.failed.rawValue), "reason": .string(reason),
                                        "at": .string(now.iso8601)])
    }
}
