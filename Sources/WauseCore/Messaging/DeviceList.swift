import WauseBinary
import WauseCrypto
import WauseProtocol
import WauseSQLite
import WauseSupport
import WauseTransport

/// Which devices a user has (whatsmeow user.go GetUserDevices): a usync `devices` query, with the user's
/// LID asked for too (`<lid/>`) so sessions and chats can use it. Answers are cached in the store
/// and refreshed when they are older than `maximumAge` or the server says our list is stale
/// (a `phash` mismatch on a send ack, a `devices` notification).
struct DeviceList: Sendable {
    let store: Store
    let environment: Environment

    /// A contact's device list changed (`<notification type="devices">`, whatsmeow
    /// notification.go handleDeviceNotification): ask again next time.
    func route(_ router: inout StanzaRouter) {
        router.on(.typed(tag: "notification", type: "devices")) { [store] node, _ in
            if let from = node.jid("from") { try? store.invalidateDeviceList(user: from) }
        }
    }

    static let maximumAge: Duration = .seconds(5 * 60)

    typealias Entry = USyncDevices.Entry

    /// The devices of `users`, from the cache when fresh, else from the server (one query for all
    /// that need it). LIDs learned are stored with the contact.
    func devices(of users: [JID], connection: ServerConnection, refresh: Bool = false)
        async throws(WauseError) -> [Entry]
    {
        let now = environment.now()
        var found: [Entry] = []
        var missing: [JID] = []
        for user in users {
            if !refresh, let cached = try store.cachedDeviceList(user: user, newerThan: now - DeviceList.maximumAge) {
                found.append(cached)
            } else {
                missing.append(user)
            }
        }
        guard !missing.isEmpty else { return found }
        let answer = try await connection.query(USyncDevices.query(id: connection.nextID(), users: missing), timeout: ServerConnection.queryTimeout,
                                                environment: environment)
        guard answer[attribute: "type"] == "result" else {
            throw WauseError(.notConnected, "the server refused the device list query (\(answer.child("error")?[attribute: "code"] ?? "?"))")
        }
        for entry in USyncDevices.parse(answer) {
            try store.saveDeviceList(entry, now: now)
            if entry.user.server == .whatsApp, let lid = entry.lid {
                _ = try store.contact(phone: entry.user.user, lid: lid.user, now: now)
            }
            found.append(entry)
        }
        return found
    }
}
