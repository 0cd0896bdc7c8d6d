import Synchronization
import WauseBinary
import WauseProtocol
import WauseSupport

/// One connection's conversation with the server: acks what the server expects acked, then hands
/// each stanza to the area that handles it through this connection's `StanzaRouter`. Anything that
/// has to wait for an answer runs in its own task (`spawn`), so the reading loop never stalls, and
/// those tasks end with the connection.
final class ConnectionSession: Sendable {
    /// The areas whose handlers a connection's router holds, built once when the client is wired:
    /// login and the logged-in areas, and how to make one linking connection's pairing state.
    struct Areas: Sendable {
        let login: Login
        let receive: Receive
        let receipts: Receipts
        let preKeys: PreKeys
        let deviceList: DeviceList
        let groupNotifications: GroupNotifications
        let privacyTokens: PrivacyTokenExchange
        let presence: PresenceUpdates
        var appState: AppStateSync? = nil
        let makeLinkingHandlers: @Sendable () -> LinkingHandlers
    }

    let connection: ServerConnection
    /// Whether this connection registered (unlinked device) rather than logged in.
    let linking: Bool
    /// The loop that dialled this connection; it holds the session only while the connection runs.
    let loop: ConnectionLoop
    /// The pairing stanzas' state, on a linking connection only.
    let pairing: LinkingHandlers?
    private struct State {
        var endedWith: ConnectionOutcome?
        var didLogIn = false
        /// Follow-up work still running, by spawn number; nil once the connection has ended.
        var tasks: [UInt64: Task<Void, Never>]? = [:]
        var nextTaskID: UInt64 = 0
    }
    private let state = Mutex(State())
    private let router: StanzaRouter

    init(connection: ServerConnection, loop: ConnectionLoop, linking: Bool, areas: Areas) {
        self.connection = connection
        self.loop = loop
        self.linking = linking
        self.pairing = linking ? areas.makeLinkingHandlers() : nil
        var router = StanzaRouter()
        ConnectionSession.routeConnectionStanzas(&router, login: areas.login)
        if linking {
            LinkingHandlers.route(&router)
        } else {
            areas.receive.route(&router)
            areas.receipts.route(&router)
            areas.preKeys.route(&router)
            areas.groupNotifications.route(&router)
            areas.privacyTokens.route(&router)
            areas.presence.route(&router)
            areas.appState?.route(&router)
        }
        areas.deviceList.route(&router)
        self.router = router
    }

    var outcome: ConnectionOutcome? { state.withLock { $0.endedWith } }
    var loggedIn: Bool { state.withLock { $0.didLogIn } }
    /// Whether this connection took a pair-success and stored the link.
    var paired: Bool { pairing?.paired ?? false }
    var canIssuePairingCode: Bool { pairing?.canIssueCode(ended: outcome != nil) ?? false }
    /// Why a linking connection that ended must not be redialled, if it must not.
    var linkingEndedWithoutReconnect: String? { pairing?.endedWithoutReconnect }
    /// The routes this connection handles (for tests and diagnostics).
    var routes: Set<StanzaRouter.Route> { router.routes }

    func finish(_ outcome: ConnectionOutcome) {
        state.withLock { if $0.endedWith == nil { $0.endedWith = outcome } }
    }

    /// Runs follow-up work that belongs to this connection: cancelled when it ends (at once, if it
    /// already has). A finished task is forgotten, so a long connection does not collect them.
    func spawn(_ work: @escaping @Sendable () async -> Void) {
        let late = state.withLock { state -> Task<Void, Never>? in
            let id = state.nextTaskID
            state.nextTaskID += 1
            // Started under the lock, so it is registered before it can finish and unregister.
            let task = Task { [self] in
                await work()
                _ = self.state.withLock { $0.tasks?.removeValue(forKey: id) }
            }
            guard state.tasks != nil else { return task }
            state.tasks?[id] = task
            return nil
        }
        late?.cancel()
    }

    func handle(_ node: Node) async {
        // Messages are answered by their receipt (whatsmeow message.go handleEncryptedMessage
        // sends it after decrypting); the rest is acked at once (whatsmeow sendAck).
        // Group notifications and privacy tokens are acked by their handler once stored (GroupNotifications,
        // PrivacyTokenExchange: persist before acknowledging).
        let ackedByHandler = node.tag == "message"
            || (node.tag == "notification" && ["w:gp2", "privacy_token"].contains(node[attribute: "type"] ?? "") && !linking)
        if !ackedByHandler, let ack = Acknowledgement.ack(for: node) { try? connection.send(ack) }
        await router.handler(for: node)?(node, self)
    }

    /// A pairing code for `phone` on this (linking) connection.
    func issuePairingCode(phone: String) async throws(WauseError) -> PairingCodeHandshake.Issued {
        guard let pairing else { throw WauseError(.pairingFailed, "this connection is logging in, not linking") }
        return try await pairing.issueCode(phone: phone, session: self)
    }

    /// The connection is gone: stop rotating, take the QR down, stop follow-up work.
    func end() {
        pairing?.stop()
        let running = state.withLock { state -> [Task<Void, Never>] in
            defer { state.tasks = nil }
            return state.tasks.map { Array($0.values) } ?? []
        }
        for task in running { task.cancel() }
    }

    // MARK: The connection's own stanzas

    /// Stream errors and failures end the connection (`StreamVerdict` says how); `<success>` means
    /// logged in; the server's pings are answered (whatsmeow connectionevents.go, keepalive.go).
    private static func routeConnectionStanzas(_ router: inout StanzaRouter, login: Login) {
        let streamEnd: StanzaRouter.Handler = { node, session in
            if let verdict = StreamVerdict.outcome(of: node) { session.finish(verdict) }
            session.connection.close()
        }
        router.on(.tag("stream:error"), streamEnd)
        router.on(.tag("failure"), streamEnd)
        router.on(.tag("success")) { node, session in
            session.state.withLock { $0.didLogIn = true }
            session.spawn { await login.succeeded(node, connection: session.connection) }
        }
        router.on(.iqNamespace("urn:xmpp:ping")) { node, session in
            guard node[attribute: "type"] == "get", let id = node[attribute: "id"] else { return }
            try? session.connection.send(Node(tag: "iq", attributes: ["to": .jid(.whatsAppServer), "type": "result", "id": .text(id)]))
        }
    }
}
