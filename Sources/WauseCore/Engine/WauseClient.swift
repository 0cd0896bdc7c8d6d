import Synchronization
import WauseSupport
import WauseTransport
/// One engine instance: a store, its event log, the connection state and the method catalogue.
/// A thin coordinator — each feature owns its own state in its own file and receives, when the
/// client is wired in `init`, exactly what it uses (the store, the event publisher, the clock and
/// randomness, the shared `ConnectionStatus`, a `ServerLink` to send on), never the client itself.
public final class WauseClient: Sendable {
    public let config: ClientConfig
    public let store: Store
    public let events: EventLog
    public let catalogue: MethodCatalogue
    public let environment: Environment
    public let logger: Logger
    /// This device's keys (generated on the store's first open, replaced when it logs out).
    public var identity: DeviceIdentity { keys.current }

    /// The connection state machine the features move and `whatsapp_status` reads.
    let status: ConnectionStatus
    let keys: DeviceKeys
    let publisher: EventPublisher
    /// The durable outbox and its worker.
    let outbox: Outbox
    /// Approval requests' expiry timer.
    let approvals: Approvals
    let historySync: HistorySync
    /// App state (syncd): keys, fetches, mutations.
    let appState: AppStateSync
    /// Signed webhooks: the delivery queue's worker.
    let webhooks: Webhooks
    /// Dials, keeps and re-establishes the connection to WhatsApp.
    let connectionLoop: ConnectionLoop
    /// What the catalogue's methods receive.
    let context: MethodContext

    public init(config: ClientConfig, environment: Environment = .live,
                catalogue: MethodCatalogue = .standard) throws(WauseError) {
        self.config = config
        self.environment = environment
        self.catalogue = catalogue
        let logger = Logger(label: "wause", level: config.logLevel, clock: environment.now, sink: environment.logSink)
        self.logger = logger
        let store = try Store(directory: config.dataDirectory)
        self.store = store
        let identity: DeviceIdentity
        let events: EventLog
        let initial: ConnectionState
        var reason: String?
        do {
            identity = try store.deviceIdentity(creatingWith: environment.randomBytes, now: environment.now())
            events = try EventLog(store: store, clock: environment.now)
            // A linked store logs in at once (below); an unlinked one stays stopped (or logged
            // out, if it was) until asked to link.
            if let account = try store.linkedAccount() {
                // Linked on another server than the configuration names: open, never dial.
                if let mismatch = config.serverMismatch(with: account) {
                    initial = .authFailure
                    reason = mismatch
                } else {
                    initial = .disconnected
                }
            } else if try store.loggedOutAt() != nil {
                initial = .loggedOut
            } else {
                initial = .stopped
            }
        } catch {
            store.close()
            throw error
        }
        self.events = events

        // The features, bottom-up: each is built from what is already there, so every one is a
        // `let` and none reaches back to the client.
        let status = ConnectionStatus(initial, lastError: reason)
        let keys = DeviceKeys(identity)
        let publisher = EventPublisher(events: events, status: status, logger: logger)
        let serverLink = ServerLink()
        let messaging = Messaging(store: store, environment: environment, publisher: publisher)
        let deviceList = DeviceList(store: store, environment: environment)
        let preKeys = PreKeys(store: store, keys: keys, environment: environment, logger: logger)
        let privacyTokens = PrivacyTokenExchange(store: store, environment: environment, logger: logger)
        let media = MediaTransfers(store: store, link: serverLink, config: config, http: .live(config: config),
                                   environment: environment, logger: logger)
        let sendGuard = SendGuard(config: config, clock: environment.now)
        let outbox = Outbox(store: store, status: status, link: serverLink, messaging: messaging, deviceList: deviceList,
                            privacyTokens: privacyTokens, environment: environment, logger: logger, publisher: publisher, media: media,
                            admitScheduled: sendGuard.reserveWhenDue)
        let approvals = Approvals(store: store, environment: environment, logger: logger, publisher: publisher, outbox: outbox)
        let historySync = HistorySync(store: store, media: media, publisher: publisher, environment: environment, logger: logger,
                                      messaging: messaging, link: serverLink)
        let appState = AppStateSync(store: store, link: serverLink, media: media, environment: environment, logger: logger,
                                    publisher: publisher, messaging: messaging)
        let webhooks = Webhooks(store: store, environment: environment, logger: logger, http: .live(),
                                account: config.accountID ?? Webhooks.singleAccount)
        do { try webhooks.applyConfig(config.webhooks, latestCursor: events.latestCursor) } catch {
            webhooks.stop()  // shuts its HTTP client down, which must happen before it is released
            store.close()
            throw error
        }
        let logout = Logout(store: store, status: status, keys: keys, environment: environment, logger: logger, publisher: publisher)
        let areas = ConnectionSession.Areas(
            login: Login(store: store, config: config, status: status, preKeys: preKeys, environment: environment, logger: logger,
                         publisher: publisher, onReady: { outbox.kick(); historySync.kick(); appState.loggedIn() }),
            receive: Receive(store: store, config: config, keys: keys, messaging: messaging, environment: environment, logger: logger,
                             publisher: publisher, media: media, approvals: approvals, historySync: historySync, appState: appState),
            receipts: Receipts(store: store, messaging: messaging, environment: environment, logger: logger, publisher: publisher),
            preKeys: preKeys,
            deviceList: deviceList,
            groupNotifications: GroupNotifications(store: store, environment: environment, logger: logger, publisher: publisher),
            privacyTokens: privacyTokens,
            presence: PresenceUpdates(store: store, logger: logger, publisher: publisher),
            appState: appState,
            makeLinkingHandlers: {
                LinkingHandlers(store: store, config: config, status: status, keys: keys, environment: environment, logger: logger,
                                publisher: publisher)
            })
        self.status = status
        self.keys = keys
        self.publisher = publisher
        self.outbox = outbox
        self.approvals = approvals
        self.historySync = historySync
        self.appState = appState
        self.webhooks = webhooks
        let connectionLoop = ConnectionLoop(store: store, config: config, status: status, keys: keys, environment: environment, logger: logger,
                                            publisher: publisher, link: serverLink, logout: logout, areas: areas)
        self.connectionLoop = connectionLoop
        self.context = MethodContext(config: config, store: store, events: events, catalogue: catalogue, environment: environment,
                                     logger: logger, status: status, connectionLoop: connectionLoop, serverLink: serverLink, outbox: outbox,
                                     logout: logout, media: media, approvals: approvals,
                                     sendGuard: sendGuard, historySync: historySync, appState: appState,
                                     webhooks: webhooks)
        logger.info("client opened (store schema v\(store.schemaVersion), state \(initial.rawValue))")
        // Requests that ran out while the engine was closed expire now; the rest keep their time.
        approvals.schedule()
        // The worker wakes on every event; it resumes the deliveries a previous run left pending.
        events.addWakeHandler { webhooks.kick() }
        webhooks.start()
        if initial == .disconnected { connectionLoop.startLogin() }
    }

    // MARK: The connection state, for the hosts (it lives in `status`)

    /// When the QR string `currentPairingQR` stops being valid, if one is up.
    public var currentPairingQRExpiry: UnixTime? { status.pairingQRExpiry }

    /// The pairing code (`XXXX-XXXX`) waiting to be entered on the phone, if any.
    public var currentPairingCode: String? { status.pairingCode }

    /// Convenience for the C API and bindings: the configuration as JSON text.
    /// `variable` supplies `WAUSE_*` fallbacks for keys the JSON lacks (the C API passes getenv).
    public convenience init(configJSON: String?, environment: Environment = .live,
                            variable: (String) -> String? = { _ in nil }) throws(WauseError) {
        guard let configJSON, !configJSON.isEmpty else {
            throw .invalidRequest("config is required: a JSON object with at least data_dir")
        }
        let json: JSONValue
        do { json = try JSONValue.parse(configJSON) } catch {
            throw .invalidRequest("config is not valid JSON: \(error)")
        }
        try self.init(config: ClientConfig(json: json, variable: variable), environment: environment)
    }

    /// The current state and the reason for the last failure.
    public func connectionSnapshot() -> (ConnectionState, String?) { status.snapshot() }

    /// The pairing string to show as a QR code right now (`https://wa.me/settings/linked_devices#…`),
    /// or nil when the engine is not waiting for a scan. The /qr page renders it locally.
    public var currentPairingQR: String? { status.pairingQR }

    /// Calls a catalogue method. Never throws: every failure comes back as a `WauseError`.
    public func call(_ name: String, _ arguments: JSONValue) async -> Result<JSONObject, WauseError> {
        do {
            if status.isClosed { throw WauseError.invalidRequest("the client is closed") }
            let (method, prepared) = try catalogue.prepare(name, arguments)
            if let enabled = config.toolsets, !Toolsets.enables(enabled, method) {
                throw Toolsets.notEnabled(method, enabled: enabled)
            }
            let result = try await method.handler(context, prepared)
            #if DEBUG
            // Debug builds (every test suite: swift test, the bindings', the MCP SDK suites) check
            // each result against the output schema MCP clients validate structuredContent with
            // (issue 11: one stray field broke the official SDK). Release builds trust the tests.
            try MethodCatalogue.checkResult(result, of: method)
            #endif
            return .success(result)
        } catch let error as WauseError {
            // A call still running when the client closed fails on the closed store; that is the
            // caller's close, not an engine fault.
            if error.code == .internal, status.isClosed {
                return .failure(.invalidRequest("the client was closed before the call finished"))
            }
            return .failure(error)
        } catch {
            return .failure(.internal("\(error)"))
        }
    }

    /// Calls a method whose arguments are JSON text (NULL or empty means none).
    public func call(_ name: String, argumentsJSON: String?) async -> Result<JSONObject, WauseError> {
        // An unknown method is the more useful error when the arguments are bad as well.
        guard catalogue.method(named: name) != nil else { return await call(name, .null) }
        guard let argumentsJSON, !argumentsJSON.allSatisfy({ $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }) else {
            return await call(name, .null)
        }
        do {
            return await call(name, try JSONValue.parse(argumentsJSON))
        } catch {
            return .failure(.invalidRequest("params are not valid JSON: \(error)"))
        }
    }

    /// The blocking form, for threads outside Swift concurrency (C callers, HTTP connection
    /// threads). Never call it from a task (see `runBlocking`).
    public func callBlocking(_ name: String, argumentsJSON: String?) -> Result<JSONObject, WauseError> {
        runBlocking { await self.call(name, argumentsJSON: argumentsJSON) }
    }

    public func callBlocking(_ name: String, _ arguments: JSONValue) -> Result<JSONObject, WauseError> {
        runBlocking { await self.call(name, arguments) }
    }

    /// What closing did with the outbox: how many queued messages went out while it waited, and
    /// how many it left queued (they stay in the store and go at the next open).
    public struct CloseReport: Sendable, Equatable {
        public var flushed: Int64
        public var leftQueued: Int64
        public var json: JSONObject { ["flushed": .int(flushed), "left_queued": .int(leftQueued)] }
    }

    /// Waits up to `timeout` (nil: `config.closeTimeout`) for the outbox to empty, then closes.
    /// Scheduled sends whose time has not come are not waited for: they go at a later open.
    /// (No default argument: `close()` in async code must keep meaning the immediate close.)
    /// "Open, send, close" must not drop the send: right after opening, the client is still
    /// logging in, so the worker needs the connection a little longer. Only a linked client in a
    /// state that can still reach `ready` waits; one that was unlinked, refused or logged out
    /// cannot send, and a closed client reports nothing left (the second close has nothing to do).
    public func close(flushingFor timeout: Duration?) async -> CloseReport {
        if status.isClosed { return CloseReport(flushed: 0, leftQueued: 0) }
        let queued = (try? store.outboxCount(dueBy: environment.now())) ?? 0
        var left = queued
        if queued > 0 {
            let deadline = environment.now() + (timeout ?? config.closeTimeout)
            var cursor = events.latestCursor
            while left > 0, environment.now() < deadline, status.current.canStillSend {
                // Every send, failure and transition is an event: wait for the next one, not a poll.
                await events.waitForHead(after: cursor, atMost: max(.milliseconds(1), deadline - environment.now()),
                                         sleep: environment.sleep)
                cursor = events.latestCursor
                left = (try? store.outboxCount(dueBy: environment.now())) ?? left
            }
        }
        close()
        if left > 0 { logger.warning("client closed with \(left) message(s) still queued; they go at the next open") }
        return CloseReport(flushed: max(0, queued - left), leftQueued: left)
    }

    /// The blocking form of `close(flushingFor:)`, for threads outside Swift concurrency (C callers).
    public func closeBlocking(flushingFor timeout: Duration? = nil) -> CloseReport {
        runBlocking { await self.close(flushingFor: timeout) }
    }

    /// Stops the engine and closes the store at once, without flushing the outbox. Idempotent.
    public func close() {
        guard !status.markClosed() else { return }
        // The background work goes first (the outbox worker and its retry timer, the connection
        // loop with its session's keepalive, QR rotation and follow-up tasks), then the store.
        outbox.stop()
        approvals.stop()
        historySync.stop()
        appState.stop()
        webhooks.stop()
        connectionLoop.stop()
        events.close()
        store.close()
        logger.info("client closed")
    }
}

extension WauseClient {
    /// A page of the event log for a consumer catching up: `{events, next_cursor, has_more}`.
    public func replayEvents(after cursor: Int64, limit: Int) throws(WauseError) -> JSONObject {
        try context.replayEvents(after: cursor, limit: limit)
    }

    /// The status object (`whatsapp_status`), with truthful values from the store.
    public func statusObject() throws(WauseError) -> JSONObject { try context.statusObject() }

    /// The status object with the pairing fields (`whatsapp_pair_status`).
    public func pairStatusObject() throws(WauseError) -> JSONObject { try context.pairStatusObject() }
}
