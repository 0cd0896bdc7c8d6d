import WauseBinary
import WauseCrypto
import WauseProtocol
import WauseSQLite
import WauseSupport

/// Which devices a user has (whatsmeow user.go GetUserDevices): a usync `devices` query, with the user's
/// LID asked for too (`<lid/>`) so sessions and chats can use it. Answers are cached in the store
/// and refreshed when they are older than `maximumAge` or the server says our list is stale
/// (a `phash` mismatch on a send ack, a `devices` notification).
enum DeviceList {
    /// A contact's device list changed (`<notification type="devices">`, whatsmeow
    /// notification.go handleDeviceNotification): ask again next time.
    static func route(_ router: inout StanzaRouter) {
        router.on(.typed(tag: "notification", type: "devices")) { node, session in
            if let from = node.jid("from") { try? session.client.store.invalidateDeviceList(user: from) }
        }
    }

    static let maximumAge: Int64 = 5 * 60 * 1000

    typealias Entry = USyncDevices.Entry

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
        let answer = try await connection.query(USyncDevices.query(id: connection.nextID(), users: missing), timeout: ServerConnection.queryTimeout,
                                                environment: client.environment)
        guard answer[attribute: "type"] == "result" else {
            throw WauseError(.notConnected, "the server refused the device list query (\(answer.child("error")?[attribute: "code"] ?? "?"))")
        }
        for entry in USyncDevices.parse(answer) {
            try client.store.saveDeviceList(entry, now: now)
            if entry.user.server == .whatsApp, let lid = entry.lid {
                _ = try client.store.contact(phone: entry.user.user, lid: lid.user, now: now)
            }
            found.append(entry)
        }
        return found
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
