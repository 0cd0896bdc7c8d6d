import WauseBinary
import WauseCrypto
import WauseSignal
import WauseProtocol
import WauseSQLite
import WauseSupport

/// One device of an account as the server routes to it: device 0 is the (virtual) phone.
struct SimEndpoint: Sendable, Equatable {
    let account: SimAccount
    let device: Int

    /// The device's JID in one addressing form: phone number (`s.whatsapp.net`) or LID.
    func jid(_ server: JID.Server) -> JID {
        server == .lid ? JID(user: account.lid, device: UInt16(device), server: .lid)
            : JID(user: account.phone, device: UInt16(device), server: .whatsApp)
    }
}

/// A prekey bundle as the server hands it out (whatsmeow prekeys.go fetchPreKeys).
struct SimBundle: Sendable {
    let registrationID: UInt32
    let identity: [UInt8]
    let signedPreKey: (id: UInt32, publicKey: [UInt8], signature: [UInt8])
    let oneTimePreKey: (id: UInt32, publicKey: [UInt8])?

    /// What the bundle answer publishes (`PreKeyStanzas.bundleUser`).
    var publicKeys: PreKeyStanzas.PublicKeys {
        PreKeyStanzas.PublicKeys(registrationID: registrationID, identityKey: identity, signedPreKeyID: signedPreKey.id,
                                 signedPreKey: signedPreKey.publicKey, signedPreKeySignature: signedPreKey.signature)
    }

    var preKeyBundle: PreKeyBundle {
        get throws {
            try PreKeyBundle(registrationId: registrationID, deviceId: 0, preKeyId: oneTimePreKey?.id,
                             preKeyPublic: oneTimePreKey?.publicKey, signedPreKeyId: signedPreKey.id,
                             signedPreKeyPublic: signedPreKey.publicKey, signedPreKeySignature: signedPreKey.signature,
                             identityKey: try IdentityKey(identity))
        }
    }
}

/// A stanza on its way to one device, kept in the queue until that device answers it.
struct QueuedStanza: Sendable {
    enum Kind: String, Sendable { case message, receipt, notification }
    let phone: String
    let device: Int
    let kind: Kind
    let node: Node

    var stanzaID: String { node[attribute: "id"] ?? "" }
}

/// What the phone's Signal identity needs besides the account key.
struct PhoneKeys: Sendable {
    let registrationID: UInt32
    let signedPreKey: SignedPreKeyRecord
}

extension SimState {
    /// whatsmeow's refill policy (whatsmeow prekeys.go uploadPreKeys): below 5 one-time prekeys on the server, upload 50.
    static let phonePreKeyMinimum = 5
    static let phonePreKeyBatch = 50

    // MARK: Accounts by JID

    public func account(lid: String) throws(WauseError) -> SimAccount? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM accounts WHERE lid = ?", [.text(lid)]).first.flatMap(SimState.account)
        }
    }

    /// The account a user or device JID names, by phone number or by LID.
    func account(jid: JID) throws(WauseError) -> SimAccount? {
        switch jid.server {
        case .whatsApp: return (try? PhoneNumber.normalize(jid.user)) == nil ? nil : try account(phone: jid.user)
        case .lid: return try account(lid: jid.user)
        default: return nil
        }
    }

    /// The device a device JID names, if the account exists and has that device (0 always).
    func endpoint(_ jid: JID) throws(WauseError) -> SimEndpoint? {
        guard let account = try account(jid: jid) else { return nil }
        if jid.device != 0, try !deviceNumbers(phone: account.phone).contains(Int(jid.device)) { return nil }
        return SimEndpoint(account: account, device: Int(jid.device))
    }

    /// Device 0 and the account's companions, in device order.
    func endpoints(of account: SimAccount) throws(WauseError) -> [SimEndpoint] {
        [SimEndpoint(account: account, device: 0)] + (try devices(phone: account.phone)).map { SimEndpoint(account: account, device: $0.device) }
    }

    // MARK: The phone's Signal keys

    /// The phone's registration id and signed prekey, made (with a first batch of one-time
    /// prekeys) on first use, so accounts created before messaging existed get them too.
    func phoneKeys(_ account: SimAccount) throws(WauseError) -> PhoneKeys {
        try database.withConnection { (c) throws(WauseError) -> PhoneKeys in
            try c.transaction { () throws(WauseError) -> PhoneKeys in
                if let row = try c.query("SELECT * FROM phone_signal WHERE phone = ?", [.text(account.phone)]).first,
                    let registration = row["registration_id"].integer, let bytes = row["signed_prekey"].blob
                {
                    do { return PhoneKeys(registrationID: UInt32(registration), signedPreKey: try SignedPreKeyRecord(serialized: bytes)) } catch {
                        throw WauseError(.internal, "the phone \(account.phone)'s signed prekey is unreadable: \(error)")
                    }
                }
                let registration = SignalKeyHelper.generateRegistrationId(random: random)
                let signed: SignedPreKeyRecord
                do {
                    signed = try SignalKeyHelper.generateSignedPreKey(identity: account.identity, id: 1, timestamp: UInt64(clock().milliseconds),
                                                                      random: random)
                } catch { throw WauseError(.internal, "cannot make a signed prekey: \(error)") }
                try c.execute("INSERT INTO phone_signal (phone, registration_id, signed_prekey, next_prekey_id) VALUES (?, ?, ?, 1)",
                              [.text(account.phone), .integer(Int64(registration)), .blob(signed.serialized())])
                try SimState.refillPhonePreKeys(c, phone: account.phone, random: random)
                return PhoneKeys(registrationID: registration, signedPreKey: signed)
            }
        }
    }

    /// Tops the phone's one-time prekeys on the server up to a batch when fewer than the minimum remain.
    private static func refillPhonePreKeys(_ c: SQLiteConnection, phone: String, random: @escaping SignalRandom) throws(WauseError) {
        let left = try c.scalar("SELECT count(*) FROM phone_prekeys WHERE phone = ? AND on_server = 1", [.text(phone)])
        guard left < phonePreKeyMinimum else { return }
        let next = UInt32(try c.scalar("SELECT next_prekey_id FROM phone_signal WHERE phone = ?", [.text(phone)]))
        let records = SignalKeyHelper.generatePreKeys(start: max(1, next), count: phonePreKeyBatch, random: random)
        for record in records {
            try c.execute("INSERT OR REPLACE INTO phone_prekeys (phone, key_id, record, on_server) VALUES (?, ?, ?, 1)",
                          [.text(phone), .integer(Int64(record.id)), .blob(record.serialized())])
        }
        let after = (records.last?.id ?? next) % SignalKeyHelper.maxPreKeyId + 1
        try c.execute("UPDATE phone_signal SET next_prekey_id = ? WHERE phone = ?", [.integer(Int64(after)), .text(phone)])
    }

    /// A fresh one-time prekey for a retry receipt's `<keys>` (whatsmeow retry.go sendRetryReceipt): id from the phone's
    /// counter, never offered by the server.
    func newPhonePreKey(_ account: SimAccount) throws(WauseError) -> PreKeyRecord {
        _ = try phoneKeys(account)
        return try database.withConnection { (c) throws(WauseError) -> PreKeyRecord in
            try c.transaction { () throws(WauseError) -> PreKeyRecord in
                let next = UInt32(try c.scalar("SELECT next_prekey_id FROM phone_signal WHERE phone = ?", [.text(account.phone)]))
                let record = SignalKeyHelper.generatePreKeys(start: max(1, next), count: 1, random: random)[0]
                try c.execute("INSERT OR REPLACE INTO phone_prekeys (phone, key_id, record, on_server) VALUES (?, ?, ?, 0)",
                              [.text(account.phone), .integer(Int64(record.id)), .blob(record.serialized())])
                try c.execute("UPDATE phone_signal SET next_prekey_id = ? WHERE phone = ?",
                              [.integer(Int64(record.id % SignalKeyHelper.maxPreKeyId + 1)), .text(account.phone)])
                return record
            }
        }
    }

    func phoneSignalStore(_ account: SimAccount) throws(WauseError) -> PhoneSignalStore {
        let keys = try phoneKeys(account)
        return PhoneSignalStore(phone: account.phone, identity: account.identity, registrationID: keys.registrationID,
                                signedPreKey: keys.signedPreKey, database: database)
    }

    // MARK: Prekey bundles (whatsmeow prekeys.go fetchPreKeys)

    /// The bundle of one device; its one-time prekey (if any is left) is handed out once: gone
    /// from the server in the same transaction. Nil for a device with no signed prekey.
    func takeBundle(_ endpoint: SimEndpoint) throws(WauseError) -> SimBundle? {
        if endpoint.device == 0 { _ = try phoneKeys(endpoint.account) }
        let phone = endpoint.account.phone, device = Int64(endpoint.device)
        let random = self.random
        return try database.withConnection { (c) throws(WauseError) -> SimBundle? in
            try c.transaction { () throws(WauseError) -> SimBundle? in
                if endpoint.device == 0 {
                    guard let row = try c.query("SELECT * FROM phone_signal WHERE phone = ?", [.text(phone)]).first,
                        let registration = row["registration_id"].integer, let bytes = row["signed_prekey"].blob,
                        let signed = try? SignedPreKeyRecord(serialized: bytes)
                    else { return nil }
                    var oneTime: (UInt32, [UInt8])?
                    if let key = try c.query("SELECT key_id, record FROM phone_prekeys WHERE phone = ? AND on_server = 1 ORDER BY key_id LIMIT 1",
                                             [.text(phone)]).first,
                        let id = key["key_id"].integer, let record = key["record"].blob.flatMap({ try? PreKeyRecord(serialized: $0) })
                    {
                        try c.execute("UPDATE phone_prekeys SET on_server = 0 WHERE phone = ? AND key_id = ?", [.text(phone), .integer(id)])
                        oneTime = (UInt32(id), record.keyPair.publicKey)
                        try SimState.refillPhonePreKeys(c, phone: phone, random: random)
                    }
                    return SimBundle(registrationID: UInt32(registration), identity: endpoint.account.identity.publicKey,
                                     signedPreKey: (signed.id, signed.keyPair.publicKey, signed.signature), oneTimePreKey: oneTime)
                }
                guard let deviceRow = try c.query("SELECT identity_public, registration_id FROM devices WHERE phone = ? AND device = ?",
                                                  [.text(phone), .integer(device)]).first,
                    let identity = deviceRow["identity_public"].blob,
                    let signed = try c.query("SELECT * FROM signed_prekeys WHERE phone = ? AND device = ?", [.text(phone), .integer(device)]).first,
                    let signedID = signed["key_id"].integer, let signedKey = signed["public_key"].blob, let signature = signed["signature"].blob
                else { return nil }
                var oneTime: (UInt32, [UInt8])?
                if let key = try c.query("SELECT key_id, public_key FROM prekeys WHERE phone = ? AND device = ? ORDER BY uploaded_at, key_id LIMIT 1",
                                         [.text(phone), .integer(device)]).first,
                    let id = key["key_id"].integer, let value = key["public_key"].blob
                {
                    try c.execute("DELETE FROM prekeys WHERE phone = ? AND device = ? AND key_id = ?", [.text(phone), .integer(device), .integer(id)])
                    oneTime = (UInt32(id), value)
                }
                return SimBundle(registrationID: UInt32(truncatingIfNeeded: deviceRow["registration_id"].integer ?? 0), identity: identity,
                                 signedPreKey: (UInt32(signedID), signedKey, signature), oneTimePreKey: oneTime)
            }
        }
    }

    // MARK: The offline queue

    /// Adds stanzas to their devices' queues (and runs `also` — other rows of the same
    /// operation) in one transaction: what the sender is acknowledged for is on disk first.
    func enqueue(_ stanzas: [QueuedStanza], also: ((SQLiteConnection) throws(WauseError) -> Void)? = nil) throws(WauseError) {
        let encoder = NodeEncoder()
        var encoded: [[UInt8]] = []
        for stanza in stanzas {
            do { encoded.append(try encoder.encodeNode(stanza.node)) } catch { throw WauseError(.internal, "cannot encode \(stanza.node.tag): \(error)") }
        }
        let now = clock()
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                for (stanza, bytes) in zip(stanzas, encoded) {
                    try c.execute("INSERT INTO queue (phone, device, kind, stanza_id, stanza, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                                  [.text(stanza.phone), .integer(Int64(stanza.device)), .text(stanza.kind.rawValue), .text(stanza.stanzaID),
                                   .blob(bytes), .time(now)])
                }
                try also?(c)
            }
        }
    }

    /// The device's queued stanzas after `seq`, oldest first.
    func queued(phone: String, device: Int, after seq: Int64, limit: Int = 200) throws(WauseError) -> [(seq: Int64, kind: QueuedStanza.Kind, node: Node)] {
        let rows = try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT seq, kind, stanza FROM queue WHERE phone = ? AND device = ? AND seq > ? ORDER BY seq LIMIT ?",
                        [.text(phone), .integer(Int64(device)), .integer(seq), .integer(Int64(limit))])
        }
        let decoder = NodeDecoder()
        return rows.compactMap { row in
            guard let seq = row["seq"].integer, let kind = row["kind"].text.flatMap(QueuedStanza.Kind.init(rawValue:)),
                let bytes = row["stanza"].blob, let node = try? decoder.decodeNode(bytes)
            else { return nil }
            return (seq, kind, node)
        }
    }

    func markDelivered(_ seqs: [Int64]) throws(WauseError) {
        guard !seqs.isEmpty else { return }
        let now = clock()
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                for seq in seqs {
                    try c.execute("UPDATE queue SET delivered_at = coalesce(delivered_at, ?) WHERE seq = ?", [.time(now), .integer(seq)])
                }
            }
        }
    }

    /// The device answered these stanzas (a receipt for messages, an ack for receipts): they leave its queue.
    /// Only stanzas that went out are answered: a read receipt queued after the delivery receipt
    /// of the same message id stays until it is delivered and acked in its turn.
    func dequeue(phone: String, device: Int, kind: QueuedStanza.Kind, ids: [String], in c: SQLiteConnection) throws(WauseError) {
        for id in ids {
            try c.execute("DELETE FROM queue WHERE phone = ? AND device = ? AND kind = ? AND stanza_id = ? AND delivered_at IS NOT NULL",
                          [.text(phone), .integer(Int64(device)), .text(kind.rawValue), .text(id)])
        }
    }

    func dequeue(phone: String, device: Int, kind: QueuedStanza.Kind, ids: [String]) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in try dequeue(phone: phone, device: device, kind: kind, ids: ids, in: c) }
        }
    }

    func dropQueued(seq: Int64) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in try dequeue(seq: seq, in: c) }
    }

    /// Runs `body` in one transaction.
    func commit(_ body: (SQLiteConnection) throws(WauseError) -> Void) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in try c.transaction { () throws(WauseError) in try body(c) } }
    }

    func dequeue(seq: Int64, in c: SQLiteConnection) throws(WauseError) {
        try c.execute("DELETE FROM queue WHERE seq = ?", [.integer(seq)])
    }

    /// The oldest stanza queued for any virtual phone (device 0).
    func nextPhoneStanza() throws(WauseError) -> (seq: Int64, phone: String, kind: QueuedStanza.Kind, node: Node?)? {
        guard let row = try database.withConnection({ (c) throws(WauseError) in
            try c.query("SELECT seq, phone, kind, stanza FROM queue WHERE device = 0 ORDER BY seq LIMIT 1").first
        }), let seq = row["seq"].integer, let phone = row["phone"].text else { return nil }
        let kind = row["kind"].text.flatMap(QueuedStanza.Kind.init(rawValue:)) ?? .message
        return (seq, phone, kind, row["stanza"].blob.flatMap { try? NodeDecoder().decodeNode($0) })
    }

    func queueCount(phone: String, device: Int) throws(WauseError) -> Int {
        try database.withConnection { (c) throws(WauseError) in
            Int(try c.scalar("SELECT count(*) FROM queue WHERE phone = ? AND device = ?", [.text(phone), .integer(Int64(device))]))
        }
    }

    // MARK: Who sent what

    static func logMessage(_ c: SQLiteConnection, id: String, sender: SimEndpoint, chat: JID, t: Int64) throws(WauseError) {
        try c.execute("INSERT OR IGNORE INTO message_log (message_id, sender_phone, sender_device, chat, t) VALUES (?, ?, ?, ?, ?)",
                      [.text(id), .text(sender.account.phone), .integer(Int64(sender.device)), .text(chat.description), .integer(t)])
    }

    /// The accounts that have exchanged a message with `account` either way (its contacts: they
    /// hold Signal sessions with its devices), by phone number; `account` itself is not one.
    func contacts(of account: SimAccount) throws(WauseError) -> Set<String> {
        let rows = try database.withConnection { (c) throws(WauseError) in
            try c.query("""
                SELECT sender_phone AS peer FROM message_log WHERE chat IN (?, ?)
                UNION SELECT chat AS peer FROM message_log WHERE sender_phone = ?
                """, [.text(account.jid), .text(account.lidJID), .text(account.phone)])
        }
        var phones = Set<String>()
        for row in rows {
            guard let peer = row["peer"].text else { continue }
            if !peer.contains("@") {
                phones.insert(peer)  // a sender_phone
            } else if let chat = JID(peer), let other = try self.account(jid: chat) {
                phones.insert(other.phone)
            }
        }
        phones.remove(account.phone)
        return phones
    }

    /// The chat a message of `phone` went to (for the `recipient` of a retry resend to an own device).
    func loggedChat(messageID: String, senderPhone: String) throws(WauseError) -> JID? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT chat FROM message_log WHERE message_id = ? AND sender_phone = ?", [.text(messageID), .text(senderPhone)])
                .first?["chat"].text.flatMap(JID.init)
        }
    }

    // MARK: The phones' own messages

    func autoReply(phone: String) throws(WauseError) -> String? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT auto_reply FROM accounts WHERE phone = ?", [.text(phone)]).first?["auto_reply"].text
        }
    }

    func setAutoReply(phone: String, text: String?) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("UPDATE accounts SET auto_reply = ? WHERE phone = ?", [SQLValue(text), .text(phone)])
        }
    }

    func sentByPhone(phone: String, messageID: String) throws(WauseError) -> (chat: JID, payload: [UInt8], autoReply: Bool, t: Int64)? {
        try database.withConnection { (c) throws(WauseError) in
            guard let row = try c.query("SELECT * FROM phone_sent WHERE phone = ? AND message_id = ?", [.text(phone), .text(messageID)]).first,
                let chat = row["chat"].text.flatMap(JID.init), let payload = row["payload"].blob
            else { return nil }
            return (chat, payload, row["auto_reply"].integer == 1, row["t"].integer ?? 0)
        }
    }

    /// One more retry receipt for this message from this sender; answers the count.
    func countPhoneRetry(phone: String, messageID: String, sender: String) throws(WauseError) -> Int {
        try database.withConnection { (c) throws(WauseError) -> Int in
            try c.execute("""
                INSERT INTO phone_retries (phone, message_id, sender, count) VALUES (?, ?, ?, 1)
                ON CONFLICT (phone, message_id, sender) DO UPDATE SET count = count + 1
                """, [.text(phone), .text(messageID), .text(sender)])
            return Int(try c.scalar("SELECT count FROM phone_retries WHERE phone = ? AND message_id = ? AND sender = ?",
                                    [.text(phone), .text(messageID), .text(sender)]))
        }
    }

    /// `GET /accounts/{phone}/inbox?after=N`: rows after the cursor, oldest first.
    func inbox(phone: String, after cursor: Int64, limit: Int) throws(WauseError) -> [JSONValue] {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM inbox WHERE phone = ? AND cursor > ? ORDER BY cursor LIMIT ?",
                        [.text(phone), .integer(cursor), .integer(Int64(limit))]).map { row in
                [
                    "cursor": .int(row["cursor"].integer ?? 0), "id": JSONValue(row["message_id"].text),
                    "from": JSONValue(row["from_jid"].text), "from_phone": JSONValue(row["from_phone"].text),
                    "from_me": .bool(row["from_me"].integer == 1), "chat": JSONValue(row["chat"].text), "to": JSONValue(row["to_jid"].text),
                    "text": JSONValue(row["text"].text), "push_name": JSONValue(row["push_name"].text),
                    "author": JSONValue(row["author"].text),
                    "timestamp": .string(ISO8601.string(fromUnixMilliseconds: (row["timestamp"].integer ?? 0) * 1000)),
                    // PhoneMedia.describe's object, null for text.
                    "media": row["media"].text.flatMap { try? JSONValue.parse(bytes: Array($0.utf8)) } ?? .null,
                ]
            }
        }
    }

    /// Messages the phone received from others (not its companions' copies) with these ids, and
    /// the chat each came in: what `POST /accounts/{phone}/read` marks read.
    func receivedMessages(phone: String, ids: [String]) throws(WauseError) -> [(id: String, chat: String)] {
        try database.withConnection { (c) throws(WauseError) in
            var found: [(id: String, chat: String)] = []
            for id in ids {
                if let row = try c.query("SELECT chat FROM inbox WHERE phone = ? AND message_id = ? AND from_me = 0 LIMIT 1",
                                         [.text(phone), .text(id)]).first, let chat = row["chat"].text {
                    found.append((id, chat))
                }
            }
            return found
        }
    }
}
