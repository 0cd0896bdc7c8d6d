import WauseBinary
import WauseCrypto

/// One-time prekeys on the server (transport reference §9), so contacts can start Signal sessions
/// with this device while it is offline. After `<success>` the engine asks the server how many it
/// holds and tops them up as whatsmeow does; an `encrypt` notification with a low count refills.
enum PreKeys {
    /// whatsmeow: upload when the server holds fewer than this…
    static let minimumOnServer = 5
    /// …812 keys the first time (nothing uploaded yet, nothing on the server), 50 afterwards.
    static let initialUpload = 812
    static let refillUpload = 50
    /// Prekey ids are 24-bit and count up from 1.
    static let maximumID: UInt32 = 0xFF_FFFF

    static func countQuery(id: String) -> Node {
        Node(tag: "iq", attributes: ["id": .text(id), "xmlns": "encrypt", "type": "get", "to": .jid(.whatsAppServer)],
             children: [Node(tag: "count")])
    }

    /// How many to upload given the server's count and whether we ever uploaded; nil for none.
    static func uploadSize(serverCount: Int, everUploaded: Bool) -> Int? {
        guard serverCount < minimumOnServer else { return nil }
        return serverCount == 0 && !everUploaded ? initialUpload : refillUpload
    }

    /// §9.2: registration id (4 bytes BE), key type 05, identity, the one-time keys (3-byte ids)
    /// and the current signed prekey.
    static func uploadIQ(id: String, identity: DeviceIdentity, keys: [(id: UInt32, publicKey: [UInt8])]) -> Node {
        func bigEndian(_ value: UInt32, bytes: Int) -> [UInt8] { (0..<bytes).reversed().map { UInt8(value >> (8 * UInt32($0)) & 0xFF) } }
        let list = keys.map { key in
            Node(tag: "key", children: [Node(tag: "id", bytes: bigEndian(key.id, bytes: 3)), Node(tag: "value", bytes: key.publicKey)])
        }
        let signed = identity.signedPreKey
        return Node(tag: "iq", attributes: ["id": .text(id), "xmlns": "encrypt", "type": "set", "to": .jid(.whatsAppServer)],
                    children: [
                        Node(tag: "registration", bytes: bigEndian(identity.registrationID, bytes: 4)),
                        Node(tag: "type", bytes: [DjbPublicKey.typeByte]),
                        Node(tag: "identity", bytes: identity.identityKey.publicKey),
                        Node(tag: "list", children: list),
                        Node(tag: "skey", children: [
                            Node(tag: "id", bytes: bigEndian(signed.id, bytes: 3)),
                            Node(tag: "value", bytes: signed.keyPair.publicKey),
                            Node(tag: "signature", bytes: signed.signature),
                        ]),
                    ])
    }

    /// Asks the server for its count and uploads if it runs low. Keys are stored before they go
    /// out and marked uploaded only once the server confirmed them, so a dropped link never
    /// leaves the server holding a key we do not have.
    static func ensureUploaded(client: WauseClient, connection: ServerConnection, minimumServerCount: Int? = nil) async throws(WauseError) {
        let environment = client.environment
        let serverCount: Int
        if let minimumServerCount {
            serverCount = minimumServerCount
        } else {
            let answer = try await connection.query(countQuery(id: connection.nextID()), timeout: ServerConnection.queryTimeout,
                                                    environment: environment)
            guard answer[attribute: "type"] == "result", let value = answer.child("count")?[attribute: "value"], let count = Int(value) else {
                throw WauseError(.internal, "the server's prekey count answer was unreadable")
            }
            serverCount = count
        }
        let everUploaded = try client.store.uploadedPreKeyCount() > 0
        guard let size = uploadSize(serverCount: serverCount, everUploaded: everUploaded) else { return }
        let keys = try client.store.preparePreKeys(count: size, random: environment.randomBytes, now: environment.now())
        let answer = try await connection.query(uploadIQ(id: connection.nextID(), identity: client.identity,
                                                         keys: keys.map { ($0.id, $0.publicKey) }),
                                                timeout: ServerConnection.queryTimeout, environment: environment)
        guard answer[attribute: "type"] == "result" else {
            throw WauseError(.internal, "the server refused the prekey upload (\(answer.child("error")?[attribute: "code"] ?? "?"))")
        }
        try client.store.markPreKeysUploaded(keys.map(\.id))
        client.logger.info("uploaded \(keys.count) prekeys (server had \(serverCount))")
    }
}

extension Store {
    struct StoredPreKey {
        var id: UInt32
        var publicKey: [UInt8]
    }

    func uploadedPreKeyCount() throws(WauseError) -> Int64 {
        try database.withConnection { (c) throws(WauseError) in try c.scalar("SELECT count(*) FROM prekeys WHERE uploaded = 1") }
    }

    /// `count` keys not yet on the server: those left over from an upload that never got its answer
    /// first, then new ones with ids counting up (24-bit, wrapping past ids still in use).
    func preparePreKeys(count: Int, random: (Int) -> [UInt8], now: Int64) throws(WauseError) -> [StoredPreKey] {
        try database.withConnection { (c) throws(WauseError) -> [StoredPreKey] in
            try c.transaction { () throws(WauseError) -> [StoredPreKey] in
                var keys = try c.query("SELECT id, public_key FROM prekeys WHERE uploaded = 0 ORDER BY id LIMIT ?", [.integer(Int64(count))])
                    .compactMap { row -> StoredPreKey? in
                        guard let id = row["id"].integer, let key = row["public_key"].blob else { return nil }
                        return StoredPreKey(id: UInt32(id), publicKey: key)
                    }
                var next = UInt32(try c.scalar("SELECT coalesce(max(id), 0) FROM prekeys")) % PreKeys.maximumID + 1
                while keys.count < count {
                    if try c.scalar("SELECT count(*) FROM prekeys WHERE id = ?", [.integer(Int64(next))]) == 0 {
                        let pair = Curve25519KeyPair.generate(random: random)
                        try c.execute("INSERT INTO prekeys (id, private_key, public_key, uploaded, created_at) VALUES (?, ?, ?, 0, ?)",
                                      [.integer(Int64(next)), .blob(pair.privateKey), .blob(pair.publicKey), .integer(now)])
                        keys.append(StoredPreKey(id: next, publicKey: pair.publicKey))
                    }
                    next = next % PreKeys.maximumID + 1
                }
                return keys
            }
        }
    }

    func markPreKeysUploaded(_ ids: [UInt32]) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                for id in ids { try c.execute("UPDATE prekeys SET uploaded = 1 WHERE id = ?", [.integer(Int64(id))]) }
            }
        }
    }
}
