import Synchronization
import WauseCore

/// One MCP session (`Mcp-Session-Id`): the negotiated protocol version, the client's log level,
/// and how far its event stream has read, so a reconnecting GET continues where the last ended.
final class MCPSession: Sendable {
    let id: String
    let protocolVersion: String
    let clientName: String
    private struct State {
        var lastSeen: UnixTime
        var eventCursor: Int64
        var stream: EventStream?
        /// With --accounts-dir: what the streams sent, and the one open now.
        var accountsLog: AccountsResumeLog
        var accountsStream: AccountsEventStream?
        var logLevel = "info"
    }
    private let state: Mutex<State>

    /// `eventCursor` is the log's head (--data-dir), `accountPositions` every account's (--accounts-dir).
    init(id: String, protocolVersion: String, clientName: String, eventCursor: Int64,
         accountPositions: AccountsResumeLog.Positions = [:], now: UnixTime) {
        self.id = id
        self.protocolVersion = protocolVersion
        self.clientName = clientName
        state = Mutex(State(lastSeen: now, eventCursor: eventCursor, accountsLog: AccountsResumeLog(start: accountPositions)))
    }

    func touch(_ now: UnixTime) { state.withLock { $0.lastSeen = now } }

    var logLevel: String { state.withLock { $0.logLevel } }

    func setLogLevel(_ level: String) { state.withLock { $0.logLevel = level } }

    func isIdle(since cutoff: UnixTime) -> Bool {
        state.withLock { $0.stream == nil && $0.accountsStream == nil && $0.lastSeen < cutoff }
    }

    var lastActivity: UnixTime { state.withLock { $0.lastSeen } }

    /// Opens the session's event stream, which starts after `lastEventID` when the client resumes,
    /// else where the previous stream got to. It becomes the session's only stream: each message
    /// goes to exactly one stream (MCP transports), so an older stream of this session is ended.
    func openStream(lastEventID: Int64?, _ make: (Int64) -> EventStream) -> EventStream {
        let (newStream, previous) = state.withLock { state -> (EventStream, EventStream?) in
            let previous = state.stream
            let start = lastEventID ?? max(state.eventCursor, previous?.position ?? 0)
            let created = make(start)
            state.stream = created
            return (created, previous)
        }
        previous?.cancel()
        return newStream
    }

    /// The --accounts-dir stream: after `lastEventID` (`<account>:<cursor>`, AccountsResumeLog)
    /// when the client resumes, else where the previous stream got to; the session's only one.
    func openAccountsStream(lastEventID: String?, _ make: (AccountsResumeLog.Positions) -> AccountsEventStream) -> AccountsEventStream {
        let (newStream, previous) = state.withLock { state -> (AccountsEventStream, AccountsEventStream?) in
            let previous = state.accountsStream
            let start = lastEventID.flatMap { state.accountsLog.positions(resumingAfter: $0) } ?? state.accountsLog.latest
            state.accountsLog.begin(from: start)
            let created = make(start)
            state.accountsStream = created
            return (created, previous)
        }
        previous?.cancel()
        return newStream
    }

    /// The accounts stream `from` sent an event (recorded only while it is the session's stream).
    func sent(account: String, cursor: Int64, from stream: AccountsEventStream) {
        state.withLock { state in
            if state.accountsStream === stream { state.accountsLog.record(account: account, cursor: cursor) }
        }
    }

    func detach(_ ended: AccountsEventStream) {
        state.withLock { state in
            if state.accountsStream === ended { state.accountsStream = nil }
        }
    }

    func detach(_ ended: EventStream, at cursor: Int64) {
        state.withLock { state in
            state.eventCursor = max(state.eventCursor, cursor)
            if state.stream === ended { state.stream = nil }
        }
    }

    func end() {
        let (current, accounts) = state.withLock { state -> (EventStream?, AccountsEventStream?) in
            defer { state.stream = nil; state.accountsStream = nil }
            return (state.stream, state.accountsStream)
        }
        current?.cancel()
        accounts?.cancel()
    }
}

/// The live sessions. Idle sessions (no request for `idleTimeout` and no open stream) expire, and
/// the oldest idle one makes room when the table is full; an ended session's id then answers 404.
final class MCPSessionTable: Sendable {
    private let table = Mutex<[String: MCPSession]>([:])
    private let idleTimeout: Duration
    private let capacity: Int

    init(idleTimeout: Duration = .seconds(30 * 60), capacity: Int = 1000) {
        self.idleTimeout = idleTimeout
        self.capacity = capacity
    }

    func add(_ session: MCPSession, now: UnixTime) {
        let evicted = table.withLock { sessions -> [MCPSession] in
            var removed = sessions.values.filter { $0.isIdle(since: now - idleTimeout) }
            for session in removed { sessions[session.id] = nil }
            if sessions.count >= capacity, let oldest = sessions.values.min(by: { $0.lastActivity < $1.lastActivity }) {
                sessions[oldest.id] = nil
                removed.append(oldest)
            }
            sessions[session.id] = session
            return removed
        }
        for session in evicted { session.end() }
    }

    func session(_ id: String, now: UnixTime) -> MCPSession? {
        table.withLock { sessions in
            guard let session = sessions[id] else { return nil }
            if session.isIdle(since: now - idleTimeout) {
                sessions[id] = nil
                return nil
            }
            session.touch(now)
            return session
        }
    }

    @discardableResult
    func remove(_ id: String) -> MCPSession? {
        let removed = table.withLock { $0.removeValue(forKey: id) }
        removed?.end()
        return removed
    }

    func removeAll() {
        let all = table.withLock { sessions -> [MCPSession] in
            defer { sessions.removeAll() }
            return Array(sessions.values)
        }
        for session in all { session.end() }
    }

    var count: Int { table.withLock { $0.count } }
}
