import WauseBinary
import WauseCrypto
import WauseTransport

/// The engine's connection to WhatsApp: dials when asked to link and whenever the device is linked
/// (to log in), keeps the socket alive, reconnects with backoff and jitter, and moves the
/// connection state as DESIGN.md's state table says. One loop runs at a time.
final class ConnectionLoop: @unchecked Sendable {
    /// How long one linking attempt may take in all, reconnects included (6 QR refs last 160 s).
    static let linkingDeadline: Int64 = 5 * 60 * 1000
    /// Reconnect delays: doubling from 1 s up to 30 s, with ±25 % jitter.
    static let firstBackoff: Int64 = 1000
    static let longestBackoff: Int64 = 30_000

    /// How an unlinked device links: by QR code, or by a code for this phone number.
    enum LinkMode: Equatable, Sendable {
        case qr
        case code(phone: String)
    }

    /// Weak: a loop task can outlive `close()` by a moment, and must not keep (or touch a freed)
    /// client; `run` holds a strong reference for its own duration.
    private weak var owner: WauseClient?
    private var client: WauseClient { owner! }
    private let lock = ConditionLock()
    private var task: Task<Void, Never>?
    private var session: ConnectionSession?
    private var mode: LinkMode = .qr
    /// Pairing-code requests waiting for a connection that can take them.
    let codeRequests = PendingRequests<PairingCodeHandshake.Issued>()

    init(client: WauseClient) { self.owner = client }

    var isRunning: Bool { lock.withLock { task != nil } }
    var linkMode: LinkMode { lock.withLock { mode } }
    var currentSession: ConnectionSession? { lock.withLock { session } }

    /// Starts linking unless a loop is already running.
    func startLinking(mode newMode: LinkMode = .qr) {
        start { self.mode = newMode }
    }

    /// Starts logging in (a linked device) unless a loop is already running.
    func startLogin() {
        start {}
    }

    private func start(_ configure: () -> Void) {
        lock.withLock {
            guard task == nil else { return }
            configure()
            client.transition(to: .starting, lastError: .some(nil))
            task = Task { [self] in
                await run()
                lock.withLock {
                    task = nil
                    session = nil
                }
                codeRequests.failAll(WauseError(.pairingFailed, "linking stopped before a code was issued"))
            }
        }
    }

    /// A pairing code for `phone`: on the live linking connection if there is one, else on the next.
    func requestPairingCode(phone: String, timeout: Int64) async throws(WauseError) -> PairingCodeHandshake.Issued {
        let live = lock.withLock { () -> ConnectionSession? in
            mode = .code(phone: phone)
            return session?.canIssuePairingCode == true ? session : nil
        }
        if let live { return try await live.issuePairingCode(phone: phone) }
        startLinking(mode: .code(phone: phone))
        return try await codeRequests.wait(timeout: timeout, environment: client.environment,
                                           timeoutError: WauseError(.timeout, "WhatsApp did not issue a pairing code in time"))
    }

    /// Stops the loop and drops the connection (client closing).
    func stop() {
        let (running, live) = lock.withLock { (task, session) }
        running?.cancel()
        live?.connection.close()
    }

    /// Stops the loop and returns once it has finished.
    func stopAndWait() async {
        let running = lock.withLock { task }
        stop()
        await running?.value
    }

    // MARK: The loop

    private func run() async {
        guard let client = owner else { return }
        let environment = client.environment
        let linkingStarted = environment.now()
        var failures = 0
        while !Task.isCancelled {
            let account: LinkedAccount?
            do { account = try client.store.linkedAccount() } catch {
                client.transition(to: .disconnected, lastError: .some(error.message))
                return
            }
            if account == nil, environment.now() - linkingStarted >= ConnectionLoop.linkingDeadline {
                failLinking(client, "linking did not complete within \(ConnectionLoop.linkingDeadline / 60000) minutes")
                return
            }
            let payload: [UInt8]
            do throws(WauseError) {
                if let account {
                    payload = try Login.payload(account: account, config: client.config)
                } else {
                    payload = try ClientPayloads.registration(identity: client.identity, config: client.config)
                }
            } catch {
                if account == nil { failLinking(client, error.message) } else { client.transition(to: .disconnected, lastError: .some(error.message)) }
                return
            }
            if account == nil || client.versionedState().0 != .authenticated { client.transition(to: .starting) }
            let connection: ServerConnection
            do {
                connection = try await ServerConnection.open(url: client.config.serverURL, noiseKey: client.identity.noiseKey,
                                                             payload: payload, rootKey: client.config.serverRootKey,
                                                             environment: environment)
            } catch {
                failures += 1
                client.transition(to: account == nil ? .starting : .disconnected, lastError: .some(error.message))
                client.logger.warning("\(account == nil ? "linking" : "login"): \(error.message); retrying")
                if !(await backoff(client, failures)) { return }
                continue
            }
            let session = ConnectionSession(client: client, connection: connection, loop: self, linking: account == nil)
            lock.withLock { self.session = session }
            if account == nil {
                client.publish(.accountConnected, ["phase": "linking"])
            } else {
                client.transition(to: .authenticated)
            }
            let keepAlive = KeepAlive.start(connection: connection, environment: environment, logger: client.logger)
            let reason = await connection.run { node in await session.handle(node) }
            keepAlive.cancel()
            session.end()
            lock.withLock { self.session = nil }
            if session.loggedIn { failures = 0 }
            var outcome = session.outcome
            if outcome == nil, session.linking, let failure = session.linkingEndedWithoutReconnect {
                outcome = .failed(failure)
            }
            // Paired on this connection, but it closed before the 515 was read (the close raced
            // it): the link is stored, so log in at once, as after 515 (whatsmeow
            // connectionevents.go reconnects on 515; a dropped link after pairing is the same).
            var closedBeforeRestart = false
            if outcome == nil, session.linking, session.paired {
                outcome = .restart
                closedBeforeRestart = true
            }
            let willReconnect = (outcome == nil || outcome == .restart) && !Task.isCancelled
            let linkedNow = (try? client.store.linkedAccount()) != nil
            // The state moves before the event goes out, so a listener reacting to the event
            // reads the new state.
            if willReconnect, outcome != .restart {
                client.transition(to: linkedNow ? .disconnected : .starting, lastError: .some(reason))
            }
            client.publish(.accountDisconnected, ["reason": .string(closedBeforeRestart ? reason : outcome?.message ?? reason),
                                                  "will_reconnect": .bool(willReconnect)])
            switch outcome {
            case .failed(let message)?:
                failLinking(client, message)
                return
            case .terminal(let state, let message)?:
                if state == .loggedOut {
                    await client.loggedOut(reason: message, initiatedBy: "server")
                } else {
                    client.transition(to: state, lastError: .some(message))
                }
                return
            case .restart?:
                // §6.4 step 8: the server restarts the stream after pairing; log in at once.
                failures = 0
                continue
            case nil:
                if Task.isCancelled { return }
                failures += 1
                if !(await backoff(client, failures)) { return }
            }
        }
    }

    private func failLinking(_ client: WauseClient, _ message: String) {
        client.setPairingQR(nil)
        client.setPairingCode(nil)
        client.transition(to: .authFailure, lastError: .some(message))
        client.publish(.pairingFailed, ["reason": .string(message)])
        codeRequests.failAll(WauseError(.pairingFailed, message))
    }

    /// Waits before reconnect number `attempt`; false if the loop was cancelled meanwhile.
    private func backoff(_ client: WauseClient, _ attempt: Int) async -> Bool {
        let base = min(ConnectionLoop.longestBackoff, ConnectionLoop.firstBackoff << min(attempt - 1, 5))
        let random = client.environment.randomBytes(2)
        let jitter = (Int64(random[0]) << 8 | Int64(random[1])) % (base / 2 + 1) - base / 4
        do {
            try await client.environment.sleep(base + jitter)
            return true
        } catch {
            return false
        }
    }
}

/// How a connection ended, when it was not just a dropped link.
enum ConnectionOutcome: Equatable {
    /// Linking failed for good (refs ran out, bad pairing data): `auth_failure`.
    case failed(String)
    /// The server said something final: logged out, replaced, outdated client.
    case terminal(ConnectionState, String)
    /// Stream error 515 after pairing: reconnect at once, now logging in.
    case restart

    var message: String {
        switch self {
        case .failed(let message), .terminal(_, let message): return message
        case .restart: return "restart required (stream error 515)"
        }
    }
}

/// What the server's stream errors and failures mean (DESIGN.md state table; transport
/// reference §8.3). Nil: the link is lost and the loop reconnects.
enum StreamVerdict {
    static func outcome(of node: Node) -> ConnectionOutcome? {
        switch node.tag {
        case "stream:error":
            let code = node[attribute: "code"]
            let conflict = node.child("conflict")?[attribute: "type"]
            if code == "515" { return .restart }
            if code == "401" || conflict == "device_removed" {
                return .terminal(.loggedOut, "logged out from the phone (stream error 401)")
            }
            if conflict == "replaced" { return .terminal(.disconnected, "replaced") }
            return nil
        case "failure":
            switch node[attribute: "reason"] {
            case "401", "403", "406":
                return .terminal(.loggedOut, "the server refused the login (failure \(node[attribute: "reason"] ?? ""))")
            case "405":
                return .terminal(.clientOutdated, "the server refused client version (failure 405)")
            default:
                return nil
            }
        default:
            return nil
        }
    }
}

/// Acknowledges the stanzas the server expects acks for (`message`, `receipt`, `notification`,
/// `call`), as whatsmeow's `sendAck` does: `<ack id class to [type] [participant]/>`.
enum Acknowledgement {
    static func ack(for node: Node) -> Node? {
        guard ["message", "receipt", "notification", "call"].contains(node.tag), let id = node[attribute: "id"],
            let from = node.attributes["from"]
        else { return nil }
        var attributes: Attributes = ["id": .text(id), "class": .text(node.tag), "to": from]
        if let participant = node.attributes["participant"] { attributes.append(Attribute(name: "participant", value: participant)) }
        if node.tag != "message", let type = node[attribute: "type"] { attributes.append(Attribute(name: "type", value: .text(type))) }
        return Node(tag: "ack", attributes: attributes)
    }
}

/// One connection's conversation with the server: hands each stanza to the feature it belongs to.
/// Anything that has to wait for an answer runs in its own task, so the reading loop never stalls.
final class ConnectionSession: @unchecked Sendable {
    let connection: ServerConnection
    /// Whether this connection registered (unlinked device) rather than logged in.
    let linking: Bool
    private let client: WauseClient
    private unowned let loop: ConnectionLoop
    private let lock = ConditionLock()
    private var endedWith: ConnectionOutcome?
    private var sawPairDevice = false
    private var didLogIn = false
    private var tasks: [Task<Void, Never>] = []
    private let qr: QRRotation
    private let pairingCode = PairingCodeHandshake()
    private var pairedNow = false

    init(client: WauseClient, connection: ServerConnection, loop: ConnectionLoop, linking: Bool) {
        self.client = client
        self.connection = connection
        self.loop = loop
        self.linking = linking
        self.qr = QRRotation(client: client)
    }

    var outcome: ConnectionOutcome? { lock.withLock { endedWith } }
    var loggedIn: Bool { lock.withLock { didLogIn } }
    /// Whether this connection took a pair-success and stored the link.
    var paired: Bool { lock.withLock { pairedNow } }
    var canIssuePairingCode: Bool { lock.withLock { sawPairDevice && !pairedNow && endedWith == nil } }

    /// Why a linking connection that ended must not be redialled, if it must not: a pairing code
    /// belongs to its connection, and a QR rotation on its last ref has nothing left to show.
    var linkingEndedWithoutReconnect: String? {
        if lock.withLock({ pairedNow }) { return nil }
        if pairingCode.current != nil {
            return "the pairing code was not entered before WhatsApp closed the linking connection"
        }
        if qr.isShowingLastRef { return "the QR code was not scanned in time (WhatsApp closed the linking connection)" }
        return nil
    }

    func finish(_ outcome: ConnectionOutcome) {
        lock.withLock { if endedWith == nil { endedWith = outcome } }
    }

    private func spawn(_ work: @escaping @Sendable () async -> Void) {
        let task = Task { await work() }
        lock.withLock { tasks.append(task) }
    }

    func handle(_ node: Node) async {
        // Messages are answered by their receipt (protocol-messaging §4.4); the rest is acked.
        if node.tag != "message", let ack = Acknowledgement.ack(for: node) { try? connection.send(ack) }
        switch node.tag {
        case "message" where !linking:
            Receive.handle(node, client: client, connection: connection)
        case "receipt" where !linking:
            Receipts.handle(node, client: client, connection: connection)
        case "stream:error", "failure":
            if let verdict = StreamVerdict.outcome(of: node) { finish(verdict) }
            connection.close()
        case "success":
            lock.withLock { didLogIn = true }
            spawn { [self] in await Login.succeeded(node, client: client, connection: connection) }
        case "iq":
            handleIQ(node)
        case "notification":
            handleNotification(node)
        default:
            break
        }
    }

    private func handleIQ(_ node: Node) {
        guard let id = node[attribute: "id"] else { return }
        let fromServer = node.attributes["from"]?.jid == .whatsAppServer
        switch node[attribute: "type"] {
        case "set" where fromServer && node.children.count == 1 && node.child("pair-device") != nil:
            // Ack first, as whatsmeow does: `<iq to=from type=result id=same/>`.
            try? connection.send(Node(tag: "iq", attributes: ["to": .jid(.whatsAppServer), "type": "result", "id": .text(id)]))
            pairDevice(QRRotation.refs(of: node.child("pair-device")!))
        case "set" where fromServer && PairSuccess.isPairSuccess(node):
            pairSuccess(node, id: id)
        case "get" where node[attribute: "xmlns"] == "urn:xmpp:ping":
            try? connection.send(Node(tag: "iq", attributes: ["to": .jid(.whatsAppServer), "type": "result", "id": .text(id)]))
        default:
            break
        }
    }

    private func pairDevice(_ refs: [String]) {
        guard linking else { return }
        guard !refs.isEmpty else {
            finish(.failed("the server sent a pair-device request without refs"))
            connection.close()
            return
        }
        lock.withLock { sawPairDevice = true }
        switch loop.linkMode {
        case .qr:
            qr.show(refs) { [self] in
                finish(.failed("the QR code was not scanned in time (all \(refs.count) codes expired)"))
                connection.close()
            }
        case .code(let phone):
            // whatsmeow asks for a code once the server is ready for us (after pair-device).
            spawn { [self] in
                do throws(WauseError) {
                    loop.codeRequests.resolveAll(with: try await issuePairingCode(phone: phone))
                } catch {
                    loop.codeRequests.failAll(error)
                }
            }
        }
    }

    /// Stage 1 of §7 on this connection; the QR rotation (if any) stops, the state becomes
    /// `pairing_code` and a `pairing.code` event goes out.
    func issuePairingCode(phone: String) async throws(WauseError) -> PairingCodeHandshake.Issued {
        qr.stop()
        let issued = try await pairingCode.issue(phone: phone, client: client, connection: connection)
        let shown = LinkCodeCrypto.display(issued.code)
        client.setPairingCode(shown)
        client.transition(to: .pairingCode, lastError: .some(nil))
        client.publish(.pairingCode, ["code": .string(shown), "phone_number": .string(issued.phone)])
        return issued
    }

    private func handleNotification(_ node: Node) {
        switch node[attribute: "type"] {
        case "link_code_companion_reg" where linking:
            do throws(WauseError) {
                let finish = try pairingCode.companionFinish(for: node, client: client, id: connection.nextID())
                spawn { [self] in
                    do throws(WauseError) {
                        let answer = try await connection.query(finish, timeout: ServerConnection.queryTimeout,
                                                                environment: client.environment)
                        if answer[attribute: "type"] == "error" {
                            client.logger.warning("the server refused companion_finish: \(answer.child("error")?[attribute: "text"] ?? "?")")
                        }
                    } catch {
                        client.logger.warning("companion_finish: \(error.message)")
                    }
                }
            } catch {
                client.logger.warning("pairing code: \(error.message)")
            }
        case "devices":
            // A contact's device list changed: ask again next time (protocol-messaging §4.9).
            if let from = node.jid("from") { try? client.store.invalidateDeviceList(user: from) }
        case "encrypt":
            if let value = node.child("count")?[attribute: "value"], let count = Int(value), !linking {
                spawn { [self] in
                    do throws(WauseError) {
                        try await PreKeys.ensureUploaded(client: client, connection: connection, minimumServerCount: count)
                    } catch {
                        client.logger.warning("prekey refill failed: \(error.message)")
                    }
                }
            }
        default:
            break
        }
    }

    /// §6.4: verify, store, countersign. Pure checks first, then one transaction, then the reply —
    /// so a rejected or failed pairing leaves nothing behind.
    private func pairSuccess(_ node: Node, id: String) {
        guard linking else { return }
        qr.stop()
        let identity = client.identity
        let advSecret = pairingCode.advSecret ?? identity.advSecret
        let link: PairSuccess.Link
        do {
            link = try PairSuccess.verify(node.child("pair-success")!, identity: identity, advSecret: advSecret,
                                          random: client.environment.randomBytes)
        } catch {
            try? connection.send(PairSuccess.errorReply(id: id, error))
            finish(.failed(error.message))
            connection.close()
            return
        }
        do {
            try client.store.savePairing(link, advSecret: advSecret, pushName: client.config.pushName, now: client.environment.now())
        } catch {
            try? connection.send(PairSuccess.errorReply(id: id, .malformed("cannot store the link")))
            finish(.failed("cannot store the link: \(error.message)"))
            connection.close()
            return
        }
        if let t = node[attribute: "t"], let seconds = Int64(t) { client.setServerTimeOffset(seconds * 1000 - client.environment.now()) }
        client.updateIdentity { $0.advSecret = advSecret }
        lock.withLock { pairedNow = true }
        client.setPairingQR(nil)
        client.setPairingCode(nil)
        try? connection.send(PairSuccess.signReply(id: id, link: link))
        client.transition(to: .authenticated, lastError: .some(nil))
        client.publish(.accountPaired, [
            "jid": .string(link.jid.description), "wid": .string(WauseClient.userJID(link.jid.description)),
            "lid": JSONValue(link.lid.map { WauseClient.userJID($0.description) }),
            "platform": JSONValue(link.platform), "business_name": JSONValue(link.businessName),
        ])
    }

    /// The connection is gone: stop rotating, take the QR down, stop follow-up work.
    func end() {
        qr.stop()
        let running = lock.withLock { () -> [Task<Void, Never>] in
            defer { tasks.removeAll() }
            return tasks
        }
        for task in running { task.cancel() }
    }
}

/// Callers waiting for a value that some later event provides (a pairing code from the next
/// connection), each with its own deadline.
final class PendingRequests<Value: Sendable>: @unchecked Sendable {
    private let lock = ConditionLock()
    private var waiters: [UInt64: CheckedContinuation<Value, Error>] = [:]
    private var nextID: UInt64 = 0

    func wait(timeout: Int64, environment: Environment, timeoutError: WauseError) async throws(WauseError) -> Value {
        let id = lock.withLock { () -> UInt64 in
            nextID += 1
            return nextID
        }
        let timer = TaskHolder()
        defer { timer.cancel() }
        do {
            return try await withCheckedThrowingContinuation { continuation in
                lock.withLock { waiters[id] = continuation }
                // Armed only once the waiter is registered, so even a zero timeout finds it.
                timer.set(Task {
                    try? await environment.sleep(timeout)
                    if !Task.isCancelled { self.take(id)?.resume(throwing: timeoutError) }
                })
            }
        } catch let error as WauseError {
            throw error
        } catch {
            throw .internal("\(error)")
        }
    }

    private func take(_ id: UInt64) -> CheckedContinuation<Value, Error>? {
        lock.withLock { waiters.removeValue(forKey: id) }
    }

    private func takeAll() -> [CheckedContinuation<Value, Error>] {
        lock.withLock {
            defer { waiters.removeAll() }
            return Array(waiters.values)
        }
    }

    func resolveAll(with value: Value) { for waiter in takeAll() { waiter.resume(returning: value) } }
    func failAll(_ error: WauseError) { for waiter in takeAll() { waiter.resume(throwing: error) } }
}

/// A task started inside a continuation's closure, cancelled from outside it.
private final class TaskHolder: @unchecked Sendable {
    private let lock = ConditionLock()
    private var task: Task<Void, Never>?

    func set(_ task: Task<Void, Never>) { lock.withLock { self.task = task } }
    func cancel() { lock.withLock { task }?.cancel() }
}
