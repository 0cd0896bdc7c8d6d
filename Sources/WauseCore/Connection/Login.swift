import WauseBinary
import WauseProtocol
import WauseSupport
import WauseTransport

/// A linked device logging in (whatsmeow store/clientpayload.go getLoginPayload, connectionevents.go): the login payload names the
/// account and device number; the server answers `<success>` (or `<failure>`, see StreamVerdict).
/// On success, as whatsmeow does: server time offset, own LID, prekeys topped up, `<passive>`
/// `<active/>`, then the device is ready.
struct Login: Sendable {
    let store: Store
    let config: ClientConfig
    let status: ConnectionStatus
    let preKeys: PreKeys
    let environment: Environment
    let logger: Logger
    let publisher: EventPublisher
    /// What waits for the device to be ready: the outbox sends what queued while it was away.
    /// A closure set at wiring time, so login needs no handle on the outbox.
    let onReady: @Sendable () -> Void

    static func payload(account: LinkedAccount, config: ClientConfig) throws(WauseError) -> [UInt8] {
        guard let jid = JID(account.jid), let user = UInt64(jid.user) else {
            throw .internal("the stored account JID \(account.jid) is not a phone-number device JID")
        }
        return try ClientPayloads.login(user: user, device: UInt32(jid.device), clientVersion: config.clientVersion, pushName: config.pushName)
    }

    func succeeded(_ success: Node, connection: ServerConnection) async {
        if let t = success[attribute: "t"], let seconds = Int64(t) {
            status.setServerTimeOffset(UnixTime(seconds: seconds) - environment.now())
        }
        if let lid = success.jid("lid") {
            do { try store.learnOwnLID(lid) } catch { logger.warning("cannot store own LID: \(error.message)") }
        }
        do {
            try await preKeys.ensureUploaded(connection: connection)
        } catch {
            // Messages can still flow; contacts without a session fall back to the signed prekey.
            logger.warning("prekey check failed: \(error.message)")
        }
        if Task.isCancelled { return }
        let active = Node(tag: "iq", attributes: [
            "id": .text(connection.nextID()), "xmlns": "passive", "type": "set", "to": .jid(.whatsAppServer),
        ], children: [Node(tag: "active")])
        do {
            _ = try await connection.query(active, timeout: ServerConnection.queryTimeout, environment: environment)
        } catch {
            logger.warning("passive/active failed: \(error.message)")
            if Task.isCancelled { return }
        }
        try? connection.send(Login.unifiedSession(now: environment.now() + status.serverTimeOffset))
        guard !Task.isCancelled, let account = try? store.linkedAccount() else { return }
        // The link lives where it logged in: a link made before the server was stored with it
        // learns it now, and one whose server moved (same root key, new URL) follows it.
        let server = config.dialTarget(for: account)
        if account.serverURL != server.url || account.serverRootKey != server.rootKey {
            try? store.rememberServer(url: server.url, rootKey: server.rootKey)
        }
        status.transition(to: .ready, lastError: .some(nil))
        logger.info("logged in as \(Logger.redact(account.jid))")
        // Whatever waited in the outbox while we were away goes out now.
        onReady()
        publisher.publish(.accountConnected, [
            "phase": "login", "wid": .string(LinkedAccount.userJID(account.jid)),
            "lid": JSONValue(account.lid.map(LinkedAccount.userJID)),
        ])
    }

    /// `<ib><unified_session id/></ib>`: both reference clients send it after connecting; the id
    /// is (now + 3 days) mod 1 week, in milliseconds (whatsmeow store/store.go Device).
    static func unifiedSession(now: UnixTime) -> Node {
        let week = Duration.seconds(7 * 24 * 3600).milliseconds
        let id = (now + .seconds(3 * 24 * 3600)).milliseconds % week
        return Node(tag: "ib", children: [Node(tag: "unified_session", attributes: ["id": .text(String(id))])])
    }
}
