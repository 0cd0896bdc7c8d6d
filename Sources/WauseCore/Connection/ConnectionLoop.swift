import Synchronization
import WauseBinary
import WauseCrypto
import WauseTransport
import WauseProtocol
import WauseSupport

/// The engine's connection to WhatsApp: dials when asked to link and whenever the device is linked
/// (to log in), keeps the socket alive, reconnects with backoff and jitter, and moves the
/// connection state as DESIGN.md's state table says. One loop runs at a time.
final class ConnectionLoop: Sendable {
    /// How long one linking attempt may take in all, reconnects included (6 QR refs last 160 s).
    static let linkingDeadline: Duration = .seconds(5 * 60)
    /// Reconnect delays: doubling from 1 s up to 30 s, with ±25 % jitter.
    static let firstBackoff: Duration = .seconds(1)
    static let longestBackoff: Duration = .seconds(30)

    /// How an unlinked device links: by QR code, or by a code for this phone number.
    enum LinkMode: Equatable, Sendable {
        case qr
        case code(phone: String)
    }

    private let store: Store
    private let config: ClientConfig
    private let status: ConnectionStatus
    private let keys: DeviceKeys
    private let environment: Environment
    private let logger: Logger
    private let publisher: EventPublisher
    /// Where the loop puts the connection that is up, for the features that send on it.
    private let link: ServerLink
    /// What a logout the server announces does (the same as the user's).
    private let logout: Logout
    /// The handlers each connection routes its stanzas to.
    private let areas: ConnectionSession.Areas
    private struct State {
        var task: Task<Void, Never>?
        var mode: LinkMode = .qr
        /// Why the last linking attempt stopped without a connection (server unreachable), for the
        /// linking calls to report as `not_connected`; cleared when a loop starts.
        var unreachable: WauseError?
        /// A cancelled linking attempt must not look like a failure (`whatsapp_cancel_auth`).
        var cancelled = false
        /// What the code requests of this attempt were failed with (the first reason wins: a
        /// number not on WhatsApp, then the linking failure it causes); cleared when a loop starts.
        var codeFailure: WauseError?
    }
    private let state = Mutex(State())
    /// Pairing-code requests waiting for a connection that can take them.
    let codeRequests = PendingRequests<PairingCodeHandshake.Issued>()

    init(store: Store, config: ClientConfig, status: ConnectionStatus, keys: DeviceKeys, environment: Environment,
         logger: Logger, publisher: EventPublisher, link: ServerLink, logout: Logout, areas: ConnectionSession.Areas) {
        self.store = store
        self.config = config
        self.status = status
        self.keys = keys
        self.environment = environment
        self.logger = logger
        self.publisher = publisher
        self.link = link
        self.logout = logout
        self.areas = areas
    }

    var isRunning: Bool { state.withLock { $0.task != nil } }
    var linkMode: LinkMode { state.withLock { $0.mode } }
    var currentSession: ConnectionSession? { link.currentSession }
    var unreachableError: WauseError? { state.withLock { $0.unreachable } }

    /// Starts linking unless a loop is already running.
    func startLinking(mode newMode: LinkMode = .qr) {
        start { $0.mode = newMode }
    }

    /// Starts logging in (a linked device) unless a loop is already running.
    func startLogin() {
        start { _ in }
    }

    private func start(_ configure: (inout State) -> Void) {
        // A call in flight when the client closed must not dial again on the closed store.
        guard !status.isClosed else { return }
        state.withLock { state in
            guard state.task == nil else { return }
            configure(&state)
            state.unreachable = nil
            state.cancelled = false
            state.codeFailure = nil
            status.transition(to: .starting, lastError: .some(nil))
            state.task = Task { [self] in
                await run()
                // Detached before the task is forgotten, so it can never detach a next loop's session.
                link.detach()
                self.state.withLock { $0.task = nil }
                // After `task = nil`: a request registering from now on sees `codeRequestFailure`.
                codeRequests.failAll(codeRequestFailure ?? ConnectionLoop.stoppedBeforeACode)
            }
        }
    }

    /// A pairing code for `phone`: on the live linking connection if there is one, else on the next.
    func requestPairingCode(phone: String, timeout: Duration) async throws(WauseError) -> PairingCodeHandshake.Issued {
        let live = state.withLock { state -> ConnectionSession? in
            state.mode = .code(phone: phone)
            let session = link.currentSession
            return session?.canIssuePairingCode == true ? session : nil
        }
        if let live { return try await live.issuePairingCode(phone: phone) }
        startLinking(mode: .code(phone: phone))
        return try await codeRequests.wait(timeout: timeout, environment: environment,
                                           timeoutError: WauseError(.timeout, "WhatsApp did not issue a pairing code in time"),
                                           failed: { [weak self] in self?.codeRequestFailure })
    }

    static let stoppedBeforeACode = WauseError(.pairingFailed, "linking stopped before a code was issued")

    /// Why a pairing-code request made now can no longer be answered, if that is already decided:
    /// the attempt failed (unreachable server, a number not on WhatsApp, linking failed) or the
    /// loop has stopped. `PendingRequests.wait` asks it once its waiter is registered, so a failure
    /// that came first (`failAll` found nobody) still reaches the request at once instead of
    /// leaving it to wait out its deadline.
    var codeRequestFailure: WauseError? {
        state.withLock { state in
            if let failure = state.unreachable ?? state.codeFailure { return failure }
            return state.task == nil ? ConnectionLoop.stoppedBeforeACode : nil
        }
    }

    /// Fails the waiting code requests and remembers why, for requests that register later.
    func failCodeRequests(_ error: WauseError) {
        state.withLock { $0.codeFailure = $0.codeFailure ?? error }
        codeRequests.failAll(error)
    }

    /// Stops the loop and drops the connection (client closing).
    func stop() {
        let (running, live) = state.withLock { ($0.task, link.currentSession) }
        running?.cancel()
        live?.connection.close()
    }

    /// `whatsapp_cancel_auth`: stops a linking attempt (never a linked device's login) and waits
    /// for the loop to end. Returns whether one was running.
    func cancelLinking() async -> Bool {
        let running = state.withLock { state -> Task<Void, Never>? in
            guard state.task != nil, link.currentSession?.linking != false else { return nil }
            state.cancelled = true
            return state.task
        }
        guard let running else { return false }
        stop()
        await running.value
        return true
    }

    /// Stops the loop and returns once it has finished.
    func stopAndWait() async {
        let running = state.withLock { $0.task }
        stop()
        await running?.value
    }

    // MARK: The loop

    private func run() async {
        let linkingStarted = environment.now()
        var failures = 0
        while !Task.isCancelled {
            let account: LinkedAccount?
            do { account = try store.linkedAccount() } catch {
                status.transition(to: .disconnected, lastError: .some(error.message))
                return
            }
            // A link belongs to its server: never dial another one with its keys.
            if let account, let mismatch = config.serverMismatch(with: account) {
                status.transition(to: .authFailure, lastError: .some(mismatch))
                return
            }
            let server = config.dialTarget(for: account)
            if account == nil, environment.now() - linkingStarted >= ConnectionLoop.linkingDeadline {
                failLinking("linking did not complete within \(ConnectionLoop.linkingDeadline.wholeSeconds / 60) minutes")
                return
            }
            let payload: [UInt8]
            do throws(WauseError) {
                if let account {
                    payload = try Login.payload(account: account, config: config)
                } else {
                    payload = try ClientPayloads.registration(keys: keys.current.publicKeys, clientVersion: config.clientVersion,
                                                             pushName: config.pushName, historyDays: config.historySyncDays,
                                                             historySizeMB: config.historySyncSizeMB)
                }
            } catch {
                if account == nil { failLinking(error.message) } else { status.transition(to: .disconnected, lastError: .some(error.message)) }
                return
            }
            if account == nil || status.current != .authenticated { status.transition(to: .starting) }
            let connection: ServerConnection
            logger.info("dialing \(server.url) (\(account == nil ? "to link" : "to log in"))")
            do {
                connection = try await ServerConnection.open(url: server.url, noiseKey: keys.current.noiseKey,
                                                             payload: payload, rootKey: server.rootKey,
                                                             environment: environment)
            } catch {
                if Task.isCancelled { return }
                // Linking against a server that does not answer at all fails at once with the
                // reason, instead of the linking calls waiting out their deadline.
                if account == nil, failures == 0, error.details?["reason"] == "unreachable" {
                    state.withLock { $0.unreachable = error }
                    logger.info("linking stopped: \(error.message)")
                    failLinking(error.message, code: .notConnected)
                    return
                }
                failures += 1
                status.transition(to: account == nil ? .starting : .disconnected, lastError: .some(error.message))
                logger.warning("\(account == nil ? "linking" : "login"): \(error.message); retrying")
                if !(await backoff(failures)) { return }
                continue
            }
            let session = ConnectionSession(connection: connection, loop: self, linking: account == nil, areas: areas)
            link.attach(session)
            if account == nil {
                publisher.publish(.accountConnected, ["phase": "linking"])
            } else {
                status.transition(to: .authenticated)
            }
            // The keepalive is this connection's: `end()` cancels it with the rest of its work.
            session.spawn { [environment, logger] in await KeepAlive.run(connection: connection, environment: environment, logger: logger) }
            let reason = await connection.run { node in await session.handle(node) }
            session.end()
            link.detach()
            if state.withLock({ $0.cancelled }) {
                // whatsapp_cancel_auth: not a failure (no pairing.failed); the method sets `stopped`.
                logger.info("disconnected: linking cancelled (not reconnecting)")
                publisher.publish(.accountDisconnected, ["reason": "linking cancelled", "will_reconnect": false])
                return
            }
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
            logger.info("disconnected: \(closedBeforeRestart ? reason : outcome?.message ?? reason)"
                               + (willReconnect ? "" : " (not reconnecting)"))
            let linkedNow = (try? store.linkedAccount()) != nil
            // The state moves before the event goes out, so a listener reacting to the event
            // reads the new state.
            if willReconnect, outcome != .restart {
                status.transition(to: linkedNow ? .disconnected : .starting, lastError: .some(reason))
            }
            publisher.publish(.accountDisconnected, ["reason": .string(closedBeforeRestart ? reason : outcome?.message ?? reason),
                                                  "will_reconnect": .bool(willReconnect)])
            switch outcome {
            case .failed(let message)?:
                failLinking(message)
                return
            case .terminal(let state, let message)?:
                if state == .loggedOut {
                    await logout.loggedOut(reason: message, initiatedBy: "server")
                } else {
                    status.transition(to: state, lastError: .some(message))
                }
                return
            case .restart?:
                // After pair-success (whatsmeow pair.go handlePair) the server restarts the stream; log in at once.
                failures = 0
                logger.info("reconnecting in 0 s (logging in after pairing)")
                continue
            case nil:
                if Task.isCancelled { return }
                failures += 1
                if !(await backoff(failures)) { return }
            }
        }
    }

    private func failLinking(_ message: String, code: WauseError.Code = .pairingFailed) {
        status.clearPairing()
        status.transition(to: .authFailure, lastError: .some(message))
        publisher.publish(.pairingFailed, ["reason": .string(message)])
        failCodeRequests(WauseError(code, message))
    }

    /// Waits before reconnect number `attempt`; false if the loop was cancelled meanwhile.
    private func backoff(_ attempt: Int) async -> Bool {
        let base = min(ConnectionLoop.longestBackoff, ConnectionLoop.firstBackoff * (1 << min(attempt - 1, 5))).milliseconds
        let random = environment.randomBytes(2)
        let jitter = Duration.milliseconds((Int64(random[0]) << 8 | Int64(random[1])) % (base / 2 + 1) - base / 4)
        let delay = .milliseconds(base) + jitter
        logger.info("reconnecting in \(delay.milliseconds / 1000).\(delay.milliseconds % 1000 / 100) s (attempt \(attempt + 1))")
        do {
            try await environment.sleep(delay)
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

/// What the server's stream errors and failures mean (DESIGN.md "Connection states";
/// whatsmeow connectionevents.go handleStreamError). Nil: the link is lost and the loop reconnects.
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
