import WauseBinary
import WauseProtocol
import WauseSupport

/// A linked device logging in (whatsmeow store/clientpayload.go getLoginPayload, connectionevents.go): the login payload names the
/// account and device number; the server answers `<success>` (or `<failure>`, see StreamVerdict).
/// On success, as whatsmeow does: server time offset, own LID, prekeys topped up, `<passive>`
/// `<active/>`, then the device is ready.
enum Login {
    static func payload(account: LinkedAccount, config: ClientConfig) throws(WauseError) -> [UInt8] {
        guard let jid = JID(account.jid), let user = UInt64(jid.user) else {
            throw .internal("the stored account JID \(account.jid) is not a phone-number device JID")
        }
        return try ClientPayloads.login(user: user, device: UInt32(jid.device), clientVersion: config.clientVersion, pushName: config.pushName)
    }

    static func succeeded(_ success: Node, client: WauseClient, connection: ServerConnection) async {
        let environment = client.environment
        if let t = success[attribute: "t"], let seconds = Int64(t) {
            client.setServerTimeOffset(UnixTime(seconds: seconds) - environment.now())
        }
        if let lid = success.jid("lid") {
            do { try client.store.learnOwnLID(lid) } catch { client.logger.warning("cannot store own LID: \(error.message)") }
        }
        do {
            try await PreKeys.ensureUploaded(client: client, connection: connection)
        } catch {
            // Messages can still flow; contacts without a session fall back to the signed prekey.
            client.logger.warning("prekey check failed: \(error.message)")
        }
        if Task.isCancelled { return }
        let active = Node(tag: "iq", attributes: [
            "id": .text(connection.nextID()), "xmlns": "passive", "type": "set", "to": .jid(.whatsAppServer),
        ], children: [Node(tag: "active")])
        do {
            _ = try await connection.query(active, timeout: ServerConnection.queryTimeout, environment: environment)
        } catch {
            client.logger.warning("passive/active failed: \(error.message)")
            if Task.isCancelled { return }
        }
        try? connection.send(unifiedSession(now: environment.now() + client.serverTimeOffset))
        guard !Task.isCancelled, let account = try? client.store.linkedAccount() else { return }
        // The link lives where it logged in: a link made before the server was stored with it
        // learns it now, and one whose server moved (same root key, new URL) follows it.
        let server = client.dialTarget(for: account)
        if account.serverURL != server.url || account.serverRootKey != server.rootKey {
            try? client.store.rememberServer(url: server.url, rootKey: server.rootKey)
        }
        client.transition(to: .ready, lastError: .some(nil))
        client.logger.info("logged in as \(Logger.redact(account.jid))")
        // Whatever waited in the outbox while we were away goes out now.
        client.messaging.outbox.kick()
        client.publish(.accountConnected, [
            "phase": "login", "wid": .string(WauseClient.userJID(account.jid)),
            "lid": JSONValue(account.lid.map(WauseClient.userJID)),
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
