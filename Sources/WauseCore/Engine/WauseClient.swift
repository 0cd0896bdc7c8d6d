import Synchronization
import WauseSupport
import WauseTransport
/// One engine instance: a store, its event log, the connection state and the method catalogue.
/// A thin coordinator — each feature owns its own state in its own file.
/// Unchecked only for `link` and `messaging`: each keeps a reference back to the client, so they
/// are assigned once at the end of `init` (after `self` exists) and never change; the rest is
/// `let`s of Sendable types and the `Mutex` below.
public final class WauseClient: @unchecked Sendable {
    public let config: ClientConfig
    public let store: Store
    public let events: EventLog
    public let catalogue: MethodCatalogue
    public let environment: Environment
    public let logger: Logger
    /// This device's keys (generated on the store's first open, replaced when it logs out).
    public var identity: DeviceIdentity { state.withLock { $0.identity } }

    /// Dials, keeps and re-establishes the connection to WhatsApp.
    private(set) var link: ConnectionLoop!
    /// Signal sessions, the outbox and the message formats.
    private(set) var messaging: Messaging!
    private struct State {
        var identity: DeviceIdentity
        var connection: ConnectionState
        var lastError: String?
        var pairingQR: String?
        /// When the QR ref on show expires, for /qr.json.
        var pairingQRExpiry: UnixTime?
        var pairingCode: String?
        /// Server clock minus ours (ms), from `pair-success` and `<success>` `t` attributes.
        var serverOffset: Duration = .zero
        /// Counts transitions, so a waiter can tell whether it missed one.
        var version: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiterID: UInt64 = 0
        var isClosed = false
    }
    private let state: Mutex<State>

    public init(config: ClientConfig, environment: Environment = .live,
                catalogue: MethodCatalogue = .standard) throws(WauseError) {
        self.config = config
        self.environment = environment
        self.catalogue = catalogue
        self.logger = Logger(label: "wause", level: config.logLevel, clock: environment.now, sink: environment.logSink)
        let store = try Store(directory: config.dataDirectory)
        self.store = store
        do {
            let identity = try store.deviceIdentity(creatingWith: environment.randomBytes, now: environment.now())
            self.events = try EventLog(store: store, clock: environment.now)
            // A linked store logs in at once (below); an unlinked one stays stopped (or logged
            // out, if it was) until asked to link.
            let initial: ConnectionState
            var reason: String?
            if let account = try store.linkedAccount() {
                // Linked on another server than the configuration names: open, never dial.
                if let mismatch = WauseClient.serverMismatch(account: account, config: config) {
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
            state = Mutex(State(identity: identity, connection: initial, lastError: reason))
        } catch {
            store.close()
            throw error
        }
        link = ConnectionLoop(client: self)
        messaging = Messaging(client: self)
        let initial = state.withLock { $0.connection }
        logger.info("client opened (store schema v\(store.schemaVersion), state \(initial.rawValue))")
        if initial == .disconnected { link.startLogin() }
    }

    /// Where to dial: what the configuration names, and for what it leaves out the linked
    /// device's own server (stored with the link), else WhatsApp's. `serverMismatch` has made
    /// sure the two describe one server.
    func dialTarget(for account: LinkedAccount?) -> (url: String, rootKey: [UInt8]) {
        (config.configuredServerURL ?? account?.serverURL ?? ClientConfig.defaultServerURL,
         config.configuredServerRootKey ?? account?.serverRootKey ?? config.serverRootKey)
    }

    /// Why a store linked on one server must not dial with a configuration naming another (a
    /// sentence for `last_error`), or nil. A server is its certificate root key (only the holder
    /// of its private key passes the handshake, whatsmeow handshake.go verifyServerCert), reached
    /// at a URL: the configuration may name another URL for the same server only together with
    /// that root key (a simulator restarted on another port); settings it leaves out follow the link.
    static func serverMismatch(account: LinkedAccount, config: ClientConfig) -> String? {
        guard let linkedURL = account.serverURL, let linkedKey = account.serverRootKey else { return nil }
        if let key = config.configuredServerRootKey, key != linkedKey {
            let named = config.configuredServerURL ?? linkedURL
            return "This device is linked on the server \(linkedURL), but the configuration names the server \(named) with "
                + "another certificate root key; it will not dial another server with this link's keys. Leave server_url and "
                + "server_root_key out to use \(linkedURL), or log out to link again."
        }
        if let url = config.configuredServerURL, url != linkedURL, config.configuredServerRootKey == nil {
            return "This device is linked on the server \(linkedURL), but the configuration names \(url); it will not dial "
                + "another server with this link's keys. Leave server_url out to use \(linkedURL), or log out to link again."
        }
        return nil
    }

    /// Moves the connection state; `lastError` `nil` keeps the current reason, `.some(x)` sets it.
    func transition(to newState: ConnectionState, lastError: String?? = nil) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.connection = newState
            if let lastError { state.lastError = lastError }
            state.version += 1
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// The state and a version that changes with every transition.
    func versionedState() -> (ConnectionState, UInt64) { state.withLock { ($0.connection, $0.version) } }

    /// Returns once the state version differs from `version` (at once if it already does), or
    /// when the task is cancelled.
    func waitForTransition(after version: UInt64) async {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.version != version || state.isClosed || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }

    func setPairingQR(_ qr: String?, expiresAt: UnixTime? = nil) {
        state.withLock { state in
            state.pairingQR = qr
            state.pairingQRExpiry = qr == nil ? nil : expiresAt
        }
    }

    /// When the QR string `currentPairingQR` stops being valid, if one is up.
    public var currentPairingQRExpiry: UnixTime? {
        state.withLock { $0.connection == .qr && $0.pairingQR != nil ? $0.pairingQRExpiry : nil }
    }

    func setPairingCode(_ code: String?) {
        state.withLock { $0.pairingCode = code }
    }

    /// The pairing code (`XXXX-XXXX`) waiting to be entered on the phone, if any.
    public var currentPairingCode: String? {
        state.withLock { $0.connection == .pairingCode ? $0.pairingCode : nil }
    }

    func setServerTimeOffset(_ offset: Duration) {
        state.withLock { $0.serverOffset = offset }
    }

    var serverTimeOffset: Duration { state.withLock { $0.serverOffset } }

    func updateIdentity(_ change: (inout DeviceIdentity) -> Void) {
        state.withLock { change(&$0.identity) }
    }

    func replaceIdentity(_ identity: DeviceIdentity) {
        state.withLock { $0.identity = identity }
    }

    /// Logs and delivers an event; a store failure here is logged, not thrown, because the
    /// protocol step that caused the event has already happened.
    func publish(_ name: EventName, _ data: JSONObject) {
        // A connection task can outlive close() by a moment; the store is gone by then.
        if state.withLock({ $0.isClosed }) { return }
        do {
            try events.publish(name, data)
        } catch {
            logger.error("cannot log event \(name.rawValue): \(error.message)")
        }
    }

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
    public func connectionSnapshot() -> (ConnectionState, String?) {
        state.withLock { ($0.connection, $0.lastError) }
    }

    /// The pairing string to show as a QR code right now (`https://wa.me/settings/linked_devices#…`),
    /// or nil when the engine is not waiting for a scan. The /qr page renders it locally.
    public var currentPairingQR: String? {
        state.withLock { $0.connection == .qr ? $0.pairingQR : nil }
    }

    /// Calls a catalogue method. Never throws: every failure comes back as a `WauseError`.
    public func call(_ name: String, _ arguments: JSONValue) async -> Result<JSONObject, WauseError> {
        do {
            if state.withLock({ $0.isClosed }) { throw WauseError.invalidRequest("the client is closed") }
            let (method, prepared) = try catalogue.prepare(name, arguments)
            if let enabled = config.toolsets, !Toolsets.enables(enabled, method) {
                throw Toolsets.notEnabled(method, enabled: enabled)
            }
            let result = try await method.handler(self, prepared)
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
            if error.code == .internal, state.withLock({ $0.isClosed }) {
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
    /// (No default argument: `close()` in async code must keep meaning the immediate close.)
    /// "Open, send, close" must not drop the send: right after opening, the client is still
    /// logging in, so the worker needs the connection a little longer. Only a linked client in a
    /// state that can still reach `ready` waits; one that was unlinked, refused or logged out
    /// cannot send, and a closed client reports nothing left (the second close has nothing to do).
    public func close(flushingFor timeout: Duration?) async -> CloseReport {
        if state.withLock({ $0.isClosed }) { return CloseReport(flushed: 0, leftQueued: 0) }
        let queued = (try? store.outboxCount()) ?? 0
        var left = queued
        if queued > 0 {
            let deadline = environment.now() + (timeout ?? config.closeTimeout)
            var cursor = events.latestCursor
            while left > 0, environment.now() < deadline, versionedState().0.canStillSend {
                // Every send, failure and transition is an event: wait for the next one, not a poll.
                await events.waitForHead(after: cursor, atMost: max(.milliseconds(1), deadline - environment.now()),
                                         sleep: environment.sleep)
                cursor = events.latestCursor
                left = (try? store.outboxCount()) ?? left
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
        let wasClosed = state.withLock { state -> Bool in
            defer { state.isClosed = true }
            return state.isClosed
        }
        guard !wasClosed else { return }
        messaging.outbox.stop()
        link.stop()
        events.close()
        store.close()
        logger.info("client closed")
    }
}

extension WauseClient {
    /// A page of the event log for a consumer catching up: `{events, next_cursor, has_more}`.
    public func replayEvents(after cursor: Int64, limit: Int) throws(WauseError) -> JSONObject {
        guard cursor >= 0 else { throw .invalidRequest("after_cursor must be 0 or more") }
        guard (1...1000).contains(limit) else { throw .invalidRequest("limit must be between 1 and 1000") }
        let page = try events.events(after: cursor, limit: limit + 1)
        let shown = page.prefix(limit)
        return [
            "events": .array(shown.map(\.json)),
            "next_cursor": .int(shown.last?.cursor ?? cursor),
            "has_more": .bool(page.count > limit),
        ]
    }
}
