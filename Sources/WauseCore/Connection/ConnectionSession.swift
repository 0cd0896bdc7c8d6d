import WauseBinary
import WauseProtocol
import WauseSupport

/// One connection's conversation with the server: acks what the server expects acked, then hands
/// each stanza to the area that handles it through this connection's `StanzaRouter`. Anything that
/// has to wait for an answer runs in its own task (`spawn`), so the reading loop never stalls, and
/// those tasks end with the connection.
final class ConnectionSession: @unchecked Sendable {
    let connection: ServerConnection
    /// Whether this connection registered (unlinked device) rather than logged in.
    let linking: Bool
    let client: WauseClient
    /// The loop that dialled this connection; it holds the session only while the connection runs.
    let loop: ConnectionLoop
    /// The pairing stanzas' state, on a linking connection only.
    let pairing: LinkingHandlers?
    private let lock = ConditionLock()
    private var endedWith: ConnectionOutcome?
    private var didLogIn = false
    private var tasks: [Task<Void, Never>] = []
    private var router = StanzaRouter()

    init(client: WauseClient, connection: ServerConnection, loop: ConnectionLoop, linking: Bool) {
        self.client = client
        self.connection = connection
        self.loop = loop
        self.linking = linking
        self.pairing = linking ? LinkingHandlers(client: client) : nil
        ConnectionSession.routeConnectionStanzas(&router)
        if linking {
            LinkingHandlers.route(&router)
        } else {
            Receive.route(&router)
            Receipts.route(&router)
            PreKeys.route(&router)
        }
        DeviceList.route(&router)
    }

    var outcome: ConnectionOutcome? { lock.withLock { endedWith } }
    var loggedIn: Bool { lock.withLock { didLogIn } }
    /// Whether this connection took a pair-success and stored the link.
    var paired: Bool { pairing?.paired ?? false }
    var canIssuePairingCode: Bool { pairing?.canIssueCode(ended: outcome != nil) ?? false }
    /// Why a linking connection that ended must not be redialled, if it must not.
    var linkingEndedWithoutReconnect: String? { pairing?.endedWithoutReconnect }
    /// The routes this connection handles (for tests and diagnostics).
    var routes: Set<StanzaRouter.Route> { router.routes }

    func finish(_ outcome: ConnectionOutcome) {
        lock.withLock { if endedWith == nil { endedWith = outcome } }
    }

    /// Runs follow-up work that belongs to this connection: cancelled when it ends.
    func spawn(_ work: @escaping @Sendable () async -> Void) {
        let task = Task { await work() }
        lock.withLock { tasks.append(task) }
    }

    func handle(_ node: Node) async {
        // Messages are answered by their receipt (whatsmeow message.go handleEncryptedMessage
        // sends it after decrypting); the rest is acked at once (whatsmeow sendAck).
        if node.tag != "message", let ack = Acknowledgement.ack(for: node) { try? connection.send(ack) }
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
        let running = lock.withLock { () -> [Task<Void, Never>] in
            defer { tasks.removeAll() }
            return tasks
        }
        for task in running { task.cancel() }
    }

    // MARK: The connection's own stanzas

    /// Stream errors and failures end the connection (`StreamVerdict` says how); `<success>` means
    /// logged in; the server's pings are answered (whatsmeow connectionevents.go, keepalive.go).
    private static func routeConnectionStanzas(_ router: inout StanzaRouter) {
        let streamEnd: StanzaRouter.Handler = { node, session in
            if let verdict = StreamVerdict.outcome(of: node) { session.finish(verdict) }
            session.connection.close()
        }
        router.on(.tag("stream:error"), streamEnd)
        router.on(.tag("failure"), streamEnd)
        router.on(.tag("success")) { node, session in
            session.lock.withLock { session.didLogIn = true }
            session.spawn { await Login.succeeded(node, client: session.client, connection: session.connection) }
        }
        router.on(.iqNamespace("urn:xmpp:ping")) { node, session in
            guard node[attribute: "type"] == "get", let id = node[attribute: "id"] else { return }
            try? session.connection.send(Node(tag: "iq", attributes: ["to": .jid(.whatsAppServer), "type": "result", "id": .text(id)]))
        }
    }
}
