import WauseBinary
import WauseCrypto

/// Which devices a user has (whatsmeow user.go GetUserDevices): a usync `devices` query, with the user's
/// LID asked for too (`<lid/>`) so sessions and chats can use it. Answers are cached in the store
/// and refreshed when they are older than `maximumAge` or the server says our list is stale
/// (a `phash` mismatch on a send ack, a `devices` notification).
enum DeviceList {
    static let maximumAge: Int64 = 5 * 60 * 1000

    struct Entry: Equatable, Sendable {
        /// The user JID asked about (phone or LID form).
        var user: JID
        var lid: JID?
        /// Device JIDs in the user's addressing form, device 0 (the phone) included.
        var devices: [JID]
    }

    static func query(id: String, users: [JID]) -> Node {
        Node(tag: "iq", attributes: ["xmlns": "usync", "type": "get", "to": .jid(.whatsAppServer), "id": .text(id)], children: [
            Node(tag: "usync", attributes: ["sid": .text(id), "mode": "query", "last": "true", "index": "0", "context": "message"],
                 children: [
                     Node(tag: "query", children: [Node(tag: "devices", attributes: ["version": "2"]), Node(tag: "lid")]),
                     Node(tag: "list", children: users.map { Node(tag: "user", attributes: ["jid": .jid($0)]) }),
                 ]),
        ])
    }

    /// `<usync><list><user jid><devices><device-list><device id [key-index]/>…` plus `<lid val>`.
    /// Companion devices without a key-index are skipped, as Baileys does (the server refuses them).
    static func parse(_ answer: Node) -> [Entry] {
        guard let list = answer.child(path: "usync", "list") else { return [] }
        return list.children("user").compactMap { user -> Entry? in
            guard let jid = user.jid("jid") else { return nil }
            let bare = JID(user: jid.user, server: jid.server)
            let devices = (user.child(path: "devices", "device-list")?.children("device") ?? []).compactMap { device -> JID? in
                guard let text = device[attribute: "id"], let number = UInt16(text) else { return nil }
                if number != 0 && device[attribute: "key-index"] == nil { return nil }
                return JID(user: bare.user, device: number, server: bare.server)
            }
            let lid = user.child("lid")?.jid("val") ?? user.child("lid").flatMap { $0[attribute: "val"] }.flatMap(JID.init)
            return Entry(user: bare, lid: lid, devices: devices)
        }
    }

    /// The devices of `users`, from the cache when fresh, else from the server (one query for all
    /// that need it). LIDs learned are stored with the contact.
    static func devices(of users: [JID], client: WauseClient, connection: ServerConnection, refresh: Bool = false)
        async throws(WauseError) -> [Entry]
    {
        let now = client.environment.now()
        var found: [Entry] = []
        var missing: [JID] = []
        for user in users {
            if !refresh, let cached = try client.store.cachedDeviceList(user: user, newerThan: now - maximumAge) {
                found.append(cached)
            } else {
                missing.append(user)
            }
        }
        guard !missing.isEmpty else { return found }
        let answer = try await connection.query(query(id: connection.nextID(), users: missing), timeout: ServerConnection.queryTimeout,
                                                environment: client.environment)
        guard answer[attribute: "type"] == "result" else {
            throw WauseError(.notConnected, "the server refused the device list query (\(answer.child("error")?[attribute: "code"] ?? "?"))")
        }
        for entry in parse(answer) {
            try client.store.saveDeviceList(entry, now: now)
            if entry.user.server == .whatsApp, let lid = entry.lid {
                _ = try client.store.contact(phone: entry.user.user, lid: lid.user, now: now)
            }
            found.append(entry)
        }
        return found
    }
}

/// whatsmeow send.go participantListHashV2: `2:` + unpadded base64 of the first
/// 6 bytes of SHA-256 over the sorted `user.agent:device@server` strings. The server puts it on a
/// message's ack and on `devices` notifications; a sender whose list hashes differently is stale.
public enum ParticipantHash {
    public static func v2(_ devices: [JID]) -> String {
        let strings = devices.map { "\($0.user).\($0.rawAgent):\($0.device)@\($0.server.rawValue)" }.sorted()
        var encoded = Base64.encode(Array(Hash.sha256(Array(strings.joined().utf8)).prefix(6)))
        while encoded.hasSuffix("=") { encoded.removeLast() }
        return "2:" + encoded
    }
}

extension Store {
    func cachedDeviceList(user: JID, newerThan: Int64) throws(WauseError) -> DeviceList.Entry? {
        try database.withConnection { (c) throws(WauseError) in
            guard let row = try c.query("SELECT * FROM device_lists WHERE user_jid = ? AND fetched_at > ?",
                                        [.text(user.description), .integer(newerThan)]).first,
                let devices = (try? JSONValue.parse(row["devices"].text ?? "[]"))?.arrayValue
            else { return nil }
            return DeviceList.Entry(user: user, lid: row["lid"].text.flatMap(JID.init),
                                    devices: devices.compactMap { $0.stringValue.flatMap(JID.init) })
        }
    }

    func saveDeviceList(_ entry: DeviceList.Entry, now: Int64) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("""
                INSERT INTO device_lists (user_jid, lid, devices, fetched_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (user_jid) DO UPDATE SET lid = excluded.lid, devices = excluded.devices, fetched_at = excluded.fetched_at
                """, [.text(entry.user.description), SQLValue(entry.lid?.description),
                      .text(JSONValue.array(entry.devices.map { .string($0.description) }).serialized), .integer(now)])
        }
    }

    /// Forgets cached device lists (a `devices` notification, a phash mismatch).
    func invalidateDeviceList(user: JID) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("DELETE FROM device_lists WHERE user_jid = ?", [.text(JID(user: user.user, server: user.server).description)])
        }
    }
}
