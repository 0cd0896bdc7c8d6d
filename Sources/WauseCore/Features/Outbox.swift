import SwiftProtobuf
import WauseBinary
import WauseCrypto
import WauseProto
import WauseSignal

/// The durable outbox (DESIGN.md: persist before you acknowledge). A message is written to the
/// store — message row, outbox row, `queued` in its timeline — before anything goes on the wire;
/// one worker sends the outbox in order while the device is `ready`, and a row leaves only when the
/// server acked the message (or refused it for good). After a crash or a dropped link the worker
/// starts again at the next login and sends what is left, under the same message id, so a
/// recipient that got an earlier attempt files it once.
///
/// One send at a time, as whatsmeow's `messageSendLock`: fan-out encryption advances sessions.
final class Outbox: @unchecked Sendable {
    static let ackTimeout: Int64 = 75_000

    /// Weak for the same reason as the connection loop's: the worker may outlive `close()`.
    private weak var owner: WauseClient?
    private let lock = ConditionLock()
    private var worker: Task<Void, Never>?
    private var again = false

    init(client: WauseClient) { self.owner = client }

    /// Makes sure the worker runs (after an enqueue, and after every login).
    func kick() {
        lock.withLock {
            if worker != nil { again = true; return }
            worker = Task { [self] in
                while true {
                    await drain()
                    let more = lock.withLock { () -> Bool in
                        if again { again = false; return true }
                        worker = nil
                        return false
                    }
                    if !more { return }
                }
            }
        }
    }

    func stop() { lock.withLock { worker }?.cancel() }

    private func drain() async {
        guard let client = owner else { return }
        while !Task.isCancelled {
            guard client.versionedState().0 == .ready, let session = client.link.currentSession, session.loggedIn else { return }
            let entry: Store.OutboxEntry
            do {
                guard let next = try client.store.nextOutboxEntry() else { return }
                entry = next
            } catch {
                client.logger.error("outbox: \(error.message)")
                return
            }
            do throws(WauseError) {
                let ack = try await send(entry, client: client, connection: session.connection)
                try finish(entry, ack: ack, client: client)
            } catch {
                // The link went down or the server did not answer: the row stays for the next login.
                client.logger.warning("outbox: \(entry.messageID) not sent yet: \(error.message)")
                try? client.store.noteOutboxAttempt(entry, error: error.message, now: client.environment.now())
                if error.code == .internal { try? fail(entry, reason: error.message, client: client) }
                return
            }
        }
    }

    /// Encrypts for every device of the recipient and our own other devices, sends, waits for
    /// the server's ack (protocol-messaging §3.3–3.7).
    private func send(_ entry: Store.OutboxEntry, client: WauseClient, connection: ServerConnection) async throws(WauseError) -> Node {
        guard let account = try client.store.linkedAccount(), let ownDevice = JID(account.jid) else {
            throw WauseError(.whatsappNotPaired, "this device is not linked")
        }
        guard let chat = JID(entry.chatJID) else { throw WauseError(.internal, "bad chat JID \(entry.chatJID)") }
        let ownUser = JID(user: ownDevice.user, server: .whatsApp)
        let lists = try await DeviceList.devices(of: chat.user == ownUser.user ? [ownUser] : [chat, ownUser], client: client,
                                                 connection: connection)
        var recipients: [JID] = []
        var ownDevices: [JID] = []
        for list in lists {
            for device in list.devices where device != ownDevice {
                if list.user.user == ownUser.user { ownDevices.append(device) } else { recipients.append(device) }
            }
        }
        if chat.user == ownUser.user { recipients = ownDevices; ownDevices = [] }
        guard !recipients.isEmpty else { throw WauseError(.internal, "\(chat.user) has no WhatsApp devices") }
        let missing = try client.messaging.devicesWithoutSession(recipients + ownDevices)
        let bundles = try await PreKeyBundles.fetch(missing, client: client, connection: connection)

        let message: WAWebProtobufsE2E_Message
        do { message = try WAWebProtobufsE2E_Message(serializedBytes: entry.payload) } catch {
            throw WauseError(.internal, "the queued message is unreadable: \(error)")
        }
        let sentCopy = Messaging.deviceSentCopy(of: message, chat: chat)
        var sealed = try client.messaging.encrypt(entry.payload, for: recipients.filter { bundles[$0] != nil || !missing.contains($0) },
                                                  bundles: bundles)
        sealed += try client.messaging.encrypt(try Messaging.encode(sentCopy),
                                               for: ownDevices.filter { bundles[$0] != nil || !missing.contains($0) }, bundles: bundles)
        guard !sealed.isEmpty else { throw WauseError(.notConnected, "no device of \(chat.user) could be reached") }
        var children = [Node(tag: "participants", children: sealed.map { item in
            Node(tag: "to", attributes: ["jid": .jid(item.device)], children: [
                Node(tag: "enc", attributes: ["v": "2", "type": .text(item.type)], bytes: item.ciphertext),
            ])
        })]
        // §3.5: our signed device identity goes along whenever a pkmsg does.
        if sealed.contains(where: { $0.type == "pkmsg" }), let identity = try client.store.advSignedIdentity() {
            children.append(Node(tag: "device-identity", bytes: identity))
        }
        let stanza = Node(tag: "message", attributes: ["id": .text(entry.messageID), "to": .jid(chat), "type": "text"], children: children)
        let ack = try await connection.sendAwaitingAck(stanza, timeout: Outbox.ackTimeout, environment: client.environment)
        // §3.7: the server's phash names the devices it knows; ours differs when our cached lists
        // are stale (a device linked or unlinked meanwhile) — ask again next time. Like whatsmeow
        // `sendDM` (participantListHashV2 over `allDevices`), it covers every listed device of
        // both users, this sending device included.
        if let phash = ack[attribute: "phash"], phash != ParticipantHash.v2(lists.flatMap(\.devices)) {
            client.logger.info("device lists of \(chat.user) are stale (phash mismatch); refreshing on the next send")
            try client.store.invalidateDeviceList(user: chat)
            try client.store.invalidateDeviceList(user: ownUser)
        }
        return ack
    }

    private func finish(_ entry: Store.OutboxEntry, ack: Node, client: WauseClient) throws(WauseError) {
        if let error = ack[attribute: "error"], error != "0" {
            try fail(entry, reason: "the server refused the message (error \(error))", client: client)
            return
        }
        let now = client.environment.now()
        let serverTime = ack[attribute: "t"].flatMap(Int64.init).map { $0 * 1000 } ?? now
        try client.store.markSent(entry, at: serverTime, now: now)
        client.publish(.messageSent, ["message_id": .string(entry.messageID), "chat_id": .string(entry.chatJID),
                                      "timestamp": .string(ISO8601.string(fromUnixMilliseconds: serverTime)),
                                      "from_other_device": false])
        client.publish(.messageStatus, ["message_id": .string(entry.messageID), "chat_id": .string(entry.chatJID),
                                        "status": "sent", "at": .string(ISO8601.string(fromUnixMilliseconds: serverTime))])
    }

    private func fail(_ entry: Store.OutboxEntry, reason: String, client: WauseClient) throws(WauseError) {
        let now = client.environment.now()
        try client.store.markFailed(entry, reason: reason, now: now)
        client.publish(.messageStatus, ["message_id": .string(entry.messageID), "chat_id": .string(entry.chatJID),
                                        "status": "failed", "reason": .string(reason),
                                        "at": .string(ISO8601.string(fromUnixMilliseconds: now))])
    }
}

extension Store {
    struct OutboxEntry: Sendable {
        var id: Int64
        var messageID: String
        var chatJID: String
        var payload: [UInt8]
        var attempts: Int64
    }

    /// The message row, the outbox row and `queued` in the timeline, in one transaction.
    /// With `idempotency`, the caller's key and its result are recorded in the same transaction, so a
    /// retry after a crash finds either both the message and the key, or neither.
    func enqueue(_ message: MessageRecord, contactID: Int64?, payload: [UInt8], now: Int64,
                 idempotency: (key: String, method: String, result: JSONObject)? = nil) throws(WauseError) -> Int64 {
        try database.withConnection { (c) throws(WauseError) -> Int64 in
            try c.transaction { () throws(WauseError) -> Int64 in
                if let idempotency {
                    try c.execute("INSERT OR REPLACE INTO idempotency_keys (key, method, result, created_at) VALUES (?, ?, ?, ?)",
                                  [.text(idempotency.key), .text(idempotency.method),
                                   .text(JSONValue.object(idempotency.result).serialized), .integer(now)])
                }
                try c.execute("""
                    INSERT INTO chats (jid, contact_id, updated_at) VALUES (?, ?, ?)
                    ON CONFLICT (jid) DO UPDATE SET contact_id = coalesce(chats.contact_id, excluded.contact_id)
                    """, [.text(message.chatJID), SQLValue(contactID), .integer(now)])
                let rowid = try c.execute("""
                    INSERT INTO messages (id, chat_jid, sender_jid, from_me, type, body, quoted_id, timestamp, has_media, status, raw,
                                          received_at)
                    VALUES (?, ?, NULL, 1, ?, ?, ?, ?, 0, 'queued', ?, ?)
                    """, [.text(message.id), .text(message.chatJID), .text(message.type), .text(message.body),
                          SQLValue(message.quotedID), .integer(message.timestamp), .blob(payload), .integer(now)])
                try c.execute("UPDATE chats SET last_message_at = max(coalesce(last_message_at, 0), ?), updated_at = ? WHERE jid = ?",
                              [.integer(message.timestamp), .integer(now), .text(message.chatJID)])
                try c.execute("INSERT INTO message_status_timeline (message_rowid, status, at) VALUES (?, 'queued', ?)",
                              [.integer(rowid), .integer(now)])
                try c.execute("INSERT INTO outbox (message_id, chat_jid, payload, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?)",
                              [.text(message.id), .text(message.chatJID), .blob(payload), .integer(now), .integer(now)])
                return rowid
            }
        }
    }

    func nextOutboxEntry() throws(WauseError) -> OutboxEntry? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM outbox ORDER BY id LIMIT 1").first.map { row in
                OutboxEntry(id: row["id"].integer ?? 0, messageID: row["message_id"].text ?? "", chatJID: row["chat_jid"].text ?? "",
                            payload: row["payload"].blob ?? [], attempts: row["attempts"].integer ?? 0)
            }
        }
    }

    func noteOutboxAttempt(_ entry: OutboxEntry, error: String, now: Int64) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
                          [.text(error), .integer(now), .integer(entry.id)])
        }
    }

    func markSent(_ entry: OutboxEntry, at serverTime: Int64, now: Int64) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                try c.execute("DELETE FROM outbox WHERE id = ?", [.integer(entry.id)])
                try c.execute("UPDATE messages SET status = 'sent' WHERE id = ? AND from_me = 1 AND status = 'queued'",
                              [.text(entry.messageID)])
                try c.execute("""
                    INSERT INTO message_status_timeline (message_rowid, status, at)
                    SELECT rowid, 'sent', ? FROM messages WHERE id = ? AND from_me = 1
                    """, [.integer(serverTime), .text(entry.messageID)])
            }
        }
    }

    func markFailed(_ entry: OutboxEntry, reason: String, now: Int64) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                try c.execute("DELETE FROM outbox WHERE id = ?", [.integer(entry.id)])
                try c.execute("UPDATE messages SET status = 'failed', status_reason = ? WHERE id = ? AND from_me = 1",
                              [.text(reason), .text(entry.messageID)])
                try c.execute("""
                    INSERT INTO message_status_timeline (message_rowid, status, at)
                    SELECT rowid, 'failed', ? FROM messages WHERE id = ? AND from_me = 1
                    """, [.integer(now), .text(entry.messageID)])
            }
        }
    }

    func advSignedIdentity() throws(WauseError) -> [UInt8]? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT adv_signed_identity FROM device WHERE id = 1").first?["adv_signed_identity"].blob
        }
    }
}
