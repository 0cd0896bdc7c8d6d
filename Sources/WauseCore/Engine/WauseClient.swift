import WauseSupport
import WauseTransport
/// One engine instance: a store, its event log, the connection state and the method catalogue.
/// A thin coordinator — each feature owns its own state in its own file.
public final class WauseClient: @unchecked Sendable {
    public let config: ClientConfig
    public let store: Store
    public let events: EventLog
    public let catalogue: MethodCatalogue
    public let environment: Environment
    public let logger: Logger
    /// This device's keys (generated on the store's first open, replaced when it logs out).
    public var identity: DeviceIdentity { stateLock.withLock { currentIdentity } }
    private var currentIdentity: DeviceIdentity

    /// Dials, keeps and re-establishes the connection to WhatsApp.
    private(set) var link: ConnectionLoop!
    /// Signal sessions, the outbox and the message formats.
    private(set) var messaging: Messaging!
    private let stateLock = ConditionLock()
    private var state: ConnectionState
    private var lastError: String?
    private var pairingQR: String?
    private var pairingCode: String?
    /// Server clock minus ours (ms), from `pair-success` and `<success>` `t` attributes.
    private var serverOffset: Int64 = 0
    /// Counts transitions, so a waiter can tell whether it missed one.
    private var stateVersion: UInt64 = 0
    private var stateWaiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    private var nextWaiterID: UInt64 = 0
    private var isClosed = false

    public init(config: ClientConfig, environment: Environment = .live,
                catalogue: MethodCatalogue = .standard) throws(WauseError) {
        self.config = config
        self.environment = environment
        self.catalogue = catalogue
        self.logger = Logger(label: "wause", level: config.logLevel, clock: environment.now)
        let store = try Store(directory: config.dataDirectory)
        self.store = store
        do {
            self.currentIdentity = try store.deviceIdentity(creatingWith: environment.randomBytes, now: environment.now())
            self.events = try EventLog(store: store, clock: environment.now)
            // A linked store logs in at once (below); an unlinked one stays stopped (or logged
            // out, if it was) until asked to link.
            if try store.linkedAccount() != nil {
                state = .disconnected
            } else if try store.loggedOutAt() != nil {
                state = .loggedOut
            } else {
                state = .stopped
            }
        } catch {
            store.close()
            throw error
        }
        link = ConnectionLoop(client: self)
        messaging = Messaging(client: self)
        logger.info("client opened (store schema v\(store.schemaVersion), state \(state.rawValue))")
        if state == .disconnected { link.startLogin() }
    }

    /// Moves the connection state; `lastError` `nil` keeps the current reason, `.some(x)` sets it.
    func transition(to newState: ConnectionState, lastError: String?? = nil) {
        let waiters = stateLock.withLock { () -> [CheckedContinuation<Void, Never>] in
            state = newState
            if let lastError { self.lastError = lastError }
            stateVersion += 1
            defer { stateWaiters.removeAll() }
            return Array(stateWaiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// The state and a version that changes with every transition.
    func versionedState() -> (ConnectionState, UInt64) { stateLock.withLock { (state, stateVersion) } }

    /// Returns once the state version differs from `version` (at once if it already does), or
    /// when the task is cancelled.
    func waitForTransition(after version: UInt64) async {
        let id = stateLock.withLock { () -> UInt64 in
            nextWaiterID += 1
            return nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = stateLock.withLock { () -> Bool in
                    if stateVersion != version || isClosed || Task.isCancelled { return true }
                    stateWaiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            stateLock.withLock { stateWaiters.removeValue(forKey: id) }?.resume()
        }
    }

    func setPairingQR(_ qr: String?) {
        stateLock.withLock { pairingQR = qr }
    }

    func setPairingCode(_ code: String?) {
        stateLock.withLock { pairingCode = code }
    }

    /// The pairing code (`XXXX-XXXX`) waiting to be entered on the phone, if any.
    public var currentPairingCode: String? {
        stateLock.withLock { state == .pairingCode ? pairingCode : nil }
    }

    func setServerTimeOffset(_ offset: Int64) {
        stateLock.withLock { serverOffset = offset }
    }

    var serverTimeOffset: Int64 { stateLock.withLock { serverOffset } }

    func updateIdentity(_ change: (inout DeviceIdentity) -> Void) {
        stateLock.withLock { change(&currentIdentity) }
    }

    func replaceIdentity(_ identity: DeviceIdentity) {
        stateLock.withLock { currentIdentity = identity }
    }

    /// Logs and delivers an event; a store failure here is logged, not thrown, because the
    /// protocol step that caused the event has already happened.
    func publish(_ name: EventName, _ data: JSONObject) {
        // A connection task can outlive close() by a moment; the store is gone by then.
        if stateLock.withLock({ isClosed }) { return }
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
        stateLock.withLock { (state, lastError) }
    }

    /// The pairing string to show as a QR code right now (`https://wa.me/settings/linked_devices#…`),
    /// or nil when the engine is not waiting for a scan. The /qr page renders it locally.
    public var currentPairingQR: String? {
        stateLock.withLock { state == .qr ? pairingQR : nil }
    }

    /// Calls a catalogue method. Never throws: every failure comes back as a `WauseError`.
    public func call(_ name: String, _ arguments: JSONValue) async -> Result<JSONObject, WauseError> {
        do {
            if stateLock.withLock({ isClosed }) { throw WauseError.invalidRequest("the client is closed") }
            let (method, prepared) = try catalogue.prepare(name, arguments)
            return .success(try await method.handler(self, prepared))
        } catch let error as WauseError {
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

    /// Stops the engine and closes the store. Idempotent.
    public func close() {
        let wasClosed = stateLock.withLock { () -> Bool in
            defer { isClosed = true }
            return isClosed
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
