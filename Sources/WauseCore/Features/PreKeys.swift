import WauseBinary
import WauseCrypto
import WauseSignal

/// One-time prekeys on the server (whatsmeow prekeys.go), so contacts can start Signal sessions
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

    /// `value` as `count` big-endian bytes (registration ids: 4, key ids: 3).
    static func bigEndian(_ value: UInt32, bytes count: Int) -> [UInt8] {
        (0..<count).reversed().map { UInt8(value >> (8 * UInt32($0)) & 0xFF) }
    }

    /// `<registration>4 bytes BE</registration>`.
    static func registrationNode(_ identity: DeviceIdentity) -> Node {
        Node(tag: "registration", bytes: bigEndian(identity.registrationID, bytes: 4))
    }

    /// `<key><id>3 bytes</id><value>32 bytes</value></key>`: one one-time prekey.
    static func keyNode(id: UInt32, publicKey: [UInt8]) -> Node {
        Node(tag: "key", children: [Node(tag: "id", bytes: bigEndian(id, bytes: 3)), Node(tag: "value", bytes: publicKey)])
    }

    /// `<type>05</type><identity/>…<skey><id/><value/><signature/></skey>` around `keys`: what both the
    /// upload (whatsmeow prekeys.go uploadPreKeys) and a retry receipt's `<keys>` (whatsmeow retry.go sendRetryReceipt) carry.
    static func keyType(_ identity: DeviceIdentity) -> [Node] {
        [Node(tag: "type", bytes: [DjbPublicKey.typeByte]), Node(tag: "identity", bytes: identity.identityKey.publicKey)]
    }

    static func signedPreKeyNode(_ identity: DeviceIdentity) -> Node {
        let signed = identity.signedPreKey
        return Node(tag: "skey", children: [
            Node(tag: "id", bytes: bigEndian(signed.id, bytes: 3)),
            Node(tag: "value", bytes: signed.keyPair.publicKey),
            Node(tag: "signature", bytes: signed.signature),
        ])
    }

    /// whatsmeow prekeys.go uploadPreKeys, preKeyToNode: registration id (4 bytes BE), key type 05, identity, the one-time keys (3-byte ids)
    /// and the current signed prekey.
    static func uploadIQ(id: String, identity: DeviceIdentity, keys: [(id: UInt32, publicKey: [UInt8])]) -> Node {
        Node(tag: "iq", attributes: ["id": .text(id), "xmlns": "encrypt", "type": "set", "to": .jid(.whatsAppServer)],
             children: [registrationNode(identity)] + keyType(identity) + [
                 Node(tag: "list", children: keys.map { keyNode(id: $0.id, publicKey: $0.publicKey) }),
                 signedPreKeyNode(identity),
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

/// Other devices' prekey bundles, for starting sessions with devices we have none with
/// (whatsmeow prekeys.go fetchPreKeys; send.go encryptMessageForDevices): one `encrypt` iq for all of them.
enum PreKeyBundles {
    static func query(id: String, devices: [JID]) -> Node {
        Node(tag: "iq", attributes: ["xmlns": "encrypt", "type": "get", "to": .jid(.whatsAppServer), "id": .text(id)], children: [
            Node(tag: "key", children: devices.map { Node(tag: "user", attributes: ["jid": .jid($0), "reason": "identity"]) }),
        ])
    }

    static func bigEndian(_ bytes: [UInt8]?) -> UInt32? {
        guard let bytes, (1...4).contains(bytes.count) else { return nil }
        return bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    /// The keys of one device as a bundle: `<identity/><skey>…</skey>[<key>…</key>]` under `keys`, with the
    /// registration id given separately (inside a bundle's `<user>`; beside a retry receipt's `<keys>`).
    static func bundle(keys: Node, registration: [UInt8]?, device: JID) -> PreKeyBundle? {
        guard let registration = bigEndian(registration), let identityBytes = keys.child("identity")?.bytes,
            let identity = try? IdentityKey(identityBytes), let signed = keys.child("skey"),
            let signedID = bigEndian(signed.child("id")?.bytes), let signedValue = signed.child("value")?.bytes,
            let signature = signed.child("signature")?.bytes
        else { return nil }
        let oneTime = keys.child("key")
        return try? PreKeyBundle(registrationId: registration, deviceId: UInt32(device.device),
                                 preKeyId: oneTime.flatMap { bigEndian($0.child("id")?.bytes) },
                                 preKeyPublic: oneTime?.child("value")?.bytes, signedPreKeyId: signedID,
                                 signedPreKeyPublic: signedValue, signedPreKeySignature: signature, identityKey: identity)
    }

    /// `<list><user jid><registration/><type/><identity/><skey>…</skey>[<key>…</key>]</user>…` (the
    /// list may sit inside `<keys>`). Users answered with an `<error>` are left out.
    static func parse(_ answer: Node) -> [JID: PreKeyBundle] {
        let list = answer.child("list") ?? answer.child(path: "keys", "list")
        var bundles: [JID: PreKeyBundle] = [:]
        for user in list?.children("user") ?? [] {
            guard user.child("error") == nil, let jid = user.jid("jid"),
                let bundle = bundle(keys: user, registration: user.child("registration")?.bytes, device: jid)
            else { continue }
            bundles[jid] = bundle
        }
        return bundles
    }

    static func fetch(_ devices: [JID], client: WauseClient, connection: ServerConnection) async throws(WauseError) -> [JID: PreKeyBundle] {
        guard !devices.isEmpty else { return [:] }
        let answer = try await connection.query(query(id: connection.nextID(), devices: devices), timeout: ServerConnection.queryTimeout,
                                                environment: client.environment)
        guard answer[attribute: "type"] == "result" else {
            throw WauseError(.notConnected, "the server refused the prekey bundle request (\(answer.child("error")?[attribute: "code"] ?? "?"))")
        }
        return parse(answer)
    }
}
