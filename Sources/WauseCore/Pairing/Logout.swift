import WauseBinary
import WauseCrypto
import WauseSupport
import WauseTransport

/// Unlinking (whatsmeow client.go Logout; DESIGN.md "Connection states"): `whatsapp_logout` tells the server
/// (`remove-companion-device`) and forgets this device's keys and Signal sessions but keeps the
/// message history; `whatsapp_unlink {clear_data: true}` deletes the history too. A logout the
/// server announces (stream error 401, failure 401/403/406) ends the same way, never in a
/// reconnect loop. A logged-out device gets fresh keys, so linking again is a new device.
struct Logout: Sendable {
    let store: Store
    let status: ConnectionStatus
    let keys: DeviceKeys
    let environment: Environment
    let logger: Logger
    let publisher: EventPublisher

    /// How long a logout waits, in all, for a logged-in connection and the server's answer to
    /// `remove-companion-device`: as long as a send waits for its ack (`SendMessage.ackWait`).
    /// It was 10 s for the answer alone, and a logout on a loaded machine (the sim e2e test
    /// relinking with new keys) came back unconfirmed with the server up.
    static let confirmationWait: Duration = .seconds(20)

    static func removeCompanionDevice(id: String, ownJID: String) -> Node {
        Node(tag: "iq", attributes: ["xmlns": "md", "type": "set", "to": .jid(.whatsAppServer), "id": .text(id)], children: [
            Node(tag: "remove-companion-device", attributes: [
                "jid": JID(ownJID).map { .jid($0) } ?? .text(ownJID), "reason": "user_initiated",
            ]),
        ])
    }

    /// The user's logout: tell the server if connected, then forget the link. Returns whether the
    /// server confirmed.
    /// The connection loop comes with the call, not at wiring time: the loop itself holds this
    /// object for the server's logouts, so holding the loop here would make a cycle.
    func logOut(connectionLoop: ConnectionLoop, clearHistory: Bool) async throws(WauseError) -> (wasLinked: Bool, serverConfirmed: Bool) {
        guard let account = try store.linkedAccount() else {
            if clearHistory { try store.clearHistory() }
            return (false, false)
        }
        var confirmed = false
        let deadline = environment.now() + Logout.confirmationWait
        if let session = await loggedInSession(connectionLoop, by: deadline) {
            let request = Logout.removeCompanionDevice(id: session.connection.nextID(), ownJID: account.jid)
            let wait = max(.seconds(1), deadline - environment.now())
            if let answer = try? await session.connection.query(request, timeout: wait, environment: environment) {
                confirmed = answer[attribute: "type"] == "result"
            }
        }
        await connectionLoop.stopAndWait()
        if clearHistory { try store.clearHistory() }
        await loggedOut(reason: confirmed ? "logged out by this device" : "logged out by this device (WhatsApp was not reachable to confirm)",
                               initiatedBy: "user")
        return (true, confirmed)
    }

    /// The logged-in connection to send `remove-companion-device` on. A connection that is still
    /// logging in (just dialled, or redialled after a drop) is waited for until `deadline`, as
    /// group calls wait (`Groups.readySession`): taking whatever session there was at that
    /// instant could send the iq on a connection that had not logged in yet, or skip it while one
    /// was being redialled, and the logout went unconfirmed although WhatsApp was reachable. Nil
    /// when the state cannot get to `ready` by itself (stopped, auth failure, logged out) or does
    /// not by the deadline: the logout then goes ahead unconfirmed, as offline.
    private func loggedInSession(_ connectionLoop: ConnectionLoop, by deadline: UnixTime) async -> ConnectionSession? {
        while true {
            let (state, version) = status.versioned()
            if state == .ready, let session = connectionLoop.currentSession, !session.linking, session.loggedIn,
                !session.connection.hasEnded
            {
                return session
            }
            guard state.canStillSend, environment.now() < deadline else { return nil }
            // Every transition wakes the wait; the deadline bounds it.
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.status.waitForTransition(after: version) }
                group.addTask { [environment] in try? await environment.sleep(max(.milliseconds(1), deadline - environment.now())) }
                await group.next()
                group.cancelAll()
            }
        }
    }

    static let logoutDefinition = MethodDefinition(
        name: "whatsapp_logout",
        title: "Log out of WhatsApp",
        description: """
            Unlink this device from the WhatsApp account: tells WhatsApp (when connected), deletes this device's keys and \
            encryption sessions, and keeps the local message history. Linking again (whatsapp_start_auth or \
            whatsapp_pairing_code) makes a new linked device. ok is true once the device is unlinked locally.
            """,
        inputSchema: Schema.object([]),
        outputSchema: Schema.object([
            ("ok", Schema.boolean("the device is now unlinked")),
            ("was_linked", Schema.boolean("the device was linked before this call")),
            ("server_confirmed", Schema.boolean("WhatsApp confirmed the removal (false when offline)")),
        ], required: ["ok", "was_linked", "server_confirmed"]),
        annotations: MethodAnnotations(readOnly: false, destructive: true, idempotent: true, openWorld: true),
        handler: { context, _ throws(WauseError) in
            let (wasLinked, confirmed) = try await context.logout.logOut(connectionLoop: context.connectionLoop, clearHistory: false)
            return ["ok": true, "was_linked": .bool(wasLinked), "server_confirmed": .bool(confirmed)]
        }
    )

    static let unlinkDefinition = MethodDefinition(
        name: "whatsapp_unlink",
        title: "Unlink this device (optionally deleting its data)",
        description: """
            Unlink this device like whatsapp_logout; with clear_data true also delete the local history (chats, messages, \
            contacts, outbox and the event log's message events). Without clear_data it is the same as whatsapp_logout.
            """,
        inputSchema: Schema.object([
            ("clear_data", Schema.boolean("also delete the local message history", defaultValue: false)),
        ]),
        outputSchema: Schema.object([
            ("ok", Schema.boolean("the device is now unlinked")),
            ("was_linked", Schema.boolean("the device was linked before this call")),
            ("server_confirmed", Schema.boolean("WhatsApp confirmed the removal (false when offline)")),
            ("cleared_data", Schema.boolean("the local history was deleted")),
        ], required: ["ok", "was_linked", "server_confirmed", "cleared_data"]),
        annotations: MethodAnnotations(readOnly: false, destructive: true, idempotent: true, openWorld: true),
        handler: { context, arguments throws(WauseError) in
            let clear = arguments["clear_data"]?.boolValue ?? false
            let (wasLinked, confirmed) = try await context.logout.logOut(connectionLoop: context.connectionLoop, clearHistory: clear)
            return ["ok": true, "was_linked": .bool(wasLinked), "server_confirmed": .bool(confirmed), "cleared_data": .bool(clear)]
        }
    )

    /// The device is no longer linked (by the user or the server): fresh keys, no sessions, state
    /// `logged_out`, `account.logged_out`. Idempotent for an already unlinked store.
    func loggedOut(reason: String, initiatedBy: String) async {
        do {
            let fresh = try DeviceIdentity.generate(random: environment.randomBytes)
            try store.forgetLink(replacingKeysWith: fresh, now: environment.now())
            keys.replace(with: fresh)
        } catch {
            logger.error("cannot clear the link after logout: \(error.message)")
        }
        status.clearPairing()
        status.transition(to: .loggedOut, lastError: .some(reason))
        logger.info("logged out by \(initiatedBy == "user" ? "this device" : "the server or phone"): \(reason)")
        publisher.publish(.accountLoggedOut, ["reason": .string(reason), "initiated_by": .string(initiatedBy)])
    }
}
